//! The official immunization record as a PDF: US Letter, the standard
//! Helvetica faces (no font file embedded), vector QR code. Laid out in two
//! passes (boxes per page, then the PDF objects) so every page can say
//! "page i of n". One page for a typical child's record; longer records
//! continue on further pages with a running header.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::metrics::{fit, width, win_ansi, wrap};
use crate::record::{DoseInfo, RecordDocument};
use crate::shc::HealthCard;

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 48.0;
const TOP: f32 = PAGE_H - MARGIN;
/// Content stops above the footer.
const BOTTOM: f32 = 64.0;
const RIGHT: f32 = PAGE_W - MARGIN;
const QR_SIZE: f32 = 176.0;
const ROW: f32 = 10.5;

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        gray: f32,
        text: Vec<u8>,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: f32,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
        gray: f32,
    },
    Qr {
        x: f32,
        y: f32,
        size: f32,
    },
}

struct Layout<'a> {
    doc: &'a RecordDocument,
    pages: Vec<Vec<Op>>,
    y: f32,
}

fn us_date(d: NaiveDate) -> String {
    d.format("%m/%d/%Y").to_string()
}

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map(us_date).unwrap_or_else(|| "-".into())
}

impl<'a> Layout<'a> {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str, max: f32) {
        let text = fit(&win_ansi(s), bold, size, max);
        self.ops().push(Op::Text {
            x,
            y,
            size,
            bold,
            gray: 0.0,
            text,
        });
    }

    fn gray_text(&mut self, x: f32, y: f32, size: f32, s: &str, max: f32) {
        let text = fit(&win_ansi(s), false, size, max);
        self.ops().push(Op::Text {
            x,
            y,
            size,
            bold: false,
            gray: 0.35,
            text,
        });
    }

    fn rule(&mut self, y: f32, width: f32, gray: f32) {
        self.ops().push(Op::Rule {
            x1: MARGIN,
            x2: RIGHT,
            y,
            width,
            gray,
        });
    }

    /// Starts a new page when fewer than `needed` points are left.
    fn ensure(&mut self, needed: f32) {
        if self.y - needed >= BOTTOM {
            return;
        }
        self.pages.push(Vec::new());
        self.y = TOP;
        let p = &self.doc.person;
        let head = format!(
            "{} - born {} (continued)",
            p.display_name(),
            us_date(p.birth_date)
        );
        self.y -= 10.0;
        self.gray_text(MARGIN, self.y, 8.5, &head, RIGHT - MARGIN);
        self.y -= 6.0;
        self.rule(self.y, 0.5, 0.6);
        self.y -= 14.0;
    }

    /// Registry header, title, person and the QR code at the top right.
    fn first_page_top(&mut self) {
        let doc = self.doc;
        let qr_x = RIGHT - QR_SIZE;
        let left_max = qr_x - MARGIN - 16.0;
        self.ops().push(Op::Qr {
            x: qr_x,
            y: TOP - QR_SIZE,
            size: QR_SIZE,
        });
        let cap_y = TOP - QR_SIZE - 10.0;
        self.text(qr_x + 6.0, cap_y, 8.0, true, "SMART Health Card", QR_SIZE);
        self.gray_text(
            qr_x + 6.0,
            cap_y - 10.0,
            7.0,
            "Scan with a SMART Health Card verifier",
            QR_SIZE,
        );
        let mut y = TOP - 13.0;
        for line in wrap(&win_ansi(&doc.registry_name), true, 13.0, left_max) {
            self.ops().push(Op::Text {
                x: MARGIN,
                y,
                size: 13.0,
                bold: true,
                gray: 0.0,
                text: line,
            });
            y -= 15.0;
        }
        for line in &doc.registry_lines {
            y += 2.0;
            self.gray_text(MARGIN, y, 8.0, line, left_max);
            y -= 10.0;
        }
        y -= 12.0;
        self.text(
            MARGIN,
            y,
            14.0,
            true,
            "Official Immunization Record",
            left_max,
        );
        y -= 24.0;
        let p = &doc.person;
        self.gray_text(MARGIN, y, 7.5, "NAME", left_max);
        y -= 14.0;
        self.text(MARGIN, y, 13.0, true, &p.display_name(), left_max);
        y -= 20.0;
        let mut fields: Vec<(&str, String)> = vec![("DATE OF BIRTH", us_date(p.birth_date))];
        if let Some(s) = p.sex.as_deref().filter(|s| !s.is_empty()) {
            fields.push(("SEX", s.to_string()));
        }
        if let Some(id) = p.registry_id.as_deref().filter(|s| !s.is_empty()) {
            fields.push(("REGISTRY ID", id.to_string()));
        }
        fields.push(("ISSUED ON", us_date(doc.issued_on)));
        let col_w = left_max / 2.0;
        for pair in fields.chunks(2) {
            for (i, (label, value)) in pair.iter().enumerate() {
                let x = MARGIN + i as f32 * col_w;
                self.gray_text(x, y, 7.5, label, col_w - 6.0);
                self.text(x, y - 13.0, 10.5, false, value, col_w - 6.0);
            }
            y -= 30.0;
        }
        for note in &doc.notes {
            for line in wrap(&win_ansi(note), false, 8.5, left_max) {
                self.ops().push(Op::Text {
                    x: MARGIN,
                    y,
                    size: 8.5,
                    bold: false,
                    gray: 0.2,
                    text: line,
                });
                y -= 11.0;
            }
        }
        self.y = y.min(cap_y - 14.0) - 4.0;
        self.rule(self.y, 1.0, 0.0);
        self.y -= 18.0;
    }

    fn doses(&mut self) {
        let doc = self.doc;
        self.ensure(60.0);
        self.text(
            MARGIN,
            self.y,
            11.0,
            true,
            "Vaccinations (valid doses)",
            RIGHT - MARGIN,
        );
        self.y -= 15.0;
        // Groups in order of their first dose; a combination vaccine is
        // listed under every group it counts for.
        let mut order: Vec<&str> = Vec::new();
        let mut by_group: BTreeMap<&str, Vec<&DoseInfo>> = BTreeMap::new();
        for d in &doc.doses {
            let groups: Vec<&str> = if d.groups.is_empty() {
                vec!["Other"]
            } else {
                d.groups.iter().map(String::as_str).collect()
            };
            for g in groups {
                if !order.contains(&g) {
                    order.push(g);
                }
                by_group.entry(g).or_default().push(d);
            }
        }
        if order.is_empty() {
            self.gray_text(
                MARGIN,
                self.y,
                9.0,
                "No vaccinations on record.",
                RIGHT - MARGIN,
            );
            self.y -= 18.0;
            return;
        }
        let cols = [MARGIN + 2.0, 150.0, 204.0, 376.0, 404.0];
        let col_head = |l: &mut Layout<'_>| {
            for (x, h) in cols.iter().zip([
                "Vaccine group",
                "Date",
                "Vaccine",
                "CVX",
                "Provider / facility",
            ]) {
                l.gray_text(*x, l.y, 7.5, h, 200.0);
            }
            l.y -= 4.0;
            l.rule(l.y, 0.5, 0.6);
            l.y -= 10.0;
        };
        col_head(self);
        for (gi, g) in order.into_iter().enumerate() {
            let doses = by_group.get(g).cloned().unwrap_or_default();
            if gi % 2 == 1 {
                // Alternate groups are shaded so the eye keeps them apart.
                let rows = doses.len() as f32;
                if self.y - rows * ROW >= BOTTOM {
                    let band_y = self.y - (rows - 1.0) * ROW - 3.0;
                    self.ops().push(Op::Fill {
                        x: MARGIN,
                        y: band_y,
                        w: RIGHT - MARGIN,
                        h: (rows - 1.0) * ROW + ROW,
                        gray: 0.93,
                    });
                }
            }
            for (i, d) in doses.into_iter().enumerate() {
                let before = self.pages.len();
                self.ensure(ROW);
                let new_page = self.pages.len() != before;
                if new_page {
                    col_head(self);
                }
                let y = self.y;
                if i == 0 || new_page {
                    self.text(cols[0], y, 8.0, true, g, cols[1] - cols[0] - 4.0);
                }
                self.text(
                    cols[1],
                    y,
                    8.0,
                    false,
                    &us_date(d.date),
                    cols[2] - cols[1] - 4.0,
                );
                self.text(cols[2], y, 8.0, false, &d.vaccine, cols[3] - cols[2] - 6.0);
                self.text(cols[3], y, 8.0, false, &d.cvx, cols[4] - cols[3] - 4.0);
                let prov = d.provider.as_deref().unwrap_or("-");
                self.text(cols[4], y, 8.0, false, prov, RIGHT - cols[4]);
                self.y -= ROW;
            }
        }
        self.y -= 12.0;
    }

    fn due(&mut self) {
        let doc = self.doc;
        self.ensure(50.0);
        let title = format!("Due and upcoming (as of {})", us_date(doc.issued_on));
        self.text(MARGIN, self.y, 11.0, true, &title, RIGHT - MARGIN);
        self.y -= 15.0;
        if doc.due.is_empty() {
            self.gray_text(
                MARGIN,
                self.y,
                9.0,
                "No forecast is available for this record.",
                RIGHT - MARGIN,
            );
            self.y -= 16.0;
            return;
        }
        let cols = [MARGIN + 4.0, 190.0, 300.0, 340.0, 412.0, 490.0];
        let heads = [
            "Vaccine group",
            "Status",
            "Dose",
            "Earliest",
            "Recommended",
            "Past due",
        ];
        let head = |l: &mut Layout<'_>| {
            for (x, h) in cols.iter().zip(heads) {
                l.gray_text(*x, l.y, 7.5, h, 100.0);
            }
            l.y -= 4.0;
            l.rule(l.y, 0.5, 0.6);
            l.y -= 10.0;
        };
        head(self);
        for d in &doc.due {
            let before = self.pages.len();
            self.ensure(ROW);
            if self.pages.len() != before {
                head(self);
            }
            let y = self.y;
            let due_now = d.past_due.is_some_and(|p| p <= doc.issued_on)
                || d.recommended.is_some_and(|r| r <= doc.issued_on);
            self.text(cols[0], y, 8.0, due_now, &d.group, cols[1] - cols[0] - 4.0);
            self.text(cols[1], y, 8.0, false, &d.status, cols[2] - cols[1] - 4.0);
            let n = d.dose_number.map(|n| n.to_string()).unwrap_or("-".into());
            self.text(cols[2], y, 8.0, false, &n, cols[3] - cols[2] - 4.0);
            self.text(cols[3], y, 8.0, false, &opt_date(d.earliest), 70.0);
            self.text(cols[4], y, 8.0, due_now, &opt_date(d.recommended), 76.0);
            self.text(
                cols[5],
                y,
                8.0,
                false,
                &opt_date(d.past_due),
                RIGHT - cols[5],
            );
            self.y -= ROW;
        }
        self.y -= 8.0;
    }
}

