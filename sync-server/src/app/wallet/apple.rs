//! Apple Wallet passes: the event-ticket `pass.json` of one ticket revision, its images, the
//! manifest of SHA-1 digests, the detached CMS signature made with the Pass Type ID
//! certificate (Apple's WWDR intermediate included), and the `.pkpass` zip around them.
//! Also the demo signing chain generated when no certificate is configured. No HTTP and no
//! store here: `wallet::web` gathers the facts and serves the bytes.

use std::io::{Cursor, Write};
use std::path::Path;

use chrono::{NaiveDate, NaiveTime, TimeZone};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Name};
use serde_json::{Value, json};

use super::WalletError;
use crate::config::AppleWalletSettings;
use crate::domain::i18n::{self, Arg, Lang};
use crate::domain::render::{order_number, valid_days_in};
use crate::store::{Order, TicketKind, TicketView};

/// The pass type id demo passes carry (no Apple account owns it).
pub const DEMO_PASS_TYPE_ID: &str = "pass.invalid.tessera.demo";
/// The team id demo passes carry.
pub const DEMO_TEAM_ID: &str = "DEMO000000";
/// Subject of the demo chain's self-signed CA, standing in for Apple's WWDR.
pub const DEMO_CA_NAME: &str = "Tessera demo WWDR";
const DEMO_FILE: &str = "apple-demo-pass.pem";

/// The Pass Type ID certificate and key that sign passes, with the intermediate that issued
/// the certificate.
pub struct AppleSigner {
    /// `passTypeIdentifier`.
    pub pass_type_id: String,
    /// `teamIdentifier`.
    pub team_id: String,
    /// True for the generated demo chain.
    pub demo: bool,
    certificate: X509,
    key: PKey<Private>,
    intermediate: X509,
}

impl std::fmt::Debug for AppleSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppleSigner")
            .field("pass_type_id", &self.pass_type_id)
            .field("team_id", &self.team_id)
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, WalletError> {
    std::fs::read(path).map_err(|source| WalletError::File {
        what,
        path: path.display().to_string(),
        source,
    })
}

fn bad(what: &'static str, path: &Path) -> impl FnOnce(openssl::error::ErrorStack) -> WalletError {
    let path = path.display().to_string();
    move |e| WalletError::Credential {
        what,
        path,
        reason: e.to_string(),
    }
}

impl AppleSigner {
    /// The configured certificate, or `None` when `certificate` is unset (demo mode). Every
    /// other key must then be set too; the key must match the certificate.
    pub fn from_settings(apple: &AppleWalletSettings) -> Result<Option<Self>, WalletError> {
        let Some(cert_path) = &apple.certificate else {
            return Ok(None);
        };
        let missing = |key: &'static str| WalletError::Incomplete(key);
        let key_path = apple.key.as_ref().ok_or(missing("wallet.apple.key"))?;
        let wwdr_path = apple
            .wwdr_certificate
            .as_ref()
            .ok_or(missing("wallet.apple.wwdr_certificate"))?;
        let pass_type_id = apple
            .pass_type_id
            .clone()
            .ok_or(missing("wallet.apple.pass_type_id"))?;
        let team_id = apple
            .team_id
            .clone()
            .ok_or(missing("wallet.apple.team_id"))?;
        let certificate = X509::from_pem(&read(cert_path, "pass certificate")?)
            .map_err(bad("pass certificate", cert_path))?;
        let key_pem = read(key_path, "pass certificate key")?;
        let key = match &apple.key_password {
            Some(password) => {
                PKey::private_key_from_pem_passphrase(&key_pem, password.expose().as_bytes())
            }
            None => PKey::private_key_from_pem(&key_pem),
        }
        .map_err(bad("pass certificate key", key_path))?;
        let intermediate = X509::from_pem(&read(wwdr_path, "WWDR certificate")?)
            .map_err(bad("WWDR certificate", wwdr_path))?;
        let public = certificate
            .public_key()
            .map_err(bad("pass certificate", cert_path))?;
        if !public.public_eq(&key) {
            return Err(WalletError::KeyMismatch(key_path.display().to_string()));
        }
        Ok(Some(Self {
            pass_type_id,
            team_id,
            demo: false,
            certificate,
            key,
            intermediate,
        }))
    }

