//! The camera path of the browser gate: a canvas's RGBA pixels to grey, the gate's decoder
//! (quircs with the finder-guided attempts of `tessera-decode`, one thread, the production
//! budget), and the debounce that makes a ticket held in view one scan.

use image::GrayImage;
use tessera_decode::debounce::Debouncer;
use tessera_decode::{Decoder, Engine, Instant, Outcome};

/// What one frame gave the page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Seen {
    /// A new scan: decide this text.
    Scan {
        /// The code's text.
        text: String,
    },
    /// A code the decoder read again while it stays in view: nothing to do.
    Held,
    /// A code in view that could not be read, with what the holder can do.
    Guidance {
        /// `hold_closer`, `move_into_view`, ...
        code: &'static str,
        /// The sentence for the screen.
        message: &'static str,
    },
    /// No code in view.
    Nothing,
}

/// The decoder and its buffers, kept between frames.
pub struct Camera {
    decoder: Decoder,
    debounce: Debouncer,
    gray: Vec<u8>,
}

impl Default for Camera {
    fn default() -> Self {
        Self::new()
    }
}

impl Camera {
    /// The production decoder on one thread (a page's WebAssembly has one).
    pub fn new() -> Self {
        Self {
            decoder: Decoder::new(Engine::default()).with_threads(1),
            debounce: Debouncer::default(),
            gray: Vec::new(),
        }
    }

    /// Without the time budget: every attempt runs (tests, so that a slow build cannot change
    /// what is read).
    pub fn without_budget(mut self) -> Self {
        self.decoder = Decoder::new(Engine::default())
            .with_threads(1)
            .with_budget(None);
        self
    }

    /// Reads one frame of `width × height` RGBA pixels (a canvas's `ImageData`). `accept`
    /// is the signature check: a text that claims to be a ticket and does not verify costs
    /// another attempt rather than a verdict.
    pub fn frame(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        accept: &(dyn Fn(&str) -> bool + Sync),
    ) -> Seen {
        let pixels = (width as usize).saturating_mul(height as usize);
        if pixels == 0 || rgba.len() != pixels.saturating_mul(4) {
            return Seen::Nothing;
        }
        let mut gray = std::mem::take(&mut self.gray);
        gray.clear();
        gray.extend(rgba.chunks_exact(4).map(|p| match *p {
            // ITU-R BT.601 luma in integers.
            [r, g, b, _] => {
                let y = (u32::from(r) * 77 + u32::from(g) * 150 + u32::from(b) * 29) >> 8;
                u8::try_from(y).unwrap_or(u8::MAX)
            }
            _ => 0,
        }));
        self.read(gray, width, height, accept)
    }

    /// Reads one frame from its luma plane: `height` rows of `width` bytes, each row
    /// starting `stride` bytes after the one before (the Y plane of a camera's I420 or NV12
    /// frame, as WebCodecs copies it out). No colour to convert: the decoder reads grey.
    pub fn frame_luma(
        &mut self,
        luma: &[u8],
        width: u32,
        height: u32,
        stride: u32,
        accept: &(dyn Fn(&str) -> bool + Sync),
    ) -> Seen {
        let (w, h, stride) = (width as usize, height as usize, stride as usize);
        let needed = stride
            .checked_mul(h.saturating_sub(1))
            .and_then(|n| n.checked_add(w));
        if w == 0 || h == 0 || stride < w || needed.is_none_or(|n| luma.len() < n) {
            return Seen::Nothing;
        }
        let mut gray = std::mem::take(&mut self.gray);
        gray.clear();
        gray.extend(luma.chunks(stride).take(h).flat_map(|row| &row[..w]));
        self.read(gray, width, height, accept)
    }

