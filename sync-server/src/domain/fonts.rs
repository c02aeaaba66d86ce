//! The faces PDF tickets are printed with: Noto Sans and Noto Sans Arabic (regular and bold)
//! shipped inside the binary, then, for any other script, the Noto and DejaVu faces installed
//! on the machine, found by one scan of `/usr/share/fonts` the first time a character needs
//! them. The scan is the only file read under `domain/`; it never fails a render: a machine
//! without fonts simply has a shorter chain. Owns which face draws a character, not layout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::tables::cmap::Cmap;
use allsorts::tables::{FontTableProvider, HeadTable};
use allsorts::tag;

/// Where the fallback chain looks for installed faces.
const SYSTEM_FONT_DIR: &str = "/usr/share/fonts";

/// Regular or bold; the shipped faces have both, an installed fallback is used in bold when
/// its family's bold file sits beside the regular one (`NotoSansHebrew-Bold.ttf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weight {
    /// Body text.
    Regular,
    /// Headings and notices.
    Bold,
}

/// One font face: its bytes (a whole file, possibly a collection), which face of it, and the
/// characters its `cmap` maps.
#[derive(Debug)]
pub struct Face {
    /// The PostScript-style name the PDF gives it (before the subset tag).
    pub name: String,
    /// The font file's bytes; lives as long as the process (the chain is cached once).
    pub bytes: &'static [u8],
    /// The face within a collection (`.ttc`), 0 for a plain file.
    pub index: usize,
    /// Design units per em.
    pub units_per_em: u16,
    coverage: Coverage,
}

impl Face {
    fn parse(name: String, bytes: &'static [u8], index: usize) -> Option<Face> {
        let data = ReadScope::new(bytes).read::<FontData<'_>>().ok()?;
        let provider = data.table_provider(index).ok()?;
        let head = provider
            .read_table_data(tag::HEAD)
            .ok()
            .and_then(|d| ReadScope::new(&d).read::<HeadTable>().ok())?;
        Some(Face {
            name,
            bytes,
            index,
            units_per_em: head.units_per_em,
            coverage: Coverage::of(&provider)?,
        })
    }

    /// Whether the face has a glyph for `c`.
    pub fn covers(&self, c: char) -> bool {
        self.coverage.contains(u32::from(c))
    }
}

/// The code points a face maps, as sorted inclusive ranges (small next to the font).
#[derive(Debug, Default)]
struct Coverage(Vec<(u32, u32)>);

impl Coverage {
    fn of(provider: &impl FontTableProvider) -> Option<Coverage> {
        let data = provider.read_table_data(tag::CMAP).ok()?;
        let cmap = ReadScope::new(&data).read::<Cmap<'_>>().ok()?;
        let (_, subtable) = allsorts::font::read_cmap_subtable(&cmap).ok()??;
        let mut points = Vec::new();
        subtable
            .mappings_fn(|cp, gid| {
                if gid != 0 {
                    points.push(cp);
                }
            })
            .ok()?;
        points.sort_unstable();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for cp in points {
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 >= cp => *end = (*end).max(cp),
                _ => ranges.push((cp, cp)),
            }
        }
        Some(Coverage(ranges))
    }

    fn contains(&self, cp: u32) -> bool {
        let i = self.0.partition_point(|&(_, end)| end < cp);
        self.0.get(i).is_some_and(|&(start, _)| start <= cp)
    }
}

static LATIN_REGULAR: &[u8] = include_bytes!("../../fonts/NotoSans-Regular.ttf");
static LATIN_BOLD: &[u8] = include_bytes!("../../fonts/NotoSans-Bold.ttf");
static ARABIC_REGULAR: &[u8] = include_bytes!("../../fonts/NotoSansArabic-Regular.ttf");
static ARABIC_BOLD: &[u8] = include_bytes!("../../fonts/NotoSansArabic-Bold.ttf");

/// The shipped faces of one weight: Latin (with Greek, Cyrillic and Vietnamese) and Arabic.
pub struct Shipped {
    /// Noto Sans.
    pub latin: Face,
    /// Noto Sans Arabic.
    pub arabic: Face,
}

