//! Pixel operations the decoder prepares frames with: scaling, cropping, inversion, local
//! binarization, contrast normalization and sharpening. All work on 8-bit grayscale rows
//! (`w × h`, no padding) and write into caller-owned buffers; none of them decodes anything.

/// A grayscale picture owned by the decoder: `w × h` bytes, row after row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plane {
    pub px: Vec<u8>,
    pub w: usize,
    pub h: usize,
}

impl Plane {
    pub fn new(px: Vec<u8>, w: usize, h: usize) -> Self {
        debug_assert_eq!(px.len(), w * h);
        Self { px, w, h }
    }
}

/// 2×2 box downscale into `out`; returns the new size.
pub(crate) fn halve(src: &[u8], w: usize, h: usize, out: &mut Vec<u8>) -> (usize, usize) {
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

/// The rectangle `x0..x1 × y0..y1` of `src`, resampled bilinearly by `scale` (≥ 1 enlarges).
pub(crate) fn crop_scale(src: &Plane, rect: Rect, scale: f32) -> Plane {
    let (cw, ch) = (rect.x1 - rect.x0, rect.y1 - rect.y0);
    let (dw, dh) = (
        ((cw as f32 * scale) as usize).max(1),
        ((ch as f32 * scale) as usize).max(1),
    );
    let mut out = Vec::with_capacity(dw * dh);
    let (w, h) = (src.w, src.h);
    // Source x of each destination column, computed once.
    let cols: Vec<(usize, usize, u32)> = (0..dw)
        .map(|x| {
            let sx = ((x as f32 + 0.5) / scale - 0.5 + rect.x0 as f32).clamp(0.0, (w - 1) as f32);
            let x0 = sx as usize;
            (x0, (x0 + 1).min(w - 1), ((sx - x0 as f32) * 256.0) as u32)
        })
        .collect();
    for y in 0..dh {
        let sy = ((y as f32 + 0.5) / scale - 0.5 + rect.y0 as f32).clamp(0.0, (h - 1) as f32);
        let y0 = sy as usize;
        let y1 = (y0 + 1).min(h - 1);
        let fy = ((sy - y0 as f32) * 256.0) as u32;
        let (r0, r1) = (&src.px[y0 * w..][..w], &src.px[y1 * w..][..w]);
        for &(x0, x1, fx) in &cols {
            let top = u32::from(r0[x0]) * (256 - fx) + u32::from(r0[x1]) * fx;
            let bottom = u32::from(r1[x0]) * (256 - fx) + u32::from(r1[x1]) * fx;
            out.push(((top * (256 - fy) + bottom * fy) >> 16) as u8);
        }
    }
    Plane::new(out, dw, dh)
}

/// A rectangle of a frame, `x0..x1 × y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

/// Light for dark: a dark-mode screen shows light modules on a dark ground.
pub(crate) fn invert(p: &mut Plane) {
    for v in &mut p.px {
        *v = 255 - *v;
    }
}

/// Summed-area table of `src` (`(w + 1) × (h + 1)`), and optionally of its squares.
fn integral(src: &Plane, out: &mut Vec<u32>, squares: Option<&mut Vec<u64>>) {
    let (w, h) = (src.w, src.h);
    out.clear();
    out.resize((w + 1) * (h + 1), 0);
    for y in 0..h {
        let mut row = 0u32;
        let line = &src.px[y * w..][..w];
        for (x, &v) in line.iter().enumerate() {
            row += u32::from(v);
            out[(y + 1) * (w + 1) + x + 1] = out[y * (w + 1) + x + 1] + row;
        }
    }
    if let Some(sq) = squares {
        sq.clear();
        sq.resize((w + 1) * (h + 1), 0);
        for y in 0..h {
            let mut row = 0u64;
            let line = &src.px[y * w..][..w];
            for (x, &v) in line.iter().enumerate() {
                row += u64::from(v) * u64::from(v);
                sq[(y + 1) * (w + 1) + x + 1] = sq[y * (w + 1) + x + 1] + row;
            }
        }
    }
}

/// Calls `f(x, y, sum, n)` for every pixel with the sum of the `(2r + 1)²` window around it
/// (clipped at the edges).
fn for_windows(
    w: usize,
    h: usize,
    r: usize,
    ii: &[u32],
    mut f: impl FnMut(usize, usize, u32, u32),
) {
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = ii[y1 * (w + 1) + x1] + ii[y0 * (w + 1) + x0]
                - ii[y0 * (w + 1) + x1]
                - ii[y1 * (w + 1) + x0];
            f(x, y, sum, ((x1 - x0) * (y1 - y0)) as u32);
        }
    }
}

