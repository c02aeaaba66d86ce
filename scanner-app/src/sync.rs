//! The sync client: enroll with a one-time code, push queued check-ins in batches, pull the
//! change feed page by page (docs/sync-protocol.md). Blocking HTTP on its own connections,
//! so it runs beside scanning (a background thread in `tessera-scan run`) and scanning never
//! waits for it.
//!
//! Every round is push, then pull: the server judges this device's check-ins before it
//! sends back everyone's, so conflicts it finds reach the device in the same round.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tessera_core::sync::{
    CertificateRequest, CertificateResponse, ChangesPage, EnrollRequest, EnrollResponse, PROTOCOL,
    RelayRequest, RelayResponse, SyncError as WireError, UploadCheckIn, UploadRequest,
    UploadResponse,
};

use crate::Scanner;
use crate::device::Ack;

/// Check-ins per upload request.
pub const BATCH: u32 = 500;
/// Changes per page asked for.
pub const PAGE: u32 = 5_000;
/// Upper bound on requests of one kind in one round, so a round always ends.
const MAX_REQUESTS: usize = 100_000;

const SERVER_KEY: &str = "server_url";
const TOKEN_KEY: &str = "device_token";
const LAST_SYNC_KEY: &str = "last_sync_at";
const LAST_ERROR_KEY: &str = "last_sync_error";
const REVOKED_KEY: &str = "revoked";

/// Why a sync round did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached: keep scanning, try again later.
    #[error("offline: {0}")]
    Offline(String),
    /// The organizer revoked this device.
    #[error(
        "this device was revoked by the organizer: {0}. Its personal data was wiped; its check-ins are kept. Enroll it again with a new code."
    )]
    Revoked(String),
    /// The server refused the request (bad code, expired code, bad request).
    #[error("the server refused: {message} ({code})")]
    Refused {
        /// The stable error code.
        code: String,
        /// The server's words.
        message: String,
    },
    /// Not enrolled yet.
    #[error("this device is not enrolled: run `tessera-scan enroll --server URL --code CODE`")]
    NotEnrolled,
    /// The server answered something this software does not understand.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The local databases failed.
    #[error(transparent)]
    Local(#[from] crate::Error),
}

impl SyncError {
    /// Whether trying again later may succeed on its own.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Offline(_) | Self::Protocol(_))
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    /// Check-ins uploaded and acknowledged.
    pub pushed: u64,
    /// Other gates' check-ins carried up to the server and stored by it (venue mesh).
    pub relayed: u64,
    /// Of which the server flagged as conflicts.
    pub conflicts: u64,
    /// Tickets received.
    pub tickets: u64,
    /// Check-ins of all devices received.
    pub check_ins: u64,
    /// Pages applied.
    pub pages: u64,
    /// The cursor after the round.
    pub cursor: u64,
    /// The server's newest change.
    pub head: u64,
    /// This device's clock minus the server's, in milliseconds.
    pub clock_skew_ms: i64,
}

/// Where an enrollment QR code points: `<server>/enroll?code=<CODE>`.
pub fn parse_enrollment_link(text: &str) -> Option<(String, String)> {
    let (server, query) = text.trim().split_once("/enroll?")?;
    let code = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("code="))?
        .trim();
    let web = server.starts_with("http://") || server.starts_with("https://");
    (web && !code.is_empty()).then(|| (server.to_owned(), code.to_owned()))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn offline(e: ureq::Error) -> SyncError {
    SyncError::Offline(e.to_string())
}

/// Turns a non-2xx answer into the right error.
fn refused(mut resp: ureq::http::Response<ureq::Body>) -> SyncError {
    let status = resp.status().as_u16();
    let body: Option<WireError> = resp.body_mut().read_json().ok();
    let (code, message) = body.map_or_else(
        || (format!("http_{status}"), format!("HTTP {status}")),
        |b| (b.error, b.message),
    );
    match (status, code.as_str()) {
        (401, "device_revoked") => SyncError::Revoked(message),
        (500..=599, _) => SyncError::Offline(format!("server error {status}: {message}")),
        _ => SyncError::Refused { code, message },
    }
}

