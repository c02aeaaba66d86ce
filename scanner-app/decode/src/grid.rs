//! A second reading of a code that quirc located but could not decode: the module grid is
//! refined patch by patch (a crumpled or folded print bends it, a cheap lens warps it), each
//! module is sampled at its centre, and the samples are sharpened against their neighbours
//! (defocus smears a module into the next) before quirc's error correction gets them again.

/// Modules a side of one patch whose grid offset is fitted on its own.
const PATCH: usize = 7;
/// Offsets tried per patch, in modules, on each axis: −0.6 … 0.6.
const STEPS: [f64; 9] = [-0.6, -0.45, -0.3, -0.15, 0.0, 0.15, 0.3, 0.45, 0.6];

/// A projective map from module coordinates (0…size on each axis) to pixels.
#[derive(Debug, Clone, Copy)]
struct Homography([f64; 8]);

impl Homography {
    /// The map taking the unit square's corners (0,0), (1,0), (1,1), (0,1), scaled by
    /// `size`, to `corners` (top left, clockwise).
    fn from_corners(corners: [(f64, f64); 4], size: f64) -> Option<Self> {
        let src = [(0.0, 0.0), (size, 0.0), (size, size), (0.0, size)];
        // x' = (a u + b v + c) / (g u + h v + 1), y' = (d u + e v + f) / (g u + h v + 1).
        let mut m = [[0.0f64; 9]; 8];
        for (i, (&(u, v), &(x, y))) in src.iter().zip(&corners).enumerate() {
            m[2 * i] = [u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x, x];
            m[2 * i + 1] = [0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y, y];
        }
        for col in 0..8 {
            let pivot = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
            if m[pivot][col].abs() < 1e-12 {
                return None;
            }
            m.swap(col, pivot);
            let lead = m[col];
            for (row, r) in m.iter_mut().enumerate() {
                if row != col {
                    let f = r[col] / lead[col];
                    for (a, b) in r[col..].iter_mut().zip(&lead[col..]) {
                        *a -= f * b;
                    }
                }
            }
        }
        let mut c = [0.0; 8];
        for (i, ci) in c.iter_mut().enumerate() {
            *ci = m[i][8] / m[i][i];
        }
        Some(Self(c))
    }

    fn map(&self, u: f64, v: f64) -> (f64, f64) {
        let c = &self.0;
        let d = c[6] * u + c[7] * v + 1.0;
        (
            (c[0] * u + c[1] * v + c[2]) / d,
            (c[3] * u + c[4] * v + c[5]) / d,
        )
    }
}

/// A grayscale picture borrowed from the caller.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    pub px: &'a [u8],
    pub w: usize,
    pub h: usize,
}

/// The picture value at a point between pixels (bilinear); outside the picture, `None`.
fn sample(p: View<'_>, x: f64, y: f64) -> Option<f64> {
    if !(x >= 0.0 && y >= 0.0) {
        return None;
    }
    let (x0, y0) = (x as usize, y as usize);
    if x0 + 1 >= p.w || y0 + 1 >= p.h {
        return None;
    }
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let at = |xx: usize, yy: usize| f64::from(p.px[yy * p.w + xx]);
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
    let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
    Some(top * (1.0 - fy) + bottom * fy)
}

/// The module grid of one located code, with an offset per patch.
struct Grid {
    h: Homography,
    size: usize,
    patches: usize,
    /// Per patch, the offset (modules) that makes its samples the most distinct.
    offsets: Vec<(f64, f64)>,
}

impl Grid {
    fn new(h: Homography, size: usize) -> Self {
        let patches = size.div_ceil(PATCH);
        Self {
            h,
            size,
            patches,
            offsets: vec![(0.0, 0.0); patches * patches],
        }
    }

    /// The offset at a module, interpolated between the centres of the patches around it.
    fn offset(&self, mx: usize, my: usize) -> (f64, f64) {
        let n = self.patches;
        let at = |c: f64| {
            let t = ((c + 0.5) / PATCH as f64 - 0.5).clamp(0.0, (n - 1) as f64);
            let i = (t as usize).min(n.saturating_sub(2));
            (i, t - i as f64)
        };
        let ((i, fx), (j, fy)) = (at(mx as f64), at(my as f64));
        let get = |a: usize, b: usize| self.offsets[b.min(n - 1) * n + a.min(n - 1)];
        let lerp =
            |p: (f64, f64), q: (f64, f64), t: f64| (p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t);
        if n == 1 {
            return self.offsets[0];
        }
        let top = lerp(get(i, j), get(i + 1, j), fx);
        let bottom = lerp(get(i, j + 1), get(i + 1, j + 1), fx);
        lerp(top, bottom, fy)
    }

    /// The value at the centre of module (mx, my), shifted by `d` modules.
    fn value(&self, p: View<'_>, mx: usize, my: usize, d: (f64, f64)) -> Option<f64> {
        let (x, y) = self.h.map(mx as f64 + 0.5 + d.0, my as f64 + 0.5 + d.1);
        sample(p, x, y)
    }

