//! Camera-like frames synthesized from real ticket QR renders: placed with a homography
//! (scale, rotation, perspective), unevenly lit, low in contrast, blurred and noisy.

use image::{GrayImage, Luma};
use qrcode::{Color, EcLevel, QrCode};

/// How to degrade one frame.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub width: u32,
    pub height: u32,
    /// Pixels per QR module.
    pub module: f64,
    /// Rotation in degrees.
    pub angle: f64,
    /// Perspective: how far (fraction of the code's size) the far corners pull in.
    pub tilt: f64,
    /// Centre of the code, as a fraction of the frame.
    pub centre: (f64, f64),
    /// Ink and paper grey levels.
    pub ink: u8,
    pub paper: u8,
    /// Gaussian blur sigma in pixels (0: none).
    pub blur: f32,
    /// Uniform noise amplitude.
    pub noise: u8,
    /// Lighting falloff across the frame (0: even).
    pub shade: f64,
    pub seed: u64,
}

/// The QR modules of a text at ECC Q, with a 4-module quiet zone: `true` is dark.
pub fn modules(text: &str) -> (Vec<bool>, usize) {
    let code = QrCode::with_error_correction_level(text, EcLevel::Q).unwrap();
    let n = code.width();
    let q = 4;
    let size = n + 2 * q;
    let colors = code.to_colors();
    let mut out = vec![false; size * size];
    for y in 0..n {
        for x in 0..n {
            out[(y + q) * size + x + q] = colors[y * n + x] == Color::Dark;
        }
    }
    (out, size)
}

