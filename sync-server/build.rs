//! Builds the browser gate (`scanner-app/web`, ADR 0025) and embeds it: the crate compiled
//! for `wasm32-unknown-unknown` in its own target directory, bound by wasm-bindgen (the
//! library of the CLI, at the exact version the crate uses), and every file of the page
//! gzipped once here. `src/http/gate.rs` serves the result at `/gate/`.

use std::env;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "gate-wasm";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("the server is in the workspace")
        .to_owned();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    for watched in [
        "core/src",
        "core/Cargo.toml",
        "scanner-app/decode/src",
        "scanner-app/decode/Cargo.toml",
        "scanner-app/web/src",
        "scanner-app/web/Cargo.toml",
        "scanner-app/web/www",
        "scanner-app/gui/ui/style.css",
        "scanner-app/gui/ui/screen.js",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let wasm = build_wasm(&root);
    let staged = out.join("gate");
    let _ = std::fs::remove_dir_all(&staged);
    std::fs::create_dir_all(&staged).expect("create the gate's output directory");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)
        .expect("the web target exists")
        .typescript(false)
        .generate(&staged)
        .unwrap_or_else(|e| panic!("wasm-bindgen failed on {}: {e:#}", wasm.display()));

    // The page's own files, then the bound module; sorted, so the version is stable.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for dir in [root.join("scanner-app/web/www"), staged.clone()] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for path in names {
            let name = path
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).expect("read a gate file");
            files.push((name, bytes));
        }
    }
    // The gate screen's styles and drawing are the Tauri gate's own: one look at every gate.
    for shared in ["style.css", "screen.js"] {
        let path = root.join("scanner-app/gui/ui").join(shared);
        files.push((
            shared.into(),
            std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
        ));
    }
    // Home-screen icons: iOS takes no SVG touch icon, and browsers install a web app only
    // with raster icons of these sizes.
    for size in [192u32, 512] {
        files.push((format!("icon-{size}.png"), icon_png(size)));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hash = Sha256::new();
    for (name, bytes) in &files {
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    let version: String = hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let embed = out.join("embed");
    let _ = std::fs::remove_dir_all(&embed);
    std::fs::create_dir_all(&embed).expect("create the embed directory");
    let mut table = String::from("&[\n");
    for (name, bytes) in &files {
        // The service worker names its cache after the version: a new build replaces the
        // installed gate at its next load with the network.
        let bytes = if name == "sw.js" {
            String::from_utf8_lossy(bytes)
                .replace("__GATE_VERSION__", &version)
                .into_bytes()
        } else {
            bytes.clone()
        };
        let plain = embed.join(name);
        std::fs::write(&plain, &bytes).expect("write a gate file");
        let gz = embed.join(format!("{name}.gz"));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&bytes).expect("gzip in memory");
        std::fs::write(&gz, enc.finish().expect("gzip in memory")).expect("write a gate file");
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}), include_bytes!({:?})),\n",
            plain.display().to_string(),
            gz.display().to_string()
        ));
    }
    table.push(']');
    std::fs::write(
        out.join("gate_files.rs"),
        format!(
            "/// The build of the gate's files (a hash of their contents).\n\
             pub const GATE_VERSION: &str = {version:?};\n\
             /// Each file: name, bytes, gzipped bytes.\n\
             pub static GATE_FILES: &[(&str, &[u8], &[u8])] = {table};\n"
        ),
    )
    .expect("write gate_files.rs");
}

/// `cargo build` of the gate crate for the browser, in `target/gate-wasm` (its own lock, so
/// it runs beside the build that called it). Returns the `.wasm` file.
fn build_wasm(root: &Path) -> PathBuf {
    ensure_target();
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("gate-wasm");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--locked",
            "--quiet",
            "--lib",
            "-p",
            "tessera-gate-web",
        ])
        .args([
            "--target",
            WASM_TARGET,
            "--profile",
            PROFILE,
            "--target-dir",
        ])
        .arg(&target_dir);
    // The calling build's settings are not this one's (clippy's wrapper, a host target, flags
    // for the host).
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo for the browser gate: {e}"));
    assert!(
        status.success(),
        "building the browser gate (tessera-gate-web for {WASM_TARGET}) failed"
    );
    target_dir
        .join(WASM_TARGET)
        .join(PROFILE)
        .join("tessera_gate_web.wasm")
}

/// The WebAssembly target comes with rust-toolchain.toml; a toolchain installed before that
/// line gets it here, once.
fn ensure_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot.is_some_and(|s| s.join("lib/rustlib").join(WASM_TARGET).exists());
    if !installed {
        println!("cargo:warning=installing the {WASM_TARGET} target for the browser gate");
        let ok = Command::new("rustup")
            .args(["target", "add", WASM_TARGET])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "the browser gate needs `rustup target add {WASM_TARGET}` (it failed)"
        );
    }
}

/// The gate's icon (the three finder squares of a QR code and a green tick on the dark of
/// the gate screen, as `www/icon.svg` draws it) as a `size`×`size` PNG.
fn icon_png(size: u32) -> Vec<u8> {
    let scale = 512.0 / f64::from(size);
    let mut raw = Vec::with_capacity((size * (size * 4 + 1)) as usize);
    for y in 0..size {
        raw.push(0); // no filter
        for x in 0..size {
            let (u, v) = ((f64::from(x) + 0.5) * scale, (f64::from(y) + 0.5) * scale);
            raw.extend_from_slice(&icon_pixel(u, v));
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&raw).expect("compress in memory");
    let idat = z.finish().expect("compress in memory");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(&data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

/// One point of the icon, in the SVG's 512-unit square.
fn icon_pixel(u: f64, v: f64) -> [u8; 4] {
    const DARK: [u8; 4] = [0x11, 0x14, 0x18, 0xff];
    const LIGHT: [u8; 4] = [0xf2, 0xf4, 0xf7, 0xff];
    const GREEN: [u8; 4] = [0x0a, 0x7d, 0x32, 0xff];
    // The rounded square (corner radius 96).
    let (cu, cv) = (u.clamp(96.0, 416.0), v.clamp(96.0, 416.0));
    if (u - cu).hypot(v - cv) > 96.0 {
        return [0, 0, 0, 0];
    }
    let inside = |x: f64, y: f64, w: f64| (x..x + w).contains(&u) && (y..y + w).contains(&v);
    for (x, y) in [(88.0, 88.0), (288.0, 88.0), (88.0, 288.0)] {
        if inside(x, y, 136.0) {
            return if inside(x + 32.0, y + 32.0, 72.0) {
                DARK
            } else {
                LIGHT
            };
        }
    }
    // The tick: two strokes 40 units wide.
    let near = |(ax, ay): (f64, f64), (bx, by): (f64, f64)| {
        let (dx, dy) = (bx - ax, by - ay);
        let t = (((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        (u - ax - t * dx).hypot(v - ay - t * dy) <= 20.0
    };
    if near((300.0, 372.0), (344.0, 416.0)) || near((344.0, 416.0), (432.0, 312.0)) {
        return GREEN;
    }
    DARK
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
