//! `tessera-scan` as a user and a script run it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::fixtures::{bundle, ticket, write_bundle};
use crate::frames::{Level, render, specs};

fn tessera_scan(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera-scan"));
    c.arg("--data-dir").arg(dir);
    c
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn provisioned() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = write_bundle(dir.path(), &bundle(20));
    let out = tessera_scan(&dir.path().join("device"))
        .args([
            "provision",
            "--name",
            "Tablet-3",
            "--gate",
            "Main Gate",
            "--bundle",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn check_image_admits_a_photo_like_frame_and_refuses_its_second_scan_offline() {
    let dir = provisioned();
    let device = dir.path().join("device");
    let spec = specs(Level::Mild, 1280, 720, 1)[0];
    let photo = dir.path().join("ticket.png");
    render(&ticket(7), &spec).save(&photo).unwrap();

    let out = tessera_scan(&device)
        .args(["check", "--image"])
        .arg(&photo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = &json_lines(&out)[0];
    assert_eq!(first["verdict"], "admit");
    assert_eq!(first["reason"], Value::Null);
    assert_eq!(first["ticket_id"], 7);
    assert_eq!(first["ticket_type"], "3-Day Pass");
    assert_eq!(first["holder"], "Guest 7");
    assert_eq!(first["days"].as_array().unwrap().len(), 3);
    assert!(first["latency_us"].as_u64().is_some());

    let out = tessera_scan(&device)
        .args(["check", "--image"])
        .arg(&photo)
        .output()
        .unwrap();
    assert!(out.status.success(), "a reject is not an error");
    let second = &json_lines(&out)[0];
    assert_eq!(second["verdict"], "reject");
    assert_eq!(second["reason"], "already_admitted");
    assert_eq!(second["first_entry"]["gate"], "Main Gate");
    assert_eq!(second["first_entry"]["device"], "Tablet-3");
    assert_eq!(second["first_entry"]["at"], first["at"]);
}

#[test]
fn check_stdin_reads_a_usb_scanner_line_by_line() {
    let dir = provisioned();
    let mut child = tessera_scan(&dir.path().join("device"))
        .args(["check", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = format!(
        "{}\r\n{}\n\nhttps://example.org\n{}\n",
        ticket(1),
        ticket(2),
        ticket(1)
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let reasons: Vec<Value> = json_lines(&out)
        .iter()
        .map(|v| v["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        vec![
            Value::Null,
            "revoked".into(),
            "not_a_ticket".into(),
            "already_admitted".into()
        ]
    );
}

#[test]
fn set_language_ar_gives_arabic_words_with_the_same_codes() {
    let dir = provisioned();
    let device = dir.path().join("device");
    let set = tessera_scan(&device)
        .args(["set", "--language", "ar"])
        .output()
        .unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert_eq!(json_lines(&set)[0]["language"], "ar");
    let mut child = tessera_scan(&device)
        .args(["check", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = format!("{}\nhello\n{}\n", ticket(1), ticket(1));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines = json_lines(&out);
    let seen: Vec<(&str, Option<&str>, &str)> = lines
        .iter()
        .map(|v| {
            (
                v["verdict"].as_str().unwrap(),
                v["reason"].as_str(),
                v["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("admit", None, "دخول — \u{2068}3-Day Pass\u{2069}"),
            (
                "reject",
                Some("not_a_ticket"),
                "ليست تذكرة: هذا الرمز ليس تذكرة Tessera"
            ),
            ("reject", Some("already_admitted"), seen[2].2),
        ]
    );
    assert!(
        seen[2]
            .2
            .starts_with("استُخدمت اليوم عند \u{2068}Main Gate\u{2069}")
    );

    // And back: English words again, from the next scan on.
    let set = tessera_scan(&device)
        .args(["set", "--language", "en"])
        .output()
        .unwrap();
    assert!(set.status.success());
    let out = tessera_scan(&device)
        .args(["check", "--text", "hello"])
        .output()
        .unwrap();
    assert!(
        json_lines(&out)[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Not a ticket")
    );
}

#[test]
fn check_frames_replays_a_camera_and_debounces_a_held_ticket() {
    let dir = provisioned();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let spec = specs(Level::Clean, 640, 480, 1)[0];
    // Ticket 5 held in view for 10 frames, an empty frame, then ticket 6 for 5 frames.
    let held = render(&ticket(5), &spec);
    let other = render(&ticket(6), &spec);
    let mut n = 0;
    let mut save = |img: &image::GrayImage| {
        img.save(frames.join(format!("frame-{n:04}.png"))).unwrap();
        n += 1;
    };
    for _ in 0..10 {
        save(&held);
    }
    save(&image::GrayImage::from_pixel(640, 480, image::Luma([200])));
    for _ in 0..5 {
        save(&other);
    }
    let out = tessera_scan(&dir.path().join("device"))
        .args(["check", "--frames"])
        .arg(&frames)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<Value> = json_lines(&out)
        .iter()
        .map(|v| v["ticket_id"].clone())
        .collect();
    assert_eq!(ids, vec![Value::from(5), Value::from(6)]);
}

#[test]
fn status_reports_device_queue_and_replica_age() {
    let dir = provisioned();
    let device = dir.path().join("device");
    tessera_scan(&device)
        .args(["check", "--text", &ticket(1)])
        .output()
        .unwrap();
    let out = tessera_scan(&device).arg("status").output().unwrap();
    assert!(out.status.success());
    let s = &json_lines(&out)[0];
    assert_eq!(s["device"]["name"], "Tablet-3");
    assert_eq!(s["gate"], "Main Gate");
    assert_eq!(s["event"], "Demo Festival");
    assert_eq!(s["check_ins"]["unsent"], 1);
    assert_eq!(s["replica"]["tickets"], 20);
    assert!(s["replica_age_seconds"].as_i64().unwrap() >= 300);
    assert_eq!(s["cursor"], Value::Null);
}

#[test]
fn errors_exit_non_zero_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    let out = tessera_scan(&fresh)
        .args(["check", "--text", &ticket(1)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("provision"));

    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(320, 240, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let dir = provisioned();
    let out = tessera_scan(&dir.path().join("device"))
        .args(["check", "--image"])
        .arg(&blank)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no QR code found"));

    let garbage = dir.path().join("garbage.png");
    std::fs::write(&garbage, b"\x89PNG not really").unwrap();
    let out = tessera_scan(&dir.path().join("device"))
        .args(["check", "--image"])
        .arg(&garbage)
        .output()
        .unwrap();
    assert!(!out.status.success());

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"format\": \"something else\"}").unwrap();
    let out = tessera_scan(&dir.path().join("device"))
        .args(["provision", "--bundle"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn cameras_without_a_camera_is_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera_scan(dir.path()).arg("cameras").output().unwrap();
    let has_video = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("video"));
    if !has_video {
        assert!(out.status.success());
        assert_eq!(json_lines(&out)[0], Value::Array(vec![]));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no camera found"));
        let out = tessera_scan(dir.path()).arg("run").output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no camera found"));
    }
}

/// A device killed mid-stream (SIGKILL) keeps every check-in whose verdict it printed, and
/// its database is sound.
#[test]
fn every_printed_verdict_survives_sigkill() {
    let dir = provisioned();
    let device = dir.path().join("device");
    let mut child = tessera_scan(&device)
        .args(["check", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..100_000u64 {
            if writeln!(stdin, "{}", ticket(100 + i % 5000)).is_err() {
                break; // the reader killed the process
            }
        }
    });
    let mut printed = Vec::new();
    let reader = BufReader::new(child.stdout.take().unwrap());
    for line in reader.lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        printed.push((v["seq"].as_u64().unwrap(), v["ticket_id"].as_u64().unwrap()));
        if printed.len() == 400 {
            child.kill().unwrap(); // SIGKILL
            break;
        }
    }
    child.wait().unwrap();
    writer.join().unwrap();

    let mut scanner = tessera_scanner::Scanner::open(&device).unwrap();
    assert_eq!(scanner.device().integrity_check().unwrap(), "ok");
    let queued = scanner.device().all().unwrap();
    for (seq, ticket) in &printed {
        let row = queued
            .iter()
            .find(|q| q.seq == *seq)
            .unwrap_or_else(|| panic!("seq {seq} lost"));
        assert_eq!(row.ticket_id, Some(*ticket));
    }
    let seqs: Vec<u64> = queued.iter().map(|q| q.seq).collect();
    assert_eq!(
        seqs,
        (1..=queued.len() as u64).collect::<Vec<_>>(),
        "no gaps"
    );
    assert!(queued.len() >= printed.len());
}
