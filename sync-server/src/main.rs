//! `tessera-server`: the command line over the library: `serve`, `demo`, `migrate`,
//! `print-config`, catalog admin (`event`, `ticket-type`), `comp`, `void`, `keys`, and the
//! gate devices (`device-code`, `devices`, `readiness`), vendor booths (`booth`).
//! Admin subcommands open the same database as a running server (SQLite in WAL mode with a
//! busy timeout, or PostgreSQL) and never start the HTTP server or the outbox worker.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;
use tessera_server::app::accounts::{self, Role};
use tessera_server::app::{catalog, keys, orders};
use tessera_server::config::{Secret, Settings};
use tessera_server::store::{NewEvent, NewTicketType, NewUser, TicketKind};

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve {
        /// Listen address [env: TESSERA_BIND]
        #[arg(long)]
        bind: Option<SocketAddr>,
    },
    /// Runs the server with the demo festival seeded, demo payments and `.eml` emails.
    Demo {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
    },
    /// Applies database migrations and exits.
    Migrate,
    /// Prints the settings in force as TOML, secrets redacted.
    PrintConfig,
    /// Events: create and list.
    #[command(subcommand)]
    Event(EventCommand),
    /// Ticket types: create and list.
    #[command(subcommand)]
    TicketType(TicketTypeCommand),
    /// Issues complimentary tickets (the guest list); prints one JSON object per ticket.
    Comp(CompArgs),
    /// Voids a ticket.
    Void {
        /// The ticket id.
        ticket_id: i64,
    },
    /// Refunds a paid order, or one of its tickets, through Stripe (nothing to move for demo
    /// and comp orders) and revokes the tickets; prints one JSON object.
    Refund {
        /// The order id.
        order_id: i64,
        /// Refund only this ticket of the order.
        #[arg(long)]
        ticket: Option<i64>,
    },
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Creates a one-time enrollment code for a gate device; prints a QR code of the
    /// enrollment link, then the code alone on the last line.
    DeviceCode {
        /// The device's name, as staff will see it ("Tablet-3").
        #[arg(long)]
        name: String,
        /// The gate it scans at.
        #[arg(long)]
        gate: Option<String>,
        /// The event it scans for (default: the only event).
        #[arg(long)]
        event: Option<i64>,
        /// Hours until the code expires.
        #[arg(long, default_value_t = 24)]
        ttl_hours: u32,
    },
    /// Gate devices: list and revoke.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Vendor booths: create booths, assign them to booth purchases, grant staff passes.
    #[command(subcommand)]
    Booth(BoothCommand),
    /// Doors-open readiness: one JSON line per device (current or what is wrong), then a
    /// summary line; exits 1 unless every active device is current.
    Readiness {
        /// The event (default: the current event).
        #[arg(long)]
        event: Option<i64>,
        /// A device is current if it synced within this many minutes and has every change.
        #[arg(long, default_value_t = 15)]
        within_minutes: i64,
    },
    /// Accounts: create one with any role (organizers, gate staff), change a role, list.
    #[command(subcommand)]
    User(UserCommand),
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

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Creates an account with a confirmed address. The password is read from the first
    /// line of stdin; with nothing on stdin a random one is made and printed once.
    Create {
        /// Email (the login).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// attendee, vendor, gate_staff or organizer.
        #[arg(long, default_value = "attendee")]
        role: String,
    },
    /// Changes the role of an account.
    Role {
        /// The account's email.
        email: String,
        /// attendee, vendor, gate_staff or organizer.
        role: String,
    },
    /// Lists accounts, one JSON object per line.
    List,
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// Lists devices, one JSON object per line (gate, last seen, cursor, clock skew).
    List,
    /// Revokes a device: its token stops working at once; it keeps its check-ins.
    Revoke {
        /// The device id (see `devices list`).
        device_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum BoothCommand {
    /// Creates a booth with its location code ("B-12"); prints it as JSON.
    Create {
        /// Location code: letters, digits and dashes.
        code: String,
        /// The event (default: the current event).
        #[arg(long)]
        event: Option<i64>,
        /// bazaar, food_truck or food_booth.
        #[arg(long)]
        category: Option<String>,
    },
    /// Assigns a booth to a paid booth purchase, by its order id or its vendor's email.
    Assign {
        /// The booth's location code.
        code: String,
        /// The booth purchase's order id.
        #[arg(long, conflicts_with = "email")]
        order: Option<i64>,
        /// The vendor's email (their one unassigned paid purchase).
        #[arg(long)]
        email: Option<String>,
        /// The event (default: the current event).
        #[arg(long)]
        event: Option<i64>,
    },
    /// Grants staff passes for an assigned booth; prints one JSON object per pass and emails
    /// them to the vendor.
    Staff {
        /// The booth's location code.
        code: String,
        /// How many ("Staff n" holders).
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// A holder's name instead (repeatable; one pass each).
        #[arg(long = "name")]
        names: Vec<String>,
        /// The event (default: the current event).
        #[arg(long)]
        event: Option<i64>,
    },
    /// Lists booths and booth purchases, one JSON object per line.
    List,
}

#[derive(Debug, Subcommand)]
enum EventCommand {
    /// Creates an event; prints its id.
    Create {
        /// Unique name.
        #[arg(long)]
        name: String,
        /// Venue.
        #[arg(long, default_value = "")]
        venue: String,
        /// IANA timezone, e.g. America/Los_Angeles.
        #[arg(long)]
        timezone: String,
        /// First day, YYYY-MM-DD (event-local date).
        #[arg(long)]
        start: NaiveDate,
        /// Number of consecutive days.
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// A gate as NAME=ZONES (zone mask, 1 = general admission); repeatable.
        #[arg(long = "gate")]
        gates: Vec<String>,
    },
    /// Lists events, one JSON object per line.
    List,
    /// Sets an event's entry policy.
    Policy {
        /// Event id.
        #[arg(long)]
        event: i64,
        /// `once-per-day` (default) or `reentry-after-exit`.
        #[arg(value_enum)]
        policy: PolicyArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PolicyArg {
    OncePerDay,
    ReentryAfterExit,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Pass,
    VendorBooth,
}

#[derive(Debug, Subcommand)]
enum TicketTypeCommand {
    /// Creates a ticket type; prints its id.
    Create {
        /// Event id.
        #[arg(long)]
        event: i64,
        /// Name, unique within the event.
        #[arg(long)]
        name: String,
        /// Pass or vendor booth.
        #[arg(long, value_enum, default_value = "pass")]
        kind: KindArg,
        /// Price in cents.
        #[arg(long)]
        price_cents: i64,
        /// ISO 4217 currency.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// How many can be sold.
        #[arg(long)]
        capacity: i64,
        /// Valid days as 1-based day numbers, e.g. 1,2 (default: every day).
        #[arg(long, value_delimiter = ',')]
        days: Vec<u8>,
        /// Zone mask (1 = general admission).
        #[arg(long, default_value_t = 1)]
        zones: u16,
        /// Forbid transfers (vendor booths are never transferable).
        #[arg(long)]
        not_transferable: bool,
    },
    /// Lists ticket types, one JSON object per line.
    List,
}

#[derive(Debug, Args)]
struct CompArgs {
    /// Ticket type name, e.g. "3-Day Pass".
    #[arg(long = "type")]
    ticket_type: String,
    /// Guest email (receives the tickets).
    #[arg(long)]
    email: String,
    /// Guest name (default: the email).
    #[arg(long)]
    name: Option<String>,
    /// How many tickets.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Event id, when several events have a ticket type of that name.
    #[arg(long)]
    event: Option<i64>,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Adds a new active signing key; older keys keep verifying until retired. Running
    /// servers pick it up within `keys_reload_ms` (30 seconds by default).
    Rotate,
    /// Lists the keys, one JSON object per line.
    List,
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
const SERVED_AT_FILE: &str = "served-at";

fn parse_gate(spec: &str) -> Result<(String, u16)> {
    let (name, zones) = spec
        .rsplit_once('=')
        .with_context(|| format!("gate {spec:?}: expected NAME=ZONES, e.g. \"Main Gate=1\""))?;
    Ok((
        name.trim().to_owned(),
        zones.trim().parse().context("gate zones")?,
    ))
}

async fn admin_store(
    settings: &Settings,
) -> Result<std::sync::Arc<dyn tessera_server::store::Store>> {
    let store = tessera_server::store::open(&settings.database_url(), 2)
        .await
        .context("cannot open the database")?;
    store.migrate().await.context("migrations failed")?;
    Ok(store)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut settings = settings(&cli)?;
    match cli.command {
        Command::PrintConfig => {
            print!("{}", settings.to_toml());
        }
        Command::Serve { bind } => {
            init_logging();
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            run_server(settings, false).await?;
        }
        Command::Demo { bind } => {
            init_logging();
            settings.bind = bind;
            settings.demo = true;
            run_server(settings, true).await?;
        }
        Command::Migrate => {
            admin_store(&settings).await?;
            println!(
                "migrations applied to the {} database",
                settings.database_url().split(':').next().unwrap_or("?")
            );
        }
        Command::Event(EventCommand::Create {
            name,
            venue,
            timezone,
            start,
            days,
            gates,
        }) => {
            let store = admin_store(&settings).await?;
            let event = NewEvent {
                name,
                venue,
                timezone,
                days: catalog::consecutive_days(start, days),
                gates: gates.iter().map(|g| parse_gate(g)).collect::<Result<_>>()?,
                created_at: chrono::Utc::now().timestamp(),
            };
            let id = catalog::create_event(store.as_ref(), &event).await?;
            println!("{}", json!({ "id": id }));
        }
        Command::Event(EventCommand::Policy { event, policy }) => {
            let store = admin_store(&settings).await?;
            let policy = match policy {
                PolicyArg::OncePerDay => "once_per_day",
                PolicyArg::ReentryAfterExit => "reentry_after_exit",
            };
            store.set_event_policy(event, policy).await?;
            println!("{}", json!({ "id": event, "policy": policy }));
        }
        Command::DeviceCode {
            name,
            gate,
            event,
            ttl_hours,
        } => {
            // Unless configured, the address the server on this data dir last announced.
            let public_url = match &settings.public_url {
                Some(_) => settings.public_url(),
                None => std::fs::read_to_string(settings.data_dir.join(SERVED_AT_FILE))
                    .map(|u| u.trim().to_owned())
                    .ok()
                    .filter(|u| u.starts_with("http"))
                    .unwrap_or_else(|| settings.public_url()),
            };
            let state = tessera_server::open(settings).await?;
            let events = state.store.events().await?;
            let event_id = match (event, events.as_slice()) {
                (Some(id), _) if events.iter().any(|e| e.id == id) => id,
                (Some(id), _) => bail!("no event with id {id} (see `tessera-server event list`)"),
                (None, [one]) => one.id,
                (None, []) => bail!("there is no event yet: create one, or run `demo` once"),
                (None, _) => {
                    bail!("several events: pass --event ID (see `tessera-server event list`)")
                }
            };
            if let Some(g) = &gate {
                let gates = state.store.gates().await?;
                if !gates.iter().any(|r| r.event_id == event_id && &r.name == g) {
                    let known: Vec<_> = gates
                        .iter()
                        .filter(|r| r.event_id == event_id)
                        .map(|r| r.name.as_str())
                        .collect();
                    bail!(
                        "event {event_id} has no gate {g:?} (gates: {})",
                        known.join(", ")
                    );
                }
            }
            let now = chrono::Utc::now();
            let code = tessera_server::http::sync::create_device_code(
                &state,
                event_id,
                &name,
                gate.as_deref(),
                chrono::Duration::hours(i64::from(ttl_hours.max(1))),
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let link = format!("{}/enroll?code={code}", public_url.trim_end_matches('/'));
            let qr = qrcode::QrCode::new(link.as_bytes()).context("enrollment QR")?;
            let art = qr
                .render::<qrcode::render::unicode::Dense1x2>()
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .quiet_zone(true)
                .build();
            println!("{art}");
            println!(
                "Enrollment for {name:?}{} — one use, expires in {ttl_hours} h.",
                gate.as_ref()
                    .map(|g| format!(" at {g}"))
                    .unwrap_or_default()
            );
            println!("Show the QR code to the scanner app, or run on the device:");
            println!(
                "  tessera-scan enroll --server {} --code {code}",
                public_url.trim_end_matches('/')
            );
            println!("{code}");
        }
        Command::Booth(command) => booth_command(settings, command).await?,
        Command::Readiness {
            event,
            within_minutes,
        } => {
            settings.email.worker = false;
            let state = tessera_server::open(settings).await?;
            let out = tessera_server::http::console::readiness_of(
                &state,
                event,
                Some(within_minutes),
                chrono::Utc::now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            for d in &out.devices {
                println!("{}", serde_json::to_string(d)?);
            }
            println!(
                "{}",
                json!({"event_id": out.event_id, "head": out.head, "ready": out.ready, "active": out.active})
            );
            if out.ready < out.active {
                std::process::exit(1);
            }
        }
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
        Command::User(UserCommand::Create { email, name, role }) => {
            let store = admin_store(&settings).await?;
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let given = line.trim_end_matches(['\r', '\n']).to_owned();
            let (password, generated) = if given.is_empty() {
                (
                    accounts::new_token().map_err(|e| anyhow::anyhow!("{e}"))?[..24].to_owned(),
                    true,
                )
            } else {
                (given, false)
            };
            let email = accounts::normalize_email(&email);
            orders::validate_contact(&email, name.trim())?;
            accounts::validate_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = accounts::hash_password(password.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let id = store
                .create_user(&NewUser {
                    email: email.clone(),
                    name: name.trim().to_owned(),
                    password_hash: hash,
                    role: role.as_str().to_owned(),
                    verified: true,
                    now: chrono::Utc::now().timestamp(),
                })
                .await?;
            let mut out = json!({"id": id, "email": email, "role": role.as_str()});
            if generated {
                out["password"] = json!(password);
            }
            println!("{out}");
        }
        Command::User(UserCommand::Role { email, role }) => {
            let store = admin_store(&settings).await?;
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let email = accounts::normalize_email(&email);
            let Some(user) = store.user_by_email(&email).await? else {
                bail!("no account with email {email} (see `tessera-server user list`)");
            };
            store.set_role(user.id, role.as_str()).await?;
            println!(
                "{}",
                json!({"id": user.id, "email": email, "role": role.as_str()})
            );
        }
        Command::User(UserCommand::List) => {
            let store = admin_store(&settings).await?;
            for u in store.users().await? {
                println!(
                    "{}",
                    json!({"id": u.id, "email": u.email, "name": u.name, "role": u.role,
                           "email_verified": u.email_verified_at.is_some(), "created_at": u.created_at})
                );
            }
        }
        Command::Devices(DevicesCommand::List) => {
            let store = admin_store(&settings).await?;
            for d in store.devices().await? {
                println!(
                    "{}",
                    json!({"id": d.id, "name": d.name, "event_id": d.event_id, "gate": d.gate,
                           "status": d.status, "app_version": d.app_version, "enrolled_at": d.enrolled_at,
                           "last_seen_ms": d.last_seen_ms, "cursor": d.cursor,
                           "clock_skew_ms": d.clock_skew_ms, "check_ins": d.check_ins,
                           "queued_check_ins": d.queued_check_ins})
                );
            }
        }
        Command::Devices(DevicesCommand::Revoke { device_id }) => {
            let store = admin_store(&settings).await?;
            if !store
                .revoke_device(&device_id, chrono::Utc::now().timestamp())
                .await?
            {
                bail!("no device with id {device_id} (see `tessera-server devices list`)");
            }
            println!("{}", json!({ "id": device_id, "status": "revoked" }));
        }
        Command::Event(EventCommand::List) => {
            let store = admin_store(&settings).await?;
            for e in store.events().await? {
                let days: Vec<String> = e.days.iter().map(|d| d.to_string()).collect();
                println!(
                    "{}",
                    json!({"id": e.id, "name": e.name, "venue": e.venue, "timezone": e.timezone, "days": days})
                );
            }
        }
        Command::TicketType(TicketTypeCommand::Create {
            event,
            name,
            kind,
            price_cents,
            currency,
            capacity,
            days,
            zones,
            not_transferable,
        }) => {
            let store = admin_store(&settings).await?;
            let days_mask = if days.is_empty() {
                let count = store
                    .events()
                    .await?
                    .into_iter()
                    .find(|e| e.id == event)
                    .with_context(|| format!("no event with id {event}"))?
                    .days
                    .len();
                tessera_core::DayMask::from_days(0..count).0
            } else {
                if days.contains(&0) {
                    bail!("--days are 1-based day numbers");
                }
                tessera_core::DayMask::from_days(days.iter().map(|d| usize::from(*d) - 1)).0
            };
            let kind = match kind {
                KindArg::Pass => TicketKind::Pass,
                KindArg::VendorBooth => TicketKind::VendorBooth,
            };
            let tt = NewTicketType {
                event_id: event,
                name,
                kind,
                price_cents,
                currency,
                capacity,
                days_mask,
                zones,
                transferable: !not_transferable && kind == TicketKind::Pass,
            };
            let id = catalog::create_ticket_type(store.as_ref(), &tt).await?;
            println!("{}", json!({ "id": id }));
        }
        Command::TicketType(TicketTypeCommand::List) => {
            let store = admin_store(&settings).await?;
            for t in store.ticket_types().await? {
                println!(
                    "{}",
                    json!({"id": t.id, "event_id": t.event_id, "name": t.name, "kind": t.kind,
                           "price_cents": t.price_cents, "currency": t.currency,
                           "capacity": t.capacity, "sold": t.sold, "remaining": t.remaining(),
                           "days_mask": t.days_mask, "zones": t.zones, "transferable": t.transferable})
                );
            }
        }
        Command::Comp(args) => {
            let state = tessera_server::open(settings).await?;
            let types = state.store.ticket_types().await?;
            let matching: Vec<_> = types
                .iter()
                .filter(|t| {
                    t.name == args.ticket_type && args.event.is_none_or(|e| e == t.event_id)
                })
                .collect();
            let tt = match matching.as_slice() {
                [one] => *one,
                [] => bail!(
                    "no ticket type named {:?} (see `tessera-server ticket-type list`)",
                    args.ticket_type
                ),
                _ => bail!(
                    "several events have a ticket type named {:?}: pass --event ID",
                    args.ticket_type
                ),
            };
            if args.count == 0 {
                bail!("--count must be at least 1");
            }
            let request = orders::OrderRequest {
                name: args.name.clone().unwrap_or_else(|| args.email.clone()),
                email: args.email.clone(),
                items: vec![(tt.id, i64::from(args.count))],
            };
            let placed = orders::comp(
                &state,
                &request,
                args.count.max(state.settings.max_quantity),
                chrono::Utc::now(),
            )
            .await?;
            for t in state.store.order_tickets(placed.id).await? {
                println!(
                    "{}",
                    json!({"ticket_id": t.id, "qr_text": t.qr_text, "order_id": placed.id,
                           "ticket_type": t.type_name, "holder_name": t.holder_name})
                );
            }
        }
        Command::Void { ticket_id } => {
            let store = admin_store(&settings).await?;
            if !store.void_ticket(ticket_id).await? {
                bail!("no ticket with id {ticket_id}");
            }
            println!("{}", json!({"ticket_id": ticket_id, "status": "void"}));
        }
        Command::Refund { order_id, ticket } => {
            settings.email.worker = false;
            let state = tessera_server::open(settings)
                .await
                .context("cannot open the server's state")?;
            let done =
                tessera_server::app::payments::refund(&state, order_id, ticket, chrono::Utc::now())
                    .await
                    .context("refund failed")?;
            println!("{}", serde_json::to_string(&done)?);
        }
        Command::Keys(KeysCommand::Rotate) => {
            let store = admin_store(&settings).await?;
            let master = keys::MasterKey::load(&settings)?;
            keys::Keys::load_or_create(store.as_ref(), &master).await?;
            let id = keys::Keys::rotate(store.as_ref(), &master).await?;
            println!("{}", json!({"key_id": id, "status": "active"}));
        }
        Command::Keys(KeysCommand::List) => {
            let store = admin_store(&settings).await?;
            for k in store.signing_keys().await? {
                println!(
                    "{}",
                    json!({"key_id": k.id, "public_key": hex::encode(&k.public_key), "status": k.state.as_str()})
                );
            }
        }
    }
    Ok(())
}

/// `booth ...`: vendor booths.
async fn booth_command(settings: Settings, command: BoothCommand) -> Result<()> {
    use tessera_server::store::BoothCategory;
    let state = tessera_server::open(settings).await?;
    let store = state.store.as_ref();
    let booth_by_code = |code: String, event: Option<i64>| async move {
        let code = tessera_server::app::vendors::booth_code(&code)?;
        let event = catalog::event_id(store, event, chrono::Utc::now())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        store
            .booths()
            .await?
            .into_iter()
            .find(|b| b.event_id == event && b.code == code)
            .with_context(|| format!("no booth {code} (see `tessera-server booth list`)"))
    };
    match command {
        BoothCommand::Create {
            code,
            event,
            category,
        } => {
            let code = tessera_server::app::vendors::booth_code(&code)?;
            let category = match category {
                Some(c) => Some(
                    BoothCategory::parse(&c)
                        .context("--category must be bazaar, food_truck or food_booth")?,
                ),
                None => None,
            };
            let event = catalog::event_id(store, event, chrono::Utc::now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let booth = store
                .create_booth(event, &code, category, chrono::Utc::now().timestamp())
                .await?;
            println!(
                "{}",
                json!({"id": booth.id, "event_id": booth.event_id, "code": booth.code,
                       "category": booth.category})
            );
        }
        BoothCommand::Assign {
            code,
            order,
            email,
            event,
        } => {
            let booth = booth_by_code(code, event).await?;
            let order = match (order, email) {
                (Some(order), _) => order,
                (None, Some(email)) => {
                    let open: Vec<_> = store
                        .vendor_purchases(Some(&email))
                        .await?
                        .into_iter()
                        .filter(|p| p.order_status == "paid" && p.booth.is_none())
                        .collect();
                    match open.as_slice() {
                        [one] => one.order_id,
                        [] => bail!("{email} has no paid booth purchase without a booth"),
                        _ => bail!("{email} has several booth purchases: pass --order ID"),
                    }
                }
                (None, None) => bail!("pass --order ORDER_ID or --email EMAIL"),
            };
            store
                .assign_booth(booth.id, Some(order), chrono::Utc::now().timestamp())
                .await?;
            println!(
                "{}",
                json!({"booth": booth.code, "booth_id": booth.id, "order_id": order})
            );
        }
        BoothCommand::Staff {
            code,
            count,
            names,
            event,
        } => {
            let booth = booth_by_code(code, event).await?;
            let passes = tessera_server::app::vendors::grant_staff_passes(
                &state,
                booth.id,
                count,
                &names,
                chrono::Utc::now(),
            )
            .await?;
            for t in passes {
                println!(
                    "{}",
                    json!({"ticket_id": t.id, "qr_text": t.qr_text, "order_id": t.order_id,
                           "holder_name": t.holder_name, "booth": booth.code})
                );
            }
        }
        BoothCommand::List => {
            for b in store.booths().await? {
                println!(
                    "{}",
                    json!({"booth_id": b.id, "event_id": b.event_id, "code": b.code,
                           "category": b.category, "order_id": b.order_id,
                           "business_name": b.business_name})
                );
            }
            for p in store.vendor_purchases(None).await? {
                println!(
                    "{}",
                    json!({"order_id": p.order_id, "order_status": p.order_status,
                           "email": p.email, "business_name": p.business_name,
                           "booth_name": p.booth_name, "category": p.category,
                           "booth": p.booth.map(|b| b.1), "staff_passes": p.staff_passes})
                );
            }
        }
    }
    Ok(())
}
