//! Evaluation boundary: the AIRA / MIIS patient-matching test-file format.
//!
//! A file is a sequence of blocks:
//!
//! ```text
//! TEST: S-1:ADDRESS_CHANGED:IDEAL-IDEAL
//! EXPECT: Match | Possible Match | Not a Match | Not Sure
//! PATIENT A: key=value,key=value,...
//! PATIENT B: key=value,...
//! ```
//!
//! [`parse`] turns the text into [`TestCase`]s (errors carry line numbers),
//! [`to_record`] maps the key/value pairs onto a [`MatchRecord`], and
//! [`run_match_pairs`] is the whole `immunis match-pairs FILE` contract: one
//! `TEST_ID<TAB>outcome` line per test on `out`, in file order, then a
//! confusion matrix on `err`.

use std::io::Write;

use chrono::NaiveDate;

use crate::error::AiraError;
use crate::record::{
    Address, Identifier, IdentifierKind, MatchRecord, MultipleBirth, PersonName, Sex, Shot,
};
use crate::score::{Matcher, Outcome};

/// One labelled pair.
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    /// The test id as written after `TEST:`.
    pub id: String,
    /// Expected outcome; `None` for "Not Sure".
    pub expected: Option<Outcome>,
    /// Patient A.
    pub a: MatchRecord,
    /// Patient B.
    pub b: MatchRecord,
    /// 1-based line number of the `TEST:` line.
    pub line: usize,
}

/// Parses a whole test file.
pub fn parse(text: &str) -> Result<Vec<TestCase>, AiraError> {
    struct Partial {
        id: String,
        line: usize,
        expected: Option<Option<Outcome>>,
        a: Option<MatchRecord>,
        b: Option<MatchRecord>,
    }
    fn finish(p: Partial) -> Result<TestCase, AiraError> {
        let err = |what: &str| AiraError::Parse {
            line: p.line,
            message: format!("test {:?} has no {what}", p.id),
        };
        Ok(TestCase {
            expected: p.expected.ok_or_else(|| err("EXPECT line"))?,
            a: p.a.clone().ok_or_else(|| err("PATIENT A line"))?,
            b: p.b.clone().ok_or_else(|| err("PATIENT B line"))?,
            id: p.id,
            line: p.line,
        })
    }

    let mut cases = Vec::new();
    let mut current: Option<Partial> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let perr = |message: String| AiraError::Parse {
            line: line_no,
            message,
        };
        if let Some(id) = line.strip_prefix("TEST:") {
            if let Some(p) = current.take() {
                cases.push(finish(p)?);
            }
            let id = id.trim();
            if id.is_empty() {
                return Err(perr("empty test id".into()));
            }
            current = Some(Partial {
                id: id.to_owned(),
                line: line_no,
                expected: None,
                a: None,
                b: None,
            });
            continue;
        }
        let Some(p) = current.as_mut() else {
            return Err(perr(format!("expected a TEST: line, found {line:?}")));
        };
        if let Some(e) = line.strip_prefix("EXPECT:") {
            let expected = match e.trim() {
                "Match" => Some(Outcome::Match),
                "Possible Match" => Some(Outcome::PossibleMatch),
                "Not a Match" => Some(Outcome::NotAMatch),
                "Not Sure" => None,
                other => return Err(perr(format!("unknown expectation {other:?}"))),
            };
            p.expected = Some(expected);
        } else if let Some(fields) = line.strip_prefix("PATIENT A:") {
            p.a = Some(to_record(&parse_fields(fields)));
        } else if let Some(fields) = line.strip_prefix("PATIENT B:") {
            p.b = Some(to_record(&parse_fields(fields)));
        } else {
            return Err(perr(format!("unrecognized line {line:?}")));
        }
    }
    if let Some(p) = current.take() {
        cases.push(finish(p)?);
    }
    Ok(cases)
}

/// Splits `key=value,key=value,` into pairs. A piece without `=` belongs to
/// the previous value (a value containing a comma).
pub fn parse_fields(s: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for piece in s.trim().split(',') {
        match piece.split_once('=') {
            Some((k, v)) => out.push((k.trim().to_owned(), v.trim().to_owned())),
            None if piece.trim().is_empty() => {}
            None => {
                if let Some(last) = out.last_mut() {
                    last.1.push(',');
                    last.1.push_str(piece);
                }
            }
        }
    }
    out
}

