//! Finds QR finder-pattern candidates (the three nested squares, 1:1:3:1:1 across) in a
//! binarized frame, in both polarities. It decides whether a code is in view at all, how
//! large its modules are, where it is and whether it is dark-on-light or light-on-dark; it
//! does not decode. The decoder spends its costly attempts only where this finds something.

use super::filters::{Plane, Rect};

/// One finder-pattern candidate: centre, module size in pixels, polarity, and how many scan
/// lines confirmed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Finder {
    pub x: f32,
    pub y: f32,
    pub module: f32,
    /// Light modules on a dark ground (a dark-mode screen).
    pub inverted: bool,
    pub hits: u32,
}

/// More candidates than this in one frame is texture (sensor noise, a patterned shirt): a
/// frame with a code has a handful. The first bound keeps the merging loop short.
const MAX_RAW_CANDIDATES: usize = 2000;
const MAX_CANDIDATES: usize = 40;

/// Do five runs read 1:1:3:1:1? Returns the module size.
fn ratio_ok(runs: [usize; 5]) -> Option<f32> {
    let total: usize = runs.iter().sum();
    // Under ≈ 1.4 px a module nothing can be decoded, and sensor noise is full of such runs.
    if total < 10 {
        return None;
    }
    let unit = total as f32 / 7.0;
    // Generous: blur, tilt and whole-pixel runs of small codes all bend the ratios.
    let tol = unit * 0.7;
    let ok = [0, 1, 3, 4]
        .iter()
        .all(|&i| (runs[i] as f32 - unit).abs() <= tol)
        && (runs[2] as f32 - 3.0 * unit).abs() <= 3.0 * tol;
    ok.then_some(unit)
}

/// Walks from `(x, y)` both ways along the direction `(dx, dy)` and checks the finder
/// pattern across it; returns the offset of the centre run's middle (in steps) and the module
/// size in steps.
fn check_line(
    b: &Plane,
    x: usize,
    y: usize,
    (dx, dy): (isize, isize),
    centre_dark: bool,
    unit: f32,
) -> Option<(f32, f32)> {
    let at = |i: isize| -> Option<bool> {
        let (xx, yy) = (x as isize + i * dx, y as isize + i * dy);
        (xx >= 0 && yy >= 0 && (xx as usize) < b.w && (yy as usize) < b.h)
            .then(|| b.px[yy as usize * b.w + xx as usize] == 0)
    };
    if at(0) != Some(centre_dark) {
        return None;
    }
    let max = (unit * 5.0) as usize + 2;
    // Runs on each side: centre half, then ring, then outer ring.
    let mut sides = [[0usize; 3]; 2];
    for (side, step) in [(0, -1isize), (1, 1)] {
        let mut i = if step < 0 { 0 } else { 1 };
        for (k, run) in sides[side].iter_mut().enumerate() {
            let want = if k % 2 == 0 {
                centre_dark
            } else {
                !centre_dark
            };
            while at(i) == Some(want) && *run <= max {
                *run += 1;
                i += step;
            }
            if (*run == 0 && (side == 0 || k > 0)) || *run > max {
                return None;
            }
        }
    }
    let [up, down] = sides;
    let runs = [up[2], up[1], up[0] + down[0], down[1], down[2]];
    let module = ratio_ok(runs)?;
    Some(((down[0] as f32 - up[0] as f32 + 1.0) / 2.0, module))
}

