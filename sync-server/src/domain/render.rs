//! Issuance outputs: the QR code of a ticket as PNG and SVG, and printable PDF tickets (one
//! page per ticket) with printpdf, labelled in the order's language (`Order::lang`). Pure
//! functions of stored data; owns layout, not access.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use chrono::NaiveDate;
use printpdf::{
    Codepoint, Color, FontId, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};
use qrcode::{EcLevel, QrCode};
use tessera_core::DayMask;

use crate::domain::fonts::{Face, Weight};
use crate::domain::i18n::{self, Arg, Lang};
use crate::domain::text::{self, PlacedGlyph};
use crate::store::{Order, TicketKind, TicketView};
use crate::store::{Payment, TicketStatus};

/// Side of the printed QR code, quiet zone excluded: large enough for any phone camera at
/// a gate from a sheet of A4 or Letter paper.
pub const PDF_QR_MM: f32 = 60.0;

/// Why an output could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The text does not fit a QR code (cannot happen for a signed ticket).
    #[error("QR encoding failed: {0}")]
    Qr(#[from] qrcode::types::QrError),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] image::ImageError),
}

fn qr(text: &str) -> Result<QrCode, RenderError> {
    // ECC level Q: a printed ticket survives creases and a cracked phone screen; the format
    // doc records that a signed ticket still fits version 8 at this level.
    Ok(QrCode::with_error_correction_level(
        text.as_bytes(),
        EcLevel::Q,
    )?)
}

/// The QR code as a PNG, 8 pixels per module, with the standard 4-module quiet zone.
pub fn qr_png(text: &str) -> Result<Vec<u8>, RenderError> {
    let image = qr(text)?
        .render::<image::Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(8, 8)
        .build();
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}

/// The QR code as an SVG document with a quiet zone.
pub fn qr_svg(text: &str) -> Result<String, RenderError> {
    Ok(qr(text)?
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .build())
}

/// `Fri 27 Nov 2026, Sat 28 Nov 2026` for the days a mask covers.
pub fn valid_days(days_mask: u16, event_days: &[NaiveDate]) -> Vec<String> {
    valid_days_in(Lang::En, days_mask, event_days)
}

/// The days a mask covers, each in `lang`'s words (`الجمعة 27 نوفمبر 2026`).
pub fn valid_days_in(lang: Lang, days_mask: u16, event_days: &[NaiveDate]) -> Vec<String> {
    DayMask(days_mask)
        .days()
        .filter_map(|d| event_days.get(d))
        .map(|d| i18n::format_date(lang, *d))
        .collect()
}

/// Human form of a price: `$35.00` for USD, `35.00 EUR` otherwise.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let amount = format!("{}.{:02}", abs / 100, abs % 100);
    if currency == "USD" {
        format!("{sign}${amount}")
    } else {
        format!("{sign}{amount} {currency}")
    }
}

/// The order number as people read it.
pub fn order_number(id: i64) -> String {
    format!("T-{id}")
}

/// Where a line of text sits: from the left margin, or (a right-to-left paragraph) ending
/// at the right margin.
#[derive(Debug, Clone, Copy)]
struct Place {
    left: f32,
    right: f32,
    y: f32,
}