/// Maps AIRA keys onto a [`MatchRecord`]. Unknown keys are ignored.
pub fn to_record(fields: &[(String, String)]) -> MatchRecord {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let mut r = MatchRecord {
        name: PersonName {
            first: get("nameFirst").into(),
            middle: get("nameMiddle").into(),
            last: get("nameLast").into(),
            suffix: get("nameSuffix").into(),
        },
        ..MatchRecord::default()
    };
    // nameLastHyph is the other surname of a (potentially) hyphenated name.
    let hyph = get("nameLastHyph");
    if !hyph.is_empty() {
        r.aliases.push(PersonName {
            last: hyph.into(),
            ..PersonName::default()
        });
    }
    // nameAlias is an alternate given name.
    let alias = get("nameAlias");
    if !alias.is_empty() {
        r.aliases.push(PersonName {
            first: alias.into(),
            ..PersonName::default()
        });
    }
    r.birth_date = NaiveDate::parse_from_str(get("birthDate"), "%Y%m%d").ok();
    r.sex = Sex::parse(get("gender"));
    r.mother_maiden_name = get("motherMaidenName").into();
    let (gf, gl) = (get("guardianNameFirst"), get("guardianNameLast"));
    if !gf.is_empty() || !gl.is_empty() {
        r.guardians.push(PersonName::new(gf, gl));
    }
    let zip = match get("addressZip") {
        "" => get("address2Zip"),
        z => z,
    };
    let address = Address {
        street1: get("addressStreet1").into(),
        street2: get("addressStreet2").into(),
        city: get("addressCity").into(),
        state: get("addressState").into(),
        zip: zip.into(),
    };
    if address != Address::default() {
        r.addresses.push(address);
    }
    let phone = get("phone");
    if !phone.is_empty() {
        r.phones.push(phone.into());
    }
    for (key, kind) in [
        ("ssn", IdentifierKind::Ssn),
        ("medicaid", IdentifierKind::Medicaid),
    ] {
        let v = get(key);
        if !v.is_empty() {
            r.identifiers.push(Identifier {
                kind,
                authority: String::new(),
                value: v.into(),
            });
        }
    }
    // mrns: "AUTHORITY-VALUE", several separated by ';' or '~'.
    for mrn in get("mrns")
        .split([';', '~'])
        .filter(|m| !m.trim().is_empty())
    {
        let (authority, value) = mrn.split_once('-').unwrap_or(("", mrn));
        r.identifiers.push(Identifier {
            kind: IdentifierKind::Mrn,
            authority: authority.trim().into(),
            value: value.trim().into(),
        });
    }
    r.multiple_birth = MultipleBirth {
        indicator: match get("birthStatus") {
            "Y" | "y" => Some(true),
            "N" | "n" => Some(false),
            _ => None,
        },
        plurality: get("birthType").trim().parse().ok(),
        order: get("birthOrder").trim().parse().ok(),
    };
    // shotHistory: "yyyymmdd:cvx" items separated by ';' or '|' (empty in the
    // published files; parsed leniently).
    for shot in get("shotHistory").split([';', '|']) {
        if let Some((d, cvx)) = shot.split_once(':') {
            if let Ok(date) = NaiveDate::parse_from_str(d.trim(), "%Y%m%d") {
                r.shots.push(Shot {
                    date,
                    cvx: cvx.trim().into(),
                });
            }
        }
    }
    r
}

/// Confusion matrix and headline figures of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// `counts[expected][answered]`; expected row 3 is "Not Sure".
    /// Indices: 0 Match, 1 Possible Match, 2 Not a Match.
    pub counts: [[u32; 3]; 4],
}

fn idx(o: Outcome) -> usize {
    match o {
        Outcome::Match => 0,
        Outcome::PossibleMatch => 1,
        Outcome::NotAMatch => 2,
    }
}

impl Summary {
    /// Records one answer.
    pub fn add(&mut self, expected: Option<Outcome>, answered: Outcome) {
        let row = expected.map(idx).unwrap_or(3);
        self.counts[row][idx(answered)] += 1;
    }

    /// Tests with a definite expectation.
    pub fn labelled(&self) -> u32 {
        self.counts[..3].iter().flatten().sum()
    }

    /// Three-class agreement over labelled tests (0..1).
    pub fn agreement(&self) -> f64 {
        let hits: u32 = (0..3).map(|i| self.counts[i][i]).sum();
        f64::from(hits) / f64::from(self.labelled().max(1))
    }

    /// Share of expected `Match` answered `Match`.
    pub fn match_recall(&self) -> f64 {
        let row = self.counts[0];
        f64::from(row[0]) / f64::from(row.iter().sum::<u32>().max(1))
    }