fn lay_out(doc: &RecordDocument) -> Vec<Vec<Op>> {
    let mut l = Layout {
        doc,
        pages: vec![Vec::new()],
        y: TOP,
    };
    l.first_page_top();
    l.doses();
    l.due();
    let n = l.pages.len();
    let foot = format!(
        "Issued {} by {}. The QR code is a SMART Health Card signed by the registry.",
        us_date(doc.issued_on),
        doc.registry_name
    );
    let foot = win_ansi(&foot);
    for (i, page) in l.pages.iter_mut().enumerate() {
        let pg = win_ansi(&format!("Page {} of {n}", i + 1));
        let pg_w = width(&pg, false, 7.5);
        page.push(Op::Rule {
            x1: MARGIN,
            x2: RIGHT,
            y: 50.0,
            width: 0.5,
            gray: 0.6,
        });
        page.push(Op::Text {
            x: MARGIN,
            y: 38.0,
            size: 7.0,
            bold: false,
            gray: 0.35,
            text: fit(&foot, false, 7.0, RIGHT - MARGIN - pg_w - 12.0),
        });
        page.push(Op::Text {
            x: RIGHT - pg_w,
            y: 38.0,
            size: 7.5,
            bold: false,
            gray: 0.35,
            text: pg,
        });
    }
    l.pages
}

