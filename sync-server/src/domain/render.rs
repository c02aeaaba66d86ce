//! Issuance outputs: the QR code of a ticket as PNG and SVG, and printable PDF tickets (one
//! page per ticket) with printpdf. Pure functions of stored data; owns layout, not access.

use chrono::NaiveDate;
use printpdf::{
    BuiltinFont, Color, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Pt, Rect, Rgb, TextItem,
};
use qrcode::{EcLevel, QrCode};
use tessera_core::DayMask;

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
    DayMask(days_mask)
        .days()
        .filter_map(|d| event_days.get(d))
        .map(|d| d.format("%a %-d %b %Y").to_string())
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

/// Builtin PDF fonts only cover Latin-1; other characters print as `?` rather than garble.
fn latin1(text: &str) -> String {
    text.chars()
        .map(|c| {
            if u32::from(c) < 256 && !c.is_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn text_at(ops: &mut Vec<Op>, x: f32, y: f32, size: f32, bold: bool, text: &str) {
    ops.extend([
        Op::StartTextSection,
        Op::SetTextCursor {
            pos: Point::new(Mm(x), Mm(y)),
        },
        Op::SetFont {
            font: PdfFontHandle::Builtin(if bold {
                BuiltinFont::HelveticaBold
            } else {
                BuiltinFont::Helvetica
            }),
            size: Pt(size),
        },
        Op::ShowText {
            items: vec![TextItem::Text(latin1(text))],
        },
        Op::EndTextSection,
    ]);
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

fn ticket_page(order: &Order, ticket: &TicketView) -> Result<PdfPage, RenderError> {
    // A4 portrait; everything sits within 190 x 260 mm, so Letter prints it uncut too.
    let mut ops = Vec::new();
    let left = 20.0;
    text_at(&mut ops, left, 270.0, 22.0, true, &ticket.event.name);
    text_at(&mut ops, left, 261.0, 12.0, false, &ticket.event.venue);
    let dates = valid_days(0b1111_1111_1111_1111, &ticket.event.days);
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
    text_at(&mut ops, left, 238.0, 18.0, true, &ticket.type_name);
    let kind = match ticket.kind {
        TicketKind::Pass => "Pass",
        TicketKind::VendorBooth => "Vendor booth (not transferable)",
    };
    // A vendor pass names its business and booth, as the gate does.
    let kind = match &ticket.detail {
        Some(detail) => format!("{kind} - {}", detail.replace('·', "-")),
        None => kind.to_owned(),
    };
    text_at(&mut ops, left, 230.0, 11.0, false, &kind);
    text_at(
        &mut ops,
        left,
        221.0,
        12.0,
        false,
        &format!(
            "Valid: {}",
            valid_days(ticket.days_mask, &ticket.event.days).join(", ")
        ),
    );
    text_at(
        &mut ops,
        left,
        213.0,
        12.0,
        false,
        &format!("Holder: {}", ticket.holder_name),
    );
    text_at(
        &mut ops,
        left,
        205.0,
        12.0,
        false,
        &format!("Order {}   Ticket {}", order_number(order.id), ticket.id),
    );
    if ticket.status != TicketStatus::Valid {
        text_at(
            &mut ops,
            left,
            197.0,
            14.0,
            true,
            "VOID - this ticket is not valid",
        );
    }
    let code = qr(&ticket.qr_text)?;
    // Centered, with a quiet zone of white paper around it.
    qr_ops(&mut ops, &code, (210.0 - PDF_QR_MM) / 2.0, 185.0, PDF_QR_MM);
    text_at(
        &mut ops,
        left,
        110.0,
        10.0,
        false,
        "Show this code at the gate, on paper or on your phone. One entry per valid day.",
    );
    if order.payment == Payment::Demo {
        text_at(
            &mut ops,
            left,
            100.0,
            14.0,
            true,
            "DEMO ORDER - no payment was taken; not valid at a real event.",
        );
    } else if order.payment == Payment::Comp {
        text_at(&mut ops, left, 100.0, 12.0, true, "Complimentary ticket");
    }
    Ok(PdfPage::new(Mm(210.0), Mm(297.0), ops))
}

/// A PDF with one A4 page per ticket.
pub fn tickets_pdf(order: &Order, tickets: &[TicketView]) -> Result<Vec<u8>, RenderError> {
    let mut doc = PdfDocument::new(&format!("Tickets - order {}", order_number(order.id)));
    let pages = tickets
        .iter()
        .map(|t| ticket_page(order, t))
        .collect::<Result<Vec<_>, _>>()?;
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