/// The shipped faces, parsed once.
pub fn shipped(weight: Weight) -> &'static Shipped {
    static REGULAR: OnceLock<Shipped> = OnceLock::new();
    static BOLD: OnceLock<Shipped> = OnceLock::new();
    let (cell, latin, arabic, suffix) = match weight {
        Weight::Regular => (&REGULAR, LATIN_REGULAR, ARABIC_REGULAR, "Regular"),
        Weight::Bold => (&BOLD, LATIN_BOLD, ARABIC_BOLD, "Bold"),
    };
    cell.get_or_init(|| Shipped {
        latin: Face::parse(format!("NotoSans-{suffix}"), latin, 0)
            .expect("the shipped Noto Sans parses"),
        arabic: Face::parse(format!("NotoSansArabic-{suffix}"), arabic, 0)
            .expect("the shipped Noto Sans Arabic parses"),
    })
}

/// Whether `c` belongs to the Arabic script (the blocks Noto Sans Arabic draws).
pub fn is_arabic(c: char) -> bool {
    matches!(u32::from(c), 0x0600..=0x06FF | 0x0750..=0x077F | 0x0870..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF)
}

/// The face that draws `c` at `weight`: the shipped face of its script, the other shipped
/// face, then the installed faces in chain order. `None` when no face on the machine has it.
pub fn face_for(c: char, weight: Weight) -> Option<&'static Face> {
    let shipped = shipped(weight);
    let (first, second) = if is_arabic(c) {
        (&shipped.arabic, &shipped.latin)
    } else {
        (&shipped.latin, &shipped.arabic)
    };
    if first.covers(c) {
        return Some(first);
    }
    if second.covers(c) {
        return Some(second);
    }
    installed().face_for(c, weight)
}

/// An installed face the chain may use: where it is, and its coverage; its bytes are read
/// (and kept) the first time a character needs it.
struct Candidate {
    path: PathBuf,
    index: usize,
    coverage: Coverage,
    loaded: OnceLock<Option<Face>>,
    /// The family's bold face, read the first time bold text needs it; `None` when the
    /// machine has no bold file beside the regular one (or it lacks the character).
    bold: OnceLock<Option<Face>>,
}

impl Candidate {
    fn load(&self, path: &Path) -> Option<Face> {
        let bytes = std::fs::read(path).ok()?;
        let name = face_name(path, self.index);
        Face::parse(name, Box::leak(bytes.into_boxed_slice()), self.index)
    }
}

/// Where the bold face of a regular one would be: `-Regular` becomes `-Bold`
/// (`NotoSansHebrew-Bold.ttf`, `NotoSansCJK-Bold.ttc`), a bare name takes `-Bold`
/// (`DejaVuSans-Bold.ttf`).
fn bold_sibling(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let bold = if name.contains("-Regular") {
        name.replacen("-Regular", "-Bold", 1)
    } else {
        let (stem, ext) = name.rsplit_once('.')?;
        format!("{stem}-Bold.{ext}")
    };
    Some(path.with_file_name(bold))
}

/// The installed fallback faces, in the order they are tried, and the answers already given.
struct Installed {
    candidates: Vec<Candidate>,
    answers: Mutex<HashMap<char, Option<usize>>>,
}

impl Installed {
    fn face_for(&'static self, c: char, weight: Weight) -> Option<&'static Face> {
        let found = *self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(c)
            .or_insert_with(|| {
                self.candidates
                    .iter()
                    .position(|f| f.coverage.contains(u32::from(c)))
            });
        let candidate = &self.candidates[found?];
        if weight == Weight::Bold {
            let bold = candidate.bold.get_or_init(|| {
                let path = bold_sibling(&candidate.path).filter(|p| p.is_file())?;
                candidate.load(&path)
            });
            // A bold file that lacks the character leaves it to the regular face.
            if let Some(face) = bold.as_ref().filter(|f| f.covers(c)) {
                return Some(face);
            }
        }
        candidate
            .loaded
            .get_or_init(|| candidate.load(&candidate.path))
            .as_ref()
    }
}

fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let candidates = scan(Path::new(SYSTEM_FONT_DIR));
        tracing::info!(
            faces = candidates.len(),
            dir = SYSTEM_FONT_DIR,
            "fallback fonts for PDF tickets scanned"
        );
        Installed {
            candidates,
            answers: Mutex::new(HashMap::new()),
        }
    })
}

/// The PDF name of an installed face: its file stem, with the face number in a collection.
fn face_name(path: &Path, index: usize) -> String {
    let stem: String = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("Fallback")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .chain(std::iter::once('-'))
        .collect();
    let stem = stem.trim_end_matches('-');
    if index == 0 {
        stem.to_owned()
    } else {
        format!("{stem}-{index}")
    }
}

