//! One line of printed text as positioned glyphs: the Unicode bidi algorithm orders its runs,
//! each run is split by the face that draws it (`fonts.rs`) and shaped with allsorts (Arabic
//! joined, ligatures, kerning, marks), and right-to-left runs are laid out right to left,
//! their paired brackets mirrored (the bidi algorithm's rule L4: "(VIP)" inside Arabic).
//! A character no face has becomes its code point (`U+XXXX`), drawn and named in the log.
//! Owns the shape of a line, not where it goes on the page nor how the PDF stores fonts.

use allsorts::binary::read::ReadScope;
use allsorts::font::MatchingPresentation;
use allsorts::font_data::FontData;
use allsorts::glyph_position::{GlyphLayout, TextDirection};
use allsorts::gpos::{Info, Placement};
use allsorts::gsub::{FeatureMask, FeatureMaskExt};
use allsorts::tag;
use unicode_bidi::BidiInfo;

use crate::domain::fonts::{self, Face, Weight};

/// A glyph placed on a line, in thousandths of an em from the line's left end.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedGlyph {
    /// The glyph in its face (before any subsetting).
    pub gid: u16,
    /// Left edge of the glyph's origin.
    pub x: f32,
    /// Raise above the baseline (Arabic marks).
    pub y: f32,
    /// The text this glyph stands for, in logical order (a ligature stands for several
    /// characters; a mark or a repeated glyph for none).
    pub text: String,
}

/// Consecutive glyphs of one face, in visual (left to right) order.
#[derive(Debug, Clone)]
pub struct GlyphRun {
    /// The face that draws them.
    pub face: &'static Face,
    /// The glyphs, left to right.
    pub glyphs: Vec<PlacedGlyph>,
}

/// A laid-out line.
#[derive(Debug, Clone)]
pub struct Line {
    /// The runs, left to right.
    pub runs: Vec<GlyphRun>,
    /// Total advance, thousandths of an em.
    pub width: f32,
    /// The paragraph reads right to left (its first strong character is Arabic or Hebrew):
    /// such a line is placed from the right margin.
    pub rtl: bool,
}

/// Invisible characters the shaper may use (joiners, variation selectors, bidi controls)
/// but that need no glyph of their own.
fn is_invisible(c: char) -> bool {
    matches!(u32::from(c), 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFE00..=0xFE0F | 0xFEFF | 0x034F | 0x00AD)
}

/// The bidi algorithm's own characters: they order the runs and are not drawn.
fn is_bidi_control(c: char) -> bool {
    matches!(u32::from(c), 0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069)
}

/// Spaces and punctuation that take the face of the text around them, so one word's run
/// stays in one face (and so one shaping call).
fn is_neutral(c: char) -> bool {
    c.is_whitespace() || c.is_ascii_punctuation() || is_invisible(c) || c == '·' || c == '\u{640}'
}

/// The text with every character no face can draw replaced by its code point, each named
/// in the log (the code point only: the text is a person's name).
fn printable(text: &str, weight: Weight) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push(' ');
        } else if is_invisible(c) || fonts::face_for(c, weight).is_some() {
            out.push(c);
        } else {
            tracing::warn!(
                code_point = %format!("U+{:04X}", u32::from(c)),
                "no font on this machine draws a character on a PDF ticket; printed as its code point"
            );
            out.push_str(&format!("U+{:04X}", u32::from(c)));
        }
    }
    out
}

/// The mirrored form of a character with the Unicode property Bidi_Mirrored (the pairs in
/// common text: brackets, angle quotes, comparison signs), itself otherwise. A right-to-left
/// run draws its brackets mirrored (rule L4); allsorts applies no `rtlm` feature, and Noto's
/// faces have none, so the character is swapped before shaping. Its own inverse.
fn mirror(c: char) -> char {
    match c {
        '(' => ')',
        ')' => '(',
        '[' => ']',
        ']' => '[',
        '{' => '}',
        '}' => '{',
        '<' => '>',
        '>' => '<',
        '«' => '»',
        '»' => '«',
        '‹' => '›',
        '›' => '‹',
        '≤' => '≥',
        '≥' => '≤',
        other => other,
    }
}

