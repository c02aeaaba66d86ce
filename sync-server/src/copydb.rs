//! `tessera-server copy-db`: moves a festival from the embedded SQLite file to PostgreSQL in
//! one consistent pass — every table, ids and feed seqs preserved, so enrolled devices keep
//! their cursors and tokens and go on syncing without a resync.
//!
//! The source is read inside one read transaction (a consistent snapshot, also while a
//! server runs on it); the target is written in one transaction with triggers off (the
//! copied feed is the feed), then every table's row count and an order-independent checksum
//! are compared on both sides. A target that holds any data is refused.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row};

/// Tables in an order that satisfies their references; tables the source has beyond these
/// (added by later migrations) are copied after them.
const ORDER: &[&str] = &[
    "events",
    "gates",
    "ticket_types",
    "signing_keys",
    "orders",
    "order_items",
    "tickets",
    "outbox",
    "devices",
    "enrollment_codes",
    "check_ins",
    "changes",
];

/// Rows per multi-row insert (PostgreSQL takes at most 65,535 parameters a statement).
const CHUNK: usize = 500;

/// Why a copy failed. Nothing is written to the target unless every table copied and
/// checked out.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A URL of the wrong kind.
    #[error("{0}")]
    Usage(String),
    /// The target already holds data.
    #[error(
        "the target database is not empty (table {0} has rows): copy-db only fills an empty database"
    )]
    NotEmpty(String),
    /// Counts or checksums differ after the copy.
    #[error("verification failed for table {table}: {what}")]
    Mismatch {
        /// The table.
        table: String,
        /// What differed.
        what: String,
    },
    /// A column type copy-db does not know how to carry.
    #[error("table {table}, column {column}: type {kind} is not supported by copy-db")]
    UnsupportedType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its PostgreSQL type.
        kind: String,
    },
    /// The target refused to switch triggers off for the copy.
    #[error(
        "the PostgreSQL role cannot set session_replication_role (needed to copy with triggers off): {0}"
    )]
    Privilege(String),
    /// Database failure.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed on the target.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What was copied, per table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// Table.
    pub table: String,
    /// Rows copied.
    pub rows: u64,
    /// The order-independent SHA-256 checksum, equal on both sides.
    pub checksum: String,
}

/// One value, typed by the target column.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
    Text(Option<String>),
    Float(Option<f64>),
}

impl Value {
    /// A canonical text form for checksums.
    fn canon(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(v) => out.extend(format!("i{v:?}").as_bytes()),
            Self::Bool(v) => out.extend(format!("i{:?}", v.map(i64::from)).as_bytes()),
            Self::Bytes(v) => out.extend(format!("b{:?}", v.as_ref().map(hex::encode)).as_bytes()),
            Self::Text(v) => out.extend(format!("t{v:?}").as_bytes()),
            Self::Float(v) => out.extend(format!("f{v:?}").as_bytes()),
        }
        out.push(0x1f);
    }
}

/// What the source held of one table: rows, checksum, the columns copied.
type Expected = (u64, String, Vec<(String, Kind)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Bytes,
    Text,
    Float,
}

fn kind_of(table: &str, column: &str, pg_type: &str) -> Result<Kind, CopyError> {
    Ok(match pg_type {
        "bigint" | "integer" | "smallint" => Kind::Int,
        "boolean" => Kind::Bool,
        "bytea" => Kind::Bytes,
        "text" | "character varying" | "character" => Kind::Text,
        "double precision" | "real" => Kind::Float,
        other => {
            return Err(CopyError::UnsupportedType {
                table: table.into(),
                column: column.into(),
                kind: other.into(),
            });
        }
    })
}

/// Reads the copied columns of a row, each as its target type says (SQLite's integer
/// booleans decode as booleans too).
fn read_row<R: Row>(row: &R, columns: &[(String, Kind)]) -> Result<Vec<Value>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<bool>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<Vec<u8>>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<f64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Kind::Int => Value::Int(row.try_get(i)?),
                Kind::Bool => Value::Bool(row.try_get(i)?),
                Kind::Bytes => Value::Bytes(row.try_get(i)?),
                Kind::Text => Value::Text(row.try_get(i)?),
                Kind::Float => Value::Float(row.try_get(i)?),
            })
        })
        .collect()
}

