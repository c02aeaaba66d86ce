//! Orders and tickets: `comp` (the guest list), `void`, `refund`, `revoke-link`.

use super::*;

#[derive(Debug, Args)]
pub(super) struct CompArgs {
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

/// The subcommands of this topic.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
    /// Revokes an order's access token (its link in the confirmation email, leaked or
    /// forwarded): it opens nothing from now on. The buyer keeps the tickets.
    RevokeLink {
        /// The order id.
        order_id: i64,
    },
}

/// Runs one subcommand of this topic.
pub(super) async fn run(mut settings: Settings, command: Command) -> Result<()> {
    match command {
        Command::Comp(args) => {
            let state = admin_services(settings).await?;
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
            let request = app::orders::OrderRequest {
                name: args.name.clone().unwrap_or_else(|| args.email.clone()),
                email: args.email.clone(),
                items: vec![(tt.id, i64::from(args.count))],
                idempotency: None,
                // The command line speaks English.
                lang: tessera_server::domain::i18n::Lang::En,
            };
            let placed = app::orders::comp(
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
            let state = admin_services(settings)
                .await
                .context("cannot open the server's state")?;
            let done = app::payments::refund(&state, order_id, ticket, chrono::Utc::now())
                .await
                .context("refund failed")?;
            println!("{}", serde_json::to_string(&done)?);
        }
        Command::RevokeLink { order_id } => {
            settings.email.worker = false;
            let state = admin_services(settings).await?;
            app::orders::revoke_link(&state, order_id, chrono::Utc::now()).await?;
            println!("{}", json!({"order_id": order_id, "link": "revoked"}));
        }
    }
    Ok(())
}
