//! The dependency rules of ARCHITECTURE.md, checked on the source tree: the server's rooms
//! depend one way (`domain` ← `app` ← `http`), only `http` speaks axum, the store crate knows
//! neither the server nor the clock, no SQL sits in a macro body, and `tessera-core` does no
//! IO and reads no clock.
//!
//! The check reads the sources as text (code lines only: comments and test modules are left
//! out), so it needs no build of its own and names the file and line of each violation.

use std::path::{Path, PathBuf};

/// One rule: files under `under` (relative to the workspace root) must not contain any of
/// `forbidden` in their code.
struct Rule {
    name: &'static str,
    under: &'static str,
    except: &'static [&'static str],
    forbidden: &'static [&'static str],
}

const RULES: &[Rule] = &[
    Rule {
        name: "nothing outside `http` imports axum",
        under: "sync-server/src/",
        except: &["sync-server/src/http/"],
        forbidden: &["axum"],
    },
    Rule {
        name: "`app` never reaches up into `http`",
        under: "sync-server/src/app/",
        except: &[],
        forbidden: &["crate::http", "super::http", "tessera_server::http"],
    },
    Rule {
        name: "the CLI speaks no HTTP: it calls `app` and the store",
        under: "sync-server/src/cli/",
        except: &[],
        forbidden: &["tessera_server::http", "crate::http"],
    },
    Rule {
        name: "`domain` imports neither the store's trait, the database, the runtime, axum, nor the rooms above it, and reads no clock",
        under: "sync-server/src/domain/",
        except: &[],
        forbidden: &[
            "crate::app",
            "crate::http",
            "dyn Store",
            "store::Store",
            "sqlx",
            "tokio",
            "axum",
            "Utc::now",
            "SystemTime",
            "Instant::now",
        ],
    },
    Rule {
        name: "the store crate never imports the server, axum or the clock",
        under: "sync-server/store/src/",
        except: &[],
        forbidden: &[
            "tessera_server",
            "axum",
            "Utc::now",
            "Local::now",
            "SystemTime",
            "Instant::now",
        ],
    },
    Rule {
        name: "`tessera-core` does no IO and reads no clock or randomness",
        under: "core/src/",
        except: &[],
        forbidden: &[
            "Utc::now",
            "Local::now",
            "SystemTime",
            "Instant::now",
            "std::fs",
            "std::net",
            "std::io::stdin",
            "getrandom",
            "OsRng",
            "thread_rng",
        ],
    },
];

/// Crates a crate's manifest must not depend on.
const MANIFEST_RULES: &[(&str, &[&str])] = &[
    ("sync-server/store/Cargo.toml", &["tessera-server", "axum"]),
    (
        "core/Cargo.toml",
        &["tokio", "sqlx", "rusqlite", "getrandom", "axum"],
    ),
];

/// The code lines of a Rust file, numbered from 1: without comments, and without the items
/// under `#[cfg(test)]` (a test may read the clock; the code it tests may not).
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    // Inside a test item: the brace depth, once its first `{` is seen.
    let mut skipping: Option<Option<i64>> = None;
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        if skipping.is_none() && code.trim() == "#[cfg(test)]" {
            skipping = Some(None);
            continue;
        }
        if let Some(depth) = skipping {
            let opens = i64::try_from(code.matches('{').count()).unwrap();
            let closes = i64::try_from(code.matches('}').count()).unwrap();
            let depth = match depth {
                None if opens == 0 && code.trim_end().ends_with(';') => {
                    skipping = None; // a one-line item such as `mod tests;`
                    continue;
                }
                None if opens == 0 => None,
                None => Some(opens - closes),
                Some(d) => Some(d + opens - closes),
            };
            skipping = match depth {
                Some(d) if d <= 0 => None,
                other => Some(other),
            };
            continue;
        }
        if !code.trim().is_empty() {
            lines.push((i + 1, code));
        }
    }
    lines
}

/// Every violation of [`RULES`] among `files` (paths relative to the workspace root).
fn violations(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for rule in RULES {
        for (path, text) in files {
            if !path.starts_with(rule.under) || rule.except.iter().any(|e| path.starts_with(e)) {
                continue;
            }
            for (n, line) in code_lines(text) {
                for word in rule.forbidden {
                    if contains_word(line, word) {
                        found.push(format!("{path}:{n}: `{word}` breaks \"{}\"", rule.name));
                    }
                }
            }
        }
    }
    found
}

