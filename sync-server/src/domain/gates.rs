//! What the server tells gate devices and how it judges what they recorded, computed from
//! store rows with no IO: the change feed's page and the upload's answer in the wire types
//! of `tessera_core::sync`, the decision's view of an event, the verification of an
//! uploaded batch, a relayed check-in read from its signed bytes, and the judgement of a
//! ticket's stored scans with [`tessera_core::reconcile`] — the same `decide` the devices
//! ran offline.
//!
//! Reading the rows and storing the verdicts is `app::gates`; the routes are `http::sync`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tessera_core::mesh::{CHECK_IN_MAX_LEN, CheckInRecord, VerifiedDevice};
use tessera_core::sync::{
    ChangesPage, CheckInState, DeviceState, EventState, GateState, KeyState, PROTOCOL,
    RelayRefusal, RelayResponse, TicketState as WireTicket, TicketTypeState, UploadCheckIn,
    UploadResponse, UploadResult,
};
use tessera_core::{
    Direction, EntryPolicy, EventConfig, EventId, Gate, Keyring, Reason, Recorded, Revision,
    SupersedeCause, TicketRecord, TicketStatus, Tz, VerifiedTicket, ZoneMask, reconcile, verify,
};

use crate::store::{
    DeviceRow, EventSync, FeedPage, IncomingCheckIn, IngestOutcome, StoredCheckIn, TicketState,
    Verdict,
};

/// One page of the change feed as the device receives it, stamped with the server's time.
pub fn changes_page(page: &FeedPage, server_time: DateTime<Utc>) -> ChangesPage {
    ChangesPage {
        protocol: PROTOCOL,
        cursor: u64::try_from(page.cursor).unwrap_or(0),
        head: u64::try_from(page.head).unwrap_or(0),
        more: page.more,
        server_time,
        event: page.event.as_ref().map(event_state),
        keys: page
            .keys
            .iter()
            .map(|(id, public, st)| KeyState {
                key_id: u16::try_from(*id).unwrap_or(0),
                public_key: hex::encode(public),
                status: st.as_str().into(),
            })
            .collect(),
        tickets: page.tickets.iter().map(wire_ticket).collect(),
        check_ins: page.check_ins.iter().map(wire_check_in).collect(),
        devices: page.devices.iter().map(device_state).collect(),
    }
}

/// A device as its mesh peers know it: id, name, status and certified key.
fn device_state(d: &DeviceRow) -> DeviceState {
    DeviceState {
        device_id: d.id.clone(),
        name: d.name.clone(),
        status: d.status.clone(),
        public_key: d.public_key.as_ref().map(hex::encode),
    }
}

fn event_state(e: &EventSync) -> EventState {
    EventState {
        id: u32::try_from(e.event.id).unwrap_or(0),
        name: e.event.name.clone(),
        timezone: e.event.timezone.clone(),
        days: e.event.days.clone(),
        policy: e.policy.clone(),
        gates: e
            .gates
            .iter()
            .map(|g| GateState {
                name: g.name.clone(),
                zones: g.zones,
            })
            .collect(),
        ticket_types: e
            .ticket_types
            .iter()
            .map(|(id, name, kind)| TicketTypeState {
                id: u16::try_from(*id).unwrap_or(0),
                name: name.clone(),
                kind: kind.clone(),
            })
            .collect(),
    }
}

/// The server's `valid`/`void` as the device's status words.
fn device_status(status: &str) -> &'static str {
    match status {
        "valid" => "valid",
        "refunded" => "refunded",
        "cancelled" => "cancelled",
        "blocked" => "blocked",
        _ => "voided",
    }
}

fn wire_ticket(t: &TicketState) -> WireTicket {
    WireTicket {
        id: u64::try_from(t.id).unwrap_or(0),
        ticket_type: u16::try_from(t.ticket_type_id).unwrap_or(0),
        revision: u16::try_from(t.revision).unwrap_or(0),
        status: device_status(&t.status).into(),
        superseded_by: t.superseded_by.clone(),
        holder: Some(t.holder_name.clone()),
        detail: t
            .detail
            .clone()
            .or_else(|| t.booth.map(|b| format!("Booth {b}"))),
    }
}

fn wire_check_in(c: &StoredCheckIn) -> CheckInState {
    CheckInState {
        device_id: c.device_id.clone(),
        seq: u64::try_from(c.seq).unwrap_or(0),
        device_name: c.device_name.clone(),
        ticket_id: c.ticket_id.and_then(|t| u64::try_from(t).ok()),
        at: DateTime::from_timestamp_millis(c.at_ms).unwrap_or_default(),
        gate: c.gate.clone(),
        direction: c.direction.clone(),
        admitted: c.admitted,
        reason: c.reason.clone(),
        server_reason: c.server_reason.clone(),
        conflict: c.conflict,
        conflict_kind: c.conflict_kind.clone(),
        revision: c.revision.and_then(|r| u16::try_from(r).ok()),
        clock_error_ms: c.clock_error_ms,
    }
}

