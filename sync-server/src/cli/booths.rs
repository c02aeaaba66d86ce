//! Vendor booths: `booth create|assign|staff|list`.

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum BoothCommand {
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

/// `booth ...`: vendor booths.
async fn booth_command(settings: Settings, command: BoothCommand) -> Result<()> {
    use tessera_server::store::BoothCategory;
    let state = admin_services(settings).await?;
    let store = state.store.as_ref();
    let booth_by_code = |code: String, event: Option<i64>| async move {
        let code = app::vendors::booth_code(&code)?;
        let event = app::catalog::event_id(store, event, chrono::Utc::now())
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
            let code = app::vendors::booth_code(&code)?;
            let category = match category {
                Some(c) => Some(
                    BoothCategory::parse(&c)
                        .context("--category must be bazaar, food_truck or food_booth")?,
                ),
                None => None,
            };
            let event = app::catalog::event_id(store, event, chrono::Utc::now())
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
            let passes = app::vendors::grant_staff_passes(
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

/// The subcommands of this topic.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Vendor booths: create booths, assign them to booth purchases, grant staff passes.
    #[command(subcommand)]
    Booth(BoothCommand),
}

/// Runs one subcommand of this topic.
pub(super) async fn run(settings: Settings, command: Command) -> Result<()> {
    match command {
        Command::Booth(command) => booth_command(settings, command).await?,
    }
    Ok(())
}