/// Exchanges a one-time code for this device's token and stores the credentials.
pub fn enroll(
    scanner: &mut Scanner,
    server: &str,
    code: &str,
    app_version: &str,
) -> Result<EnrollResponse, SyncError> {
    let server = server.trim_end_matches('/');
    let clock = scanner.clock();
    let device_id = scanner
        .device()
        .ensure_identity(None, clock.now())?
        .device_id
        .clone();
    // A new key of the device's own at every enrollment, for the server to certify: the
    // venue mesh's membership (a copy of the device taken before holds a dead key). It is
    // kept only once the server took it: a mistyped code leaves the device as it was.
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| crate::Error::Random(e.to_string()))?;
    let device_key = hex::encode(tessera_core::mesh::DeviceSigner::from_seed(&seed).public_key());
    let sent = clock.now();
    let req = EnrollRequest {
        protocol: PROTOCOL,
        code: code.trim().to_owned(),
        device_id,
        app_version: app_version.to_owned(),
        device_time: sent,
        device_key: Some(device_key),
    };
    let mut resp = agent()
        .post(&format!("{server}/api/v1/sync/enroll"))
        .send_json(&req)
        .map_err(offline)?;
    if !resp.status().is_success() {
        return Err(refused(resp));
    }
    let enrolled: EnrollResponse = resp
        .body_mut()
        .read_json()
        .map_err(|e| SyncError::Protocol(e.to_string()))?;
    scanner.learn_skew(skew(sent, clock.now(), enrolled.server_time))?;
    let device = scanner.device();
    device.ensure_identity(Some(&enrolled.name), clock.now())?;
    device.set_setting(SERVER_KEY, server)?;
    device.set_setting(TOKEN_KEY, &enrolled.token)?;
    device.set_setting(REVOKED_KEY, "false")?;
    let certificate = enrolled
        .certificate
        .as_deref()
        .and_then(|c| hex::decode(c).ok());
    device.install_key(&seed, certificate.as_deref())?;
    if let Some(gate) = &enrolled.gate {
        // The gate applies once the event arrives with the first pull.
        device.set_setting("gate", gate)?;
    }
    // A replica wiped at revocation lacks the names the feed sent long ago: pull it all again.
    let replica = scanner.replica();
    if replica.meta("revoked")?.as_deref() == Some("true") {
        replica.set_meta("cursor", "0")?;
        replica.set_meta("revoked", "false")?;
    }
    Ok(enrolled)
}

/// The stored server URL and token.
fn credentials(scanner: &mut Scanner) -> Result<(String, String), SyncError> {
    let device = scanner.device();
    match (device.setting(SERVER_KEY)?, device.setting(TOKEN_KEY)?) {
        (Some(server), Some(token)) => Ok((server, token)),
        _ => Err(SyncError::NotEnrolled),
    }
}