/// The OpenType script tag shaping should use for a piece of text.
fn script_of(text: &str) -> u32 {
    for c in text.chars() {
        let cp = u32::from(c);
        if fonts::is_arabic(c) {
            return tag::ARAB;
        }
        match cp {
            0x0590..=0x05FF | 0xFB1D..=0xFB4F => return u32::from_be_bytes(*b"hebr"),
            0x0370..=0x03FF | 0x1F00..=0x1FFF => return tag::GREK,
            0x0400..=0x052F => return tag::CYRL,
            0x2E80..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF => {
                return u32::from_be_bytes(*b"hani");
            }
            _ if c.is_alphabetic() => return tag::LATN,
            _ => {}
        }
    }
    tag::DFLT
}

/// Lays out one line of text (newlines and other controls print as spaces); its paragraph
/// direction is its first strong character's.
pub fn layout(text: &str, weight: Weight) -> Line {
    layout_in(text, weight, None)
}

/// Lays out one line of text in a paragraph of the given direction (`Some(true)`: right to
/// left, as every line of a document in Arabic, whatever its first word), or, with `None`,
/// the direction of its first strong character.
pub fn layout_in(text: &str, weight: Weight, rtl: Option<bool>) -> Line {
    let text = printable(text, weight);
    let level = rtl.map(|rtl| {
        if rtl {
            unicode_bidi::Level::rtl()
        } else {
            unicode_bidi::Level::ltr()
        }
    });
    let bidi = BidiInfo::new(&text, level);
    let Some(para) = bidi.paragraphs.first() else {
        return Line {
            runs: Vec::new(),
            width: 0.0,
            rtl: false,
        };
    };
    let (levels, runs) = bidi.visual_runs(para, para.range.clone());
    let mut line = Line {
        runs: Vec::new(),
        width: 0.0,
        rtl: para.level.is_rtl(),
    };
    for run in runs {
        let rtl = levels[run.start].is_rtl();
        // Bidi controls (marks, embeddings, isolates) did their work in the runs; drawn, they
        // would only add empty glyphs, and reach the extracted text.
        let visible: String = text[run].chars().filter(|&c| !is_bidi_control(c)).collect();
        let mut pieces = split_by_face(&visible, weight);
        if rtl {
            pieces.reverse();
        }
        for (face, piece) in pieces {
            let (glyphs, width) = shape(face, piece, rtl);
            line.runs.push(GlyphRun {
                face,
                glyphs: glyphs
                    .into_iter()
                    .map(|g| PlacedGlyph {
                        x: g.x + line.width,
                        ..g
                    })
                    .collect(),
            });
            line.width += width;
        }
    }
    line
}

