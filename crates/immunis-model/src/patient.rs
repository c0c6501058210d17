//! A person in the registry: identifiers, names, birth, sex, family, contact,
//! and the registry-level statuses (registry status, publicity, protection).

use chrono::NaiveDate;

use crate::codes::Code;
use crate::ModelError;

/// A value with the date it took effect (PD1-13, PD1-17, PD1-18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dated<T> {
    pub value: T,
    pub effective: Option<NaiveDate>,
}

/// HL7 0200 name types the registry distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameType {
    #[default]
    Legal,
    Alias,
    Maiden,
    Birth,
    Other,
}

impl NameType {
    pub fn from_hl7(code: &str) -> NameType {
        match code.trim().to_ascii_uppercase().as_str() {
            "" | "L" => NameType::Legal,
            "A" | "N" | "S" => NameType::Alias,
            "M" => NameType::Maiden,
            "B" => NameType::Birth,
            _ => NameType::Other,
        }
    }

    pub fn hl7(self) -> &'static str {
        match self {
            NameType::Legal => "L",
            NameType::Alias => "A",
            NameType::Maiden => "M",
            NameType::Birth => "B",
            NameType::Other => "U",
        }
    }
}

/// A person's name. `family` is never empty for a legal name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonName {
    pub family: String,
    pub given: String,
    pub middle: Option<String>,
    pub suffix: Option<String>,
    pub name_type: NameType,
}

impl PersonName {
    /// A name needs at least a family name; given may be empty (newborns: "Baby Boy").
    pub fn parse(family: &str, given: &str) -> Result<PersonName, ModelError> {
        let family = family.trim();
        if family.is_empty() {
            return Err(ModelError::InvalidValue {
                what: "family name",
                value: String::new(),
            });
        }
        Ok(PersonName {
            family: family.to_string(),
            given: given.trim().to_string(),
            middle: None,
            suffix: None,
            name_type: NameType::Legal,
        })
    }

    pub fn display(&self) -> String {
        let mut s = format!("{}, {}", self.family, self.given);
        if let Some(m) = self.middle.as_deref().filter(|m| !m.is_empty()) {
            s.push(' ');
            s.push_str(m);
        }
        if let Some(x) = self.suffix.as_deref().filter(|m| !m.is_empty()) {
            s.push(' ');
            s.push_str(x);
        }
        s
    }
}

/// A birth date that is a real calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirthDate(pub NaiveDate);

/// Parses HL7 DT/TS (`YYYYMMDD[HHMM[SS[.S]]][+ZZZZ]`) or ISO `YYYY-MM-DD` to a date.
pub fn parse_date(raw: &str) -> Result<NaiveDate, ModelError> {
    let t = raw.trim();
    let bad = || ModelError::InvalidDate(raw.to_string());
    if t.len() >= 10 && t.as_bytes().get(4) == Some(&b'-') {
        return NaiveDate::parse_from_str(t.get(..10).ok_or_else(bad)?, "%Y-%m-%d")
            .map_err(|_| bad());
    }
    let digits = t.get(..8).ok_or_else(bad)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    NaiveDate::parse_from_str(digits, "%Y%m%d").map_err(|_| bad())
}

impl BirthDate {
    pub fn parse(raw: &str) -> Result<BirthDate, ModelError> {
        parse_date(raw).map(BirthDate)
    }
}

/// Administrative sex (HL7 0001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sex {
    Female,
    Male,
    #[default]
    Unknown,
    /// HL7 `X`/`O`: non-binary or other.
    Other,
}

impl Sex {
    pub fn from_hl7(code: &str) -> Sex {
        match code.trim().to_ascii_uppercase().as_str() {
            "F" => Sex::Female,
            "M" => Sex::Male,
            "X" | "O" => Sex::Other,
            _ => Sex::Unknown,
        }
    }

    pub fn hl7(self) -> &'static str {
        match self {
            Sex::Female => "F",
            Sex::Male => "M",
            Sex::Unknown => "U",
            Sex::Other => "X",
        }
    }
}

/// An identifier with its assigning authority (PID-3 CX): MRN per facility,
/// birth certificate number, Medicaid, SSN, state registry id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatientIdentifier {
    pub value: String,
    /// CX-4 namespace id (e.g. the facility that issued the MRN); empty if none.
    pub assigning_authority: String,
    /// HL7 0203 identifier type: MR, SR, BC, MA, SS, PI, …
    pub id_type: String,
}