    /// The demo chain in `dir`, generated on first use: a self-signed "Tessera demo WWDR"
    /// CA and a pass certificate it issued, in one 0600 PEM file (key, certificate, CA), so
    /// two processes starting at once end up with one chain.
    pub fn demo(dir: &Path) -> Result<Self, WalletError> {
        let path = dir.join(DEMO_FILE);
        let pem = super::load_or_create(&path, || {
            let ca_key = rsa_key()?;
            let ca = certificate(DEMO_CA_NAME, &ca_key, None, true)?;
            let key = rsa_key()?;
            let cert = certificate(
                &format!("Pass Type ID: {DEMO_PASS_TYPE_ID} (DEMO)"),
                &key,
                Some((&ca, &ca_key)),
                false,
            )?;
            let mut pem = key.private_key_to_pem_pkcs8()?;
            pem.extend(cert.to_pem()?);
            pem.extend(ca.to_pem()?);
            Ok(pem)
        })?;
        let key = PKey::private_key_from_pem(&pem).map_err(bad("demo pass key", &path))?;
        let certs = X509::stack_from_pem(&pem).map_err(bad("demo pass chain", &path))?;
        let [certificate, intermediate] =
            <[X509; 2]>::try_from(certs).map_err(|_| WalletError::Credential {
                what: "demo pass chain",
                path: path.display().to_string(),
                reason: "expected two certificates".into(),
            })?;
        Ok(Self {
            pass_type_id: DEMO_PASS_TYPE_ID.to_owned(),
            team_id: DEMO_TEAM_ID.to_owned(),
            demo: true,
            certificate,
            key,
            intermediate,
        })
    }

    /// The detached CMS (PKCS#7) signature of `manifest`, DER: signed attributes with the
    /// signing time, the pass certificate and the intermediate included.
    pub fn sign(&self, manifest: &[u8]) -> Result<Vec<u8>, WalletError> {
        let mut certs = Stack::new()?;
        certs.push(self.intermediate.clone())?;
        let cms = CmsContentInfo::sign(
            Some(&self.certificate),
            Some(&self.key),
            Some(&certs),
            Some(manifest),
            CMSOptions::DETACHED | CMSOptions::BINARY,
        )?;
        Ok(cms.to_der()?)
    }
}

/// A new RSA-2048 key.
pub fn rsa_key() -> Result<PKey<Private>, openssl::error::ErrorStack> {
    PKey::from_rsa(Rsa::generate(2048)?)
}

/// A certificate for `common_name` on `key`, valid for ten years: self-signed when `issuer`
/// is `None`, a CA when `ca`. Public so tests can build an Apple-like chain (root → WWDR →
/// pass certificate) with the same code that makes the demo chain.
pub fn certificate(
    common_name: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    ca: bool,
) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509Name::builder()?;
    name.append_entry_by_text("O", "Tessera")?;
    name.append_entry_by_text("CN", common_name)?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(issuer.map_or(&*name, |(cert, _)| cert.subject_name()))?;
    b.set_pubkey(key)?;
    b.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    b.set_not_after(&*Asn1Time::days_from_now(3650)?)?;
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .digital_signature()
                .build()?,
        )?;
    } else {
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    if let Some((issuer_cert, _)) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(issuer_cert), None))?;
        b.append_extension(aki)?;
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())?;
    Ok(b.build())
}

/// A pass's serial number: one per ticket revision, so a transfer (new revision) gives the
/// new holder a new pass and leaves the old serial to be served voided.
pub fn serial(ticket_id: i64, revision: i64) -> String {
    format!("T{ticket_id}R{revision}")
}

/// The ticket id and revision a serial names; `None` for anything else.
pub fn parse_serial(serial: &str) -> Option<(i64, i64)> {
    let (id, rev) = serial.strip_prefix('T')?.split_once('R')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(id) || !digits(rev) {
        return None;
    }
    Some((id.parse().ok()?, rev.parse().ok()?))
}

/// What a served pass shows about its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassState {
    /// The ticket's current revision, valid.
    Current,
    /// The current revision, but voided (refunded or revoked): the pass is marked voided.
    Void,
    /// An older revision (transferred, upgraded, reissued): voided, and without the current
    /// QR code or holder, which belong to someone else now.
    Superseded,
}

/// Everything a `pass.json` is made of.
#[derive(Debug, Clone, Copy)]
pub struct PassFacts<'a> {
    /// The ticket (its current row).
    pub ticket: &'a TicketView,
    /// Its order.
    pub order: &'a Order,
    /// The revision the pass is for (the serial's).
    pub revision: i64,
    /// Current, void or superseded.
    pub state: PassState,
    /// `organizationName`.
    pub organization: &'a str,
    /// `passTypeIdentifier`.
    pub pass_type_id: &'a str,
    /// `teamIdentifier`.
    pub team_id: &'a str,
    /// `<public_url>/api/v1/wallet/apple`.
    pub web_service_url: &'a str,
    /// The per-pass `authenticationToken`.
    pub auth_token: &'a str,
    /// The venue's coordinates, if configured.
    pub location: Option<(f64, f64)>,
    /// Signed with the demo chain: say so on the pass.
    pub demo: bool,
}