    /// The decoder and the debounce on a grey frame; keeps its buffer for the next.
    fn read(
        &mut self,
        gray: Vec<u8>,
        width: u32,
        height: u32,
        accept: &(dyn Fn(&str) -> bool + Sync),
    ) -> Seen {
        let Some(image) = GrayImage::from_raw(width, height, gray) else {
            return Seen::Nothing;
        };
        let outcome = self.decoder.scan(&image, accept);
        self.gray = image.into_raw();
        match outcome {
            Outcome::Read(text) => {
                if self.debounce.accept(&text, Instant::now()) {
                    Seen::Scan { text }
                } else {
                    Seen::Held
                }
            }
            Outcome::Unreadable(g) => Seen::Guidance {
                code: g.code(),
                message: g.message(),
            },
            Outcome::NoCode => Seen::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1280×720 RGBA frame with `text`'s QR code at 5 pixels a module on a grey table,
    /// lit unevenly.
    fn frame(text: &str) -> Vec<u8> {
        let (w, h) = (1280usize, 720usize);
        let code = qrcode::QrCode::new(text.as_bytes()).expect("fits a QR code");
        let modules = code.width();
        let colors = code.to_colors();
        let (scale, x0, y0) = (5usize, 400usize, 180usize);
        let mut rgba = vec![0u8; w * h * 4];
        for y in 0..h {
            for x in 0..w {
                let lit = 150 + (x * 60 / w) as u8;
                let (mx, my) = ((x as isize - x0 as isize), (y as isize - y0 as isize));
                let quiet = 4 * scale as isize;
                let size = (modules * scale) as isize;
                let v = if mx >= -quiet && my >= -quiet && mx < size + quiet && my < size + quiet {
                    let dark = mx >= 0
                        && my >= 0
                        && mx < size
                        && my < size
                        && colors[(my as usize / scale) * modules + mx as usize / scale]
                            == qrcode::Color::Dark;
                    if dark { 30 } else { lit + 40 }
                } else {
                    lit
                };
                let p = (y * w + x) * 4;
                rgba[p..p + 4].copy_from_slice(&[v, v, v.saturating_sub(8), 255]);
            }
        }
        rgba
    }

    #[test]
    fn a_ticket_in_view_is_one_scan() {
        let text = "TS1:ANEXAMPLEOFATICKETCODEWITHENOUGHLETTERSTOLOOKLIKEONE";
        let pixels = frame(text);
        let mut cam = Camera::new().without_budget();
        let accept = |_: &str| true;
        assert_eq!(
            cam.frame(&pixels, 1280, 720, &accept),
            Seen::Scan { text: text.into() }
        );
        assert_eq!(cam.frame(&pixels, 1280, 720, &accept), Seen::Held);
        let blank = vec![128u8; 1280 * 720 * 4];
        assert_eq!(cam.frame(&blank, 1280, 720, &accept), Seen::Nothing);
    }

    #[test]
    fn a_frame_of_the_wrong_size_is_nothing() {
        let mut cam = Camera::new();
        assert_eq!(cam.frame(&[0; 10], 1280, 720, &|_| true), Seen::Nothing);
        assert_eq!(cam.frame(&[], 0, 0, &|_| true), Seen::Nothing);
        assert_eq!(
            cam.frame_luma(&[0; 10], 1280, 720, 1280, &|_| true),
            Seen::Nothing
        );
        assert_eq!(
            cam.frame_luma(&[0; 100], 10, 10, 9, &|_| true),
            Seen::Nothing
        );
        assert_eq!(
            cam.frame_luma(&[0; 99], 10, 10, 10, &|_| true),
            Seen::Nothing
        );
        assert_eq!(cam.frame_luma(&[], 0, 0, 0, &|_| true), Seen::Nothing);
        let huge = u32::MAX;
        assert_eq!(
            cam.frame_luma(&[0; 64], 8, huge, huge, &|_| true),
            Seen::Nothing
        );
    }

    /// The luma plane of an I420 frame whose rows are padded (stride beyond the width), as a
    /// camera hands it over: the same code, read from the plane without the padding.
    #[test]
    fn a_ticket_in_a_padded_luma_plane_is_one_scan() {
        let text = "TS1:ANEXAMPLEOFATICKETCODEWITHENOUGHLETTERSTOLOOKLIKEONE";
        let (w, h, stride) = (1280usize, 720usize, 1344usize);
        let rgba = frame(text);
        let mut plane = vec![255u8; stride * h + stride * h / 2];
        for y in 0..h {
            for x in 0..w {
                // Noise in the padding: it must not be read as part of the picture.
                plane[y * stride + x] = rgba[(y * w + x) * 4 + 1];
            }
            for x in w..stride {
                plane[y * stride + x] = ((x * 7 + y * 13) % 256) as u8;
            }
        }
        let mut cam = Camera::new().without_budget();
        let accept = |_: &str| true;
        assert_eq!(
            cam.frame_luma(&plane, 1280, 720, 1344, &accept),
            Seen::Scan { text: text.into() }
        );
        assert_eq!(cam.frame_luma(&plane, 1280, 720, 1344, &accept), Seen::Held);
    }
}
