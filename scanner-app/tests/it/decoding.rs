//! Decoding real ticket QR renders from synthesized camera frames.

use tessera_scanner::decode::{Decoder, Engine};

use crate::fixtures::ticket;
use crate::frames::{Level, render, specs};

fn success(engine: Engine, level: Level, w: u32, h: u32, n: u64) -> (usize, usize) {
    let mut decoder = Decoder::new(engine);
    let mut ok = 0;
    let specs = specs(level, w, h, n);
    for (i, spec) in specs.iter().enumerate() {
        let text = ticket(1000 + i as u64);
        let frame = render(&text, spec);
        if decoder.decode(&frame) == vec![text] {
            ok += 1;
        }
    }
    (ok, specs.len())
}

#[test]
fn clean_and_mild_frames_decode_at_least_99_percent() {
    for (w, h) in [(640, 480), (1280, 720)] {
        for level in [Level::Clean, Level::Mild] {
            let (ok, n) = success(Engine::Quircs, level, w, h, 50);
            assert!(ok * 100 >= n * 99, "{level:?} {w}×{h}: {ok}/{n} decoded");
        }
    }
}

#[test]
fn degraded_frames_are_reported() {
    // Not a pass/fail target (DESIGN asks for the figure): record it, and guard against a
    // collapse of robustness.
    for (w, h) in [(640, 480), (1280, 720)] {
        let (ok, n) = success(Engine::Quircs, Level::Degraded, w, h, 30);
        println!("degraded {w}×{h}: {ok}/{n}");
        assert!(ok * 4 >= n, "degraded {w}×{h}: only {ok}/{n}");
    }
}

#[test]
fn rqrr_reads_clean_frames_too() {
    let (ok, n) = success(Engine::Rqrr, Level::Clean, 640, 480, 10);
    assert_eq!(ok, n);
}

#[test]
fn frames_without_a_code_and_odd_sizes_decode_to_nothing() {
    let mut d = Decoder::new(Engine::Quircs);
    assert!(d.decode(&image::GrayImage::new(0, 0)).is_empty());
    assert!(d.decode(&image::GrayImage::new(1, 1)).is_empty());
    assert!(
        d.decode(&image::GrayImage::from_pixel(1281, 721, image::Luma([128])))
            .is_empty()
    );
    let mut noise = image::GrayImage::new(640, 480);
    for (i, p) in noise.pixels_mut().enumerate() {
        p.0[0] = ((i * 2_654_435_761) >> 7) as u8;
    }
    assert!(d.decode(&noise).is_empty());
}
