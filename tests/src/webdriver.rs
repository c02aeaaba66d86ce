//! A small W3C WebDriver client over HTTP, enough to drive Debian's headless Chromium
//! through `chromedriver` in the browser stories: open pages, fill and submit forms, read
//! text, take screenshots. Every request has a timeout; nothing here retries forever.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian puts the browser and its driver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser and its driver are installed; in CI (`CI` set) their absence fails.
pub fn available() -> bool {
    let here = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !here {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium and chromium-driver are needed in CI (./scripts/test installs them)"
        );
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "SKIPPING browser test: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
            );
        }
    }
    here
}

/// How to launch Chromium beyond the defaults.
#[derive(Debug, Default, Clone, Copy)]
pub struct Launch<'a> {
    /// The browser's `Accept-Language`, when given.
    pub language: Option<&'a str>,
    /// A profile directory kept by the caller (a browser restarted with its storage), instead
    /// of a fresh one.
    pub profile: Option<&'a Path>,
    /// More command-line switches (a fake camera, ...).
    pub args: &'a [String],
}

/// A running chromedriver and one headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
    /// Where screenshots go.
    pub shots: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium window of
    /// `width`×`height` CSS pixels.
    pub fn start(width: u32, height: u32, shots: PathBuf) -> Self {
        Self::start_in_language(width, height, shots, None)
    }

    /// As [`Browser::start`], with a browser whose `Accept-Language` is `language` (for
    /// example `ar`) when given.
    pub fn start_in_language(
        width: u32,
        height: u32,
        shots: PathBuf,
        language: Option<&str>,
    ) -> Self {
        Self::start_with(
            width,
            height,
            shots,
            &Launch {
                language,
                ..Launch::default()
            },
        )
    }

    /// As [`Browser::start`], launched as `launch` says.
    pub fn start_with(width: u32, height: u32, shots: PathBuf, launch: &Launch<'_>) -> Self {
        let language = launch.language;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("free port: {e}"));
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start chromedriver: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("profile dir: {e}"));
        let profile_dir = launch
            .profile
            .map_or_else(|| profile.path().to_owned(), Path::to_owned);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile_dir.display()),
                ],
            },
        }}});
        let mut caps = caps;
        if let Some(args) =
            caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["args"].as_array_mut()
        {
            args.extend(launch.args.iter().map(|a| json!(a)));
        }
        if let Some(language) = language {
            let options = &mut caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"];
            options["prefs"] = json!({"intl.accept_languages": language});
            if let Some(args) = options["args"].as_array_mut() {
                args.push(json!(format!("--lang={language}")));
            }
        }
        let created = send(&agent, "POST", &format!("{base}/session"), Some(&caps));
        let session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("screenshot dir: {e}"));
        Self {
            driver,
            base,
            session,
            agent,
            _profile: profile,
            shots,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        send(
            &self.agent,
            method,
            &format!("{}/session/{}{path}", self.base, self.session),
            body,
        )
    }

    /// Opens a URL and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({"url": url})));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element matching a CSS selector (waits up to 10 s for it).
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.call(
                "POST",
                "/element",
                Some(&json!({"using": "css selector", "value": css})),
            );
            if let Some(id) = found[ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}: {found}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types into an input (after clearing it).
    pub fn fill(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/clear"), Some(&json!({})));
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(&json!({"text": text})),
        );
    }

    /// Clicks an element (a click something else on the page intercepts is a failure, not
    /// a click).
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        let answer = self.call("POST", &format!("/element/{id}/click"), Some(&json!({})));
        assert!(
            answer.get("error").is_none(),
            "click on {css} failed: {answer}"
        );
    }

    /// The page's visible text.
    pub fn text(&self) -> String {
        let id = self.find("body");
        self.call("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits up to 10 s for the page's text to contain `needle`; returns the text.
    pub fn wait_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} not on {}: {text}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a command of the DevTools protocol on the page (`Network.emulateNetworkConditions`,
    /// ...) and returns its result.
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({"cmd": cmd, "params": params})),
        )
    }

    /// Cuts the page off the network (`true`) or gives it back, as DevTools' "Offline" does.
    pub fn set_offline(&self, offline: bool) {
        self.cdp("Network.enable", json!({}));
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        );
    }

    /// Runs an asynchronous script (its last argument is the callback) and returns what it
    /// passed to it.
    pub fn js_async(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// Performs a WebDriver action sequence (keys typed into whatever has the focus, ...).
    pub fn actions(&self, actions: &Value) {
        self.call("POST", "/actions", Some(actions));
    }

    /// Opens a new tab and switches to it; returns the handle of the tab it left.
    pub fn new_tab(&self) -> String {
        let current = self.call("GET", "/window", None);
        let created = self.call("POST", "/window/new", Some(&json!({"type": "tab"})));
        let handle = created["handle"].as_str().unwrap_or_default().to_owned();
        self.call("POST", "/window", Some(&json!({"handle": handle})));
        current.as_str().unwrap_or_default().to_owned()
    }

    /// Closes the current tab and switches to `handle`.
    pub fn close_tab(&self, handle: &str) {
        self.call("DELETE", "/window", None);
        self.call("POST", "/window", Some(&json!({"handle": handle})));
    }

    /// Runs a script and returns its value.
    pub fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// Saves a screenshot of the window as `<shots>/<name>.png` and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap_or_default());
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write screenshot: {e}"));
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(&format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn send(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Value {
    let response = match (method, body) {
        ("POST", Some(b)) => agent.post(url).send_json(b),
        ("POST", None) => agent.post(url).send_json(json!({})),
        ("DELETE", _) => agent.delete(url).call(),
        _ => agent.get(url).call(),
    };
    let mut response = response.unwrap_or_else(|e| panic!("webdriver {method} {url}: {e}"));
    let value: Value = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_json()
        .unwrap_or_else(|e| panic!("webdriver {method} {url}: {e}"));
    value.get("value").cloned().unwrap_or(Value::Null)
}

/// Standard base64 (screenshots), without a dependency.
fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}