/// 3×3 box blur (edges copied): takes the edge off sensor noise before thresholding.
pub(crate) fn smooth(src: &Plane) -> Plane {
    let (w, h) = (src.w, src.h);
    let mut out = src.px.clone();
    if w >= 3 && h >= 3 {
        for y in 1..h - 1 {
            let (a, b, c) = (
                &src.px[(y - 1) * w..][..w],
                &src.px[y * w..][..w],
                &src.px[(y + 1) * w..][..w],
            );
            for x in 1..w - 1 {
                let sum: u16 = [a, b, c]
                    .iter()
                    .map(|r| u16::from(r[x - 1]) + u16::from(r[x]) + u16::from(r[x + 1]))
                    .sum();
                out[y * w + x] = (sum / 9) as u8;
            }
        }
    }
    Plane::new(out, w, h)
}

/// Local-mean thresholding (Bradley): black where darker than `percent` % of the mean of
/// the `(2r + 1)²` window around the pixel. Copes with shadows and glare that defeat one
/// global threshold; the window should span a few finder patterns.
pub(crate) fn binarize(src: &Plane, r: usize, percent: u32, ii: &mut Vec<u32>) -> Plane {
    integral(src, ii, None);
    let mut out = vec![0u8; src.w * src.h];
    let w = src.w;
    for_windows(src.w, src.h, r, ii, |x, y, sum, n| {
        let v = u32::from(src.px[y * w + x]) * n * 100;
        out[y * w + x] = if v < sum * percent { 0 } else { 255 };
    });
    Plane::new(out, src.w, src.h)
}

/// Local contrast normalization: each pixel as standard scores of its `(2r + 1)²`
/// neighbourhood, stretched back to 0..255. A dim, washed-out or glare-lit code comes out
/// with full contrast everywhere (the cheaper cousin of CLAHE, and without its tiles).
pub(crate) fn normalize(src: &Plane, r: usize, ii: &mut Vec<u32>, sq: &mut Vec<u64>) -> Plane {
    integral(src, ii, Some(sq));
    let (w, h) = (src.w, src.h);
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let (a, b, c, d) = (
                y1 * (w + 1) + x1,
                y0 * (w + 1) + x0,
                y0 * (w + 1) + x1,
                y1 * (w + 1) + x0,
            );
            let n = ((x1 - x0) * (y1 - y0)) as f32;
            let sum = (ii[a] + ii[b] - ii[c] - ii[d]) as f32;
            let sum_sq = (sq[a] + sq[b] - sq[c] - sq[d]) as f32;
            let mean = sum / n;
            let sd = (sum_sq / n - mean * mean).max(0.0).sqrt().max(4.0);
            let z = (f32::from(src.px[y * w + x]) - mean) / sd;
            out[y * w + x] = (128.0 + 64.0 * z).clamp(0.0, 255.0) as u8;
        }
    }
    Plane::new(out, w, h)
}

/// Unsharp mask: `v + amount × (v − mean of the (2r + 1)² window)`. Restores the module
/// edges a defocused lens or a soft upscale has spread.
pub(crate) fn sharpen(src: &Plane, r: usize, amount: f32, ii: &mut Vec<u32>) -> Plane {
    integral(src, ii, None);
    let w = src.w;
    let mut out = vec![0u8; src.w * src.h];
    for_windows(src.w, src.h, r, ii, |x, y, sum, n| {
        let v = f32::from(src.px[y * w + x]);
        let mean = sum as f32 / n as f32;
        out[y * w + x] = (v + amount * (v - mean)).clamp(0.0, 255.0) as u8;
    });
    Plane::new(out, src.w, src.h)
}
