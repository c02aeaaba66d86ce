//! The catalog: `event` and `ticket-type` (create, list, entry policy).

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum EventCommand {
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
pub(super) enum PolicyArg {
    OncePerDay,
    ReentryAfterExit,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum KindArg {
    Pass,
    VendorBooth,
}

#[derive(Debug, Subcommand)]
pub(super) enum TicketTypeCommand {
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

pub(super) fn parse_gate(spec: &str) -> Result<(String, u16)> {
    let (name, zones) = spec
        .rsplit_once('=')
        .with_context(|| format!("gate {spec:?}: expected NAME=ZONES, e.g. \"Main Gate=1\""))?;
    Ok((
        name.trim().to_owned(),
        zones.trim().parse().context("gate zones")?,
    ))
}

/// The subcommands of this topic.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Events: create and list.
    #[command(subcommand)]
    Event(EventCommand),
    /// Ticket types: create and list.
    #[command(subcommand)]
    TicketType(TicketTypeCommand),
}

/// Runs one subcommand of this topic.
pub(super) async fn run(settings: Settings, command: Command) -> Result<()> {
    match command {
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
                days: app::catalog::consecutive_days(start, days),
                gates: gates.iter().map(|g| parse_gate(g)).collect::<Result<_>>()?,
                created_at: chrono::Utc::now().timestamp(),
            };
            let id = app::catalog::create_event(store.as_ref(), &event).await?;
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
            let id = app::catalog::create_ticket_type(store.as_ref(), &tt).await?;
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
    }
    Ok(())
}