/// The text of a document, laid out as it is drawn; the fonts it needs are subset and
/// embedded once the whole document is known.
#[derive(Default)]
struct Typesetter {
    /// Used glyphs per face (keyed by the face's address: faces live for the process).
    used: BTreeMap<usize, (&'static Face, BTreeSet<u16>)>,
    /// The document reads right to left (its language's): every line is a right-to-left
    /// paragraph against the right margin, a Latin event name included.
    rtl: bool,
}

/// A piece of text waiting for its fonts: one face, absolute position, glyphs with the
/// gaps the PDF's own advances leave.
struct PendingText {
    face: &'static Face,
    x_mm: f32,
    y_mm: f32,
    size: f32,
    glyphs: Vec<PlacedGlyph>,
}

/// A page's operations, text kept apart until the fonts exist.
enum PageOp {
    Ready(Op),
    Text(PendingText),
}

impl Typesetter {
    fn text(&mut self, ops: &mut Vec<PageOp>, place: Place, size: f32, bold: bool, text: &str) {
        let weight = if bold { Weight::Bold } else { Weight::Regular };
        let line = text::layout_in(text, weight, self.rtl.then_some(true));
        let mm_per_unit = size / 1000.0 * 25.4 / 72.0;
        let start = if line.rtl {
            place.right - line.width * mm_per_unit
        } else {
            place.left
        };
        for run in line.runs {
            let entry = self
                .used
                .entry(std::ptr::from_ref(run.face) as usize)
                .or_insert_with(|| (run.face, BTreeSet::new()));
            entry.1.extend(run.glyphs.iter().map(|g| g.gid));
            // Glyphs raised off the baseline (marks) start a piece of their own.
            let mut glyphs = run.glyphs.into_iter().peekable();
            while let Some(first) = glyphs.next() {
                let y = first.y;
                let mut piece = vec![first];
                while let Some(g) = glyphs.next_if(|g| g.y == y) {
                    piece.push(g);
                }
                ops.push(PageOp::Text(PendingText {
                    face: run.face,
                    x_mm: start + piece[0].x * mm_per_unit,
                    y_mm: place.y + y * mm_per_unit,
                    size,
                    glyphs: piece,
                }));
            }
        }
    }

    /// Subsets every face the document uses, adds it to `doc`, and turns the pages' text
    /// into glyph operations in those subsets.
    fn finish(self, doc: &mut PdfDocument, pages: Vec<Vec<PageOp>>) -> Vec<Vec<Op>> {
        let mut fonts = HashMap::new();
        for (key, (face, used)) in self.used {
            if let Some(font) = subset(face, &used) {
                let id = doc.add_font(&font.parsed);
                fonts.insert(key, (id, font.new_gid));
            }
        }
        pages
            .into_iter()
            .map(|ops| {
                let mut out = Vec::with_capacity(ops.len());
                for op in ops {
                    match op {
                        PageOp::Ready(op) => out.push(op),
                        PageOp::Text(t) => {
                            let Some((id, new_gid)) =
                                fonts.get(&(std::ptr::from_ref(t.face) as usize))
                            else {
                                continue;
                            };
                            glyph_ops(&mut out, t, id, new_gid);
                        }
                    }
                }
                out
            })
            .collect()
    }
}

/// One piece of text as PDF operations: glyph ids of the subset, with `TJ` adjustments where
/// the shaped position differs from the advance the PDF's widths give.
fn glyph_ops(out: &mut Vec<Op>, t: PendingText, id: &FontId, new_gid: &HashMap<u16, u16>) {
    let scale = 1000.0 / f32::from(t.face.units_per_em);
    let advance = |gid: u16| {
        // The PDF's /W width, as printpdf writes it (whole thousandths of an em).
        (f32::from(glyph_advance(t.face, gid)) * scale).trunc()
    };
    let mut items = Vec::with_capacity(t.glyphs.len());
    for (i, g) in t.glyphs.iter().enumerate() {
        let offset = match t.glyphs.get(i + 1) {
            Some(next) => -(next.x - (g.x + advance(g.gid))),
            None => 0.0,
        };
        items.push(Codepoint::with_cid(
            new_gid.get(&g.gid).copied().unwrap_or(0),
            offset,
            g.text.clone(),
        ));
    }
    out.extend([
        Op::StartTextSection,
        Op::SetTextCursor {
            pos: Point::new(Mm(t.x_mm), Mm(t.y_mm)),
        },
        Op::SetFont {
            font: PdfFontHandle::External(id.clone()),
            size: Pt(t.size),
        },
        Op::ShowText {
            items: vec![TextItem::GlyphIds(items)],
        },
        Op::EndTextSection,
    ]);
}

/// A glyph's advance in font units (0 when the font cannot say).
fn glyph_advance(face: &Face, gid: u16) -> u16 {
    use allsorts::tables::{FontTableProvider, HheaTable, HmtxTable, MaxpTable};
    let read = || -> Option<u16> {
        let data = ReadScope::new(face.bytes).read::<FontData<'_>>().ok()?;
        let provider = data.table_provider(face.index).ok()?;
        let maxp = provider.read_table_data(allsorts::tag::MAXP).ok()?;
        let maxp = ReadScope::new(&maxp).read::<MaxpTable>().ok()?;
        let hhea = provider.read_table_data(allsorts::tag::HHEA).ok()?;
        let hhea = ReadScope::new(&hhea).read::<HheaTable>().ok()?;
        let hmtx = provider.read_table_data(allsorts::tag::HMTX).ok()?;
        let hmtx = ReadScope::new(&hmtx)
            .read_dep::<HmtxTable<'_>>((
                usize::from(maxp.num_glyphs),
                usize::from(hhea.num_h_metrics),
            ))
            .ok()?;
        hmtx.horizontal_advance(gid).ok()
    };
    read().unwrap_or(0)
}

