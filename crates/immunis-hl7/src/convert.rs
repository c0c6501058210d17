//! Wire → domain conversions of HL7 data types (CE/CWE, CX, XPN, XAD, XTN,
//! XCN, DT/TS), lenient and trimming (NOTES §4.6: spaces inside fields).

use chrono::NaiveDate;
use immunis_model::patient::parse_date;
use immunis_model::{Address, Code, NameType, PatientIdentifier, PersonName, Phone};

use crate::parse::{Comp, Field, Rep};

/// The HL7 explicit null `""` ("delete the value") reads as empty: a VXU
/// reports what is known, it does not edit fields.
fn unnull(s: &str) -> String {
    let t = s.trim();
    if t == "\"\"" {
        String::new()
    } else {
        t.to_string()
    }
}

/// Decoded, trimmed text of a component.
pub(crate) fn text(c: Comp<'_>) -> String {
    unnull(&c.text())
}

/// Decoded, trimmed first subcomponent of a component.
pub(crate) fn sub1(c: Comp<'_>) -> String {
    unnull(&c.sub_text(1))
}

/// `Some` if not empty.
pub(crate) fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// CE/CWE: identifier, text, coding system; the alternate triplet (4-6) is
/// used when the first is empty.
pub(crate) fn code(rep: Rep<'_>) -> Option<Code> {
    let (a, b, c) = if sub1(rep.comp(1)).is_empty() {
        (4, 5, 6)
    } else {
        (1, 2, 3)
    };
    let code = sub1(rep.comp(a));
    if code.is_empty() {
        return None;
    }
    Some(Code {
        code,
        text: non_empty(text(rep.comp(b))),
        system: non_empty(text(rep.comp(c))),
    })
}

/// All non-empty codes of a repeating CE/CWE field.
pub(crate) fn codes(f: Field<'_>) -> Vec<Code> {
    f.reps().filter_map(code).collect()
}

/// CX: id ^^^ assigning authority (HD-1, else HD-2) ^ identifier type.
pub(crate) fn cx(rep: Rep<'_>) -> Option<PatientIdentifier> {
    let value = sub1(rep.comp(1));
    if value.is_empty() {
        return None;
    }
    let auth = rep.comp(4);
    let mut authority = auth.sub_text(1).trim().to_string();
    if authority.is_empty() {
        authority = auth.sub_text(2).trim().to_string();
    }
    Some(PatientIdentifier::new(
        &value,
        &authority,
        &text(rep.comp(5)),
    ))
}

/// XPN: family (FN-1) ^ given ^ middle ^ suffix ^ prefix ^ degree ^ type.
/// `None` without a family name.
pub(crate) fn xpn(rep: Rep<'_>) -> Option<PersonName> {
    let family = sub1(rep.comp(1));
    let mut name = PersonName::parse(&family, &text(rep.comp(2))).ok()?;
    name.middle = non_empty(text(rep.comp(3)));
    name.suffix = non_empty(text(rep.comp(4)));
    name.name_type = NameType::from_hl7(&text(rep.comp(7)));
    Some(name)
}

/// XAD: street (SAD-1) ^ other designation ^ city ^ state ^ zip ^ country ^
/// type ^ ^ county. `None` if entirely empty.
pub(crate) fn xad(rep: Rep<'_>) -> Option<Address> {
    let a = Address {
        street1: sub1(rep.comp(1)),
        street2: non_empty(text(rep.comp(2))),
        city: text(rep.comp(3)),
        state: text(rep.comp(4)),
        zip: text(rep.comp(5)),
        country: non_empty(text(rep.comp(6))),
        county: non_empty(text(rep.comp(9))),
        address_type: non_empty(text(rep.comp(7))),
    };
    let empty = a.street1.is_empty()
        && a.street2.is_none()
        && a.city.is_empty()
        && a.state.is_empty()
        && a.zip.is_empty();
    (!empty).then_some(a)
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// XTN: [old number] ^ use ^ equipment ^ email ^ country ^ area ^ local.
/// The number is digits only (area code + local number, else XTN-1).
pub(crate) fn xtn(rep: Rep<'_>) -> Option<Phone> {
    let mut number = digits(&text(rep.comp(6)));
    number.push_str(&digits(&text(rep.comp(7))));
    if number.is_empty() {
        number = digits(&text(rep.comp(1)));
    }
    let email = non_empty(text(rep.comp(4)));
    if number.is_empty() && email.is_none() {
        return None;
    }
    Some(Phone {
        number,
        use_code: non_empty(text(rep.comp(2)).to_ascii_uppercase()),
        equipment: non_empty(text(rep.comp(3)).to_ascii_uppercase()),
        email,
    })
}

/// XCN (provider, clerk): id, with "Family, Given" as text.
pub(crate) fn xcn(rep: Rep<'_>) -> Option<Code> {
    let id = sub1(rep.comp(1));
    let family = sub1(rep.comp(2));
    let given = text(rep.comp(3));
    let name = match (family.is_empty(), given.is_empty()) {
        (true, true) => None,
        (false, true) => Some(family),
        (true, false) => Some(given),
        (false, false) => Some(format!("{family}, {given}")),
    };
    if id.is_empty() && name.is_none() {
        return None;
    }
    Some(Code {
        code: id,
        text: name,
        system: non_empty(sub1(rep.comp(9))),
    })
}

/// A DT/TS value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DateValue {
    Missing,
    Invalid(String),
    Valid(NaiveDate),
}

/// Parse the first component of a DT/TS field.
pub(crate) fn date(f: Field<'_>) -> DateValue {
    let raw = text(f.comp(1));
    if raw.is_empty() {
        return DateValue::Missing;
    }
    match parse_date(&raw) {
        Ok(d) => DateValue::Valid(d),
        Err(_) => DateValue::Invalid(raw),
    }
}

/// Y/N (0136).
pub(crate) fn yes_no(s: &str) -> Option<bool> {
    match s.trim().to_ascii_uppercase().as_str() {
        "Y" => Some(true),
        "N" => Some(false),
        _ => None,
    }
}