/// The upload's answer: one result per check-in, in the order the store gave them.
pub fn upload_response(outcomes: Vec<IngestOutcome>, server_time: DateTime<Utc>) -> UploadResponse {
    UploadResponse {
        protocol: PROTOCOL,
        server_time,
        results: outcomes
            .into_iter()
            .map(|o| UploadResult {
                seq: u64::try_from(o.seq).unwrap_or(0),
                stored: o.stored,
                server_admitted: o.verdict.admitted,
                server_reason: o.verdict.reason,
                conflict: o.verdict.conflict,
                conflict_kind: o.verdict.conflict_kind,
            })
            .collect(),
    }
}

/// The relay's answer: what became of each check-in stored (or already stored), in `seq`
/// order, and the check-ins refused.
pub fn relay_response(
    outcomes: Vec<IngestOutcome>,
    refused: Vec<RelayRefusal>,
    server_time: DateTime<Utc>,
) -> RelayResponse {
    RelayResponse {
        protocol: PROTOCOL,
        server_time,
        results: upload_response(outcomes, server_time).results,
        refused,
    }
}

/// Whether one uploaded check-in has a sane shape: a positive `seq` that fits the store, a
/// direction, fields of bounded size. The words say what is wrong.
pub fn check_in_shape(c: &UploadCheckIn) -> Result<(), String> {
    let seq_ok = i64::try_from(c.seq).is_ok_and(|s| s > 0);
    let sizes_ok = c.gate.len() <= 200
        && c.text.as_ref().is_none_or(|t| t.len() <= 512)
        && c.reason.as_ref().is_none_or(|r| r.len() <= 64);
    if !seq_ok || !sizes_ok || !matches!(c.direction.as_str(), "entry" | "exit") {
        return Err(format!(
            "check-in {}: seq must be positive, direction entry or exit, fields of sane size",
            c.seq
        ));
    }
    Ok(())
}

/// Reads one relayed check-in (hex of its signed bytes) of the certified `device`: its
/// signature checked, recorded before `revoked_at_ms` when the device is revoked, and put in
/// the shape of the device's own upload, so it is stored and judged exactly as that upload
/// would be. `Err` says in words why it is refused; nothing of it may be stored then.
pub fn read_relayed(
    device: &VerifiedDevice,
    hex_text: &str,
    revoked_at_ms: Option<i64>,
) -> Result<UploadCheckIn, String> {
    if hex_text.len() > CHECK_IN_MAX_LEN * 2 {
        return Err("longer than any signed check-in".into());
    }
    let bytes = hex::decode(hex_text).map_err(|_| "not hex".to_owned())?;
    let record = device.verify_check_in(&bytes).map_err(|e| e.to_string())?;
    if revoked_at_ms.is_some_and(|cut| record.at_ms >= cut) {
        return Err(format!(
            "check-in {} was recorded after its device was revoked",
            record.seq
        ));
    }
    let check_in = upload_of(&record)
        .ok_or_else(|| format!("check-in {}: its time is out of range", record.seq))?;
    check_in_shape(&check_in)?;
    Ok(check_in)
}

/// A signed check-in in the shape of its device's own upload. `None` when its time cannot
/// be one.
fn upload_of(record: &CheckInRecord) -> Option<UploadCheckIn> {
    Some(UploadCheckIn {
        seq: record.seq,
        text: record.text.clone(),
        ticket_id: record.ticket.map(|(t, _)| t.0),
        at: DateTime::from_timestamp_millis(record.at_ms)?,
        gate: record.gate.clone(),
        direction: match record.direction {
            Direction::Entry => "entry",
            Direction::Exit => "exit",
        }
        .into(),
        admitted: record.admitted,
        reason: record.reason.clone(),
        clock_correction_ms: Some(record.clock_correction_ms),
    })
}

/// The decision's view of a stored event: its configuration and the zones of each gate.
/// `None` when the stored event cannot be one (an unknown timezone, bad days).
pub fn event_config(e: &EventSync) -> Option<(EventConfig, HashMap<String, ZoneMask>)> {
    let tz: Tz = e.event.timezone.parse().ok()?;
    let policy = match e.policy.as_str() {
        "reentry_after_exit" => EntryPolicy::ReentryAfterExit,
        _ => EntryPolicy::OncePerDay,
    };
    let config = EventConfig::new(
        EventId(u32::try_from(e.event.id).ok()?),
        tz,
        e.event.days.clone(),
        policy,
    )
    .ok()?;
    let gates = e
        .gates
        .iter()
        .map(|g| (g.name.clone(), ZoneMask(g.zones)))
        .collect();
    Some((config, gates))
}