/// Sums per-row SHA-256 prefixes: equal for equal row sets in any order.
fn checksum(rows: &[Vec<Value>]) -> String {
    let mut acc = [0u64; 4];
    let mut buf = Vec::new();
    for row in rows {
        buf.clear();
        for v in row {
            v.canon(&mut buf);
        }
        let digest = Sha256::digest(&buf);
        for (slot, chunk) in acc.iter_mut().zip(digest.chunks(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            *slot = slot.wrapping_add(u64::from_le_bytes(word));
        }
    }
    acc.iter().map(|w| format!("{w:016x}")).collect()
}

fn ident(name: &str) -> String {
    // Table and column names come from the databases' own catalogs, never from a user.
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Copies everything from a SQLite database to an empty PostgreSQL database and verifies it.
pub async fn copy(from: &str, to: &str) -> Result<Vec<Copied>, CopyError> {
    if from.starts_with("postgres") {
        return Err(CopyError::Usage(
            "--from must be the SQLite database (sqlite://PATH)".into(),
        ));
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(CopyError::Usage(
            "--to must be a PostgreSQL URL (postgres://...)".into(),
        ));
    }
    // The target's schema comes from its own migrations.
    let target = crate::store::open(to, 2).await?;
    target.migrate().await?;
    drop(target);

    let source = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            from.parse::<SqliteConnectOptions>()?
                .busy_timeout(std::time::Duration::from_secs(30)),
        )
        .await?;
    let pg = PgPoolOptions::new().max_connections(2).connect(to).await?;

    let mut tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT IN ('_sqlx_migrations', 'write_probe')",
    )
    .fetch_all(&source)
    .await?;
    tables.sort_by_key(|t| ORDER.iter().position(|o| o == t).unwrap_or(ORDER.len()));

    let mut src = source.begin().await?;
    let mut dst = pg.begin().await?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *dst)
        .await
        .map_err(|e| CopyError::Privilege(e.to_string()))?;
    let mut report = Vec::new();
    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    for table in &tables {
        let nonempty: bool = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {})",
            ident(table)
        )))
        .fetch_one(&mut *dst)
        .await?;
        if nonempty {
            return Err(CopyError::NotEmpty(table.clone()));
        }
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *dst)
        .await?;
        let source_columns: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{}')",
            table.replace('\'', "''")
        )))
        .fetch_all(&mut *src)
        .await?;
        let columns: Vec<(String, Kind)> = columns
            .into_iter()
            .filter(|(c, _)| source_columns.contains(c))
            .map(|(c, t)| kind_of(table, &c, &t).map(|k| (c, k)))
            .collect::<Result<_, _>>()?;
        if columns.is_empty() {
            return Err(CopyError::Usage(format!(
                "table {table} does not exist in the target: are both on the same Tessera version?"
            )));
        }
        let list = columns
            .iter()
            .map(|(c, _)| ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<Vec<Value>> = sqlx::query(AssertSqlSafe(format!(
            "SELECT {list} FROM {}",
            ident(table)
        )))
        .fetch_all(&mut *src)
        .await?
        .iter()
        .map(|row| read_row(row, &columns))
        .collect::<Result<_, _>>()?;
        for chunk in rows.chunks(CHUNK) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
                "INSERT INTO {} ({list}) ",
                ident(table)
            ));
            insert.push_values(chunk, |mut b, row| {
                for v in row {
                    match v.clone() {
                        Value::Int(x) => b.push_bind(x),
                        Value::Bool(x) => b.push_bind(x),
                        Value::Bytes(x) => b.push_bind(x),
                        Value::Text(x) => b.push_bind(x),
                        Value::Float(x) => b.push_bind(x),
                    };
                }
            });
            insert.build().execute(&mut *dst).await?;
        }
        expected.insert(table.clone(), (rows.len() as u64, checksum(&rows), columns));
    }
    src.commit().await?;

    // Sequences continue after the copied ids.
    let serials: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() \
         AND (is_identity = 'YES' OR column_default LIKE 'nextval%')",
    )
    .fetch_all(&mut *dst)
    .await?;
    for (table, column) in serials {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), COALESCE((SELECT MAX({ci}) FROM {ti}), 0) + 1, false)",
            t = table.replace('\'', "''"),
            c = column.replace('\'', "''"),
            ci = ident(&column),
            ti = ident(&table)
        )))
        .execute(&mut *dst)
        .await?;
    }
    sqlx::query(
        "SELECT setval('changes_seq', COALESCE((SELECT MAX(seq) FROM changes), 0) + 1, false)",
    )
    .execute(&mut *dst)
    .await?;

    // Verify inside the target transaction, before it commits.
    for (table, (rows, sum, columns)) in &expected {
        let list = columns
            .iter()
            .map(|(c, _)| ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let copied: Vec<Vec<Value>> = sqlx::query(AssertSqlSafe(format!(
            "SELECT {list} FROM {}",
            ident(table)
        )))
        .fetch_all(&mut *dst)
        .await?
        .iter()
        .map(|row| read_row(row, columns))
        .collect::<Result<_, _>>()?;
        if copied.len() as u64 != *rows {
            return Err(CopyError::Mismatch {
                table: table.clone(),
                what: format!(
                    "{} rows in the source, {} in the target",
                    rows,
                    copied.len()
                ),
            });
        }
        let got = checksum(&copied);
        if &got != sum {
            return Err(CopyError::Mismatch {
                table: table.clone(),
                what: "checksums differ".into(),
            });
        }
        report.push(Copied {
            table: table.clone(),
            rows: *rows,
            checksum: got,
        });
    }
    dst.commit().await?;
    report.sort_by_key(|c| {
        ORDER
            .iter()
            .position(|o| *o == c.table)
            .unwrap_or(ORDER.len())
    });
    Ok(report)
}