    /// Expected `Not a Match` answered `Match`: the false merges.
    pub fn false_merges(&self) -> u32 {
        self.counts[2][0]
    }

    /// Writes the confusion matrix.
    pub fn write_matrix<E: Write>(&self, mut err: E) -> std::io::Result<()> {
        writeln!(
            err,
            "{:<16}{:>8}{:>16}{:>13}",
            "expected\\answer", "Match", "Possible Match", "Not a Match"
        )?;
        for (i, name) in ["Match", "Possible Match", "Not a Match", "Not Sure"]
            .iter()
            .enumerate()
        {
            let r = self.counts[i];
            writeln!(err, "{:<16}{:>8}{:>16}{:>13}", name, r[0], r[1], r[2])?;
        }
        writeln!(
            err,
            "agreement {:.2}% of {} labelled; Match recall {:.2}%; false merges {}",
            100.0 * self.agreement(),
            self.labelled(),
            100.0 * self.match_recall(),
            self.false_merges()
        )
    }
}

/// Classifies every case with `matcher`, in order.
pub fn classify(matcher: &Matcher, cases: &[TestCase]) -> Vec<Outcome> {
    cases
        .iter()
        .map(|c| matcher.compare_records(&c.a, &c.b).outcome)
        .collect()
}

/// The `immunis match-pairs FILE` contract with the embedded model.
pub fn run_match_pairs<W: Write, E: Write>(
    file_text: &str,
    out: W,
    err: E,
) -> Result<Summary, AiraError> {
    run_match_pairs_with(&Matcher::default(), file_text, out, err)
}

/// [`run_match_pairs`] with an explicit matcher.
pub fn run_match_pairs_with<W: Write, E: Write>(
    matcher: &Matcher,
    file_text: &str,
    mut out: W,
    err: E,
) -> Result<Summary, AiraError> {
    let cases = parse(file_text)?;
    let mut summary = Summary::default();
    for (case, outcome) in cases.iter().zip(classify(matcher, &cases)) {
        writeln!(out, "{}\t{}", case.id, outcome.label())?;
        summary.add(case.expected, outcome);
    }
    out.flush()?;
    summary.write_matrix(err)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "TEST: S-1:X:IDEAL-IDEAL\nEXPECT: Match\n\
PATIENT A: nameFirst=Pablo,nameLast=Todd,birthDate=20071216,gender=M,mrns=5-U51,ssn=494523553,phone=(810)433-3532,\n\
PATIENT B: nameFirst=Pablo,nameLast=Todd,birthDate=20071216,gender=M,mrns=7-M59,ssn=494523553,phone=(810)433-3532,\n\
TEST: D-1:X:IDEAL-IDEAL\nEXPECT: Not Sure\n\
PATIENT A: nameFirst=Pablo,nameLast=Todd,birthDate=20071216,\n\
PATIENT B: nameFirst=Veit,nameLast=Todd,birthDate=20071216,\n";

    #[test]
    fn parses_blocks_and_fields() {
        let cases = parse(SAMPLE).unwrap_or_default();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].id, "S-1:X:IDEAL-IDEAL");
        assert_eq!(cases[0].expected, Some(Outcome::Match));
        assert_eq!(cases[1].expected, None);
        assert_eq!(cases[0].a.name.first, "Pablo");
        assert_eq!(cases[0].a.identifiers.len(), 2);
        assert_eq!(cases[0].b.identifiers[1].authority, "7");
        assert_eq!(cases[1].line, 5);
    }

    #[test]
    fn parse_errors_carry_line_numbers() {
        let bad = "TEST: a\nEXPECT: Maybe\n";
        match parse(bad) {
            Err(AiraError::Parse { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected parse error, got {other:?}"),
        }
        let missing = "TEST: a\nEXPECT: Match\nPATIENT A: nameFirst=x,\n";
        match parse(missing) {
            Err(AiraError::Parse { line, message }) => {
                assert_eq!(line, 1);
                assert!(message.contains("PATIENT B"), "{message}");
            }
            other => panic!("expected parse error, got {other:?}"),
        }
        assert!(matches!(
            parse("junk\n"),
            Err(AiraError::Parse { line: 1, .. })
        ));
    }

    #[test]
    fn run_writes_one_line_per_test() {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let summary = run_match_pairs(SAMPLE, &mut out, &mut err);
        assert!(summary.is_ok());
        let out = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("S-1:X:IDEAL-IDEAL\t"));
        assert!(String::from_utf8_lossy(&err).contains("agreement"));
    }
}