/// A small deterministic generator (xorshift): the same frames on every machine.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[allow(clippy::needless_range_loop)] // Gaussian elimination reads best with indices.
/// Solves the 8 homography parameters mapping the 4 `from` points onto the 4 `to` points.
fn homography(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> [f64; 9] {
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ((x, y), (u, v)) = (from[i], to[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for c in 0..8 {
        let p = (c..8)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        for r in 0..8 {
            if r != c {
                let f = a[r][c] / a[c][c];
                for k in c..9 {
                    a[r][k] -= f * a[c][k];
                }
            }
        }
    }
    let mut h = [0.0; 9];
    for i in 0..8 {
        h[i] = a[i][8] / a[i][i];
    }
    h[8] = 1.0;
    h
}

/// Renders `text` as a camera would see it.
pub fn render(text: &str, s: &Spec) -> GrayImage {
    let (mods, size) = modules(text);
    warp(size as f64, size as f64, s.module, s, |mx, my| {
        let inside = mx >= 0.0 && my >= 0.0 && (mx as usize) < size && (my as usize) < size;
        if inside && mods[my as usize * size + mx as usize] {
            1.0
        } else {
            0.0
        }
    })
}

#[allow(dead_code)] // Used by the end-to-end tests, which photograph printed PDF tickets.
/// Photographs a picture (a printed page, say) as a camera would: `scale` frame pixels per
/// picture pixel, then the same rotation, tilt, light, blur and noise as [`render`].
pub fn photograph(picture: &GrayImage, scale: f64, s: &Spec) -> GrayImage {
    let (w, h) = (picture.width(), picture.height());
    warp(f64::from(w), f64::from(h), scale, s, |x, y| {
        if x < 0.0 || y < 0.0 || x >= f64::from(w) || y >= f64::from(h) {
            return 0.0;
        }
        1.0 - f64::from(picture.get_pixel(x as u32, y as u32).0[0]) / 255.0
    })
}

/// Places a `sw`×`sh` source (darkness 0..1 from `dark_at`) into a frame: scaled, rotated,
/// tilted, unevenly lit, blurred and noisy.
pub fn warp(
    sw: f64,
    sh: f64,
    scale: f64,
    s: &Spec,
    dark_at: impl Fn(f64, f64) -> f64,
) -> GrayImage {
    let (cx, cy) = (
        s.centre.0 * f64::from(s.width),
        s.centre.1 * f64::from(s.height),
    );
    let (sin, cos) = s.angle.to_radians().sin_cos();
    let (half_w, half_h) = (sw * scale / 2.0, sh * scale / 2.0);
    // Corners of the source in the frame: rotate a rectangle, then pull the far edge in.
    let corner = |dx: f64, dy: f64, pull: f64| {
        let (dx, dy) = (dx * (1.0 - pull), dy);
        (cx + dx * cos - dy * sin, cy + dx * sin + dy * cos)
    };
    let t = s.tilt;
    let dst = [
        corner(-half_w, -half_h, t),
        corner(half_w, -half_h, t),
        corner(half_w, half_h, 0.0),
        corner(-half_w, half_h, 0.0),
    ];
    let src = [(0.0, 0.0), (sw, 0.0), (sw, sh), (0.0, sh)];
    // Map frame pixels back to source coordinates.
    let h = homography(dst, src);
    let mut rng = Rng(s.seed.max(1));
    let mut img = GrayImage::new(s.width, s.height);
    let (ink, paper) = (f64::from(s.ink), f64::from(s.paper));
    for y in 0..s.height {
        for x in 0..s.width {
            // 2×2 supersampling for anti-aliased edges.
            let mut dark = 0.0;
            for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (fx, fy) = (f64::from(x) + ox, f64::from(y) + oy);
                let w = h[6] * fx + h[7] * fy + h[8];
                let (mx, my) = (
                    (h[0] * fx + h[1] * fy + h[2]) / w,
                    (h[3] * fx + h[4] * fy + h[5]) / w,
                );
                dark += 0.25 * dark_at(mx, my);
            }
            let light = 1.0 - s.shade * (f64::from(x) / f64::from(s.width));
            let v = (paper + (ink - paper) * dark) * light;
            img.put_pixel(x, y, Luma([v.clamp(0.0, 255.0) as u8]));
        }
    }
    if s.blur > 0.0 {
        img = image::imageops::blur(&img, s.blur);
    }
    if s.noise > 0 {
        let amp = f64::from(s.noise);
        for p in img.pixels_mut() {
            let n = (rng.unit() * 2.0 - 1.0) * amp;
            p.0[0] = (f64::from(p.0[0]) + n).clamp(0.0, 255.0) as u8;
        }
    }
    img
}

/// A set of frames: clean, mild or degraded, at one resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Clean,
    Mild,
    Degraded,
}

/// `n` specs of a level at a resolution, varied deterministically by seed.
pub fn specs(level: Level, width: u32, height: u32, n: u64) -> Vec<Spec> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(width) ^ ((level as u64 + 1) * 7919));
    (0..n)
        .map(|i| {
            let r = |rng: &mut Rng, lo: f64, hi: f64| lo + (hi - lo) * rng.unit();
            // The code spans roughly a third to two thirds of the frame height, as a ticket
            // held up to a gate camera does.
            let base = f64::from(height) / 57.0;
            match level {
                Level::Clean => Spec {
                    width,
                    height,
                    module: r(&mut rng, 0.45, 0.7) * base,
                    angle: 0.0,
                    tilt: 0.0,
                    centre: (r(&mut rng, 0.4, 0.6), r(&mut rng, 0.45, 0.55)),
                    ink: 20,
                    paper: 235,
                    blur: 0.0,
                    noise: 0,
                    shade: 0.0,
                    seed: i + 1,
                },
                Level::Mild => Spec {
                    width,
                    height,
                    module: r(&mut rng, 0.4, 0.7) * base,
                    angle: r(&mut rng, -30.0, 30.0),
                    tilt: r(&mut rng, 0.0, 0.12),
                    centre: (r(&mut rng, 0.4, 0.6), r(&mut rng, 0.45, 0.55)),
                    ink: 50,
                    paper: 200,
                    blur: r(&mut rng, 0.0, 1.0) as f32,
                    noise: 12,
                    shade: r(&mut rng, 0.0, 0.3),
                    seed: i + 1,
                },
                Level::Degraded => Spec {
                    width,
                    height,
                    module: r(&mut rng, 0.35, 0.55) * base,
                    angle: r(&mut rng, -180.0, 180.0),
                    tilt: r(&mut rng, 0.08, 0.2),
                    centre: (r(&mut rng, 0.35, 0.65), r(&mut rng, 0.4, 0.6)),
                    ink: 80,
                    paper: 175,
                    blur: r(&mut rng, 0.8, 1.3) as f32,
                    noise: 20,
                    shade: r(&mut rng, 0.2, 0.45),
                    seed: i + 1,
                },
            }
        })
        .collect()
}