/// Carries other gates' check-ins heard on the venue mesh up to the server (store and
/// forward): each device's with its certificate, stored by the server once per (device,
/// seq) whoever brings them. A server without the relay endpoint is skipped quietly.
fn relay(
    scanner: &mut Scanner,
    agent: &ureq::Agent,
    server: &str,
    auth: &str,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    for _ in 0..MAX_REQUESTS {
        let pending = scanner.device().unrelayed(BATCH)?;
        if pending.is_empty() {
            return Ok(());
        }
        let mut progressed = false;
        for (device_id, rows) in pending {
            let Some(device) = tessera_core::mesh::parse_device_id(&device_id) else {
                continue;
            };
            let Some(certificate) = scanner.device().peer_certificate(&device)? else {
                continue;
            };
            let req = RelayRequest {
                protocol: PROTOCOL,
                certificate: hex::encode(certificate),
                check_ins: rows.iter().map(|(_, signed)| hex::encode(signed)).collect(),
            };
            let mut resp = agent
                .post(&format!("{server}/api/v1/sync/relayed"))
                .header("Authorization", auth)
                .send_json(&req)
                .map_err(offline)?;
            match resp.status().as_u16() {
                200..=299 => {}
                404 | 405 => return Ok(()),
                // The server refuses this device's certificate: the check-ins stay held
                // here (they still count at this gate); their own gate uploads them.
                400 | 403 | 409 | 422 => continue,
                _ => return Err(refused(resp)),
            }
            let answer: RelayResponse = resp
                .body_mut()
                .read_json()
                .map_err(|e| SyncError::Protocol(e.to_string()))?;
            let mut done: Vec<u64> = answer.results.iter().map(|r| r.seq).collect();
            // A refused one will be refused again: it stays held, not retried.
            done.extend(answer.refused.iter().filter_map(|r| {
                rows.get(usize::try_from(r.index).ok()?)
                    .map(|(seq, _)| *seq)
            }));
            if !done.is_empty() {
                progressed = true;
            }
            report.relayed += answer.results.iter().filter(|r| r.stored).count() as u64;
            let now = scanner.now();
            scanner.device().mark_relayed(&device_id, &done, now)?;
        }
        if !progressed {
            return Ok(());
        }
    }
    Ok(())
}

/// Batch and page sizes of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Check-ins per upload request (the server takes at most 1000).
    pub batch: u32,
    /// Changes per page asked for (the server serves at most 10000).
    pub page: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            batch: BATCH,
            page: PAGE,
        }
    }
}