impl PatientIdentifier {
    pub fn new(value: &str, authority: &str, id_type: &str) -> PatientIdentifier {
        PatientIdentifier {
            value: value.trim().to_string(),
            assigning_authority: authority.trim().to_string(),
            id_type: id_type.trim().to_ascii_uppercase(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub street1: String,
    pub street2: Option<String>,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country: Option<String>,
    pub county: Option<String>,
    /// HL7 0190 (H home, M mailing, BR birth residence, …).
    pub address_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Phone {
    /// Digits only, area code included when known.
    pub number: String,
    /// HL7 0201 (PRN primary residence, ORN, WPN, NET…).
    pub use_code: Option<String>,
    /// HL7 0202 (PH, CP, Internet…).
    pub equipment: Option<String>,
    /// E-mail when `use_code` is NET.
    pub email: Option<String>,
}

/// A next of kin / guardian (NK1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Guardian {
    pub name: PersonName,
    /// HL7 0063 relationship (MTH mother, FTH father, GRD guardian, …).
    pub relationship: Code,
    pub address: Option<Address>,
    pub phone: Option<Phone>,
}

/// HL7 0441 immunization registry status (PD1-16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryStatus {
    Active,
    Inactive,
    LostToFollowUp,
    MovedOrGoneElsewhere,
    PermanentlyInactive,
    Unknown,
}

impl RegistryStatus {
    pub fn from_hl7(code: &str) -> Option<RegistryStatus> {
        Some(match code.trim().to_ascii_uppercase().as_str() {
            "A" => RegistryStatus::Active,
            "I" => RegistryStatus::Inactive,
            "L" => RegistryStatus::LostToFollowUp,
            "M" => RegistryStatus::MovedOrGoneElsewhere,
            "P" => RegistryStatus::PermanentlyInactive,
            "U" => RegistryStatus::Unknown,
            _ => return None,
        })
    }

    pub fn hl7(self) -> &'static str {
        match self {
            RegistryStatus::Active => "A",
            RegistryStatus::Inactive => "I",
            RegistryStatus::LostToFollowUp => "L",
            RegistryStatus::MovedOrGoneElsewhere => "M",
            RegistryStatus::PermanentlyInactive => "P",
            RegistryStatus::Unknown => "U",
        }
    }
}

/// Everything the registry keeps about a person (demographics and statuses);
/// vaccinations and observations are separate, patient-owned records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub identifiers: Vec<PatientIdentifier>,
    /// First is the legal name; the rest are aliases and other names.
    pub names: Vec<PersonName>,
    pub mother_maiden_name: Option<PersonName>,
    pub birth_date: BirthDate,
    pub sex: Sex,
    pub race: Vec<Code>,
    pub ethnicity: Vec<Code>,
    pub addresses: Vec<Address>,
    pub phones: Vec<Phone>,
    pub guardians: Vec<Guardian>,
    pub multiple_birth: Option<bool>,
    pub birth_order: Option<u8>,
    pub death_date: Option<NaiveDate>,
    pub deceased: Option<bool>,
    /// PD1-16/17.
    pub registry_status: Option<Dated<RegistryStatus>>,
    /// PD1-11/18 (HL7 0215 reminder/recall preference).
    pub publicity: Option<Dated<Code>>,
    /// PD1-12/13: `true` records an objection to data sharing.
    pub protection: Option<Dated<bool>>,
}

impl Patient {
    /// A patient needs a legal name and a birth date; everything else is optional.
    pub fn new(name: PersonName, birth_date: BirthDate, sex: Sex) -> Patient {
        Patient {
            identifiers: Vec::new(),
            names: vec![name],
            mother_maiden_name: None,
            birth_date,
            sex,
            race: Vec::new(),
            ethnicity: Vec::new(),
            addresses: Vec::new(),
            phones: Vec::new(),
            guardians: Vec::new(),
            multiple_birth: None,
            birth_order: None,
            death_date: None,
            deceased: None,
            registry_status: None,
            publicity: None,
            protection: None,
        }
    }

    /// The legal (first) name.
    pub fn legal_name(&self) -> &PersonName {
        // `names` is never empty: `new` puts the legal name first and callers only push.
        static EMPTY: PersonName = PersonName {
            family: String::new(),
            given: String::new(),
            middle: None,
            suffix: None,
            name_type: NameType::Legal,
        };
        self.names.first().unwrap_or(&EMPTY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_hl7_and_iso() {
        let d = NaiveDate::from_ymd_opt(2015, 3, 7).expect("literal");
        assert_eq!(parse_date("20150307"), Ok(d));
        assert_eq!(parse_date("201503071230-0500"), Ok(d));
        assert_eq!(parse_date("2015-03-07"), Ok(d));
        assert!(parse_date("20150230").is_err());
        assert!(parse_date("2015").is_err());
        assert!(parse_date("abcdefgh").is_err());
        assert!(parse_date("2015-0").is_err());
    }

    #[test]
    fn name_requires_family() {
        assert!(PersonName::parse("  ", "Ann").is_err());
        let n = PersonName::parse(" Smith ", "Ann").expect("valid");
        assert_eq!(n.display(), "Smith, Ann");
    }

    #[test]
    fn sex_and_status_codes() {
        assert_eq!(Sex::from_hl7("f"), Sex::Female);
        assert_eq!(Sex::from_hl7("Q"), Sex::Unknown);
        assert_eq!(
            RegistryStatus::from_hl7("m"),
            Some(RegistryStatus::MovedOrGoneElsewhere)
        );
        assert_eq!(RegistryStatus::from_hl7("Z"), None);
    }
}
