//! HL7 v2 text assembly: escaping, DT/TS formatting and a small segment builder.
//!
//! Encoding characters are the standard `|^~\&`. Text values go through
//! [`push_escaped`]; separators are written by the builder, never by data.

use chrono::{Datelike, NaiveDate, Weekday};

/// Bytes that need escaping (a table: this check runs on every text field).
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'|' as usize] = true;
    t[b'^' as usize] = true;
    t[b'&' as usize] = true;
    t[b'~' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

/// Appends `s` with HL7 delimiters escaped (`\` → `\E\`, `|` → `\F\`,
/// `^` → `\S\`, `&` → `\T\`, `~` → `\R\`); CR/LF become spaces.
pub fn push_escaped(buf: &mut String, s: &str) {
    if !s.bytes().any(|b| SPECIAL[usize::from(b)]) {
        buf.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => buf.push_str("\\E\\"),
            '|' => buf.push_str("\\F\\"),
            '^' => buf.push_str("\\S\\"),
            '&' => buf.push_str("\\T\\"),
            '~' => buf.push_str("\\R\\"),
            '\r' | '\n' => buf.push(' '),
            c => buf.push(c),
        }
    }
}

/// Escapes into a new string.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// Reverses [`escape`] (for tests and consumers that want plain text).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let mapped = match after.get(..2) {
            Some("E\\") => Some('\\'),
            Some("F\\") => Some('|'),
            Some("S\\") => Some('^'),
            Some("T\\") => Some('&'),
            Some("R\\") => Some('~'),
            _ => None,
        };
        match mapped {
            Some(c) => {
                out.push(c);
                rest = &after[2..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn push_digits(buf: &mut String, mut v: u32, width: usize) {
    let mut tmp = [b'0'; 10];
    for i in (0..width.min(10)).rev() {
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &b in &tmp[..width.min(10)] {
        buf.push(char::from(b));
    }
}

/// `YYYYMMDD`.
pub fn push_date(buf: &mut String, d: NaiveDate) {
    push_digits(buf, d.year().max(0) as u32, 4);
    push_digits(buf, d.month(), 2);
    push_digits(buf, d.day(), 2);
}

pub fn date_str(d: NaiveDate) -> String {
    let mut s = String::with_capacity(8);
    push_date(&mut s, d);
    s
}

/// `YYYYMMDDHHMMSS-0500` (or `-0400` in US daylight saving time): Massachusetts local time.
pub fn push_ts(buf: &mut String, d: NaiveDate, seconds_of_day: u32) {
    push_date(buf, d);
    let s = seconds_of_day.min(86_399);
    push_digits(buf, s / 3600, 2);
    push_digits(buf, (s / 60) % 60, 2);
    push_digits(buf, s % 60, 2);
    buf.push_str(if us_eastern_dst(d) { "-0400" } else { "-0500" });
}

fn nth_sunday(year: i32, month: u32, n: u32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n as u8)
}

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    (1..=5).rev().find_map(|n| nth_sunday(year, month, n))
}

/// Whether US Eastern daylight saving time is in force on `d` (rules of 1987–2006
/// and 2007 on; the switch day itself counts as the new regime).
pub fn us_eastern_dst(d: NaiveDate) -> bool {
    let y = d.year();
    let (start, end) = if y >= 2007 {
        (nth_sunday(y, 3, 2), nth_sunday(y, 11, 1))
    } else {
        (nth_sunday(y, 4, 1), last_sunday(y, 10))
    };
    match (start, end) {
        (Some(s), Some(e)) => s <= d && d < e,
        _ => false,
    }
}

/// Writes one segment: fields are addressed by number so positions are explicit.
pub struct Seg<'a> {
    buf: &'a mut String,
    field: usize,
}

impl<'a> Seg<'a> {
    pub fn new(buf: &'a mut String, name: &str) -> Seg<'a> {
        buf.push_str(name);
        Seg { buf, field: 0 }
    }

    /// `MSH|^~\&`: positioned after MSH-2.
    pub fn msh(buf: &'a mut String) -> Seg<'a> {
        buf.push_str("MSH|^~\\&");
        Seg { buf, field: 2 }
    }

    /// Moves to field `n` (must not go backwards) and returns the buffer for raw writes.
    pub fn at(&mut self, n: usize) -> &mut String {
        while self.field < n {
            self.buf.push('|');
            self.field += 1;
        }
        self.buf
    }

    /// Field `n` = escaped text.
    pub fn text(&mut self, n: usize, s: &str) -> &mut Self {
        let b = self.at(n);
        push_escaped(b, s);
        self
    }

    /// Field `n` = `s` written as is (a constant that already holds separators).
    pub fn raw(&mut self, n: usize, s: &str) -> &mut Self {
        self.at(n).push_str(s);
        self
    }

    /// Field `n` = components, each escaped, joined by `^` (trailing empties trimmed).
    pub fn comps(&mut self, n: usize, parts: &[&str]) -> &mut Self {
        let last = parts.iter().rposition(|p| !p.is_empty());
        let b = self.at(n);
        if let Some(last) = last {
            for (i, p) in parts[..=last].iter().enumerate() {
                if i > 0 {
                    b.push('^');
                }
                push_escaped(b, p);
            }
        }
        self
    }

    /// Field `n` = a date.
    pub fn date(&mut self, n: usize, d: NaiveDate) -> &mut Self {
        let b = self.at(n);
        push_date(b, d);
        self
    }

    pub fn end(self) {
        self.buf.push('\r');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn escaping_round_trips() {
        let raw = r"Smith|Jones^A&B~C\D";
        let e = escape(raw);
        assert_eq!(e, r"Smith\F\Jones\S\A\T\B\R\C\E\D");
        assert!(!e.contains('|') && !e.contains('^') && !e.contains('&') && !e.contains('~'));
        assert_eq!(unescape(&e), raw);
        assert_eq!(escape("O'Brien"), "O'Brien");
        assert_eq!(escape("a\rb"), "a b");
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(date_str(d(2011, 4, 1)), "20110401");
        let mut s = String::new();
        push_ts(&mut s, d(2024, 7, 4), 13 * 3600 + 5 * 60 + 9);
        assert_eq!(s, "20240704130509-0400");
        s.clear();
        push_ts(&mut s, d(2024, 1, 15), 0);
        assert_eq!(s, "20240115000000-0500");
        assert!(us_eastern_dst(d(2024, 3, 10)));
        assert!(!us_eastern_dst(d(2024, 3, 9)));
        assert!(!us_eastern_dst(d(2024, 11, 3)));
        assert!(us_eastern_dst(d(2005, 10, 29)));
        assert!(!us_eastern_dst(d(2005, 10, 30)));
    }

    #[test]
    fn segment_builder_positions_fields() {
        let mut buf = String::new();
        let mut s = Seg::new(&mut buf, "PID");
        s.text(1, "1")
            .comps(5, &["Smith", "Ann", "", "", "", "", "L"]);
        s.comps(7, &["x", "", ""]);
        s.end();
        assert_eq!(buf, "PID|1||||Smith^Ann^^^^^L||x\r");
        let mut buf = String::new();
        let mut m = Seg::msh(&mut buf);
        m.text(3, "APP").text(4, "MA0001");
        m.end();
        assert_eq!(buf, "MSH|^~\\&|APP|MA0001\r");
    }
}
