//! Camera frames for each condition a gate meets (dark mode, small codes, defocus, glare,
//! a folded print, …), made from the pictures the server hands out: the QR PNG (8 pixels a
//! module, 4-module quiet zone, ECC Q, as `sync-server/src/domain/render.rs` draws it), the
//! PDF page at 150 dpi (the code 60 mm wide beside lines of text), and the same PNG shown
//! in an email on a phone screen. Deterministic: the same frames on every run.

use image::{GrayImage, Luma};

use crate::frames::{Rng, Spec, modules, warp};

/// A condition from the field, with the frames that show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// A phone in dark mode: light modules on a dark screen.
    DarkMode,
    /// The code 90–120 px wide in the frame (≈ 1.8–2.5 px a module).
    Small,
    /// 2.5–3.2 px a module: the smallest the decoder must read.
    SmallReadable,
    FocusBlur,
    LowContrast,
    Glare,
    /// A photo of the printed PDF page.
    PrintedPage,
    Tilt,
    SensorNoise,
    /// An email's inline image on a phone screen, photographed: moiré.
    ScreenMoire,
    Rotation45,
    /// A finger over about a tenth of the code.
    Finger,
    Jpeg40,
    /// A phone screen held at a slant.
    ScreenAtSlant,
    /// A crumpled, folded print.
    Crumpled,
    /// A corner of the code outside the frame.
    PartlyOutside,
    VeryDark,
    OverExposed,
}

impl Condition {
    pub const ALL: [Condition; 18] = [
        Condition::DarkMode,
        Condition::Small,
        Condition::SmallReadable,
        Condition::FocusBlur,
        Condition::LowContrast,
        Condition::Glare,
        Condition::PrintedPage,
        Condition::Tilt,
        Condition::SensorNoise,
        Condition::ScreenMoire,
        Condition::Rotation45,
        Condition::Finger,
        Condition::Jpeg40,
        Condition::ScreenAtSlant,
        Condition::Crumpled,
        Condition::PartlyOutside,
        Condition::VeryDark,
        Condition::OverExposed,
    ];
}

/// Which of the server's pictures a frame photographs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Png,
    Page,
    Screen,
}

/// The QR PNG as the server renders it: 8 pixels a module, 4-module quiet zone, black on white.
pub fn qr_png(text: &str) -> GrayImage {
    let (mods, size) = modules(text);
    GrayImage::from_fn(size as u32 * 8, size as u32 * 8, |x, y| {
        let dark = mods[(y / 8) as usize * size + (x / 8) as usize];
        Luma([if dark { 0 } else { 255 }])
    })
}

/// Pixels a module on the PDF page at 150 dpi: the code (without quiet zone) is 60 mm wide.
fn page_module(text: &str) -> f64 {
    let (_, size) = modules(text);
    60.0 / 25.4 * 150.0 / (size - 8) as f64
}

/// The part of the 150 dpi PDF page a camera sees: the code with its quiet zone, lines of
/// text above and beside it, on white paper.
pub fn pdf_page(text: &str, seed: u64) -> GrayImage {
    let (mods, size) = modules(text);
    let m = page_module(text);
    let qr = (size as f64 * m).ceil() as u32;
    let (w, h) = (qr + 420, qr + 200);
    let (qx, qy) = (40u32, 150u32);
    let mut rng = Rng(seed.max(1) * 0x2545_f491);
    let mut img = GrayImage::from_pixel(w, h, Luma([255]));
    // Lines of text: words as dark bars, 14 px tall, above and to the right of the code.
    let mut lines: Vec<(u32, u32, u32)> = (0..4).map(|i| (40, 20 + i * 30, w - 40)).collect();
    lines.extend((0..8).map(|i| (qx + qr + 30, qy + 20 + i * 34, w - 20)));
    for (x0, y, x1) in lines {
        let mut x = x0;
        while x < x1 {
            let word = 20 + (rng.next() % 60) as u32;
            for yy in y..(y + 14).min(h) {
                for xx in x..(x + word).min(x1) {
                    img.put_pixel(xx, yy, Luma([30]));
                }
            }
            x += word + 10;
        }
    }
    for y in 0..qr {
        for x in 0..qr {
            let (mx, my) = ((f64::from(x) / m) as usize, (f64::from(y) / m) as usize);
            if mx < size && my < size && mods[my * size + mx] {
                img.put_pixel(qx + x, qy + y, Luma([0]));
            }
        }
    }
    img
}

