//! The real window under Xvfb, driven through tauri-driver and WebKitWebDriver (W3C
//! WebDriver over HTTP on 127.0.0.1): enroll against a demo server, show a ticket to the
//! (replayed) camera → ADMIT, show it again → REJECT "already admitted", type another with
//! a keyboard wedge → verdict; then the webview's own camera path on WebKit's mock capture
//! device, measured; the offline banner; the words shown when there is no camera at all;
//! and a new device enrolling from the QR code shown to its camera.
//! Screenshots and the camera figures go to `CARGO_TARGET_TMPDIR/gui-e2e/`.
//!
//! It needs `Xvfb`, `WebKitWebDriver` (Debian `webkit2gtk-driver`) and `tauri-driver`;
//! `scripts/test` installs all three.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tessera_tests::{Db, Server};

use crate::support::{empty_frame, frame_of, wait_for};

/// The camera figures the screen shows under its preview (means over the last 2 s).
const CAMERA_FIGURES: &str = "const d = document.getElementById('camera-stats').dataset; \
    return d.fps ? {fps: +d.fps, decodeFps: +d.decodeFps, grabMs: +d.grabMs, ipcMs: +d.ipcMs, decodeMs: +d.decodeMs} : null;";

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A child process stopped (SIGTERM, then SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // The shell's own `kill` (no procps needed): SIGTERM lets tauri-driver stop
        // WebKitWebDriver and the app with it.
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.0.id())])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}

fn tool(name: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin").join(name));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .chain(cargo_bin)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed: run ./scripts/test, which installs the GUI test tools")
        })
}

/// An X server of our own, on a display it picks itself (`-displayfd`), so tests running
/// side by side never collide.
fn xvfb() -> (Proc, String) {
    use std::io::BufRead;
    let mut child = Command::new(tool("Xvfb"))
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x1280x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("Xvfb: {e}"));
    let stdout = child.stdout.take();
    let proc = Proc(child);
    // Xvfb writes the display number once it accepts connections.
    let mut line = String::new();
    if let Some(out) = stdout {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let n: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Xvfb did not report its display: {line:?}"));
    (proc, format!(":{n}"))
}

/// tauri-driver (and through it WebKitWebDriver) on free ports of 127.0.0.1.
fn driver(display: &str, log: &Path) -> (Proc, String) {
    let (port, native) = (free_port(), free_port());
    let log = std::fs::File::create(log).unwrap_or_else(|e| panic!("driver log: {e}"));
    let err = log.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(tool("tauri-driver"))
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .arg("--native-driver")
        .arg(tool("WebKitWebDriver"))
        .env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY")
        // No sound card here: WebAudio must not wait for one.
        .env("PULSE_SERVER", "127.0.0.1:1")
        .stdout(log)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("tauri-driver: {e}"));
    let proc = Proc(child);
    let url = format!("http://127.0.0.1:{port}");
    wait_for("tauri-driver", Duration::from_secs(30), || {
        ureq::get(&format!("{url}/status")).call().ok().map(|_| ())
    });
    (proc, url)
}

/// One WebDriver session: the app's window.
struct Window {
    base: String,
    agent: ureq::Agent,
}

