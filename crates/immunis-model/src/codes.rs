//! Coded values and the code tables that give them meaning (CVX, MVX, NDC, and
//! the HL7/CDC value sets), loaded from embedded data rather than match arms,
//! so a new CDC release is a data drop.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::ModelError;

/// A coded element as senders give it: code, optional text and coding system.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Code {
    pub code: String,
    pub text: Option<String>,
    pub system: Option<String>,
}

impl Code {
    pub fn new(code: impl Into<String>) -> Self {
        Code {
            code: code.into(),
            text: None,
            system: None,
        }
    }

    pub fn with_text(code: impl Into<String>, text: impl Into<String>) -> Self {
        Code {
            code: code.into(),
            text: Some(text.into()),
            system: None,
        }
    }
}

/// A CDC CVX vaccine code, normalised to at least two digits ("3" → "03").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cvx(String);

impl Cvx {
    /// Parses a CVX as senders write it ("03", "3", "003", " 20 ").
    pub fn parse(raw: &str) -> Result<Cvx, ModelError> {
        let t = raw.trim();
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ModelError::InvalidCvx(raw.to_string()));
        }
        let stripped = t.trim_start_matches('0');
        let code = match stripped.len() {
            0 => "00".to_string(),
            1 => format!("0{stripped}"),
            _ => stripped.to_string(),
        };
        Ok(Cvx(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// CVX 998 "no vaccine administered": carries patient-level observations.
    pub fn is_no_vaccine(&self) -> bool {
        self.0 == "998"
    }
}

impl fmt::Display for Cvx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CDC MVX manufacturer code (HL7 table 0227), upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mvx(String);

impl Mvx {
    pub fn parse(raw: &str) -> Result<Mvx, ModelError> {
        let t = raw.trim();
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ModelError::InvalidMvx(raw.to_string()));
        }
        Ok(Mvx(t.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Mvx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The HL7/CDC value sets the registry validates against (AIRA code set names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueSet {
    Sex,
    Race,
    Ethnicity,
    Relationship,
    Route,
    Site,
    Publicity,
    Protection,
    RegistryStatus,
    Completion,
    Action,
    InformationSource,
    Refusal,
    FundingEligibility,
    FundingSource,
    IdentifierType,
    EvidenceOfImmunity,
    Contraindication,
    Reaction,
    SpecialIndication,
    AdministrationUnit,
    NameType,
    AddressType,
    TelecomUse,
    TelecomEquipment,
    ProcessingId,
    AcknowledgementType,
}

impl ValueSet {
    /// The AIRA codebase set name in `aira_codes.csv`.
    pub fn aira_name(self) -> &'static str {
        match self {
            ValueSet::Sex => "PATIENT_SEX",
            ValueSet::Race => "PATIENT_RACE",
            ValueSet::Ethnicity => "PATIENT_ETHNICITY",
            ValueSet::Relationship => "PERSON_RELATIONSHIP",
            ValueSet::Route => "BODY_ROUTE",
            ValueSet::Site => "BODY_SITE",
            ValueSet::Publicity => "PATIENT_PUBLICITY",
            ValueSet::Protection => "PATIENT_PROTECTION",
            ValueSet::RegistryStatus => "REGISTRY_STATUS",
            ValueSet::Completion => "VACCINATION_COMPLETION",
            ValueSet::Action => "VACCINATION_ACTION_CODE",
            ValueSet::InformationSource => "VACCINATION_INFORMATION_SOURCE",
            ValueSet::Refusal => "VACCINATION_REFUSAL",
            ValueSet::FundingEligibility => "FINANCIAL_STATUS_CODE",
            ValueSet::FundingSource => "VACCINATION_FUNDING_SOURCE",
            ValueSet::IdentifierType => "ID_TYPE_CODE",
            ValueSet::EvidenceOfImmunity => "EVIDENCE_OF_IMMUNITY",
            ValueSet::Contraindication => "CONTRAINDICATION_OR_PRECATION",
            ValueSet::Reaction => "VACCINATION_REACTION",
            ValueSet::SpecialIndication => "VACCINATION_SPECIAL_INDICATIONS",
            ValueSet::AdministrationUnit => "ADMINISTRATION_UNIT",
            ValueSet::NameType => "PERSON_NAME_TYPE",
            ValueSet::AddressType => "ADDRESS_TYPE",
            ValueSet::TelecomUse => "TELECOMMUNICATION_USE",
            ValueSet::TelecomEquipment => "TELECOMMUNICATION_EQUIPMENT",
            ValueSet::ProcessingId => "MESSAGE_PROCESSING_ID",
            ValueSet::AcknowledgementType => "ACKNOWLEDGEMENT_TYPE",
        }
    }
}

/// What the CDC CVX table says about a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvxInfo {
    pub short_description: String,
    /// Active, Inactive, Non-US, Never Active.
    pub status: String,
    /// CDC vaccine groups (CVX → vaccine group table); a combination has several.
    pub vaccine_groups: Vec<String>,
}

/// One entry of an HL7/CDC value set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSetEntry {
    pub label: String,
    /// AIRA status: Valid, Deprecated, Invalid, Ignored, Unrecognized.
    pub status: String,
}

/// All code tables, parsed once from the embedded data.
#[derive(Debug, Default)]
pub struct CodeTables {
    cvx: HashMap<String, CvxInfo>,
    mvx: HashMap<String, String>,
    ndc: HashMap<String, String>,
    /// CDC vaccine group name → the group's "unspecified formulation" CVX.
    group_cvx: HashMap<String, String>,
    sets: HashMap<&'static str, HashMap<String, ValueSetEntry>>,
}

const CVX_CSV: &str = include_str!("../data/cvx.csv");
const MVX_CSV: &str = include_str!("../data/mvx.csv");
const CVX_GROUP_CSV: &str = include_str!("../data/cvx_vaccine_group.csv");
const NDC_USE_CSV: &str = include_str!("../data/ndc_unit_of_use.csv");
const NDC_SALE_CSV: &str = include_str!("../data/ndc_unit_of_sale.csv");
const AIRA_CSV: &str = include_str!("../data/aira_codes.csv");

const ALL_SETS: [ValueSet; 27] = [
    ValueSet::Sex,
    ValueSet::Race,
    ValueSet::Ethnicity,
    ValueSet::Relationship,
    ValueSet::Route,
    ValueSet::Site,
    ValueSet::Publicity,
    ValueSet::Protection,
    ValueSet::RegistryStatus,
    ValueSet::Completion,
    ValueSet::Action,
    ValueSet::InformationSource,
    ValueSet::Refusal,
    ValueSet::FundingEligibility,
    ValueSet::FundingSource,
    ValueSet::IdentifierType,
    ValueSet::EvidenceOfImmunity,
    ValueSet::Contraindication,
    ValueSet::Reaction,
    ValueSet::SpecialIndication,
    ValueSet::AdministrationUnit,
    ValueSet::NameType,
    ValueSet::AddressType,
    ValueSet::TelecomUse,
    ValueSet::TelecomEquipment,
    ValueSet::ProcessingId,
    ValueSet::AcknowledgementType,
];

fn read_rows(
    table: &'static str,
    text: &str,
    mut f: impl FnMut(&csv::StringRecord, &HashMap<String, usize>),
) -> Result<(), ModelError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: HashMap<String, usize> = rdr
        .headers()
        .map_err(|e| ModelError::CodeTable {
            table,
            line: 1,
            reason: e.to_string(),
        })?
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_string(), i))
        .collect();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| ModelError::CodeTable {
            table,
            line: e.position().map(|p| p.line()).unwrap_or(0),
            reason: e.to_string(),
        })?;
        f(&rec, &headers);
    }
    Ok(())
}