/// An uploaded batch, verified: what the store keeps of each check-in, and the tickets that
/// verified (by their text), so judging them again needs no second verification.
#[derive(Debug, Default)]
pub struct VerifiedBatch {
    /// Each check-in as the store keeps it, in the order uploaded.
    pub items: Vec<IncomingCheckIn>,
    /// The batch's texts that verified against the keyring.
    pub verified: HashMap<String, VerifiedTicket>,
}

/// Verifies each uploaded check-in's text against the keyring. Nothing is dropped: a text
/// that does not verify is kept with the reason the server gives it, a scan without a text
/// with the device's reason (or `not_a_ticket`).
///
/// `device_skew_ms` is the device's clock minus the server's as the upload shows it; with
/// the correction the device says it applied to each scan, it is how far that scan's time
/// is off. It takes the clock as it is now to have been so since the scans it uploads, which
/// holds for a clock set wrong and left so; a clock fixed meanwhile reads as right.
pub fn verify_batch(
    check_ins: &[UploadCheckIn],
    keyring: &Keyring,
    device_skew_ms: i64,
) -> VerifiedBatch {
    let mut verified_in_batch = HashMap::new();
    let items = check_ins
        .iter()
        .map(|c| {
            let verified = c.text.as_deref().map(|t| verify(t, keyring));
            if let (Some(text), Some(Ok(v))) = (&c.text, &verified) {
                verified_in_batch.insert(text.clone(), v.clone());
            }
            let (ticket_id, revision, unverified_reason) = match &verified {
                // A genuine ticket of another event is kept, judged `wrong_event`.
                Some(Ok(t)) => (
                    i64::try_from(t.claims().ticket.0).ok(),
                    Some(i64::from(t.claims().revision.0)),
                    None,
                ),
                Some(Err(e)) => (None, None, Some(Reason::from(*e).code().to_owned())),
                None => (
                    None,
                    None,
                    c.reason.clone().or_else(|| Some("not_a_ticket".into())),
                ),
            };
            IncomingCheckIn {
                seq: i64::try_from(c.seq).unwrap_or(0),
                ticket_id,
                text: c.text.clone(),
                at_ms: c.at.timestamp_millis(),
                gate: c.gate.clone(),
                direction: c.direction.clone(),
                admitted: c.admitted,
                reason: c.reason.clone(),
                unverified_reason,
                revision,
                clock_error_ms: Some(
                    device_skew_ms.saturating_add(c.clock_correction_ms.unwrap_or(0)),
                ),
            }
        })
        .collect();
    VerifiedBatch {
        items,
        verified: verified_in_batch,
    }
}

