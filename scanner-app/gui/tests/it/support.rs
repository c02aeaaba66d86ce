//! What the tests share: camera-like frames of a ticket, and waiting on a condition.

use std::time::{Duration, Instant};

use image::{GrayImage, Luma};

/// A 640×480 camera frame: a grey background with the QR code of `text` in the middle.
pub fn frame_of(text: &str) -> GrayImage {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::Q)
        .unwrap_or_else(|e| panic!("QR: {e}"));
    let qr = code
        .render::<Luma<u8>>()
        .module_dimensions(6, 6)
        .quiet_zone(true)
        .build();
    let mut frame = GrayImage::from_pixel(640, 480, Luma([150]));
    let (x, y) = ((640 - qr.width()) / 2, (480 - qr.height()) / 2);
    image::imageops::overlay(&mut frame, &qr, i64::from(x), i64::from(y));
    frame
}

/// A frame with no code in it.
pub fn empty_frame() -> GrayImage {
    GrayImage::from_pixel(640, 480, Luma([150]))
}

/// Polls `check` until it gives a value or `limit` passes.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