/// Splits a bidi run (logical order) into pieces each drawn by one face; spaces and
/// punctuation join the piece before them.
fn split_by_face(run: &str, weight: Weight) -> Vec<(&'static Face, &str)> {
    let mut pieces: Vec<(&'static Face, &str)> = Vec::new();
    let mut start = 0;
    let mut current: Option<&'static Face> = None;
    for (i, c) in run.char_indices() {
        let keep = current.is_some_and(|f| is_neutral(c) && (f.covers(c) || is_invisible(c)));
        if keep {
            continue;
        }
        // `printable` left only characters some face draws, or invisible ones.
        let face = fonts::face_for(c, weight)
            .or(current)
            .unwrap_or(&fonts::shipped(weight).latin);
        match current {
            Some(f) if std::ptr::eq(f, face) => {}
            Some(f) => {
                pieces.push((f, &run[start..i]));
                start = i;
                current = Some(face);
            }
            None => current = Some(face),
        }
    }
    if let Some(f) = current {
        pieces.push((f, &run[start..]));
    }
    pieces
}

/// Shapes one piece in one face; glyphs come back left to right, from 0, with the piece's
/// total advance; both in thousandths of an em.
fn shape(face: &'static Face, text: &str, rtl: bool) -> (Vec<PlacedGlyph>, f32) {
    let scale = 1000.0 / f32::from(face.units_per_em);
    // Drawn mirrored, stored as written: the glyph's text is mirrored back below.
    let mirrored: String;
    let text = if rtl {
        mirrored = text.chars().map(mirror).collect();
        mirrored.as_str()
    } else {
        text
    };
    let shaped = ReadScope::new(face.bytes)
        .read::<FontData<'_>>()
        .ok()
        .and_then(|data| data.table_provider(face.index).ok())
        .and_then(|provider| allsorts::Font::new(provider).ok())
        .and_then(|mut font| {
            let script = script_of(text);
            let glyphs = font.map_glyphs(text, script, MatchingPresentation::NotRequired);
            let infos = match font.shape(
                glyphs,
                script,
                None,
                FeatureMask::default_mask(),
                &[],
                None,
                true,
            ) {
                Ok(infos) => infos,
                // Shaping applies what it can and reports the first fault; print that.
                Err((_, infos)) => infos,
            };
            let positions = GlyphLayout::new(&mut font, &infos, TextDirection::LeftToRight, false)
                .glyph_positions()
                .ok()?;
            Some((infos, positions))
        });
    let Some((infos, positions)) = shaped else {
        // The shipped and scanned faces all parsed once already; this cannot happen, but a
        // ticket still prints: without this piece rather than not at all.
        tracing::error!(face = %face.name, "a font failed to shape text on a PDF ticket");
        return (Vec::new(), 0.0);
    };

    // Left-to-right positions in logical order, as allsorts gives them.
    let mut pen = 0;
    let mut ltr = Vec::with_capacity(infos.len());
    for pos in &positions {
        ltr.push((pen + pos.x_offset, pos.y_offset, pos.hori_advance));
        pen += pos.hori_advance;
    }
    let total = pen;
    let mut glyphs: Vec<(usize, i32, i32)> = Vec::with_capacity(infos.len());
    for (i, (info, &(x, y, advance))) in infos.iter().zip(&ltr).enumerate() {
        let x = if !rtl {
            x
        } else {
            match base_of(info) {
                // A mark keeps its offset from its base, which has already moved.
                Some(b) if b < i => glyphs[b].1 + (x - ltr[b].0),
                _ => total - (x - positions[i].x_offset) - advance + positions[i].x_offset,
            }
        };
        glyphs.push((i, x, y));
    }
    if rtl {
        glyphs.reverse();
    }
    let placed = glyphs
        .into_iter()
        .filter(|&(i, _, _)| {
            // An invisible character the face has no glyph for is left out, not boxed.
            let g = &infos[i].glyph;
            !(g.glyph_index == 0 && g.unicodes.iter().all(|&c| is_invisible(c)))
        })
        .map(|(i, x, y)| PlacedGlyph {
            gid: infos[i].glyph.glyph_index,
            x: x as f32 * scale,
            y: y as f32 * scale,
            // A right-to-left ligature (lām-alif) is stored with its characters reversed:
            // text extractors reorder a right-to-left line character by character, which
            // puts them back in logical order.
            text: if rtl {
                infos[i]
                    .glyph
                    .unicodes
                    .iter()
                    .rev()
                    .map(|&c| mirror(c))
                    .collect()
            } else {
                infos[i].glyph.unicodes.iter().collect()
            },
        })
        .collect();
    (placed, total as f32 * scale)
}

fn base_of(info: &Info) -> Option<usize> {
    match info.placement {
        Placement::MarkAnchor(base, _, _) | Placement::MarkOverprint(base) => Some(base),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(line: &Line) -> String {
        line.runs
            .iter()
            .flat_map(|r| r.glyphs.iter().map(|g| g.text.as_str()))
            .collect()
    }

    #[test]
    fn arabic_is_joined_and_laid_right_to_left() {
        let line = layout("محمد", Weight::Regular);
        assert!(line.rtl);
        assert_eq!(line.runs.len(), 1);
        let glyphs = &line.runs[0].glyphs;
        // Visual order is the reverse of logical order: the first letter sits rightmost.
        assert_eq!(text_of(&line), "دمحم");
        assert!(glyphs.windows(2).all(|w| w[0].x < w[1].x));
        // Joined: the two mīms take different (initial and medial) forms.
        let face = fonts::face_for('م', Weight::Regular).unwrap();
        let isolated = shape(face, "م", true).0[0].gid;
        assert_ne!(glyphs[3].gid, isolated);
        assert_ne!(glyphs[1].gid, glyphs[3].gid);
    }

    #[test]
    fn a_mixed_line_keeps_latin_left_to_right_and_arabic_right_to_left() {
        let line = layout("Booth B-12 · مطعم الشام", Weight::Regular);
        assert!(!line.rtl);
        let text = text_of(&line);
        assert!(text.starts_with("Booth B-12 · "), "{text}");
        // The Arabic words come last, in visual order: the second word leftmost.
        assert!(text.ends_with("ماشلا معطم"), "{text}");
        assert_eq!(
            line.runs.last().unwrap().face.name,
            "NotoSansArabic-Regular"
        );
    }

    /// Every glyph of a line, left to right.
    fn glyphs_of(line: &Line) -> Vec<(&'static Face, &PlacedGlyph)> {
        line.runs
            .iter()
            .flat_map(|r| r.glyphs.iter().map(move |g| (r.face, g)))
            .collect()
    }

    #[test]
    fn brackets_inside_arabic_are_mirrored_and_keep_their_text() {
        // "محمد (VIP)": the paragraph reads right to left, so "(VIP)" sits left of the name
        // and its brackets belong to the right-to-left run around it.
        let line = layout("محمد (VIP)", Weight::Regular);
        assert!(line.rtl);
        let glyphs = glyphs_of(&line);
        let (face, leftmost) = glyphs[0];
        // The leftmost glyph stands for the closing bracket, drawn as an opening one.
        assert_eq!(leftmost.text, ")");
        assert_eq!(leftmost.gid, shape(face, "(", false).0[0].gid);
        let (face, after_vip) = glyphs[4];
        assert_eq!(after_vip.text, "(");
        assert_eq!(after_vip.gid, shape(face, ")", false).0[0].gid);
        assert_eq!(text_of(&line), ")VIP( دمحم");
        // A left-to-right line draws its brackets as they are.
        let ltr = layout("Ada (VIP)", Weight::Regular);
        let (face, open) = glyphs_of(&ltr)[4];
        assert_eq!(open.text, "(");
        assert_eq!(open.gid, shape(face, "(", false).0[0].gid);
    }

    #[test]
    fn a_latin_line_in_a_right_to_left_document_keeps_its_order() {
        let line = layout_in("Desert Lights (demo)", Weight::Regular, Some(true));
        assert!(line.rtl);
        assert_eq!(text_of(&line), "Desert Lights (demo)");
        assert!(!layout("Desert Lights (demo)", Weight::Regular).rtl);
        // A name that starts with a digit reorders in a right-to-left paragraph ("Day
        // Pass-3") unless it is isolated; the isolates themselves draw nothing.
        let isolated = layout_in("\u{2068}3-Day Pass\u{2069}", Weight::Regular, Some(true));
        assert!(isolated.rtl);
        assert_eq!(text_of(&isolated), "3-Day Pass");
        let holder = layout_in("حاملها: \u{2068}ليلى 2!\u{2069}", Weight::Regular, None);
        assert!(holder.rtl);
        // Visually, left to right: the name read right to left ("!" ends it, leftmost),
        // then the label.
        assert_eq!(text_of(&holder), "!2 ىليل :اهلماح");
        // In an English label the isolated name keeps its "2!" with it; without the
        // isolates the "!" would end the English sentence instead.
        let isolated = layout("Holder: \u{2068}ليلى 2!\u{2069}", Weight::Regular);
        assert_eq!(text_of(&isolated), "Holder: !2 ىليل");
        let bare = layout("Holder: ليلى 2!", Weight::Regular);
        assert_eq!(text_of(&bare), "Holder: 2 ىليل!");
    }

    #[test]
    fn harakat_sit_on_their_letters_and_take_no_room() {
        // Muḥammad with ḍamma, fatḥa, shadda and fatḥa.
        let vocalised = layout("مُحَمَّد", Weight::Regular);
        let bare = layout("محمد", Weight::Regular);
        let glyphs = glyphs_of(&vocalised);
        assert!(glyphs.iter().all(|(_, g)| g.gid != 0), "no missing glyph");
        // Every character is drawn and stands in the text once.
        let mut drawn: Vec<char> = text_of(&vocalised).chars().collect();
        let mut written: Vec<char> = "مُحَمَّد".chars().collect();
        drawn.sort_unstable();
        written.sort_unstable();
        assert_eq!(drawn, written);
        // Marks have no advance: the word is as wide as without them.
        assert!(
            (vocalised.width - bare.width).abs() < 1.0,
            "{} vs {}",
            vocalised.width,
            bare.width
        );
        // And each mark sits within the line, over the letters.
        for (_, g) in &glyphs {
            assert!(g.x >= -100.0 && g.x <= vocalised.width + 100.0, "{g:?}");
        }
    }

    #[test]
    fn a_character_no_font_has_prints_as_its_code_point() {
        // A private-use code point: no face maps it.
        let line = layout("A\u{F0000}B", Weight::Regular);
        assert_eq!(text_of(&line), "AU+F0000B");
    }
}
