//! Decoding real ticket QR renders from synthesized camera frames: the clean, mild and
//! degraded sets, each field condition against its floor, and the typed outcome for codes
//! seen but not read.

use tessera_scanner::decode::{Decoder, Engine, Guidance, Outcome};

use crate::conditions::{self, Condition};
use crate::fixtures::ticket;
use crate::frames::{Level, render, specs};

fn success(engine: Engine, level: Level, w: u32, h: u32, n: u64) -> (usize, usize) {
    let mut decoder = Decoder::new(engine).with_budget(None);
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
    for engine in [Engine::default(), Engine::Quircs] {
        for (w, h) in [(640, 480), (1280, 720)] {
            for level in [Level::Clean, Level::Mild] {
                let (ok, n) = success(engine, level, w, h, 50);
                assert!(
                    ok * 100 >= n * 99,
                    "{engine:?} {level:?} {w}×{h}: {ok}/{n} decoded"
                );
            }
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

fn keyring() -> tessera_core::Keyring {
    let mut k = tessera_core::Keyring::new();
    k.insert(
        tessera_core::KeyId(1),
        &crate::fixtures::signer().public_key(),
        tessera_core::KeyStatus::Active,
    )
    .unwrap();
    k
}

/// Reads of one condition, `per_size` frames at each size (the benchmark's sets, ticket
/// numbers and all, when `per_size` is 12); asserts no read is wrong.
fn condition_reads(engine: Engine, condition: Condition, per_size: u64, first: u64) -> usize {
    let keys = keyring();
    let accept = |t: &str| tessera_core::verify(t, &keys).is_ok();
    // No time budget: a slow debug build must not change what is read.
    let mut decoder = Decoder::new(engine).with_budget(None);
    let mut ok = 0;
    let mut first = first;
    for (w, h) in [(640, 480), (1280, 720)] {
        for (text, frame) in conditions::set(condition, w, h, per_size, ticket, first) {
            match decoder.scan(&frame, &accept) {
                Outcome::Read(read) => {
                    assert_eq!(read, text, "{condition:?} {w}×{h}: a wrong read");
                    ok += 1;
                }
                Outcome::Unreadable(_) | Outcome::NoCode => {}
            }
        }
        first += per_size;
    }
    ok
}

/// The gate's decoder (zxing-cpp first, then the attempts around quircs) on the benchmark's
/// sets, 24 frames a condition: at least 97 % overall, at least 95 % of inverted codes and
/// 90 % of codes of 2.5–3.2 px a module, and in every condition its floor: what it read when
/// the floor was set, never less than zxing-cpp and zbar read of the same frames
/// (docs/benchmarks.md: FocusBlur 19, Crumpled 7, 24 in every other condition).
#[cfg(feature = "zxing")]
#[test]
fn the_gate_decoder_reads_every_field_condition() {
    let floor = |c: Condition| if c == Condition::Crumpled { 20 } else { 24 };
    let mut ticket = 50_000;
    let (mut total, mut misses) = (0, Vec::new());
    for condition in Condition::ALL {
        let ok = condition_reads(Engine::default(), condition, 12, ticket);
        ticket += 24;
        println!("{condition:?}: {ok}/24");
        total += ok;
        if ok < floor(condition) {
            misses.push(format!("{condition:?}: {ok}/24 < {}", floor(condition)));
        }
        if condition == Condition::DarkMode {
            assert!(ok * 100 >= 24 * 95, "inverted codes: {ok}/24");
        }
        if condition == Condition::SmallReadable {
            assert!(ok * 100 >= 24 * 90, "2.5–3.2 px a module: {ok}/24");
        }
    }
    let n = 24 * Condition::ALL.len();
    println!("all conditions: {total}/{n}");
    assert!(misses.is_empty(), "below the floor: {misses:?}");
    assert!(total * 100 >= n * 97, "{total}/{n} is under 97 %");
}

/// The floor each condition must keep with the pure-Rust attempts alone (a build without the
/// `zxing` feature: the browser gate), out of 4 frames (2 at 640×480, 2 at 1280×720): what
/// they read when the floor was set.
fn rust_floor(condition: Condition) -> usize {
    match condition {
        Condition::Small | Condition::FocusBlur => 3,
        _ => 4,
    }
}

#[test]
fn the_pure_rust_decoder_reads_every_field_condition_to_its_floor() {
    let mut misses = Vec::new();
    for condition in Condition::ALL {
        let ok = condition_reads(Engine::Quircs, condition, 2, 20_000);
        println!("{condition:?}: {ok}/4");
        if ok < rust_floor(condition) {
            misses.push(format!("{condition:?}: {ok}/4 < {}", rust_floor(condition)));
        }
    }
    assert!(misses.is_empty(), "below the floor: {misses:?}");
}

#[test]
fn a_code_seen_but_not_read_gives_guidance_and_no_text() {
    let keys = keyring();
    let accept = |t: &str| tessera_core::verify(t, &keys).is_ok();
    let mut d = Decoder::new(Engine::default()).with_budget(None);
    // The right third of the code, a finder pattern with it, is outside the frame.
    let text = ticket(31);
    let mut spec = specs(Level::Clean, 640, 480, 1)[0];
    spec.centre.0 = 1.0 - 0.12 * 480.0 / 640.0;
    let frame = render(&text, &spec);
    assert_eq!(
        d.scan(&frame, &accept),
        Outcome::Unreadable(Guidance::MoveIntoView)
    );

    // A clean code whose text fails the check is never returned.
    let frame = render(&text, &specs(Level::Clean, 640, 480, 1)[0]);
    assert_eq!(d.scan(&frame, &accept), Outcome::Read(text.clone()));
    assert!(matches!(d.scan(&frame, &|_| false), Outcome::Unreadable(_)));
}

#[test]
fn a_frame_without_a_code_reads_nothing() {
    let mut d = Decoder::new(Engine::default()).with_budget(None);
    let flat = image::GrayImage::from_pixel(1280, 720, image::Luma([128]));
    assert_eq!(d.scan(&flat, &|_| true), Outcome::NoCode);
    for (w, h) in [(640, 480), (1280, 720)] {
        for seed in 0..3 {
            // Sensor noise in a flat dark area can pass for finder patterns, so a scene may
            // get guidance (the screen shows it only while it persists); never a text.
            let scene = conditions::empty_scene(w, h, seed);
            let out = d.scan(&scene, &|_| true);
            assert!(
                !matches!(out, Outcome::Read(_)),
                "{w}×{h} scene {seed}: {out:?}"
            );
        }
    }
}