/// One frame of `condition` showing `text`, `i`-th of its set at `width × height`.
pub fn frame(condition: Condition, text: &str, width: u32, height: u32, i: u64) -> GrayImage {
    let mut rng = Rng(0x51_7cc1_b727_220a
        ^ ((i + 1) * 0x9e37_79b9)
        ^ ((condition as u64 + 1) << 40)
        ^ u64::from(width));
    for _ in 0..4 {
        rng.next();
    }
    let r = |rng: &mut Rng, lo: f64, hi: f64| lo + (hi - lo) * rng.unit();
    let code_modules = (modules(text).1 - 8) as f64;
    let mut spec = Spec {
        width,
        height,
        module: r(&mut rng, 3.4, 6.0),
        angle: r(&mut rng, -12.0, 12.0),
        tilt: r(&mut rng, 0.0, 0.08),
        centre: (r(&mut rng, 0.4, 0.6), r(&mut rng, 0.42, 0.58)),
        ink: 35,
        paper: 215,
        blur: r(&mut rng, 0.3, 0.7) as f32,
        noise: 8,
        shade: r(&mut rng, 0.0, 0.2),
        seed: i + 1,
    };
    let source = match i % 3 {
        0 => Source::Png,
        1 => Source::Page,
        _ => Source::Screen,
    };
    let mut source = source;
    let mut moire = 0.0;
    let mut glare = None;
    let mut finger = false;
    let mut crumple = 0.0;
    let mut jpeg = None;
    let mut gain = 1.0;
    match condition {
        Condition::DarkMode => {
            source = Source::Screen;
            spec.ink = r(&mut rng, 200.0, 240.0) as u8;
            spec.paper = r(&mut rng, 15.0, 40.0) as u8;
        }
        Condition::Small => spec.module = r(&mut rng, 90.0, 120.0) / code_modules,
        Condition::SmallReadable => spec.module = r(&mut rng, 2.5, 3.2),
        Condition::FocusBlur => {
            spec.blur = (spec.module * r(&mut rng, 0.3, 0.5)) as f32;
            spec.noise = 5;
        }
        Condition::LowContrast => {
            let mid = r(&mut rng, 100.0, 160.0);
            let delta = r(&mut rng, 25.0, 40.0);
            spec.ink = (mid - delta / 2.0) as u8;
            spec.paper = (mid + delta / 2.0) as u8;
            spec.noise = 6;
        }
        Condition::Glare => {
            let size = code_modules * spec.module;
            glare = Some((
                r(&mut rng, -0.3, 0.3) * size,
                r(&mut rng, -0.3, 0.3) * size,
                r(&mut rng, 0.12, 0.2) * size,
            ));
        }
        Condition::PrintedPage => {
            source = Source::Page;
            spec.blur = r(&mut rng, 0.6, 1.0) as f32;
            spec.noise = 10;
            spec.shade = r(&mut rng, 0.2, 0.35);
            spec.paper = 205;
        }
        Condition::Tilt => {
            spec.tilt = r(&mut rng, 0.2, 0.35);
            spec.angle = r(&mut rng, -15.0, 15.0);
        }
        Condition::SensorNoise => {
            spec.noise = r(&mut rng, 35.0, 50.0) as u8;
            spec.blur = 0.3;
        }
        Condition::ScreenMoire => {
            source = Source::Screen;
            moire = r(&mut rng, 0.2, 0.35);
        }
        Condition::Rotation45 => {
            spec.angle = r(&mut rng, 40.0, 50.0) + 90.0 * (i % 4) as f64;
        }
        Condition::Finger => finger = true,
        Condition::Jpeg40 => jpeg = Some(40),
        Condition::ScreenAtSlant => {
            source = Source::Screen;
            spec.tilt = r(&mut rng, 0.25, 0.4);
            spec.angle = r(&mut rng, -25.0, 25.0);
            moire = 0.12;
        }
        Condition::Crumpled => {
            source = Source::Page;
            crumple = r(&mut rng, 0.2, 0.4);
            spec.shade = r(&mut rng, 0.1, 0.3);
        }
        Condition::PartlyOutside => {
            // The one corner without a finder pattern sticks out of the right edge by a few
            // modules (no decoder can read a code with a finder cut off).
            spec.angle = -45.0 + r(&mut rng, -5.0, 5.0);
            let half_diagonal = code_modules / 2.0 * spec.module * std::f64::consts::SQRT_2;
            let out = r(&mut rng, 2.0, 4.0) * spec.module;
            spec.centre.0 = (f64::from(width) + out - half_diagonal) / f64::from(width);
        }
        Condition::VeryDark => {
            spec.paper = r(&mut rng, 22.0, 34.0) as u8;
            spec.ink = 3;
            spec.noise = 4;
        }
        Condition::OverExposed => {
            spec.paper = 230;
            spec.ink = r(&mut rng, 120.0, 160.0) as u8;
            spec.blur = r(&mut rng, 0.8, 1.2) as f32;
            spec.noise = 4;
            gain = r(&mut rng, 1.2, 1.35);
        }
    }
    let (picture, picture_module) = match source {
        Source::Png | Source::Screen => (qr_png(text), 8.0),
        Source::Page => (pdf_page(text, i + 1), page_module(text)),
    };
    let (pw, ph) = (picture.width(), picture.height());
    let scale = spec.module / picture_module;
    // Where the code's centre is in the picture, to put it at the spec's centre.
    let (qx, qy) = match source {
        Source::Page => {
            let half = modules(text).1 as f64 * picture_module / 2.0;
            (40.0 + half, 150.0 + half)
        }
        _ => (f64::from(pw) / 2.0, f64::from(ph) / 2.0),
    };
    let (ox, oy) = (qx - f64::from(pw) / 2.0, qy - f64::from(ph) / 2.0);
    let (sin, cos) = spec.angle.to_radians().sin_cos();
    let shift = (ox * cos - oy * sin, ox * sin + oy * cos);
    spec.centre.0 -= shift.0 * scale / f64::from(width);
    spec.centre.1 -= shift.1 * scale / f64::from(height);
    let code_size = code_modules * picture_module;
    let (fx0, fy0) = (qx + code_size * 0.28, qy + code_size * 0.42);
    let phase = r(&mut rng, 0.0, std::f64::consts::TAU);
    let screen = source == Source::Screen;
    let mut img = warp(f64::from(pw), f64::from(ph), scale, &spec, |x, y| {
        let (mut x, mut y) = (x, y);
        if crumple > 0.0 {
            // A fold or crumple shifts the print by up to `crumple` modules, smoothly.
            let a = crumple * picture_module;
            x += a * (y / (18.0 * picture_module) * std::f64::consts::TAU + phase).sin();
            y += a * (x / (23.0 * picture_module) * std::f64::consts::TAU + phase * 0.7).sin();
        }
        if finger {
            // An ellipse, a finger's width, over the corner away from the finder patterns.
            let (dx, dy) = (x - fx0, y - fy0);
            let (u, v) = (
                (dx + dy) / std::f64::consts::SQRT_2,
                (dy - dx) / std::f64::consts::SQRT_2,
            );
            if (u / (0.08 * code_size)).powi(2) + (v / (0.28 * code_size)).powi(2) <= 1.0 {
                return 0.45;
            }
        }
        if x < 0.0 || y < 0.0 || x >= f64::from(pw) || y >= f64::from(ph) {
            // Around a phone's screen is its dark bezel; around paper, more paper.
            return if screen { 0.8 } else { 0.0 };
        }
        1.0 - f64::from(picture.get_pixel(x as u32, y as u32).0[0]) / 255.0
    });
    let (cx, cy) = (
        spec.centre.0 * f64::from(width) + shift.0 * scale,
        spec.centre.1 * f64::from(height) + shift.1 * scale,
    );
    let period = r(&mut rng, 3.0, 7.0);
    let slope = r(&mut rng, -0.3, 0.3);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (xf, yf) = (f64::from(x), f64::from(y));
        let mut v = f64::from(p.0[0]);
        if moire > 0.0 {
            let wave = ((xf + yf * slope) / period * std::f64::consts::TAU).sin()
                * ((yf - xf * slope) / (period * 1.3) * std::f64::consts::TAU).sin();
            v *= 1.0 - moire * (0.5 + 0.5 * wave);
        }
        if let Some((gx, gy, gr)) = glare {
            let d2 = (xf - cx - gx * scale).powi(2) + (yf - cy - gy * scale).powi(2);
            v += 320.0 * (-d2 / (2.0 * (gr * scale).powi(2))).exp();
        }
        v *= gain;
        if crumple > 0.0 {
            // A crease: a band a little darker than the paper around it.
            let d = (yf - cy - (xf - cx) * 0.35).abs();
            if d < 6.0 {
                v *= 0.8;
            }
        }
        p.0[0] = v.clamp(0.0, 255.0) as u8;
    }
    if let Some(quality) = jpeg {
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
            .encode_image(&img)
            .unwrap();
        img = image::load_from_memory(&bytes).unwrap().into_luma8();
    }
    img
}

