//! A ticket printed from the server's PDF and photographed at the gate: the PDF is rendered
//! to a page image with `pdftoppm` (as a printer would), photographed (scaled, rotated,
//! tilted, unevenly lit, blurred, noisy), decoded by the device, and admitted. And the
//! server's own QR PNG photographed in the conditions gates meet worst: a phone in dark
//! mode, a code held at arm's length, out of focus, in dim, flat light.

#[path = "../../../scanner-app/tests/it/frames.rs"]
#[allow(dead_code)]
mod frames;

use std::process::Command;

use tessera_scanner::decode::{Decoder, Engine};
use tessera_tests::{Db, Device, Server};

#[test]
fn a_photo_of_the_printed_pdf_ticket_is_admitted() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let ((order, token), tickets) = server.buy_order(1);
    let (ticket_id, qr_text) = &tickets[0];

    let mut resp = ureq::get(&format!(
        "{}/api/v1/orders/{order}/tickets/{ticket_id}/ticket.pdf",
        server.url
    ))
    .header("Authorization", &format!("Bearer {token}"))
    .call()
    .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let pdf = resp.body_mut().read_to_vec().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ticket.pdf"), &pdf).unwrap();
    // A 150 dpi grayscale print of the page.
    let status = Command::new("pdftoppm")
        .args([
            "-r",
            "150",
            "-gray",
            "-png",
            "-singlefile",
            "ticket.pdf",
            "page",
        ])
        .current_dir(dir.path())
        .status()
        .expect("pdftoppm (Debian poppler-utils; ./scripts/test installs it)");
    assert!(status.success());
    let page = image::open(dir.path().join("page.png"))
        .unwrap()
        .into_luma8();

    // A phone photo of the page: 1920×1080, the page filling most of the height.
    let spec = frames::Spec {
        width: 1920,
        height: 1080,
        module: 0.0,
        angle: 6.0,
        tilt: 0.05,
        centre: (0.5, 0.5),
        ink: 30,
        paper: 215,
        blur: 0.7,
        noise: 10,
        shade: 0.2,
        seed: 7,
    };
    let scale = 1000.0 / f64::from(page.height());
    let photo = frames::photograph(&page, scale, &spec);
    photo.save(dir.path().join("photo.png")).unwrap();

    let found = Decoder::new(Engine::default()).decode(&photo);
    assert_eq!(found, vec![qr_text.clone()], "decoded from the photo");

    let mut gate = Device::enroll(&server, "Tablet-1", "Main Gate");
    let first = gate.scan(&found[0]);
    assert_eq!(first.verdict, "admit", "{}", first.message);
    assert_eq!(first.ticket_id, Some(*ticket_id));
    let again = gate.scan(&found[0]);
    assert_eq!(again.reason, Some("already_admitted"));
    server.stop();
}

#[test]
fn the_servers_qr_png_is_read_in_dark_mode_small_defocused_and_dim() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let ((order, token), tickets) = server.buy_order(1);
    let (ticket_id, qr_text) = &tickets[0];
    let mut resp = ureq::get(&format!(
        "{}/api/v1/orders/{order}/tickets/{ticket_id}/qr.png",
        server.url
    ))
    .header("Authorization", &format!("Bearer {token}"))
    .call()
    .unwrap();
    let png = resp.body_mut().read_to_vec().unwrap();
    let qr = image::load_from_memory(&png).unwrap().into_luma8();
    // The PNG has 8 pixels a module.
    let at = |module: f64| module / 8.0;
    let base = frames::Spec {
        width: 1280,
        height: 720,
        module: 0.0,
        angle: 8.0,
        tilt: 0.04,
        centre: (0.48, 0.52),
        ink: 30,
        paper: 210,
        blur: 0.6,
        noise: 8,
        shade: 0.15,
        seed: 11,
    };
    let cases = [
        // Light modules on a dark screen; the phone's bezel is dark too.
        (
            "dark mode",
            frames::Spec {
                ink: 225,
                paper: 28,
                ..base
            },
            at(5.0),
        ),
        // Arm's length in front of a 720p camera: 2.2 pixels a module.
        ("arm's length", base, at(2.2)),
        // Out of focus: a blur of 0.4 module.
        ("out of focus", frames::Spec { blur: 2.0, ..base }, at(5.0)),
        // Dim, flat light: 35 grey levels between ink and paper.
        (
            "dim and flat",
            frames::Spec {
                ink: 95,
                paper: 130,
                noise: 6,
                ..base
            },
            at(4.0),
        ),
    ];
    let mut decoder = Decoder::new(Engine::default()).with_budget(None);
    for (name, spec, scale) in cases {
        let photo = frames::photograph(&qr, scale, &spec);
        let found = decoder.decode(&photo);
        assert_eq!(found, vec![qr_text.clone()], "{name}");
    }
    let mut gate = Device::enroll(&server, "Tablet-1", "Main Gate");
    assert_eq!(gate.scan(qr_text).verdict, "admit");
    server.stop();
}
