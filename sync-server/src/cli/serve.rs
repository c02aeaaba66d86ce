//! Running the server: `serve`, `demo`, `migrate`, `print-config`.

use super::*;

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

async fn run_server(settings: Settings, demo: bool) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    let addr = listener.local_addr()?;
    let mut settings = settings;
    if settings.public_url.is_none() {
        settings.public_url = Some(format!("http://{addr}"));
    }
    // Admin commands on this data dir (device-code) link to where this server really is.
    let _ = std::fs::create_dir_all(&settings.data_dir);
    let _ = std::fs::write(
        settings.data_dir.join(SERVED_AT_FILE),
        settings.public_url(),
    );
    let outbox = settings.outbox_dir();
    let smtp = settings.email.smtp_url.is_some();
    let state = tessera_server::open(settings)
        .await
        .context("cannot start the server")?;
    println!("listening on http://{addr}");
    println!("payments: {}", state.payments.describe(&state.settings));
    if demo {
        println!(
            "\nTessera demo festival is open (demo payments: no money moves).\n\
             \n  shop:      http://{addr}/   (buy, then create an account to see, transfer and upgrade tickets)\
             \n  events:    curl http://{addr}/api/v1/events\
             \n  buy:       curl -X POST http://{addr}/api/v1/orders -H 'Content-Type: application/json' \\\
             \n               -d '{{\"email\":\"you@example.com\",\"name\":\"Your Name\",\"items\":[{{\"ticket_type\":1,\"quantity\":2}}]}}'\
             \n  order:     curl http://{addr}/api/v1/orders/ORDER_ID -H 'Authorization: Bearer ACCESS_TOKEN'\
             \n  PDF:       curl -o tickets.pdf http://{addr}/api/v1/orders/ORDER_ID/tickets.pdf -H 'Authorization: Bearer ACCESS_TOKEN'\
             \n  emails:    {}\
             \n  keys:      curl http://{addr}/api/v1/keys\
             \n  API:       http://{addr}/api/openapi.json\
             \n  guests:    tessera-server comp --type '3-Day Pass' --email guest@example.com\
             \n  scanners:  tessera-server device-code --name Tablet-1   (then: tessera-scan enroll --server http://{addr} --code CODE)\
             \n  organizer: log in at http://{addr}/account/login with the account in {}\n",
            if smtp {
                "sent through the configured SMTP server".to_owned()
            } else {
                format!("{}/*.eml", outbox.display())
            },
            state
                .settings
                .data_dir
                .join(tessera_server::DEMO_ORGANIZER_FILE)
                .display()
        );
    }
    tessera_server::serve_state(state, listener, shutdown_signal())
        .await
        .context("server failed")?;
    Ok(())
}

/// Where `serve`/`demo` write the URL they serve at, in the data dir.
pub(super) const SERVED_AT_FILE: &str = "served-at";

/// The subcommands of this topic.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Runs the server.
    Serve,
    /// Runs the server with the demo festival seeded, demo payments and `.eml` emails.
    Demo,
    /// Applies database migrations and exits.
    Migrate,
    /// Prints the settings in force as TOML, secrets redacted.
    PrintConfig,
}

/// Runs one subcommand of this topic.
///
/// `bind` is the `--bind` flag, already in `settings`; `demo` without it listens on
/// 127.0.0.1:8080 whatever the settings say, so a demo is never exposed by accident.
pub(super) async fn run(
    mut settings: Settings,
    bind: Option<SocketAddr>,
    command: Command,
) -> Result<()> {
    match command {
        Command::PrintConfig => {
            print!("{}", settings.to_toml());
        }
        Command::Serve => {
            init_logging();
            run_server(settings, false).await?;
        }
        Command::Demo => {
            init_logging();
            settings.bind = bind.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
            settings.demo = true;
            run_server(settings, true).await?;
        }
        Command::Migrate => {
            open_store(&settings).await?;
            println!(
                "migrations applied to the {} database",
                settings.database_url().split(':').next().unwrap_or("?")
            );
        }
    }
    Ok(())
}