/// A face cut down to the glyphs a document uses, ready for printpdf.
struct SubsetFont {
    parsed: ParsedFont,
    /// Glyph id in the face -> glyph id in the subset.
    new_gid: HashMap<u16, u16>,
}

/// Subsets `face` to `used` (glyph 0 first, as the format wants) and names it with a subset
/// tag derived from the glyph set, so `pdffonts` and readers know it is a subset.
fn subset(face: &'static Face, used: &BTreeSet<u16>) -> Option<SubsetFont> {
    let ids: Vec<u16> = std::iter::once(0)
        .chain(used.iter().copied().filter(|&g| g != 0))
        .collect();
    let data = ReadScope::new(face.bytes).read::<FontData<'_>>().ok()?;
    let provider = data.table_provider(face.index).ok()?;
    let bytes = match allsorts::subset::subset(
        &provider,
        &ids,
        &allsorts::subset::SubsetProfile::Pdf,
        allsorts::subset::CmapTarget::Unicode,
    ) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(face = %face.name, error = %e, "a font could not be subset for a PDF ticket");
            return None;
        }
    };
    let mut parsed = ParsedFont::from_bytes(&bytes, 0, &mut Vec::new())?;
    let mut hash: u32 = 2_166_136_261;
    for g in &ids {
        for b in g.to_be_bytes() {
            hash = (hash ^ u32::from(b)).wrapping_mul(16_777_619);
        }
    }
    let tag: String = (0..6)
        .map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8))
        .collect();
    parsed.font_name = Some(format!("{tag}+{}", face.name));
    let new_gid = ids
        .iter()
        .enumerate()
        .filter_map(|(i, &g)| Some((g, u16::try_from(i).ok()?)))
        .collect();
    Some(SubsetFont { parsed, new_gid })
}

/// Draws the QR code as vector squares (one rectangle per run of dark modules), so it
/// prints sharp at any size.
fn qr_ops(ops: &mut Vec<Op>, code: &QrCode, x: f32, y_top: f32, side_mm: f32) {
    let width = code.width();
    let module = side_mm / width as f32;
    let colors = code.to_colors();
    ops.push(Op::SetFillColor {
        col: Color::Rgb(Rgb {
            r: 0.0,
            g: 0.0,
            b: 0.0,
            icc_profile: None,
        }),
    });
    for row in 0..width {
        let mut col = 0;
        while col < width {
            let dark = |c: usize| colors.get(row * width + c) == Some(&qrcode::Color::Dark);
            if !dark(col) {
                col += 1;
                continue;
            }
            let start = col;
            while col < width && dark(col) {
                col += 1;
            }
            let rect = Rect {
                mode: Some(PaintMode::Fill),
                ..Rect::from_xywh(
                    Mm(x + start as f32 * module).into(),
                    Mm(y_top - (row + 1) as f32 * module).into(),
                    Mm((col - start) as f32 * module).into(),
                    Mm(module).into(),
                )
            };
            ops.push(Op::DrawRectangle { rectangle: rect });
        }
    }
}

