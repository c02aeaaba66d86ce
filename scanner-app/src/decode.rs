//! QR decoding on grayscale frames. quircs by default, rqrr as the alternative; both are
//! pure Rust (docs/adr/0007-qr-decoder.md has the measurements behind the choice).
//!
//! A frame is tried cheapest first: a half-size copy of large frames (a ticket held up to a
//! camera covers a good part of the frame, and a quarter of the pixels is four times less
//! work), then the full frame, then a smoothed and locally binarized copy for noisy,
//! low-contrast and unevenly lit frames, and for small frames a doubled copy for codes of
//! three pixels a module or less.

use image::GrayImage;

/// Which decoder library to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// quircs (a port of quirc).
    #[default]
    Quircs,
    /// rqrr.
    Rqrr,
}

/// A reusable decoder: keeps its buffers between frames.
pub struct Decoder {
    engine: Engine,
    quirc: quircs::Quirc,
    half: Vec<u8>,
    binary: Vec<u8>,
    integral: Vec<u32>,
}

/// Frames whose longer side exceeds this are first tried at half size.
const DOWNSCALE_ABOVE: u32 = 800;

impl Decoder {
    /// A decoder using `engine`.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            quirc: quircs::Quirc::default(),
            half: Vec::new(),
            binary: Vec::new(),
            integral: Vec::new(),
        }
    }

    /// The texts of the QR codes found in the frame (usually none or one). Codes whose
    /// payload is not UTF-8 are skipped: no Tessera ticket is.
    pub fn decode(&mut self, frame: &GrayImage) -> Vec<String> {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        if w == 0 || h == 0 {
            return Vec::new();
        }
        if frame.width().max(frame.height()) > DOWNSCALE_ABOVE {
            let (hw, hh) = halve(frame.as_raw(), w, h, &mut self.half);
            let half = std::mem::take(&mut self.half);
            let found = self.run(&half, hw, hh);
            self.half = half;
            if !found.is_empty() {
                return found;
            }
        }
        let found = self.run(frame.as_raw(), w, h);
        if !found.is_empty() {
            return found;
        }
        // Noise (a dim gate at night, a cheap sensor) breaks the finder-pattern runs that
        // the decoders look for: smooth it, then threshold locally.
        box_blur(frame.as_raw(), w, h, &mut self.half);
        binarize(&self.half, w, h, &mut self.integral, &mut self.binary);
        let binary = std::mem::take(&mut self.binary);
        let found = self.run(&binary, w, h);
        self.binary = binary;
        if !found.is_empty() || frame.width().max(frame.height()) > DOWNSCALE_ABOVE {
            return found;
        }
        // A small code in a small frame (three pixels a module or less) loses its module
        // edges to sampling: give the decoder twice the resolution to fit its grid to.
        let (dw, dh) = double(frame.as_raw(), w, h, &mut self.half);
        let doubled = std::mem::take(&mut self.half);
        let found = self.run(&doubled, dw, dh);
        self.half = doubled;
        found
    }

    fn run(&mut self, pixels: &[u8], w: usize, h: usize) -> Vec<String> {
        match self.engine {
            Engine::Quircs => self
                .quirc
                .identify(w, h, pixels)
                .filter_map(|code| code.ok()?.decode().ok())
                .filter_map(|data| String::from_utf8(data.payload).ok())
                .collect(),
            Engine::Rqrr => {
                let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
                    pixels.get(y * w + x).copied().unwrap_or(255)
                });
                img.detect_grids()
                    .iter()
                    .filter_map(|g| g.decode().ok())
                    .map(|(_, text)| text)
                    .collect()
            }
        }
    }
}

/// 2×2 box downscale into `out`; returns the new size.
fn halve(src: &[u8], w: usize, h: usize, out: &mut Vec<u8>) -> (usize, usize) {
    let (hw, hh) = (w / 2, h / 2);
    out.clear();
    out.reserve(hw * hh);
    for y in 0..hh {
        let (r0, r1) = (&src[2 * y * w..][..w], &src[(2 * y + 1) * w..][..w]);
        for x in 0..hw {
            let sum = u16::from(r0[2 * x])
                + u16::from(r0[2 * x + 1])
                + u16::from(r1[2 * x])
                + u16::from(r1[2 * x + 1]);
            out.push((sum / 4) as u8);
        }
    }
    (hw, hh)
}

/// Bilinear 2× upscale into `out`; returns the new size.
fn double(src: &[u8], w: usize, h: usize, out: &mut Vec<u8>) -> (usize, usize) {
    let (dw, dh) = (w * 2, h * 2);
    out.clear();
    out.reserve(dw * dh);
    for y in 0..dh {
        // Sample centres: destination pixel y covers source y/2 - 0.25 .. in half steps.
        let sy = (y as f32 - 0.5) / 2.0;
        let y0 = sy.floor().clamp(0.0, (h - 1) as f32) as usize;
        let y1 = (y0 + 1).min(h - 1);
        let fy = (sy - y0 as f32).clamp(0.0, 1.0);
        for x in 0..dw {
            let sx = (x as f32 - 0.5) / 2.0;
            let x0 = sx.floor().clamp(0.0, (w - 1) as f32) as usize;
            let x1 = (x0 + 1).min(w - 1);
            let fx = (sx - x0 as f32).clamp(0.0, 1.0);
            let p = |xx: usize, yy: usize| f32::from(src[yy * w + xx]);
            let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
            let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
            out.push((top * (1.0 - fy) + bottom * fy) as u8);
        }
    }
    (dw, dh)
}

/// 3×3 box blur into `out` (edges copied).
fn box_blur(src: &[u8], w: usize, h: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(src);
    if w < 3 || h < 3 {
        return;
    }
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let mut sum = 0u16;
            for row in [y - 1, y, y + 1] {
                let base = row * w + x;
                sum += u16::from(src[base - 1]) + u16::from(src[base]) + u16::from(src[base + 1]);
            }
            out[y * w + x] = (sum / 9) as u8;
        }
    }
}

/// Local-mean thresholding (Bradley): a pixel is black when darker than 85 % of the mean of
/// the window around it. Copes with shadows and glare that defeat one global threshold.
fn binarize(src: &[u8], w: usize, h: usize, integral: &mut Vec<u32>, out: &mut Vec<u8>) {
    integral.clear();
    integral.resize((w + 1) * (h + 1), 0);
    for y in 0..h {
        let mut row = 0u32;
        for x in 0..w {
            row += u32::from(src[y * w + x]);
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
        }
    }
    let r = (w.max(h) / 16).max(4);
    out.clear();
    out.reserve(w * h);
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = integral[y1 * (w + 1) + x1] + integral[y0 * (w + 1) + x0]
                - integral[y0 * (w + 1) + x1]
                - integral[y1 * (w + 1) + x0];
            let n = ((x1 - x0) * (y1 - y0)) as u32;
            let v = u32::from(src[y * w + x]) * n * 100;
            out.push(if v < sum * 85 { 0 } else { 255 });
        }
    }
}
