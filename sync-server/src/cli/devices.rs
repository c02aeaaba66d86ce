//! Gate devices: `device-code`, `devices` (list, revoke), `readiness`.

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum DevicesCommand {
    /// Lists devices, one JSON object per line (gate, last seen, cursor, clock skew).
    List,
    /// Revokes a device: its token stops working at once; it keeps its check-ins.
    Revoke {
        /// The device id (see `devices list`).
        device_id: String,
    },
}

/// The subcommands of this topic.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
}

/// Runs one subcommand of this topic.
pub(super) async fn run(mut settings: Settings, command: Command) -> Result<()> {
    match command {
        Command::DeviceCode {
            name,
            gate,
            event,
            ttl_hours,
        } => {
            // Unless configured, the address the server on this data dir last announced.
            let public_url = match &settings.public_url {
                Some(_) => settings.public_url(),
                None => std::fs::read_to_string(settings.data_dir.join(serve::SERVED_AT_FILE))
                    .map(|u| u.trim().to_owned())
                    .ok()
                    .filter(|u| u.starts_with("http"))
                    .unwrap_or_else(|| settings.public_url()),
            };
            let state = admin_services(settings).await?;
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
            let code = app::devices::create_device_code(
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
        Command::Readiness {
            event,
            within_minutes,
        } => {
            settings.email.worker = false;
            let state = admin_services(settings).await?;
            let out =
                app::console::readiness_of(&state, event, Some(within_minutes), chrono::Utc::now())
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
    }
    Ok(())
}
