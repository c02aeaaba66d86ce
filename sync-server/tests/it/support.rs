//! The server tests' support: the shared harness of `tessera-tests` (databases on both
//! backends, the server in-process or as a process, the SMTP sink, the typed client), with
//! this crate's binary for [`ServerProcess`].

use std::path::Path;

pub use tessera_tests::harness::*;

/// The `tessera-server` binary of this build.
pub fn server_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tessera-server"))
}

/// Starts this build's `tessera-server <args>` (see [`ServerProcess::start`]).
pub fn server_process(args: &[&str], env: &[(&str, String)]) -> ServerProcess {
    ServerProcess::start(server_bin(), args, env)
}

/// Runs `$body(db)` as two tests, `sqlite` and `postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use $crate::support::{Backend, TestDb};

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
                super::$body(&db).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = TestDb::new(Backend::Postgres).await {
                    super::$body(&db).await;
                    db.cleanup().await;
                }
            }
        }
    };
}

/// `quantity` valid 3-Day Pass codes (QR texts) of one order bought through the API.
pub async fn pass_codes(app: &TestApp, quantity: i64) -> Vec<String> {
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let (status, order) = buy(&app.http, &app.base, pass, quantity).await;
    assert_eq!(status, 201, "{order}");
    order["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["qr_text"].as_str().unwrap().to_owned())
        .collect()
}
