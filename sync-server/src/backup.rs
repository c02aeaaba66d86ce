//! Online backups of the embedded SQLite database and their restore. PostgreSQL is backed up
//! with its own tools (`pg_dump`, docs/operations.md); these commands say so rather than
//! pretend.
//!
//! A backup is `VACUUM INTO`: SQLite writes a consistent, compacted copy of the database as
//! of one read transaction, while the server keeps serving (readers never block the writer
//! in WAL mode). Every transaction committed before the backup started is in it.

use std::path::{Path, PathBuf};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// PostgreSQL is backed up with pg_dump.
    #[error(
        "this server uses PostgreSQL: back it up with pg_dump (see docs/operations.md, \"Backups\")"
    )]
    Postgres,
    /// The backup file exists already.
    #[error("{0} exists: choose a new file name")]
    Exists(PathBuf),
    /// The file to restore is missing or is not a Tessera database.
    #[error("{0}")]
    NotABackup(String),
    /// Database failure.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// File failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn sqlite_path(url: &str) -> Result<PathBuf, BackupError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(BackupError::Postgres);
    }
    let opts: SqliteConnectOptions = url.parse()?;
    Ok(opts.get_filename().to_path_buf())
}

/// Writes a consistent copy of the live database to `to`.
pub async fn backup(database_url: &str, to: &Path) -> Result<u64, BackupError> {
    sqlite_path(database_url)?;
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    let mut conn = database_url
        .parse::<SqliteConnectOptions>()?
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await?;
    sqlx::query("VACUUM INTO $1")
        .bind(to.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    crate::store::private_file(to)?;
    Ok(std::fs::metadata(to)?.len())
}

/// Replaces the database with a backup. The server must be stopped; the current database is
/// kept beside it as `<name>.before-restore-<unix seconds>`.
pub async fn restore(database_url: &str, from: &Path) -> Result<PathBuf, BackupError> {
    let target = sqlite_path(database_url)?;
    // Check that the backup is a sound Tessera database before touching anything.
    let mut check = SqliteConnectOptions::new()
        .filename(from)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| {
            BackupError::NotABackup(format!("{} cannot be opened: {e}", from.display()))
        })?;
    let ok: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut check)
        .await
        .map_err(|e| {
            BackupError::NotABackup(format!("{} is not a database: {e}", from.display()))
        })?;
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('orders', 'tickets', 'changes')",
    )
    .fetch_one(&mut check)
    .await?;
    check.close().await?;
    if ok != "ok" || tables != 3 {
        return Err(BackupError::NotABackup(format!(
            "{} is not a sound Tessera database (integrity: {ok})",
            from.display()
        )));
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = target.with_extension(format!("db.before-restore-{stamp}"));
    if target.exists() {
        std::fs::rename(&target, &aside)?;
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = target.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            let mut kept = aside.as_os_str().to_owned();
            kept.push(suffix);
            std::fs::rename(&side, PathBuf::from(kept))?;
        }
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(from, &target)?;
    crate::store::private_file(&target)?;
    Ok(aside)
}