/// The dark modules of the QR code as rectangles (horizontal runs merged),
/// with the 4-module quiet zone inside `size`.
fn draw_qr(c: &mut Content, card: &HealthCard, x: f32, y: f32, size: f32) {
    let n = card.qr.width();
    let colors = card.qr.to_colors();
    let quiet = 4usize;
    let module = size / (n + 2 * quiet) as f32;
    c.set_fill_gray(1.0);
    c.rect(x, y, size, size);
    c.fill_nonzero();
    c.set_fill_gray(0.0);
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if colors[row * n + col] == qrcode::Color::Dark {
                let start = col;
                while col < n && colors[row * n + col] == qrcode::Color::Dark {
                    col += 1;
                }
                let rx = x + (start + quiet) as f32 * module;
                let ry = y + size - (row + quiet + 1) as f32 * module;
                c.rect(rx, ry, (col - start) as f32 * module, module);
            } else {
                col += 1;
            }
        }
    }
    c.fill_nonzero();
}

/// The official record as PDF bytes; the verification QR code is the
/// record's SMART Health Card (`card`, signed by the registry beforehand).
pub fn official_record_pdf(doc: &RecordDocument, card: &HealthCard) -> Vec<u8> {
    let pages = lay_out(doc);
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let mut next = 6;
    let mut ids = Vec::new();
    for _ in &pages {
        ids.push((Ref::new(next), Ref::new(next + 1)));
        next += 2;
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(p, _)| *p))
        .count(i32::try_from(ids.len()).unwrap_or(i32::MAX));
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let d = doc.issued_on;
    let year = u16::try_from(chrono::Datelike::year(&d)).unwrap_or(2000);
    let month = u8::try_from(chrono::Datelike::month(&d)).unwrap_or(1);
    let day = u8::try_from(chrono::Datelike::day(&d)).unwrap_or(1);
    {
        let mut di = pdf.document_info(info);
        di.title(TextStr("Official Immunization Record"));
        di.producer(TextStr("Immunis"));
        di.creation_date(Date::new(year).month(month).day(day));
    }
    for ((page_id, content_id), ops) in ids.iter().zip(&pages) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree);
        page.contents(*content_id);
        page.resources()
            .fonts()
            .pair(Name(b"F1"), regular)
            .pair(Name(b"F2"), bold);
        page.finish();
        let mut c = Content::new();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    gray,
                    text,
                } => {
                    c.set_fill_gray(*gray);
                    c.begin_text();
                    c.set_font(Name(if *bold { b"F2" } else { b"F1" }), *size);
                    c.next_line(*x, *y);
                    c.show(Str(text));
                    c.end_text();
                }
                Op::Fill { x, y, w, h, gray } => {
                    c.set_fill_gray(*gray);
                    c.rect(*x, *y, *w, *h);
                    c.fill_nonzero();
                }
                Op::Rule {
                    x1,
                    x2,
                    y,
                    width,
                    gray,
                } => {
                    c.set_stroke_gray(*gray);
                    c.set_line_width(*width);
                    c.move_to(*x1, *y);
                    c.line_to(*x2, *y);
                    c.stroke();
                }
                Op::Qr { x, y, size } => draw_qr(&mut c, card, *x, *y, *size),
            }
        }
        let raw = c.finish();
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
        pdf.stream(*content_id, &packed).filter(Filter::FlateDecode);
    }
    pdf.finish()
}

/// Pages the layout would produce (for tests).
#[cfg(test)]
pub(crate) fn page_count(doc: &RecordDocument) -> usize {
    lay_out(doc).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::child_record;

    #[test]
    fn typical_record_fits_one_page_and_long_ones_continue() {
        assert_eq!(page_count(&child_record(25)), 1);
        assert!(page_count(&child_record(120)) > 1);
    }
}