/// Judges every stored check-in of one ticket with `reconcile`, exactly as a device would
/// have with the whole log in hand.
pub fn judge(
    keyring: &Keyring,
    verified_in_batch: &HashMap<String, VerifiedTicket>,
    event: &EventConfig,
    gates: &HashMap<String, ZoneMask>,
    state: Option<&TicketState>,
    rows: &[StoredCheckIn],
) -> Vec<Verdict> {
    let record = state.map(|t| TicketRecord {
        revision: Revision(u16::try_from(t.revision).unwrap_or(u16::MAX)),
        status: match t.status.as_str() {
            "valid" => TicketStatus::Valid,
            "refunded" => TicketStatus::Refunded,
            "cancelled" => TicketStatus::Cancelled,
            "blocked" => TicketStatus::Blocked,
            _ => TicketStatus::Voided,
        },
        superseded_by: match t.superseded_by.as_deref() {
            Some("transfer") => Some(SupersedeCause::Transfer),
            Some("upgrade") => Some(SupersedeCause::Upgrade),
            Some(_) => Some(SupersedeCause::Reissue),
            None => None,
        },
    });
    // The batch's own codes were verified on arrival; older rows are verified again, since
    // keys may have been retired since.
    let verified: Vec<_> = rows
        .iter()
        .map(|r| {
            r.text.as_deref().map(|t| match verified_in_batch.get(t) {
                Some(v) => Ok(v.clone()),
                None => verify(t, keyring),
            })
        })
        .collect();
    let gate_of = |r: &StoredCheckIn| Gate {
        name: r.gate.clone(),
        // A gate the server does not know admits general admission, as on the device.
        zones: gates.get(&r.gate).copied().unwrap_or(ZoneMask::GENERAL),
        direction: if r.direction == "exit" {
            Direction::Exit
        } else {
            Direction::Entry
        },
    };
    let row_gates: Vec<Gate> = rows.iter().map(gate_of).collect();
    let mut recorded = Vec::new();
    let mut index = Vec::new();
    for (i, (row, v)) in rows.iter().zip(&verified).enumerate() {
        if let (Some(Ok(ticket)), Some(gate)) = (v, row_gates.get(i)) {
            recorded.push(Recorded {
                ticket,
                at: DateTime::from_timestamp_millis(row.at_ms).unwrap_or_default(),
                clock_error_ms: row.clock_error_ms,
                gate,
                device: &row.device_name,
                device_admitted: row.admitted,
            });
            index.push(i);
        }
    }
    let judged = reconcile(record.as_ref(), event, &recorded);
    let mut out: Vec<Verdict> = verified
        .iter()
        .map(|v| Verdict {
            admitted: false,
            reason: Some(match v {
                Some(Err(e)) => Reason::from(*e).code().to_owned(),
                _ => "not_a_ticket".to_owned(),
            }),
            conflict: false,
            conflict_kind: None,
        })
        .collect();
    for (i, j) in index.into_iter().zip(judged) {
        if let Some(slot) = out.get_mut(i) {
            *slot = Verdict {
                admitted: j.decision.is_admit(),
                reason: j.decision.reason().map(|r| r.code().to_owned()),
                conflict: j.conflict,
                conflict_kind: j.kind.map(|k| k.code().to_owned()),
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::mesh::{CertificateClaims, DeviceSigner, verify_certificate};
    use tessera_core::{KeyId, KeyStatus, TicketId, TicketSigner};

    fn certified() -> (DeviceSigner, VerifiedDevice) {
        let server = TicketSigner::from_seed(KeyId(1), &[1; 32]);
        let mut ring = Keyring::new();
        ring.insert(KeyId(1), &server.public_key(), KeyStatus::Active)
            .unwrap();
        let me = DeviceSigner::from_seed(&[2; 32]);
        let cert = CertificateClaims {
            key: KeyId(1),
            event: EventId(1),
            device: [0xab; 16],
            device_key: me.public_key(),
            issued_at_ms: 0,
        }
        .sign(&server);
        (me, verify_certificate(&cert, &ring, EventId(1)).unwrap())
    }

    fn record(seq: u64, at_ms: i64) -> CheckInRecord {
        CheckInRecord {
            device: [0xab; 16],
            seq,
            ticket: Some((TicketId(77), Revision(1))),
            at_ms,
            clock_correction_ms: -2500,
            direction: Direction::Exit,
            admitted: false,
            gate: "North Gate".into(),
            reason: Some("wrong_day".into()),
            text: Some("TS1:ABC".into()),
        }
    }

    #[test]
    fn a_relayed_check_in_reads_as_its_devices_own_upload() {
        let (me, device) = certified();
        let signed = hex::encode(me.sign_check_in(&record(9, 1_790_000_000_123)).unwrap());
        let c = read_relayed(&device, &signed, None).unwrap();
        assert_eq!(
            c,
            UploadCheckIn {
                seq: 9,
                text: Some("TS1:ABC".into()),
                ticket_id: Some(77),
                at: DateTime::from_timestamp_millis(1_790_000_000_123).unwrap(),
                gate: "North Gate".into(),
                direction: "exit".into(),
                admitted: false,
                reason: Some("wrong_day".into()),
                clock_correction_ms: Some(-2500),
            }
        );
    }

    #[test]
    fn a_relayed_check_in_is_refused_when_changed_late_or_malformed() {
        let (me, device) = certified();
        let signed = me.sign_check_in(&record(9, 5_000)).unwrap();
        let mut changed = signed.clone();
        changed[30] ^= 1;
        assert!(read_relayed(&device, &hex::encode(changed), None).is_err());
        assert!(read_relayed(&device, "zz", None).is_err());
        assert!(read_relayed(&device, &"00".repeat(CHECK_IN_MAX_LEN + 1), None).is_err());
        // A revoked device's check-ins count up to its revocation, not from it.
        let hex_text = hex::encode(&signed);
        assert!(read_relayed(&device, &hex_text, Some(5_001)).is_ok());
        let late = read_relayed(&device, &hex_text, Some(5_000)).unwrap_err();
        assert!(late.contains("revoked"), "{late}");
        // Another device's signature under this certificate.
        let thief = DeviceSigner::from_seed(&[3; 32]);
        let forged = hex::encode(thief.sign_check_in(&record(10, 0)).unwrap());
        assert!(read_relayed(&device, &forged, None).is_err());
    }
}