fn ticket_page(
    set: &mut Typesetter,
    order: &Order,
    ticket: &TicketView,
) -> Result<Vec<PageOp>, RenderError> {
    // A4 portrait; everything sits within 190 x 260 mm, so Letter prints it uncut too.
    let lang = Lang::parse(&order.lang).unwrap_or_default();
    let word = |key: &str, args: &[(&str, Arg<'_>)]| i18n::message(lang, key, args);
    // A name keeps its own direction inside a label (FSI … PDI, drawn as nothing), and on a
    // right-to-left document a line that is only a name ("3-Day Pass") too: it stands
    // against the right margin, read in its own direction.
    let iso = |name: &str| format!("\u{2068}{name}\u{2069}");
    let value = |name: &str| {
        if lang.is_rtl() {
            iso(name)
        } else {
            name.to_owned()
        }
    };
    let mut ops = Vec::new();
    let left = 20.0;
    let mut text_at = |ops: &mut Vec<PageOp>, x: f32, y: f32, size, bold, text: &str| {
        let place = Place {
            left: x,
            right: 190.0,
            y,
        };
        set.text(ops, place, size, bold, text);
    };
    text_at(
        &mut ops,
        left,
        270.0,
        22.0,
        true,
        &value(&ticket.event.name),
    );
    text_at(
        &mut ops,
        left,
        261.0,
        12.0,
        false,
        &value(&ticket.event.venue),
    );
    let dates = valid_days_in(lang, 0b1111_1111_1111_1111, &ticket.event.days);
    if let (Some(first), Some(last)) = (dates.first(), dates.last()) {
        text_at(
            &mut ops,
            left,
            254.0,
            12.0,
            false,
            &format!("{first} - {last} ({})", ticket.event.timezone),
        );
    }
    text_at(&mut ops, left, 238.0, 18.0, true, &value(&ticket.type_name));
    let kind = word(
        match ticket.kind {
            TicketKind::Pass => "pdf-pass",
            TicketKind::VendorBooth => "pdf-vendor-booth",
        },
        &[],
    );
    // A vendor pass names its business and booth, as the gate does, in the order's words.
    let kind = match i18n::vendor_line(lang, ticket) {
        Some(detail) => format!("{kind} - {}", iso(&detail)),
        None => kind,
    };
    text_at(&mut ops, left, 230.0, 11.0, false, &kind);
    text_at(
        &mut ops,
        left,
        221.0,
        12.0,
        false,
        &word(
            "valid-days",
            &[(
                "days",
                Arg::Text(&i18n::days_list(
                    lang,
                    &valid_days_in(lang, ticket.days_mask, &ticket.event.days),
                )),
            )],
        ),
    );
    text_at(
        &mut ops,
        left,
        213.0,
        12.0,
        false,
        &word(
            "holder-is",
            &[("name", Arg::Text(&iso(&ticket.holder_name)))],
        ),
    );
    text_at(
        &mut ops,
        left,
        205.0,
        12.0,
        false,
        &word(
            "pdf-order-ticket",
            &[
                ("number", Arg::Text(&order_number(order.id))),
                ("id", Arg::Number(ticket.id)),
            ],
        ),
    );
    if ticket.status != TicketStatus::Valid {
        text_at(&mut ops, left, 197.0, 14.0, true, &word("pdf-void", &[]));
    }
    let code = qr(&ticket.qr_text)?;
    // Centered, with a quiet zone of white paper around it.
    let mut qr_drawing = Vec::new();
    qr_ops(
        &mut qr_drawing,
        &code,
        (210.0 - PDF_QR_MM) / 2.0,
        185.0,
        PDF_QR_MM,
    );
    ops.extend(qr_drawing.into_iter().map(PageOp::Ready));
    text_at(
        &mut ops,
        left,
        110.0,
        10.0,
        false,
        &word("pdf-show-code", &[]),
    );
    if order.payment == Payment::Demo {
        text_at(&mut ops, left, 100.0, 14.0, true, &word("pdf-demo", &[]));
    } else if order.payment == Payment::Comp {
        text_at(&mut ops, left, 100.0, 12.0, true, &word("pdf-comp", &[]));
    }
    Ok(ops)
}

/// A PDF with one A4 page per ticket. Text is shaped, laid out by the bidi algorithm and
/// drawn in subsets of the faces it needs (`fonts.rs`), embedded in the document.
pub fn tickets_pdf(order: &Order, tickets: &[TicketView]) -> Result<Vec<u8>, RenderError> {
    let lang = Lang::parse(&order.lang).unwrap_or_default();
    let mut doc = PdfDocument::new(&i18n::message(
        lang,
        "pdf-title",
        &[("number", Arg::Text(&order_number(order.id)))],
    ));
    let mut set = Typesetter {
        rtl: lang.is_rtl(),
        ..Typesetter::default()
    };
    let pages = tickets
        .iter()
        .map(|t| ticket_page(&mut set, order, t))
        .collect::<Result<Vec<_>, _>>()?;
    let pages = set
        .finish(&mut doc, pages)
        .into_iter()
        .map(|ops| PdfPage::new(Mm(210.0), Mm(297.0), ops))
        .collect();
    Ok(doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::{
        BoothId, Claims, EventId, KeyId, Revision, TicketId, TicketSigner, TicketTypeId, ZoneMask,
    };

    fn longest_ticket() -> String {
        TicketSigner::from_seed(KeyId(u16::MAX), &[3; 32]).sign(&Claims {
            event: EventId(u32::MAX),
            ticket: TicketId((1 << 53) - 1),
            ticket_type: TicketTypeId(u16::MAX),
            revision: Revision(u16::MAX),
            days: DayMask(u16::MAX),
            zones: ZoneMask(u16::MAX),
            booth: std::num::NonZeroU16::new(u16::MAX).map(BoothId),
            issued_at: u32::MAX,
        })
    }

    #[test]
    fn a_signed_ticket_fits_qr_version_8_at_ecc_q() {
        let code = qr(&longest_ticket()).unwrap();
        assert!(matches!(code.version(), qrcode::Version::Normal(v) if v <= 8));
        assert_eq!(code.error_correction_level(), EcLevel::Q);
    }

    #[test]
    fn png_has_a_quiet_zone_and_svg_is_svg() {
        let png = qr_png(&longest_ticket()).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        // Four white modules (8 px each) all around.
        assert!((0..32).all(|i| img.get_pixel(i, i).0[0] == 255));
        assert!(qr_svg(&longest_ticket()).unwrap().starts_with("<?xml"));
    }

    #[test]
    fn money_and_days_read_like_people_write_them() {
        assert_eq!(money(3500, "USD"), "$35.00");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        let days = [
            NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
        ];
        assert_eq!(valid_days(0b10, &days), vec!["Sat 28 Nov 2026"]);
    }
}

#[cfg(test)]
mod printed {
    //! Real renders of tickets, read back with poppler (`pdftotext`, `pdffonts`, `pdftoppm`)
    //! and Tesseract, as a person or a printer would. A missing tool fails the test in CI
    //! and skips it, loudly, elsewhere (`./scripts/test` installs them).

    use super::*;
    use crate::store::{Event, OrderStatus};
    use std::path::Path;
    use std::process::Command;

    fn order() -> Order {
        Order {
            id: 4_242,
            email: "guest@example.com".into(),
            name: "Guest".into(),
            status: OrderStatus::Paid,
            payment: Payment::Stripe,
            total_cents: 3500,
            currency: "USD".into(),
            token_hash: Vec::new(),
            created_at: 0,
            upgrade_ticket_id: None,
            upgrade_from_type: None,
            token_revoked_at: None,
            lang: "en".into(),
        }
    }

    fn ticket(id: i64, holder: &str, detail: Option<&str>) -> TicketView {
        TicketView {
            id,
            order_id: 4_242,
            status: TicketStatus::Valid,
            revision: 0,
            holder_name: holder.into(),
            holder_email: None,
            superseded_by: None,
            transferable: detail.is_none(),
            days_mask: 0b111,
            zones: 1,
            booth: detail.map(|_| 12),
            detail: detail.map(str::to_owned),
            vendor_business: detail.map(|d| d.split(" · ").next().unwrap_or(d).to_owned()),
            booth_code: detail.map(|_| "B-12".to_owned()),
            key_id: 1,
            issued_at: 0,
            qr_text: "TESSERA-TEST-QR".into(),
            ticket_type_id: 1,
            type_name: if detail.is_some() {
                "Food Truck Booth"
            } else {
                "3-Day Pass"
            }
            .into(),
            kind: if detail.is_some() {
                TicketKind::VendorBooth
            } else {
                TicketKind::Pass
            },
            event: Event {
                id: 1,
                name: "Desert Lights Festival".into(),
                venue: "Dunes Park".into(),
                timezone: "Asia/Dubai".into(),
                days: vec![
                    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
                    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
                    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
                ],
            },
        }
    }

    /// Runs a poppler or Tesseract tool; `None` (after saying so) when it is not installed
    /// outside CI. In CI (`CI` set) a missing tool fails the test.
    #[allow(clippy::print_stderr)]
    fn tool(program: &str, args: &[&str], dir: &Path) -> Option<String> {
        match Command::new(program).args(args).current_dir(dir).output() {
            Ok(out) => {
                assert!(out.status.success(), "{program} {args:?}: {out:?}");
                Some(String::from_utf8(out.stdout).expect("tool output is UTF-8"))
            }
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("{program} is required in CI (./scripts/test installs it): {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED: {program} is not installed ({e}); ./scripts/test installs it");
                None
            }
        }
    }

    /// The PDF's text as `pdftotext` reads it, bidi marks removed.
    fn pdftotext(pdf: &[u8], dir: &Path) -> Option<String> {
        std::fs::write(dir.join("t.pdf"), pdf).unwrap();
        let text = tool("pdftotext", &["t.pdf", "-"], dir)?;
        Some(
            text.chars()
                .filter(|c| !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'))
                .collect(),
        )
    }

    /// The page read back by Tesseract (Arabic and English) from a 300 dpi raster, with
    /// spaces and bidi marks removed.
    fn ocr(pdf: &[u8], dir: &Path) -> Option<String> {
        std::fs::write(dir.join("o.pdf"), pdf).unwrap();
        tool(
            "pdftoppm",
            &["-r", "300", "-gray", "-png", "-singlefile", "o.pdf", "page"],
            dir,
        )?;
        let text = tool("tesseract", &["page.png", "-", "-l", "ara+eng"], dir)?;
        Some(squeeze(&text))
    }

    fn squeeze(text: &str) -> String {
        text.chars()
            .filter(|c| {
                !c.is_whitespace()
                    && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}')
            })
            .collect()
    }

    /// Every font `pdffonts` lists: (name, embedded, subset).
    fn fonts(pdf: &[u8], dir: &Path) -> Option<Vec<(String, bool, bool)>> {
        std::fs::write(dir.join("f.pdf"), pdf).unwrap();
        let list = tool("pdffonts", &["f.pdf"], dir)?;
        Some(
            list.lines()
                .skip(2)
                .map(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    let n = cols.len();
                    (
                        cols[0].to_owned(),
                        cols[n - 5] == "yes",
                        cols[n - 4] == "yes",
                    )
                })
                .collect(),
        )
    }

    fn assert_all_embedded_subsets(pdf: &[u8], dir: &Path) {
        let Some(fonts) = fonts(pdf, dir) else { return };
        assert!(!fonts.is_empty(), "the PDF has fonts");
        for (name, emb, sub) in &fonts {
            assert!(*emb && *sub, "{name}: embedded {emb}, subset {sub}");
        }
    }

    /// Where the first piece of a line starts, in mm from the page's left edge.
    fn line_start(rtl: bool, text: &str) -> f32 {
        let mut set = Typesetter {
            rtl,
            ..Typesetter::default()
        };
        let mut ops = Vec::new();
        let place = Place {
            left: 20.0,
            right: 190.0,
            y: 100.0,
        };
        set.text(&mut ops, place, 12.0, false, text);
        match ops.first() {
            Some(PageOp::Text(t)) => t.x_mm,
            _ => panic!("no text laid out"),
        }
    }

    #[test]
    fn an_arabic_document_sets_every_line_against_the_right_margin() {
        // A Latin event name on an Arabic ticket ends at the right margin, as its labels do.
        let start = line_start(true, "Desert Lights (demo)");
        assert!(start > 120.0 && start < 190.0, "{start}");
        assert_eq!(line_start(false, "Desert Lights (demo)"), 20.0);
        // An Arabic name on an English ticket still reads right to left on its own line.
        assert!(line_start(false, "محمد عبد الله") > 120.0);
    }

    #[test]
    fn an_arabic_holder_name_prints_in_logical_order_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let name = "محمد عبد الله";
        let pdf = tickets_pdf(&order(), &[ticket(1, name, None)]).unwrap();
        if let Some(text) = pdftotext(&pdf, dir.path()) {
            assert!(text.contains(&format!("Holder: {name}")), "{text}");
            assert!(!text.contains('?'), "{text}");
        }
        assert_all_embedded_subsets(&pdf, dir.path());
        if let Some(fonts) = fonts(&pdf, dir.path()) {
            assert!(
                fonts
                    .iter()
                    .any(|f| f.0.ends_with("+NotoSansArabic-Regular")),
                "{fonts:?}"
            );
        }
        if let Some(read) = ocr(&pdf, dir.path()) {
            assert!(read.contains(&squeeze(name)), "OCR read: {read}");
            assert!(read.contains("Holder:"), "OCR read: {read}");
        }
    }

    #[test]
    fn an_arabic_booth_prints_in_logical_order_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let business = "مطعم الشام للفلافل";
        let detail = format!("{business} · Booth B-12");
        let pdf = tickets_pdf(&order(), &[ticket(2, "Ada Lovelace", Some(&detail))]).unwrap();
        if let Some(text) = pdftotext(&pdf, dir.path()) {
            // The business name in logical order (the lām-alif ligature included), the booth
            // after it, nothing as question marks.
            assert!(text.contains(business), "{text}");
            assert!(text.contains("Booth B-12"), "{text}");
            assert!(!text.contains('?'), "{text}");
        }
        assert_all_embedded_subsets(&pdf, dir.path());
        if let Some(read) = ocr(&pdf, dir.path()) {
            assert!(read.contains(&squeeze(business)), "OCR read: {read}");
        }
        // Bought in Arabic: the booth's word is Arabic too; its code prints as it is.
        let arabic = Order {
            lang: "ar".into(),
            ..order()
        };
        let pdf = tickets_pdf(&arabic, &[ticket(2, "Ada Lovelace", Some(&detail))]).unwrap();
        if let Some(text) = pdftotext(&pdf, dir.path()) {
            assert!(text.contains(business), "{text}");
            assert!(text.contains("الجناح"), "{text}");
            assert!(text.contains("B-12"), "{text}");
            // (The ticket type's name, "Food Truck Booth", is the organizer's and stays.)
            assert!(!text.contains("Booth B-12"), "{text}");
        }
    }

    #[test]
    fn names_in_other_scripts_print_without_question_marks() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "שרה כהן",              // Hebrew: an installed face (fonts-noto-core)
            "Анна Петрова",         // Cyrillic: the shipped Latin face
            "Γιώργος Παπαδόπουλος", // Greek
            "Nguyễn Văn Anh",       // Vietnamese
            "王小明",               // Chinese: an installed face (fonts-noto-cjk)
            "Zażółć Gęślą",         // Polish
        ];
        let tickets: Vec<_> = names
            .iter()
            .zip(1..)
            .map(|(n, id)| ticket(id, n, None))
            .collect();
        let pdf = tickets_pdf(&order(), &tickets).unwrap();
        if let Some(text) = pdftotext(&pdf, dir.path()) {
            for name in names {
                assert!(text.contains(name), "{name} missing from: {text}");
            }
            assert!(!text.contains('?') && !text.contains("U+"), "{text}");
        }
        assert_all_embedded_subsets(&pdf, dir.path());
    }

    /// Bytes of a one-ticket and a ten-ticket PDF for a Latin and an Arabic holder; the
    /// figures in `docs/benchmarks.md` are what this prints with `--nocapture`.
    #[test]
    #[allow(clippy::print_stderr)]
    fn a_ticket_pdf_stays_small() {
        for holder in ["Ada Lovelace", "محمد عبد الله"] {
            let one = tickets_pdf(&order(), &[ticket(1, holder, None)])
                .unwrap()
                .len();
            let ten: Vec<_> = (1..=10).map(|id| ticket(id, holder, None)).collect();
            let ten = tickets_pdf(&order(), &ten).unwrap().len();
            eprintln!("pdf size: {holder}: 1 ticket {one} B, 10 tickets {ten} B");
            assert!(one < 40_000, "{holder}: one ticket is {one} B");
            assert!(ten < 10 * 12_000, "{holder}: ten tickets are {ten} B");
        }
    }

    #[test]
    fn a_character_no_font_has_prints_as_its_code_point() {
        let dir = tempfile::tempdir().unwrap();
        let pdf = tickets_pdf(&order(), &[ticket(1, "Ada \u{10FFFD}", None)]).unwrap();
        if let Some(text) = pdftotext(&pdf, dir.path()) {
            assert!(text.contains("Holder: Ada U+10FFFD"), "{text}");
        }
    }
}