impl Window {
    fn open(driver: &str, args: &[String]) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": app_binary(), "args": args},
        }}});
        let v = send(&agent, "POST", &format!("{driver}/session"), Some(&caps));
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Self {
            base: format!("{driver}/session/{id}"),
            agent,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        send(&self.agent, method, &format!("{}{path}", self.base), body)
    }

    fn title(&self) -> String {
        self.call("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs a script in the page; its `return` value.
    fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// Calls a Tauri command from the page (as the screen does) and returns its answer.
    fn invoke(&self, cmd: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(&json!({
                "script": "const done = arguments[arguments.length - 1]; window.__TAURI__.core.invoke(arguments[0]).then(done, (e) => done({error: e}));",
                "args": [cmd],
            })),
        )
    }

    fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), Some(&json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(&json!({"text": text})),
        );
    }

    /// Types at whatever has the focus, key by key, as a USB scanner does.
    fn keyboard(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            let key = if c == '\n' {
                "\u{E007}".to_owned()
            } else {
                c.to_string()
            };
            actions.push(json!({"type": "keyDown", "value": key}));
            actions.push(json!({"type": "keyUp", "value": key}));
        }
        self.call(
            "POST",
            "/actions",
            Some(&json!({"actions": [{"type": "key", "id": "wedge", "actions": actions}]})),
        );
    }

    fn screenshot(&self, path: &Path) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap_or_else(|| panic!("screenshot: {b64}")));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// The verdict on screen, once it shows: `(class, word, reason, first entry)`.
    fn verdict(&self) -> Option<(String, String, String, String)> {
        let v = self.js(
            "const v = document.getElementById('verdict'); if (v.hidden) return null; \
             return [v.className, document.getElementById('verdict-word').textContent, \
                     document.getElementById('verdict-reason').textContent, \
                     document.getElementById('verdict-entry').textContent];",
        );
        let a = v.as_array()?;
        let s = |i: usize| {
            a.get(i)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Some((s(0), s(1), s(2), s(3)))
    }

    fn shown(&self, css: &str) -> bool {
        self.js(&format!(
            "const e = document.querySelector('{css}'); return !!e && !e.hidden && e.offsetParent !== null;"
        )) == json!(true)
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
    }
}

fn send(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Value {
    let resp = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(b)) => agent.post(url).send_json(b),
        (_, None) => agent.post(url).send_json(json!({})),
    };
    let mut resp = resp.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let v: Value = resp
        .body_mut()
        .read_json()
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    if v["value"]["error"].is_string() {
        panic!("{method} {url}: {}", v["value"]);
    }
    v["value"].clone()
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = s.bytes().filter_map(val).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | d << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Puts `frame` in front of the replayed camera (atomically: the reader never sees half).
fn show(dir: &Path, frame: &image::GrayImage) {
    let tmp = dir.join("next.tmp");
    frame
        .save_with_format(&tmp, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("frame: {e}"));
    std::fs::rename(&tmp, dir.join("frame.png")).unwrap_or_else(|e| panic!("frame: {e}"));
}

/// The app under test: this build's, or another (a release build, to measure the camera
/// paths as shipped) named by `TESSERA_SCANNER_BIN`.
fn app_binary() -> String {
    std::env::var("TESSERA_SCANNER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tessera-scanner").to_owned())
}

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gui-e2e");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

