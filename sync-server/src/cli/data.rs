//! The database as a whole: `copy-db`, `backup`, `restore`.

use super::*;

/// The subcommands of this topic.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Copies everything from a SQLite database to an empty PostgreSQL database in one
    /// consistent pass, verifies row counts and checksums, and prints one JSON line a table.
    CopyDb {
        /// The SQLite database, e.g. sqlite://tessera-data/tessera.db
        #[arg(long)]
        from: String,
        /// The empty PostgreSQL database, e.g. postgres://tessera@db/tessera
        #[arg(long)]
        to: String,
    },
    /// Writes a consistent copy of the SQLite database to FILE, also while a server runs.
    Backup {
        /// The backup file to create.
        #[arg(long)]
        to: PathBuf,
    },
    /// Replaces the SQLite database with a backup (stop the server first).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
}

/// Runs one subcommand of this topic.
pub(super) async fn run(settings: Settings, command: Command) -> Result<()> {
    match command {
        Command::CopyDb { from, to } => {
            let copied = tessera_server::copydb::copy(&from, &to).await?;
            for c in copied {
                println!(
                    "{}",
                    json!({"table": c.table, "rows": c.rows, "checksum": c.checksum, "verified": true})
                );
            }
        }
        Command::Backup { to } => {
            let bytes = tessera_server::backup::backup(&settings.database_url(), &to).await?;
            println!(
                "{}",
                json!({"backup": to.display().to_string(), "bytes": bytes})
            );
        }
        Command::Restore { from } => {
            let aside = tessera_server::backup::restore(&settings.database_url(), &from).await?;
            println!(
                "{}",
                json!({"restored": from.display().to_string(), "previous": aside.display().to_string()})
            );
        }
    }
    Ok(())
}
