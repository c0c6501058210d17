//! Advance widths of the standard Helvetica faces (Adobe core-14 AFM
//! metrics, 1/1000 em) for printable ASCII, to measure and truncate text.
//! Other characters are measured as an average glyph.

const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// Width of one WinAnsi byte in points at `size`.
fn byte_width(b: u8, bold: bool, size: f32) -> f32 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    let w = match b {
        32..=126 => table[usize::from(b - 32)],
        _ => 556,
    };
    f32::from(w) * size / 1000.0
}

/// Width of WinAnsi-encoded text in points.
pub fn width(text: &[u8], bold: bool, size: f32) -> f32 {
    text.iter().map(|b| byte_width(*b, bold, size)).sum()
}

/// Encodes text for a standard font with WinAnsiEncoding: Latin-1
/// characters as themselves, others transliterated (`deunicode`), and
/// control characters dropped.
pub fn win_ansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let u = u32::from(c);
        if (32..127).contains(&u) || (160..=255).contains(&u) {
            out.push(u8::try_from(u).unwrap_or(b'?'));
        } else if u < 32 || (127..160).contains(&u) {
            if c == '\t' {
                out.push(b' ');
            }
        } else {
            let t = deunicode::deunicode_char(c).unwrap_or("?");
            out.extend(t.bytes().filter(|b| (32..127).contains(b)));
        }
    }
    out
}

/// Text cut to fit `max` points, with "..." when cut.
pub fn fit(text: &[u8], bold: bool, size: f32, max: f32) -> Vec<u8> {
    if width(text, bold, size) <= max {
        return text.to_vec();
    }
    let ell = width(b"...", bold, size);
    let mut out = Vec::new();
    let mut w = 0.0;
    for b in text {
        let bw = byte_width(*b, bold, size);
        if w + bw + ell > max {
            break;
        }
        w += bw;
        out.push(*b);
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    out.extend_from_slice(b"...");
    out
}

/// Greedy word wrap into lines no wider than `max` points.
pub fn wrap(text: &[u8], bold: bool, size: f32, max: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in text.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if width(&candidate, bold, size) <= max || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line.extend_from_slice(word);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
        .into_iter()
        .map(|l| fit(&l, bold, size, max))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_fits() {
        assert_eq!(win_ansi("Zoë Ł"), b"Zo\xeb L".to_vec());
        let long = win_ansi("Pneumococcal conjugate vaccine 13-valent (PCV13)");
        let cut = fit(&long, false, 9.0, 100.0);
        assert!(cut.ends_with(b"...") && width(&cut, false, 9.0) <= 100.0);
        assert_eq!(fit(b"DTaP", false, 9.0, 100.0), b"DTaP".to_vec());
        let lines = wrap(b"one two three four five six", false, 10.0, 50.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| width(l, false, 10.0) <= 50.0));
    }
}
