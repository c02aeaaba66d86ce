//! The command line: the clap commands, one module a topic, each calling the library's
//! use-cases (`app`) or the store; nothing here speaks HTTP. Admin subcommands open the same
//! database as a running server (SQLite in WAL mode with a busy timeout, or PostgreSQL) and
//! never start the HTTP server or the outbox worker.

mod booths;
mod catalog;
mod data;
mod devices;
mod keys;
mod orders;
mod serve;
mod users;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;
use tessera_server::app;
use tessera_server::app::accounts::{self, Role};
use tessera_server::config::{Secret, Settings};
use tessera_server::store::{Email, NewEvent, NewTicketType, NewUser, TicketKind};

#[derive(Debug, Parser)]
#[command(
    name = "tessera-server",
    version,
    about = "Tessera's sync server: sales, issuance and email."
)]
struct Cli {
    /// Data directory: SQLite database, master key file, `.eml` outbox [env: TESSERA_DATA_DIR]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// `postgres://...` to use PostgreSQL instead of the SQLite file [env: TESSERA_DATABASE_URL]
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// TOML settings file (see `print-config`) [env: TESSERA_CONFIG]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Listen address of `serve` and `demo` [env: TESSERA_BIND; `demo`: 127.0.0.1:8080]
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Serve(serve::Command),
    #[command(flatten)]
    Catalog(catalog::Command),
    #[command(flatten)]
    Orders(orders::Command),
    #[command(flatten)]
    Keys(keys::Command),
    #[command(flatten)]
    Devices(devices::Command),
    #[command(flatten)]
    Booths(booths::Command),
    #[command(flatten)]
    Users(users::Command),
    #[command(flatten)]
    Data(data::Command),
}

fn settings(cli: &Cli) -> Result<Settings> {
    let config = cli
        .config
        .clone()
        .or_else(|| std::env::var_os("TESSERA_CONFIG").map(PathBuf::from));
    let mut settings = Settings::load(config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(dir) = &cli.data_dir {
        settings.data_dir = dir.clone();
    }
    if let Some(url) = &cli.database_url {
        settings.database_url = Some(Secret::new(url.clone()));
    }
    if let Some(bind) = cli.bind {
        settings.bind = bind;
    }
    Ok(settings)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // TESSERA_LOG_FORMAT=json: one JSON object per line, with the request span (id, method,
    // route) on every line logged while serving a request.
    let json = std::env::var("TESSERA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

/// The store of an existing database, migrated. A SQLite file that does not exist is
/// refused rather than created: a mistyped `--data-dir` must not report success on a new,
/// empty database with a new key.
async fn admin_store(
    settings: &Settings,
) -> Result<std::sync::Arc<dyn tessera_server::store::Store>> {
    refuse_missing_database(settings)?;
    open_store(settings).await
}

/// Everything the server's use-cases need, for an admin command on an existing database
/// (refused like [`admin_store`] when the SQLite file does not exist).
async fn admin_services(settings: Settings) -> Result<tessera_server::Services> {
    refuse_missing_database(&settings)?;
    Ok(tessera_server::open(settings).await?)
}

fn refuse_missing_database(settings: &Settings) -> Result<()> {
    if let Some(path) = sqlite_file(&settings.database_url())
        && !path.exists()
    {
        bail!(
            "no database at {}: check --data-dir (or TESSERA_DATA_DIR), or create one with \
             `tessera-server migrate`",
            path.display()
        );
    }
    Ok(())
}

/// The store, created and migrated if needed (`migrate`).
async fn open_store(
    settings: &Settings,
) -> Result<std::sync::Arc<dyn tessera_server::store::Store>> {
    let store = tessera_server::store::open(&settings.database_url(), 2)
        .await
        .context("cannot open the database")?;
    store.migrate().await.context("migrations failed")?;
    Ok(store)
}

/// The file a SQLite URL names (`sqlite://PATH` or `sqlite:PATH`, options after `?`).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Parses the command line and runs the subcommand.
#[tokio::main]
pub async fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = settings(&cli)?;
    match cli.command {
        Command::Serve(command) => serve::run(settings, cli.bind, command).await,
        Command::Catalog(command) => catalog::run(settings, command).await,
        Command::Orders(command) => orders::run(settings, command).await,
        Command::Keys(command) => keys::run(settings, command).await,
        Command::Devices(command) => devices::run(settings, command).await,
        Command::Booths(command) => booths::run(settings, command).await,
        Command::Users(command) => users::run(settings, command).await,
        Command::Data(command) => data::run(settings, command).await,
    }
}