fn field(key: &str, label: &str, value: impl Into<Value>) -> Value {
    json!({"key": key, "label": label, "value": value.into()})
}

/// The ticket's valid days as event-local dates.
fn ticket_days(ticket: &TicketView) -> Vec<NaiveDate> {
    tessera_core::DayMask(ticket.days_mask)
        .days()
        .filter_map(|d| ticket.event.days.get(d).copied())
        .collect()
}

/// `date` at `time` in the event's timezone, as ISO 8601 with its offset.
pub(super) fn local_iso(timezone: &str, date: NaiveDate, time: NaiveTime) -> Option<String> {
    let tz: chrono_tz::Tz = timezone.parse().ok()?;
    let at = tz.from_local_datetime(&date.and_time(time)).earliest()?;
    Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
}

/// "2026-11-27 to 2026-11-29" (or the one day).
fn event_dates(days: &[NaiveDate]) -> String {
    match (days.first(), days.last()) {
        (Some(first), Some(last)) if first != last => format!("{first} to {last}"),
        (Some(first), _) => first.to_string(),
        _ => String::new(),
    }
}

/// The `pass.json` of one ticket revision (Apple's event-ticket style), its labels in the
/// order's language. (Apple's per-language `.lproj` strings would let the phone pick; the
/// pass is for one person, who chose a language when ordering.)
pub fn pass_json(f: &PassFacts<'_>) -> Value {
    let t = f.ticket;
    let lang = Lang::parse(&f.order.lang).unwrap_or_default();
    let w = |key: &str| i18n::message(lang, key, &[]);
    let demo_label = if f.demo {
        format!(" ({})", w("wallet-demo"))
    } else {
        String::new()
    };
    let mut pass = json!({
        "formatVersion": 1,
        "passTypeIdentifier": f.pass_type_id,
        "serialNumber": serial(t.id, f.revision),
        "teamIdentifier": f.team_id,
        "organizationName": f.organization,
        "description": format!("{} - {}{demo_label}", t.event.name, t.type_name),
        "logoText": t.event.name,
        "foregroundColor": "rgb(255, 255, 255)",
        "backgroundColor": "rgb(64, 32, 96)",
        "labelColor": "rgb(240, 200, 120)",
        "webServiceURL": f.web_service_url,
        "authenticationToken": f.auth_token,
        // Transfers go through the server, which revokes the old QR; a shared pass file
        // would only spread a QR code the gate admits once.
        "sharingProhibited": true,
    });
    let days = ticket_days(t);
    // The catalog has no door times yet: 10:00 local on the first valid day puts the pass
    // on the lock screen that morning.
    let doors = NaiveTime::from_hms_opt(10, 0, 0).unwrap_or(NaiveTime::MIN);
    if let Some(first) = days.first()
        && let Some(at) = local_iso(&t.event.timezone, *first, doors)
    {
        pass["relevantDate"] = at.into();
    }
    if let Some(last) = days.last().and_then(|d| d.succ_opt())
        && let Some(at) = local_iso(&t.event.timezone, last, NaiveTime::MIN)
    {
        pass["expirationDate"] = at.into();
    }
    if let Some((latitude, longitude)) = f.location {
        pass["locations"] = json!([{
            "latitude": latitude,
            "longitude": longitude,
            "relevantText": i18n::message(lang, "wallet-welcome", &[("event", Arg::Text(&t.event.name))]),
        }]);
    }
    let mut back = vec![
        field("order", &w("wallet-order"), order_number(f.order.id)),
        field(
            "ticket",
            &w("wallet-ticket-back"),
            i18n::message(
                lang,
                "wallet-ticket-revision",
                &[
                    ("id", Arg::Number(t.id)),
                    ("revision", Arg::Number(f.revision)),
                ],
            ),
        ),
        field(
            "dates",
            &w("wallet-event-dates"),
            event_dates(&t.event.days),
        ),
        field("venue-back", &w("wallet-venue-back"), t.event.venue.clone()),
        field("how", &w("wallet-at-gate"), w("wallet-how")),
    ];
    if f.demo {
        back.push(field("demo", &w("wallet-demo"), w("wallet-demo-note")));
    }
    let header = match (f.state, f.demo) {
        (PassState::Current, false) => vec![],
        (PassState::Current, true) => vec![field("status", &w("wallet-status"), w("wallet-demo"))],
        (_, _) => vec![field("status", &w("wallet-status"), w("wallet-void"))],
    };
    let ticket_fields = if f.state == PassState::Superseded {
        pass["voided"] = true.into();
        json!({
            "headerFields": header,
            "primaryFields": [field("event", &w("wallet-event"), t.event.name.clone())],
            "secondaryFields": [field("replaced", &w("wallet-ticket"), w("wallet-replaced"))],
            "backFields": back,
        })
    } else {
        if f.state == PassState::Void {
            pass["voided"] = true.into();
        }
        pass["barcodes"] = json!([{
            "format": "PKBarcodeFormatQR",
            "message": t.qr_text,
            "messageEncoding": "iso-8859-1",
            "altText": i18n::message(lang, "ticket-n", &[("id", Arg::Number(t.id))]),
        }]);
        let mut auxiliary = vec![
            field(
                "days",
                &w("wallet-valid"),
                i18n::days_list(lang, &valid_days_in(lang, t.days_mask, &t.event.days)),
            ),
            field("venue", &w("wallet-venue"), t.event.venue.clone()),
        ];
        if t.kind == TicketKind::VendorBooth {
            // The vendor's business and booth ("Falafel King · Booth B-12"), as the gate shows.
            auxiliary.push(field(
                "booth",
                &w("wallet-vendor"),
                i18n::vendor_line(lang, t).unwrap_or_else(|| {
                    t.booth.map_or_else(
                        || w("wallet-booth-unassigned"),
                        |b| i18n::message(lang, "booth-code", &[("code", Arg::Number(b))]),
                    )
                }),
            ));
        }
        json!({
            "headerFields": header,
            "primaryFields": [field("event", &w("wallet-event"), t.event.name.clone())],
            "secondaryFields": [
                field("type", &w("wallet-ticket"), t.type_name.clone()),
                field("holder", &w("wallet-holder"), t.holder_name.clone()),
            ],
            "auxiliaryFields": auxiliary,
            "backFields": back,
        })
    };
    pass["eventTicket"] = ticket_fields;
    pass
}