/// Macro bodies that hold SQL or run queries, anywhere in `files`: the store's statements are
/// plain functions that rustfmt formats and the compiler types (ADR 0016).
fn sql_in_macros(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files {
        let lines = code_lines(text);
        let mut depth: Option<i64> = None;
        for (n, line) in &lines {
            if depth.is_none() && line.contains("macro_rules!") {
                depth = Some(0);
            }
            let Some(d) = depth else { continue };
            let upper = line.to_ascii_uppercase();
            if line.contains("sqlx::")
                || ["SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM"]
                    .iter()
                    .any(|k| upper.contains(k))
            {
                found.push(format!("{path}:{n}: SQL inside a macro body"));
            }
            let d = d + i64::try_from(line.matches('{').count()).unwrap()
                - i64::try_from(line.matches('}').count()).unwrap();
            depth = (d > 0 || !line.contains('}')).then_some(d);
        }
    }
    found
}

/// Dependencies a manifest names in its `[dependencies]` and `[build-dependencies]`.
fn manifest_violations(path: &str, text: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut section = "";
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[dependencies]" && section != "[build-dependencies]" {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        if forbidden.contains(&name) {
            found.push(format!("{path}:{}: depends on `{name}`", n + 1));
        }
    }
    found
}

/// Whether `word` occurs in `line` not as part of a longer identifier.
fn contains_word(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sync-server sits in the workspace")
        .to_path_buf()
}

fn rust_files(root: &Path, dir: &str, out: &mut Vec<(String, String)>) {
    let mut stack = vec![root.join(dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
}

#[test]
fn the_layers_depend_one_way() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["sync-server/src", "sync-server/store/src", "core/src"] {
        rust_files(&root, dir, &mut files);
    }
    assert!(
        files
            .iter()
            .any(|(p, _)| p.starts_with("sync-server/src/http/")),
        "the http room was not found: the check would pass on nothing"
    );
    let mut found = violations(&files);
    let store: Vec<_> = files
        .iter()
        .filter(|(p, _)| p.starts_with("sync-server/"))
        .cloned()
        .collect();
    found.extend(sql_in_macros(&store));
    for (manifest, forbidden) in MANIFEST_RULES {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        found.extend(manifest_violations(manifest, &text, forbidden));
    }
    assert!(
        found.is_empty(),
        "dependency rules broken (ARCHITECTURE.md, \"Dependency rules\"):\n{}",
        found.join("\n")
    );
}

#[test]
fn each_rule_catches_a_deliberate_violation() {
    let file = |p: &str, t: &str| (p.to_owned(), t.to_owned());
    let broken = [
        file("sync-server/src/app/orders.rs", "use axum::Json;"),
        file("sync-server/src/lib.rs", "let s = axum::serve(l, r);"),
        file(
            "sync-server/src/app/tickets.rs",
            "use crate::http::api::TicketOut;",
        ),
        file("sync-server/src/domain/render.rs", "fn f(s: &dyn Store) {}"),
        file(
            "sync-server/src/domain/render.rs",
            "let now = chrono::Utc::now();",
        ),
        file(
            "sync-server/store/src/sql.rs",
            ".bind(chrono::Utc::now().timestamp())",
        ),
        file(
            "sync-server/store/src/lib.rs",
            "use tessera_server::app::AppError;",
        ),
        file(
            "core/src/decide.rs",
            "let t = std::time::SystemTime::now();",
        ),
        file("core/src/ticket.rs", "getrandom::fill(&mut seed)?;"),
    ];
    for f in &broken {
        assert_eq!(
            violations(std::slice::from_ref(f)).len(),
            1,
            "not caught: {f:?}"
        );
    }
    let fine = [
        file("sync-server/src/http/api.rs", "use axum::Json;"),
        file("sync-server/src/app/orders.rs", "// axum is not used here"),
        file("sync-server/src/app/orders.rs", "let axum_like = 1;"),
        file(
            "sync-server/store/src/sql.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests {\n    fn g() { chrono::Utc::now(); }\n}",
        ),
    ];
    for f in &fine {
        assert!(
            violations(std::slice::from_ref(f)).is_empty(),
            "flagged: {f:?}"
        );
    }
    let sql_macro = file(
        "sync-server/store/src/sql.rs",
        "macro_rules! orders {\n    () => {\n        \"SELECT id FROM orders\"\n    };\n}",
    );
    assert_eq!(sql_in_macros(&[sql_macro]).len(), 1);
    let names_macro = file(
        "sync-server/store/src/values.rs",
        "macro_rules! names {\n    ($n:ident) => {\n        pub enum $n {}\n    };\n}\nconst Q: &str = \"SELECT 1\";",
    );
    assert!(sql_in_macros(&[names_macro]).is_empty());
    let manifest = "[dependencies]\nsqlx.workspace = true\naxum = \"0.8\"\n[dev-dependencies]\ntessera-server.workspace = true\n";
    assert_eq!(
        manifest_violations("store/Cargo.toml", manifest, &["tessera-server", "axum"]),
        vec!["store/Cargo.toml:3: depends on `axum`".to_owned()]
    );
}