#[test]
fn the_gate_screen_admits_rejects_and_takes_a_keyboard_wedge() {
    let out = out_dir();
    let db = Db::sqlite();
    let server = Server::start(&db);
    let tickets = server.buy(2);
    let code = server.device_code("Tablet-GUI", "Main Gate");
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = tmp.path().join("device");
    let frames = tmp.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap_or_else(|e| panic!("{e}"));
    show(&frames, &empty_frame());

    let (_x, display) = xvfb();
    let (_driver, url) = driver(&display, &out.join("driver.log"));
    let arg = |p: &Path| p.display().to_string();

    {
        let w = Window::open(
            &url,
            &[
                "--data-dir".into(),
                arg(&data),
                "--frames".into(),
                arg(&frames),
            ],
        );
        assert!(w.title().starts_with("Tessera"), "title {:?}", w.title());

        // First run: the setup screen, enrollment by server address and code.
        wait_for("the setup screen", Duration::from_secs(30), || {
            w.shown("#enroll-form").then_some(())
        });
        w.type_into("#enroll-server", &server.url);
        w.type_into("#enroll-code", &code);
        w.screenshot(&out.join("01-enroll.png"));
        w.click("#enroll-go");
        wait_for("enrollment", Duration::from_secs(60), || {
            w.shown("#choose-part").then_some(())
        });
        w.click("#start");
        wait_for("the gate screen", Duration::from_secs(20), || {
            (w.shown("#gate") && !w.shown("#setup")).then_some(())
        });
        let status = w.invoke("status");
        assert_eq!(status["gate"], "Main Gate", "{status}");
        assert_eq!(status["camera"]["feed"], "replay");

        // A ticket in front of the camera: ADMIT.
        let (text, other) = (&tickets[0].1, &tickets[1].1);
        show(&frames, &frame_of(text));
        let (class, word, reason, _) = wait_for("ADMIT", Duration::from_secs(30), || w.verdict());
        assert_eq!(
            (class.as_str(), word.as_str()),
            ("admit", "ADMIT"),
            "{reason}"
        );
        w.screenshot(&out.join("02-admit.png"));

        // Taken away: the screen returns to scanning by itself.
        show(&frames, &empty_frame());
        let frames_at = |w: &Window| w.invoke("status")["camera"]["frames"].as_u64();
        let start = frames_at(&w).unwrap_or_default();
        wait_for("the return to scanning", Duration::from_secs(20), || {
            w.verdict().is_none().then_some(())
        });
        // Out of view for longer than the debounce (2 s at 15 frames a second).
        wait_for(
            "the ticket to be out of view",
            Duration::from_secs(30),
            || (frames_at(&w)? >= start + 40).then_some(()),
        );
        w.screenshot(&out.join("03-scanning.png"));

        // The same ticket again: REJECT, already admitted, with when and where.
        show(&frames, &frame_of(text));
        let (class, word, reason, entry) =
            wait_for("REJECT", Duration::from_secs(30), || w.verdict());
        assert_eq!((class.as_str(), word.as_str()), ("reject", "REJECT"));
        assert!(
            reason.to_lowercase().contains("already"),
            "reason {reason:?}"
        );
        let said = format!("{reason} {entry}");
        assert!(
            said.contains("Main Gate") && said.contains("Tablet-GUI"),
            "when and where: {said:?}"
        );
        w.screenshot(&out.join("04-reject.png"));
        show(&frames, &empty_frame());
        w.click("#verdict");
        wait_for("the verdict to close", Duration::from_secs(10), || {
            w.verdict().is_none().then_some(())
        });

        // A USB scanner types the other ticket and Enter into whatever has the focus.
        w.keyboard(&format!("{other}\n"));
        let (class, word, _, _) =
            wait_for("the wedge verdict", Duration::from_secs(30), || w.verdict());
        assert_eq!((class.as_str(), word.as_str()), ("admit", "ADMIT"));
        w.screenshot(&out.join("05-wedge-admit.png"));

        let status = w.invoke("status");
        assert_eq!(status["today"]["admitted"], 2, "{status}");
        assert_eq!(status["today"]["rejected"], 1, "{status}");
        let recent = w.js("return document.querySelectorAll('#recent li').length;");
        assert_eq!(recent, json!(3));

        // The replayed (native) path's figures, for docs/adr/0009-gui-camera-path.md.
        let figures = w.js(CAMERA_FIGURES);
        std::fs::write(out.join("replay-camera.json"), figures.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(figures["fps"].as_f64() > Some(0.0), "no preview: {figures}");

        // A tablet held upright: the same screen in portrait.
        w.call(
            "POST",
            "/window/rect",
            Some(&json!({"x": 0, "y": 0, "width": 800, "height": 1280})),
        );
        wait_for("portrait", Duration::from_secs(10), || {
            (w.js("return innerHeight > innerWidth;") == json!(true)).then_some(())
        });
        wait_for("the return to scanning", Duration::from_secs(20), || {
            w.verdict().is_none().then_some(())
        });
        w.screenshot(&out.join("06-portrait.png"));
        w.keyboard(&format!("{text}\n"));
        let (class, _, _, _) = wait_for("the portrait verdict", Duration::from_secs(30), || {
            w.verdict()
        });
        assert_eq!(class, "reject");
        w.screenshot(&out.join("07-portrait-reject.png"));
    }

    // The webview's own camera: WebKit's mock capture device, frames to the Rust decoder.
    {
        let w = Window::open(
            &url,
            &["--data-dir".into(), arg(&data), "--mock-camera".into()],
        );
        wait_for("the gate screen", Duration::from_secs(30), || {
            w.shown("#gate").then_some(())
        });
        wait_for("live camera figures", Duration::from_secs(60), || {
            let s = w.js(CAMERA_FIGURES);
            (s["decodeFps"].as_f64() > Some(0.0) && s["fps"].as_f64() > Some(0.0)).then_some(())
        });
        assert!(!w.shown("#camera-problem"), "camera problem shown");
        // Let the figures settle over a few reporting periods, then keep the last.
        let start = w.invoke("status")["camera"]["frames"]
            .as_u64()
            .unwrap_or_default();
        wait_for("60 decoded frames", Duration::from_secs(60), || {
            (w.invoke("status")["camera"]["frames"].as_u64()? >= start + 60).then_some(())
        });
        let settled = w.js(CAMERA_FIGURES);
        std::fs::write(out.join("webview-camera.json"), settled.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        w.screenshot(&out.join("08-mock-camera.png"));
        assert!(
            settled["fps"].as_f64() >= Some(10.0),
            "preview below 10 fps: {settled}"
        );

        // The server goes away: the screen says so plainly, and scanning goes on.
        server.stop();
        w.click("#st-online");
        wait_for("the offline banner", Duration::from_secs(30), || {
            w.shown("#offline").then_some(())
        });
        let banner = w.js("return document.getElementById('offline').textContent;");
        assert!(
            banner.as_str().is_some_and(|b| b.starts_with("Offline")),
            "{banner}"
        );
        w.keyboard(&format!("{}\n", tickets[1].1));
        let (class, _, _, _) = wait_for("an offline verdict", Duration::from_secs(30), || {
            w.verdict()
        });
        assert_eq!(class, "reject");
        w.screenshot(&out.join("09-offline-reject.png"));
        w.click("#verdict");
        wait_for("the verdict to close", Duration::from_secs(10), || {
            w.verdict().is_none().then_some(())
        });
        w.screenshot(&out.join("10-offline.png"));

        // The camera list offers the test cameras, after "Default camera".
        wait_for("the camera list", Duration::from_secs(20), || {
            let n = w.js("return document.querySelectorAll('#choose-camera option').length;");
            (n.as_u64() >= Some(2)).then_some(())
        });
        let first = w.js("return document.querySelector('#choose-camera option').textContent;");
        assert_eq!(first, json!("Default camera"));
    }

    // No camera at all: the screen says so and how to scan anyway; never a blank box.
    {
        let w = Window::open(&url, &["--data-dir".into(), arg(&data)]);
        wait_for("the no-camera explanation", Duration::from_secs(30), || {
            w.shown("#camera-problem").then_some(())
        });
        let said = w.js("return document.getElementById('camera-problem').textContent;");
        let said = said.as_str().unwrap_or_default();
        assert!(
            said.contains("No camera found") && said.contains("USB scanner"),
            "{said:?}"
        );
        w.screenshot(&out.join("11-no-camera.png"));
    }
}

#[test]
fn a_new_device_enrolls_from_the_qr_code_shown_to_its_camera() {
    let out = out_dir();
    let db = Db::sqlite();
    let server = Server::start(&db);
    let text = server.buy(1).remove(0).1;
    let code = server.device_code("Tablet-QR", "North Gate");
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let frames = tmp.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap_or_else(|e| panic!("{e}"));
    // The organizer's enrollment QR code, held up to the camera.
    show(
        &frames,
        &frame_of(&format!("{}/enroll?code={code}", server.url)),
    );

    let (_x, display) = xvfb();
    let (_driver, url) = driver(&display, &out.join("driver-qr.log"));
    let data = tmp.path().join("device").display().to_string();
    let frames_arg = frames.display().to_string();
    let w = Window::open(
        &url,
        &["--data-dir".into(), data, "--frames".into(), frames_arg],
    );
    wait_for(
        "enrollment from the QR code",
        Duration::from_secs(60),
        || w.shown("#choose-part").then_some(()),
    );
    let status = w.invoke("status");
    assert_eq!(status["sync"]["enrolled"], true, "{status}");
    assert_eq!(status["device"]["name"], "Tablet-QR", "{status}");
    assert_eq!(status["gate"], "North Gate", "{status}");
    w.screenshot(&out.join("qr-enrolled.png"));

    show(&frames, &empty_frame());
    w.click("#start");
    wait_for("the gate screen", Duration::from_secs(20), || {
        w.shown("#gate").then_some(())
    });
    show(&frames, &frame_of(&text));
    let (class, word, _, _) = wait_for("ADMIT", Duration::from_secs(30), || w.verdict());
    assert_eq!((class.as_str(), word.as_str()), ("admit", "ADMIT"));
}