/// The frames of one condition at one size: `(ticket text, frame)`, tickets numbered from
/// `first`.
pub fn set(
    condition: Condition,
    width: u32,
    height: u32,
    n: u64,
    ticket: impl Fn(u64) -> String,
    first: u64,
) -> Vec<(String, GrayImage)> {
    (0..n)
        .map(|i| {
            let text = ticket(first + i);
            let img = frame(condition, &text, width, height, i);
            (text, img)
        })
        .collect()
}

/// A frame with no code in it: a lit wall with a door and a plain sign, sensor noise.
pub fn empty_scene(width: u32, height: u32, seed: u64) -> GrayImage {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).max(1));
    let (dx, dw) = (
        u32::try_from(rng.next() % u64::from(width / 2)).unwrap(),
        width / 5,
    );
    let (sx, sy) = (width / 2 + (rng.next() % 100) as u32, height / 5);
    GrayImage::from_fn(width, height, |x, y| {
        let mut v =
            90.0 + 80.0 * f64::from(x) / f64::from(width) + 20.0 * f64::from(y) / f64::from(height);
        if x >= dx && x < dx + dw && y > height / 4 {
            v = 60.0;
        }
        if x >= sx && x < sx + width / 6 && y >= sy && y < sy + height / 10 {
            v = if (x / 9 + y / 13) % 3 == 0 {
                30.0
            } else {
                220.0
            };
        }
        v += (rng.unit() - 0.5) * 16.0;
        Luma([v.clamp(0.0, 255.0) as u8])
    })
}