/// Chain order: Noto Sans families, then the CJK Sans collection, then other Noto faces,
/// then DejaVu; regular weights only (the file names say which), by name within each.
fn chain_rank(file_name: &str) -> Option<u8> {
    let regular = ![
        "Bold",
        "Italic",
        "Light",
        "Thin",
        "Black",
        "Medium",
        "Condensed",
        "Oblique",
    ]
    .iter()
    .any(|w| file_name.contains(w))
        || file_name.contains("-Regular");
    if !regular {
        return None;
    }
    Some(if file_name.starts_with("NotoSansCJK") {
        1
    } else if file_name.starts_with("NotoSans") {
        0
    } else if file_name.starts_with("Noto") {
        2
    } else if file_name.starts_with("DejaVuSans") {
        3
    } else if file_name.starts_with("DejaVu") {
        4
    } else {
        return None;
    })
}

fn scan(dir: &Path) -> Vec<Candidate> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let lower = name.to_ascii_lowercase();
            if !(lower.ends_with(".ttf") || lower.ends_with(".otf") || lower.ends_with(".ttc")) {
                continue;
            }
            if let Some(rank) = chain_rank(name) {
                files.push((rank, name.to_owned(), path));
            }
        }
    }
    files.sort();
    let mut candidates = Vec::new();
    for (_, _, path) in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(data) = ReadScope::new(&bytes).read::<FontData<'_>>() else {
            continue;
        };
        // A collection lists several faces; the first of each is the regular one the
        // chain wants (Noto CJK's first face is its Japanese one, which covers Chinese).
        let index = 0;
        let Some(coverage) = data
            .table_provider(index)
            .ok()
            .and_then(|p| Coverage::of(&p))
        else {
            continue;
        };
        candidates.push(Candidate {
            path,
            index,
            coverage,
            loaded: OnceLock::new(),
            bold: OnceLock::new(),
        });
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_faces_cover_their_scripts() {
        let regular = shipped(Weight::Regular);
        assert!(
            regular.latin.covers('A') && regular.latin.covers('ж') && regular.latin.covers('ệ')
        );
        assert!(regular.arabic.covers('م') && regular.arabic.covers('ﻻ'));
        assert!(!regular.latin.covers('م'));
        assert_eq!(
            face_for('م', Weight::Bold).unwrap().name,
            "NotoSansArabic-Bold"
        );
        assert_eq!(
            face_for('x', Weight::Regular).unwrap().name,
            "NotoSans-Regular"
        );
    }

    #[test]
    fn coverage_ranges_answer_membership() {
        let c = Coverage(vec![(10, 20), (30, 30)]);
        assert!(c.contains(10) && c.contains(20) && c.contains(30));
        assert!(!c.contains(9) && !c.contains(21) && !c.contains(31));
    }

    #[test]
    // A machine without Debian's Noto faces says so loudly rather than passing silently.
    #[allow(clippy::print_stderr)]
    fn installed_scripts_print_bold_where_the_machine_has_a_bold_face() {
        let hebrew = Path::new(SYSTEM_FONT_DIR).join("truetype/noto/NotoSansHebrew-Bold.ttf");
        if !hebrew.is_file() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing: ./scripts/test installs fonts-noto-core",
                hebrew.display()
            );
            eprintln!(
                "SKIPPED: {} is missing; ./scripts/test installs fonts-noto-core",
                hebrew.display()
            );
            return;
        }
        assert_eq!(
            face_for('א', Weight::Bold).map(|f| f.name.as_str()),
            Some("NotoSansHebrewBold")
        );
        assert_eq!(
            face_for('א', Weight::Regular).map(|f| f.name.as_str()),
            Some("NotoSansHebrewRegular")
        );
        assert_eq!(
            bold_sibling(Path::new("/f/DejaVuSans.ttf")),
            Some(PathBuf::from("/f/DejaVuSans-Bold.ttf"))
        );
        assert_eq!(
            bold_sibling(Path::new("/f/NotoSansCJK-Regular.ttc")),
            Some(PathBuf::from("/f/NotoSansCJK-Bold.ttc"))
        );
    }

    #[test]
    fn chain_prefers_regular_sans() {
        assert_eq!(chain_rank("NotoSansHebrew-Regular.ttf"), Some(0));
        assert_eq!(chain_rank("NotoSansCJK-Regular.ttc"), Some(1));
        assert_eq!(chain_rank("NotoSansHebrew-Bold.ttf"), None);
        assert_eq!(chain_rank("DejaVuSans.ttf"), Some(3));
        assert_eq!(chain_rank("Lato-Regular.ttf"), None);
    }
}