/// Finder candidates in a binarized frame (0 dark, 255 light), merged across rows.
pub(crate) fn find(b: &Plane) -> Vec<Finder> {
    let mut found: Vec<Finder> = Vec::new();
    let mut runs: Vec<(bool, usize, usize)> = Vec::with_capacity(256);
    for y in 0..b.h {
        let row = &b.px[y * b.w..][..b.w];
        runs.clear();
        let mut start = 0;
        for x in 1..=row.len() {
            if x == row.len() || (row[x] == 0) != (row[start] == 0) {
                runs.push((row[start] == 0, start, x - start));
                start = x;
            }
        }
        for win in runs.windows(5) {
            let lens = [win[0].2, win[1].2, win[2].2, win[3].2, win[4].2];
            let Some(unit) = ratio_ok(lens) else { continue };
            let centre_dark = win[2].0;
            let cx = win[2].1 + win[2].2 / 2;
            let Some((dy, vunit)) = check_line(b, cx, y, (0, 1), centre_dark, unit) else {
                continue;
            };
            let cy = y as f32 + dy;
            if (vunit - unit).abs() > unit.max(vunit) * 0.6 {
                continue;
            }
            let module = (unit + vunit) / 2.0;
            let (fx, fy) = (cx as f32, cy);
            if found.len() > MAX_RAW_CANDIDATES {
                // Texture (sensor noise, a patterned shirt), not a code.
                return Vec::new();
            }
            match found.iter_mut().find(|f| {
                f.inverted != centre_dark
                    && (f.x - fx).abs() < 2.0 * f.module.max(module)
                    && (f.y - fy).abs() < 2.0 * f.module.max(module)
            }) {
                Some(f) => {
                    let n = f.hits as f32;
                    f.x = (f.x * n + fx) / (n + 1.0);
                    f.y = (f.y * n + fy) / (n + 1.0);
                    f.module = (f.module * n + module) / (n + 1.0);
                    f.hits += 1;
                }
                None => found.push(Finder {
                    x: fx,
                    y: fy,
                    module,
                    inverted: !centre_dark,
                    hits: 1,
                }),
            }
        }
    }
    // A real finder is crossed by as many rows as its centre square is tall (three modules);
    // a single row is usually text or texture.
    found.retain(|f| f.hits >= 2 && f.hits as f32 >= f.module.min(6.0) * 0.8);
    if found.len() > MAX_CANDIDATES {
        found.clear();
    }
    found
}

/// What the candidates say about the code in view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sighting {
    /// Where the code probably is, quiet zone included, clipped to the frame.
    pub region: Rect,
    /// Module size in frame pixels (median of the candidates).
    pub module: f32,
    pub inverted: bool,
    /// How many candidates agree (three for a whole code).
    pub finders: usize,
    /// The estimated code reaches past the frame's edge.
    pub clipped: bool,
}

/// The likeliest code among the candidates: the polarity with more of them, its finders
/// grouped around the strongest one.
pub(crate) fn sighting(found: &[Finder], w: usize, h: usize) -> Option<Sighting> {
    let dark = found.iter().filter(|f| !f.inverted).count();
    let inverted = found.len() - dark > dark;
    let strongest = found
        .iter()
        .filter(|f| f.inverted == inverted)
        .max_by_key(|f| f.hits)?;
    // A version-10 code is 57 modules; its finders are at most ≈ 50 modules apart.
    let reach = strongest.module * 60.0;
    let group: Vec<&Finder> = found
        .iter()
        .filter(|f| {
            f.inverted == inverted
                && (f.x - strongest.x).hypot(f.y - strongest.y) <= reach
                && f.module < strongest.module * 2.0
                && f.module > strongest.module * 0.5
        })
        .collect();
    // One finder alone is as likely texture as a code: a code shows at least two, about as
    // far apart as a code is wide.
    let partner = group.iter().any(|f| {
        let d = (f.x - strongest.x).hypot(f.y - strongest.y) / strongest.module;
        (12.0..=60.0).contains(&d)
    });
    if !partner {
        return None;
    }
    let mut modules: Vec<f32> = group.iter().map(|f| f.module).collect();
    modules.sort_by(f32::total_cmp);
    let module = modules[modules.len() / 2];
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for f in &group {
        x0 = x0.min(f.x);
        y0 = y0.min(f.y);
        x1 = x1.max(f.x);
        y1 = y1.max(f.y);
    }
    let margin = if group.len() >= 3 {
        // The fourth corner and the quiet zone: the three centres bound all but ≈ a third of
        // a rotated code.
        module * 8.0 + (x1 - x0).max(y1 - y0) * 0.45
    } else {
        // One or two finders: the code lies somewhere around them.
        module * 50.0
    };
    let clipped = x0 - margin * 0.6 < 0.0
        || y0 - margin * 0.6 < 0.0
        || x1 + margin * 0.6 > w as f32
        || y1 + margin * 0.6 > h as f32;
    let clamp = |v: f32, hi: usize| (v.max(0.0) as usize).min(hi);
    let region = Rect {
        x0: clamp(x0 - margin, w),
        y0: clamp(y0 - margin, h),
        x1: clamp(x1 + margin, w),
        y1: clamp(y1 + margin, h),
    };
    (region.x1 > region.x0 && region.y1 > region.y0).then_some(Sighting {
        region,
        module,
        inverted,
        finders: group.len(),
        clipped: clipped && group.len() >= 3,
    })
}