    /// Fits each patch's offset: the one whose module-centre samples spread the most (a
    /// sample on a module's edge mixes two modules and sits between dark and light).
    fn fit(&mut self, p: View<'_>) {
        let n = self.patches;
        let mut raw = vec![(0.0, 0.0); n * n];
        for pj in 0..n {
            for pi in 0..n {
                let mut best = (f64::MIN, (0.0, 0.0));
                for &dy in &STEPS {
                    for &dx in &STEPS {
                        let spread = self.spread(p, pi, pj, (dx, dy));
                        // A slight preference for small offsets: a flat patch must not
                        // wander.
                        let score = spread * (1.0 - 0.05 * (dx * dx + dy * dy));
                        if score > best.0 {
                            best = (score, (dx, dy));
                        }
                    }
                }
                raw[pj * n + pi] = best.1;
            }
        }
        // A patch that fitted far from all its neighbours is noise: take their median.
        for pj in 0..n {
            for pi in 0..n {
                let mut xs = Vec::with_capacity(9);
                let mut ys = Vec::with_capacity(9);
                for j in pj.saturating_sub(1)..(pj + 2).min(n) {
                    for i in pi.saturating_sub(1)..(pi + 2).min(n) {
                        xs.push(raw[j * n + i].0);
                        ys.push(raw[j * n + i].1);
                    }
                }
                xs.sort_by(f64::total_cmp);
                ys.sort_by(f64::total_cmp);
                let median = (xs[xs.len() / 2], ys[ys.len() / 2]);
                let own = raw[pj * n + pi];
                self.offsets[pj * n + pi] =
                    if (own.0 - median.0).abs() > 0.31 || (own.1 - median.1).abs() > 0.31 {
                        median
                    } else {
                        own
                    };
            }
        }
    }

    /// The variance of a patch's module-centre samples at offset `d`.
    fn spread(&self, p: View<'_>, pi: usize, pj: usize, d: (f64, f64)) -> f64 {
        let (mut n, mut sum, mut sq) = (0.0, 0.0, 0.0);
        for my in pj * PATCH..((pj + 1) * PATCH).min(self.size) {
            for mx in pi * PATCH..((pi + 1) * PATCH).min(self.size) {
                if let Some(v) = self.value(p, mx, my, d) {
                    n += 1.0;
                    sum += v;
                    sq += v * v;
                }
            }
        }
        if n < 4.0 {
            return 0.0;
        }
        sq / n - (sum / n) * (sum / n)
    }

    /// Every module's sample (0 where the grid leaves the picture).
    fn samples(&self, p: View<'_>) -> Vec<f64> {
        let mut out = vec![0.0; self.size * self.size];
        for my in 0..self.size {
            for mx in 0..self.size {
                let d = self.offset(mx, my);
                out[my * self.size + mx] = self.value(p, mx, my, d).unwrap_or(0.0);
            }
        }
        out
    }
}

/// Decides dark and light for each module: the sample, sharpened against its four
/// neighbours by `sharpen`, against the mean of the samples around it.
fn cells(samples: &[f64], size: usize, sharpen: f64) -> [u8; 3917] {
    let at = |x: isize, y: isize| {
        let (x, y) = (
            x.clamp(0, size as isize - 1) as usize,
            y.clamp(0, size as isize - 1) as usize,
        );
        samples[y * size + x]
    };
    let mut sharp = vec![0.0; size * size];
    for y in 0..size as isize {
        for x in 0..size as isize {
            let s = at(x, y);
            let around = (at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1)) / 4.0;
            sharp[y as usize * size + x as usize] = s + sharpen * (s - around);
        }
    }
    let mut bitmap = [0u8; 3917];
    let r = 4isize;
    for y in 0..size as isize {
        for x in 0..size as isize {
            let (mut n, mut sum) = (0.0, 0.0);
            for yy in (y - r).max(0)..(y + r + 1).min(size as isize) {
                for xx in (x - r).max(0)..(x + r + 1).min(size as isize) {
                    n += 1.0;
                    sum += sharp[yy as usize * size + xx as usize];
                }
            }
            let i = y as usize * size + x as usize;
            if sharp[i] < sum / n {
                bitmap[i >> 3] |= 1 << (i & 7);
            }
        }
    }
    bitmap
}

/// Reads the code whose outer corners (top left, clockwise) and size (modules a side)
/// quirc found, on the same picture (dark modules dark), refining its grid; the first text
/// that `accept`s.
pub(super) fn reread(
    p: View<'_>,
    code: &quircs::Code,
    accept: &(dyn Fn(&str) -> bool + Sync),
) -> Option<String> {
    let size = usize::try_from(code.size)
        .ok()
        .filter(|s| (21..=177).contains(s))?;
    let corners = code.corners.map(|c| (f64::from(c.x), f64::from(c.y)));
    let h = Homography::from_corners(corners, size as f64)?;
    let mut grid = Grid::new(h, size);
    for fitted in [false, true] {
        if fitted {
            grid.fit(p);
        }
        let samples = grid.samples(p);
        // Unfitted and unsharpened is quirc's own reading, already tried.
        let sharpening: &[f64] = if fitted {
            &[0.0, 1.0, 2.0]
        } else {
            &[1.0, 2.0]
        };
        for &sharpen in sharpening {
            let candidate = quircs::Code {
                corners: code.corners,
                size: code.size,
                cell_bitmap: cells(&samples, size, sharpen),
            };
            if let Ok(data) = candidate.decode()
                && let Ok(text) = String::from_utf8(data.payload)
                && accept(&text)
            {
                return Some(text);
            }
        }
    }
    None
}
