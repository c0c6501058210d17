//! The matcher's own input type, [`MatchRecord`].
//!
//! The registry converts its patient type into this shape; the matcher never
//! depends on other Immunis crates so that it can be tested (and reused) on its
//! own. Every field is optional in practice: real submissions from hospitals,
//! pharmacies and schools carry very different subsets of the data, and a
//! missing value must never count as a disagreement.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A person's name as submitted (raw; normalization happens in
/// [`crate::normalize`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    /// Given (first) name.
    pub first: String,
    /// Middle name(s) or initial.
    pub middle: String,
    /// Family name; may be compound ("Garcia Lopez") or hyphenated.
    pub last: String,
    /// Generational suffix ("Jr", "III").
    pub suffix: String,
}

impl PersonName {
    /// Convenience constructor for first/last only.
    pub fn new(first: &str, last: &str) -> Self {
        Self {
            first: first.to_owned(),
            last: last.to_owned(),
            ..Self::default()
        }
    }
}

/// Administrative sex as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Recorded but neither (unknown, other): compared as missing.
    Other,
}

impl Sex {
    /// Parses the usual HL7 codes (`F`, `M`, `U`, `O`) and words.
    pub fn parse(s: &str) -> Option<Sex> {
        match s.trim().to_ascii_uppercase().as_str() {
            "F" | "FEMALE" => Some(Sex::Female),
            "M" | "MALE" => Some(Sex::Male),
            "" => None,
            _ => Some(Sex::Other),
        }
    }
}

/// A postal address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street line 1 ("123 N Main Street Apt 4").
    pub street1: String,
    /// Street line 2 (unit, care-of).
    pub street2: String,
    /// City.
    pub city: String,
    /// State (postal abbreviation or name).
    pub state: String,
    /// ZIP or ZIP+4.
    pub zip: String,
}

/// What an identifier identifies; the comparison rules differ per kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdentifierKind {
    /// Medical record number; only comparable within one assigning authority.
    Mrn,
    /// US Social Security number.
    Ssn,
    /// Medicaid member id.
    Medicaid,
    /// Birth certificate (vital records) number.
    BirthCertificate,
    /// Any other identifier type; compared within (type, authority).
    Other(String),
}

/// An identifier with its type and assigning authority (HL7 CX.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    /// Identifier type.
    pub kind: IdentifierKind,
    /// Assigning authority (facility, state); empty when unknown.
    pub authority: String,
    /// The identifier value as submitted.
    pub value: String,
}

/// Multiple-birth information (HL7 PID-24/25).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipleBirth {
    /// `Some(true)` when the child is part of a multiple birth.
    pub indicator: Option<bool>,
    /// Number of children delivered (1 = singleton, 2 = twins, ...).
    pub plurality: Option<u8>,
    /// Birth order within the multiple birth (1-based).
    pub order: Option<u8>,
}

impl MultipleBirth {
    /// True when the record says this child is one of several.
    pub fn is_multiple(&self) -> Option<bool> {
        match (self.indicator, self.plurality, self.order) {
            (Some(b), _, _) => Some(b),
            (None, Some(p), _) => Some(p > 1),
            (None, None, Some(o)) if o > 1 => Some(true),
            _ => None,
        }
    }
}

/// One administered vaccination (date and CVX code).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shot {
    /// Administration date.
    pub date: NaiveDate,
    /// CDC CVX vaccine code.
    pub cvx: String,
}

/// Everything the matcher knows about one patient record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    /// Legal name.
    pub name: PersonName,
    /// Other names (aliases, previous or alternate surnames, nicknames).
    /// Empty strings inside an alias mean "not part of this alias".
    pub aliases: Vec<PersonName>,
    /// Date of birth, when parseable.
    pub birth_date: Option<NaiveDate>,
    /// Administrative sex.
    pub sex: Option<Sex>,
    /// Mother's maiden (birth) surname.
    pub mother_maiden_name: String,
    /// Parents / guardians (mother's first name, father, ...).
    pub guardians: Vec<PersonName>,
    /// Addresses, most recent first.
    pub addresses: Vec<Address>,
    /// Phone numbers as submitted.
    pub phones: Vec<String>,
    /// MRNs, SSN, Medicaid, birth certificate number, ...
    pub identifiers: Vec<Identifier>,
    /// Multiple-birth indicator and order.
    pub multiple_birth: MultipleBirth,
    /// Vaccination history (date, CVX).
    pub shots: Vec<Shot>,
}