/// One round: push every unsent check-in, then pull every page. `progress` is told
/// `(cursor, head)` after each page.
pub fn sync_once(
    scanner: &mut Scanner,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SyncReport, SyncError> {
    sync_with(scanner, SyncOptions::default(), progress)
}

/// [`sync_once`] with other batch and page sizes.
pub fn sync_with(
    scanner: &mut Scanner,
    options: SyncOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SyncReport, SyncError> {
    let result = round(scanner, options, progress);
    let now = scanner.now();
    let device = scanner.device();
    match &result {
        Ok(_) => {
            device.set_setting(LAST_SYNC_KEY, &now.to_rfc3339())?;
            device.set_setting(LAST_ERROR_KEY, "")?;
        }
        Err(SyncError::Revoked(_)) => {
            device.set_setting(REVOKED_KEY, "true")?;
            device.set_setting(LAST_ERROR_KEY, "device revoked")?;
            scanner.replica().wipe_personal_data()?;
        }
        Err(e) => device.set_setting(LAST_ERROR_KEY, &e.to_string())?,
    }
    result
}

fn round(
    scanner: &mut Scanner,
    options: SyncOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SyncReport, SyncError> {
    let (server, token) = credentials(scanner)?;
    let auth = format!("Bearer {token}");
    let agent = agent();
    let clock = scanner.clock();
    let mut report = SyncReport::default();

    for _ in 0..MAX_REQUESTS {
        let unsent = scanner.device().unsent(options.batch.max(1))?;
        if unsent.is_empty() {
            break;
        }
        let mut check_ins = Vec::with_capacity(unsent.len());
        for q in &unsent {
            check_ins.push(UploadCheckIn {
                seq: q.seq,
                text: q.text.clone(),
                ticket_id: q.ticket_id,
                at: q.at,
                gate: q.gate.clone(),
                direction: q.direction.clone(),
                admitted: q.verdict == "admit",
                reason: q.reason.clone(),
                clock_correction_ms: Some(scanner.device().clock_correction_for(q.seq)?),
            });
        }
        let t0 = clock.now();
        let req = UploadRequest {
            protocol: PROTOCOL,
            // The clock's own reading: the server measures the skew from it.
            device_time: t0,
            check_ins,
        };
        let mut resp = agent
            .post(&format!("{server}/api/v1/sync/checkins"))
            .header("Authorization", &auth)
            .send_json(&req)
            .map_err(offline)?;
        if !resp.status().is_success() {
            return Err(refused(resp));
        }
        let answer: UploadResponse = resp
            .body_mut()
            .read_json()
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
        report.clock_skew_ms = skew(t0, clock.now(), answer.server_time);
        scanner.learn_skew(report.clock_skew_ms)?;
        let acks: Vec<Ack> = answer
            .results
            .iter()
            .filter(|r| unsent.iter().any(|q| q.seq == r.seq))
            .map(|r| Ack {
                seq: r.seq,
                server_admitted: r.server_admitted,
                server_reason: r.server_reason.clone(),
                conflict: r.conflict,
            })
            .collect();
        let acked_at = scanner.now();
        if acks.is_empty() {
            return Err(SyncError::Protocol(
                "the server acknowledged none of the batch".into(),
            ));
        }
        report.pushed += acks.len() as u64;
        report.conflicts += acks.iter().filter(|a| a.conflict).count() as u64;
        scanner.device().acknowledge(&acks, acked_at)?;
    }

    relay(scanner, &agent, &server, &auth, &mut report)?;

    // What this device still holds unsent (new scans since the push, or more than one
    // push round could take): organizers see it beside the device.
    let queued = scanner.device().counts()?.unsent.to_string();
    let mut cursor: u64 = scanner
        .replica()
        .meta("cursor")?
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    for _ in 0..MAX_REQUESTS {
        let t0 = clock.now();
        let mut resp = agent
            .get(&format!(
                "{server}/api/v1/sync/changes?after={cursor}&limit={}",
                options.page.max(1)
            ))
            .header("Authorization", &auth)
            .header("X-Device-Time", &t0.to_rfc3339())
            .header("X-Device-Queued", &queued)
            .call()
            .map_err(offline)?;
        if !resp.status().is_success() {
            return Err(refused(resp));
        }
        let page: ChangesPage = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_json()
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
        if page.protocol != PROTOCOL {
            return Err(SyncError::Protocol(format!(
                "protocol {} (this device speaks {PROTOCOL})",
                page.protocol
            )));
        }
        if page.cursor < cursor {
            return Err(SyncError::Protocol(format!(
                "the cursor went back from {cursor} to {}",
                page.cursor
            )));
        }
        report.clock_skew_ms = skew(t0, clock.now(), page.server_time);
        scanner.learn_skew(report.clock_skew_ms)?;
        let counts = scanner.replica().apply_page(&page)?;
        report.pages += 1;
        report.tickets += counts.tickets;
        report.check_ins += counts.check_ins;
        cursor = page.cursor;
        report.cursor = page.cursor;
        report.head = page.head;
        progress(page.cursor, page.head);
        if !page.more {
            break;
        }
    }
    scanner.reload()?;
    recertify(scanner, &agent, &server, &auth)?;
    Ok(report)
}

/// Asks for a new certificate when this device's does not verify against the keyring it
/// now holds (the key that signed it was retired) or it has none (enrolled before it had a
/// key): the venue mesh goes on without a new enrollment. A server that refuses (another key
/// on record, or no such endpoint) leaves things as they are; `status.mesh.problem` says so.
fn recertify(
    scanner: &mut Scanner,
    agent: &ureq::Agent,
    server: &str,
    auth: &str,
) -> Result<(), SyncError> {
    let (Some(keyring), Some(event)) = (scanner.keyring().cloned(), scanner.event_id()) else {
        return Ok(());
    };
    let current = scanner.device().certificate()?;
    if current
        .as_deref()
        .is_some_and(|c| tessera_core::mesh::verify_certificate(c, &keyring, event).is_ok())
    {
        return Ok(());
    }
    let req = CertificateRequest {
        protocol: PROTOCOL,
        device_key: hex::encode(scanner.device().signer()?.public_key()),
    };
    let mut resp = agent
        .post(&format!("{server}/api/v1/sync/certificate"))
        .header("Authorization", auth)
        .send_json(&req)
        .map_err(offline)?;
    if !resp.status().is_success() {
        return match resp.status().as_u16() {
            500..=599 => Err(refused(resp)),
            _ => Ok(()),
        };
    }
    let answer: CertificateResponse = resp
        .body_mut()
        .read_json()
        .map_err(|e| SyncError::Protocol(e.to_string()))?;
    let certificate =
        hex::decode(&answer.certificate).map_err(|e| SyncError::Protocol(e.to_string()))?;
    // Kept only if it is one this gate's peers will accept.
    if tessera_core::mesh::verify_certificate(&certificate, &keyring, event).is_ok() {
        scanner.device().set_certificate(&certificate)?;
    }
    Ok(())
}

/// Device clock minus server clock, taking the server's time as the middle of the request.
fn skew(sent: DateTime<Utc>, received: DateTime<Utc>, server: DateTime<Utc>) -> i64 {
    let middle = sent + (received - sent) / 2;
    (middle - server).num_milliseconds()
}

/// The sync state for `status` and the GUI.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncStatus {
    /// The server, once enrolled.
    pub server: Option<String>,
    /// Whether the device has a token.
    pub enrolled: bool,
    /// Whether the organizer revoked it.
    pub revoked: bool,
    /// The last successful round.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// The last round's error, if it failed.
    pub last_error: Option<String>,
    /// Device clock minus server clock at the last round, in milliseconds.
    pub clock_skew_ms: Option<i64>,
    /// The server's newest change at the last round.
    pub head: Option<u64>,
    /// The change this device's replica has reached.
    pub cursor: Option<u64>,
    /// How many changes the device was behind the server at the last round (0: current).
    pub changes_behind: Option<u64>,
}

/// Reads the sync state.
pub fn status(scanner: &mut Scanner) -> Result<SyncStatus, crate::Error> {
    let head: Option<u64> = scanner.replica().meta("head")?.and_then(|h| h.parse().ok());
    let cursor: Option<u64> = scanner
        .replica()
        .meta("cursor")?
        .and_then(|c| c.parse().ok());
    let device = scanner.device();
    Ok(SyncStatus {
        server: device.setting(SERVER_KEY)?,
        enrolled: device.setting(TOKEN_KEY)?.is_some(),
        revoked: device.setting(REVOKED_KEY)?.as_deref() == Some("true"),
        last_sync_at: device
            .setting(LAST_SYNC_KEY)?
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        last_error: device.setting(LAST_ERROR_KEY)?.filter(|e| !e.is_empty()),
        clock_skew_ms: device
            .setting(crate::scanner::SKEW_KEY)?
            .and_then(|s| s.parse().ok()),
        head,
        cursor,
        changes_behind: head.map(|h| h.saturating_sub(cursor.unwrap_or(0))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrollment_links_parse() {
        assert_eq!(
            parse_enrollment_link("http://127.0.0.1:8080/enroll?code=K7QF-2MZD"),
            Some(("http://127.0.0.1:8080".into(), "K7QF-2MZD".into()))
        );
        assert_eq!(
            parse_enrollment_link("https://tickets.example.org/enroll?x=1&code=ABC"),
            Some(("https://tickets.example.org".into(), "ABC".into()))
        );
        assert_eq!(
            parse_enrollment_link("https://example.org/enroll?code="),
            None
        );
        assert_eq!(parse_enrollment_link("ftp://x/enroll?code=A"), None);
        assert_eq!(parse_enrollment_link("TS1:ABC"), None);
    }

    #[test]
    fn skew_takes_the_middle_of_the_request() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(skew(t(100), t(102), t(90)), 11_000);
        assert_eq!(skew(t(100), t(100), t(100)), 0);
    }
}