/// A square-ish PNG: the festival colour with a light "T", so the pass has the icon and
/// logo Wallet requires without shipping image files.
fn emblem_png(width: u32, height: u32) -> Result<Vec<u8>, WalletError> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        // A "T" in the left square of the image.
        let side = f64::from(width.min(height));
        let (sx, sy) = (f64::from(x) / side, f64::from(y) / side);
        let bar = (0.2..0.36).contains(&sy) && (0.2..0.8).contains(&sx);
        let stem = (0.36..0.82).contains(&sy) && (0.42..0.58).contains(&sx);
        if bar || stem {
            image::Rgba([240, 200, 120, 255])
        } else {
            image::Rgba([64, 32, 96, 255])
        }
    });
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| WalletError::Package(format!("encoding a PNG: {e}")))?;
    Ok(out.into_inner())
}

/// The images every pass carries, by file name.
pub fn images() -> Result<Vec<(&'static str, Vec<u8>)>, WalletError> {
    Ok(vec![
        ("icon.png", emblem_png(29, 29)?),
        ("icon@2x.png", emblem_png(58, 58)?),
        ("logo.png", emblem_png(50, 50)?),
        ("logo@2x.png", emblem_png(100, 100)?),
    ])
}

/// `manifest.json`: each file's SHA-1 in hex, by name.
pub fn manifest(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let map: serde_json::Map<String, Value> = files
        .iter()
        .map(|(name, bytes)| {
            (
                (*name).to_owned(),
                hex::encode(openssl::sha::sha1(bytes)).into(),
            )
        })
        .collect();
    Value::Object(map).to_string().into_bytes()
}

/// The `.pkpass`: `pass.json`, the images, `manifest.json` and its `signature`, zipped.
pub fn package(pass: &Value, signer: &AppleSigner) -> Result<Vec<u8>, WalletError> {
    let mut files = vec![("pass.json", pass.to_string().into_bytes())];
    files.extend(images()?);
    let manifest = manifest(&files);
    let signature = signer.sign(&manifest)?;
    files.push(("manifest.json", manifest));
    files.push(("signature", signature));
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in &files {
        zip.start_file(*name, options)
            .map_err(|e| WalletError::Package(e.to_string()))?;
        zip.write_all(bytes)
            .map_err(|e| WalletError::Package(e.to_string()))?;
    }
    let out = zip
        .finish()
        .map_err(|e| WalletError::Package(e.to_string()))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_round_trip_and_garbage_is_refused() {
        assert_eq!(parse_serial(&serial(123, 4)), Some((123, 4)));
        for bad in [
            "",
            "T",
            "TR",
            "T1R",
            "TR1",
            "t1r1",
            "T1R1x",
            "T-1R1",
            "T1R+1",
            "T99999999999999999999R1",
        ] {
            assert_eq!(parse_serial(bad), None, "{bad}");
        }
    }

    #[test]
    fn manifest_lists_sha1_of_every_file() {
        let m = manifest(&[("a", b"abc".to_vec())]);
        let v: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["a"], "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