fn col<'r>(rec: &'r csv::StringRecord, headers: &HashMap<String, usize>, name: &str) -> &'r str {
    headers
        .get(name)
        .and_then(|&i| rec.get(i))
        .unwrap_or("")
        .trim()
}

/// NDC codes arrive with or without dashes; the registry keys on 11 digits (5-4-2).
pub fn normalize_ndc(raw: &str) -> Option<String> {
    let t = raw.trim();
    let parts: Vec<&str> = t.split('-').collect();
    let digits: String = if parts.len() == 3 {
        // 4-4-2, 5-3-2, 5-4-1 → 5-4-2
        let (a, b, c) = (parts[0], parts[1], parts[2]);
        format!("{a:0>5}{b:0>4}{c:0>2}")
    } else {
        t.chars().filter(|c| c.is_ascii_digit()).collect()
    };
    if digits.len() == 11 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Some(digits)
    } else {
        None
    }
}

impl CodeTables {
    /// The embedded tables, parsed once per process.
    pub fn embedded() -> &'static CodeTables {
        static TABLES: OnceLock<CodeTables> = OnceLock::new();
        TABLES.get_or_init(|| {
            // The embedded data is part of the build and tested; a failure here
            // is a packaging bug, reported once, with empty tables as fallback.
            CodeTables::from_csv(
                CVX_CSV,
                MVX_CSV,
                CVX_GROUP_CSV,
                &[NDC_USE_CSV, NDC_SALE_CSV],
                AIRA_CSV,
            )
            .unwrap_or_default()
        })
    }

    /// Builds the tables from CSV text in the shared code-table layout.
    pub fn from_csv(
        cvx_csv: &str,
        mvx_csv: &str,
        cvx_group_csv: &str,
        ndc_csvs: &[&str],
        aira_csv: &str,
    ) -> Result<CodeTables, ModelError> {
        let mut t = CodeTables::default();
        read_rows("cvx", cvx_csv, |r, h| {
            if let Ok(cvx) = Cvx::parse(col(r, h, "cvx_code")) {
                t.cvx.insert(
                    cvx.0,
                    CvxInfo {
                        short_description: col(r, h, "short_description").to_string(),
                        status: col(r, h, "status").to_string(),
                        vaccine_groups: Vec::new(),
                    },
                );
            }
        })?;
        read_rows("cvx_vaccine_group", cvx_group_csv, |r, h| {
            if let Ok(cvx) = Cvx::parse(col(r, h, "cvx_code")) {
                if let Some(info) = t.cvx.get_mut(cvx.as_str()) {
                    let g = col(r, h, "vaccine_group_name").to_string();
                    if let Ok(gc) = Cvx::parse(col(r, h, "vaccine_group_cvx")) {
                        t.group_cvx.entry(g.clone()).or_insert(gc.0);
                    }
                    if !g.is_empty() && !info.vaccine_groups.contains(&g) {
                        info.vaccine_groups.push(g);
                    }
                }
            }
        })?;
        read_rows("mvx", mvx_csv, |r, h| {
            let code = col(r, h, "mvx_code").to_ascii_uppercase();
            if !code.is_empty() {
                t.mvx
                    .insert(code, col(r, h, "manufacturer_name").to_string());
            }
        })?;
        for ndc_csv in ndc_csvs {
            read_rows("ndc", ndc_csv, |r, h| {
                if let (Some(ndc), Ok(cvx)) = (
                    normalize_ndc(col(r, h, "ndc11")),
                    Cvx::parse(col(r, h, "cvx_code")),
                ) {
                    t.ndc.entry(ndc).or_insert(cvx.0);
                }
            })?;
        }
        let wanted: HashMap<&str, &'static str> = ALL_SETS
            .iter()
            .map(|s| (s.aira_name(), s.aira_name()))
            .collect();
        read_rows("aira_codes", aira_csv, |r, h| {
            if let Some(&name) = wanted.get(col(r, h, "codeset")) {
                t.sets.entry(name).or_default().insert(
                    col(r, h, "value").to_ascii_uppercase(),
                    ValueSetEntry {
                        label: col(r, h, "label").to_string(),
                        status: col(r, h, "status").to_string(),
                    },
                );
            }
        })?;
        Ok(t)
    }

    pub fn cvx(&self, cvx: &Cvx) -> Option<&CvxInfo> {
        self.cvx.get(cvx.as_str())
    }

    /// Every CVX code with its description and status (unordered).
    pub fn cvx_codes(&self) -> impl Iterator<Item = (&str, &CvxInfo)> {
        self.cvx.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every MVX manufacturer code with its name (unordered).
    pub fn mvx_codes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.mvx.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_known_cvx(&self, cvx: &Cvx) -> bool {
        self.cvx.contains_key(cvx.as_str())
    }

    /// The "unspecified formulation" CVX of a CDC vaccine group (e.g. DTAP → 107).
    pub fn vaccine_group_cvx(&self, group: &str) -> Option<Cvx> {
        self.group_cvx.get(group).map(|c| Cvx(c.clone()))
    }

    pub fn mvx_name(&self, mvx: &Mvx) -> Option<&str> {
        self.mvx.get(mvx.as_str()).map(String::as_str)
    }

    /// The CVX an NDC (unit of use or unit of sale) stands for.
    pub fn cvx_for_ndc(&self, ndc: &str) -> Option<Cvx> {
        normalize_ndc(ndc).and_then(|n| self.ndc.get(&n).map(|c| Cvx(c.clone())))
    }

    pub fn value_set_entry(&self, set: ValueSet, code: &str) -> Option<&ValueSetEntry> {
        self.sets
            .get(set.aira_name())
            .and_then(|m| m.get(&code.trim().to_ascii_uppercase()))
    }

    /// Every code of a value set with its entry (in no particular order).
    pub fn value_set(&self, set: ValueSet) -> impl Iterator<Item = (&str, &ValueSetEntry)> {
        self.sets
            .get(set.aira_name())
            .into_iter()
            .flat_map(|m| m.iter().map(|(c, e)| (c.as_str(), e)))
    }

    /// True when the code is in the set and not marked invalid by AIRA.
    pub fn is_valid_code(&self, set: ValueSet, code: &str) -> bool {
        self.value_set_entry(set, code)
            .is_some_and(|e| !e.status.eq_ignore_ascii_case("Invalid"))
    }

    pub fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.cvx.len(),
            self.mvx.len(),
            self.ndc.len(),
            self.sets.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvx_normalises_leading_zeros() {
        assert_eq!(Cvx::parse("3").map(|c| c.0), Ok("03".to_string()));
        assert_eq!(Cvx::parse("003").map(|c| c.0), Ok("03".to_string()));
        assert_eq!(Cvx::parse(" 141 ").map(|c| c.0), Ok("141".to_string()));
        assert!(Cvx::parse("MMR").is_err());
        assert!(Cvx::parse("").is_err());
    }

    #[test]
    fn embedded_tables_load() {
        let t = CodeTables::embedded();
        let (cvx, mvx, ndc, sets) = t.counts();
        assert!(cvx > 250, "cvx {cvx}");
        assert!(mvx > 80, "mvx {mvx}");
        assert!(ndc > 500, "ndc {ndc}");
        assert_eq!(sets, ALL_SETS.len());
        let mmr = Cvx::parse("03").expect("literal");
        assert!(t.is_known_cvx(&mmr));
        assert!(t
            .cvx(&mmr)
            .is_some_and(|i| i.vaccine_groups.iter().any(|g| g == "MMR")));
        assert!(!t.is_known_cvx(&Cvx::parse("9999").expect("literal")));
        assert_eq!(
            t.mvx_name(&Mvx::parse("msd").expect("literal")),
            Some("Merck and Co., Inc.")
        );
        assert!(t.is_valid_code(ValueSet::Completion, "cp"));
        assert!(t.is_valid_code(ValueSet::RegistryStatus, "A"));
        assert!(!t.is_valid_code(ValueSet::Completion, "ZZ"));
    }

    #[test]
    fn ndc_normalisation() {
        assert_eq!(
            normalize_ndc("49281-0521-00").as_deref(),
            Some("49281052100")
        );
        assert_eq!(
            normalize_ndc("49281-521-00").as_deref(),
            Some("49281052100")
        );
        assert_eq!(normalize_ndc("4928105210").as_deref(), None);
        let t = CodeTables::embedded();
        assert_eq!(
            t.cvx_for_ndc("49281-0521-00").map(|c| c.to_string()),
            Some("161".to_string())
        );
    }
}
