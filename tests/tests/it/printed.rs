//! A ticket printed from the server's PDF and photographed at the gate: the PDF is rendered
//! to a page image with `pdftoppm` (as a printer would), photographed (scaled, rotated,
//! tilted, unevenly lit, blurred, noisy), decoded by the device, and admitted.

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

    let found = Decoder::new(Engine::Quircs).decode(&photo);
    assert_eq!(found, vec![qr_text.clone()], "decoded from the photo");

    let mut gate = Device::enroll(&server, "Tablet-1", "Main Gate");
    let first = gate.scan(&found[0]);
    assert_eq!(first.verdict, "admit", "{}", first.message);
    assert_eq!(first.ticket_id, Some(*ticket_id));
    let again = gate.scan(&found[0]);
    assert_eq!(again.reason, Some("already_admitted"));
    server.stop();
}
