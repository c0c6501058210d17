//! A vaccination event as one source reported it (RXA/RXR/OBX of one ORDER
//! group). The consolidated record of a person is derived from these events by
//! vaccination-level de-duplication; every source's report is kept.

use chrono::NaiveDate;

use crate::codes::{Code, Cvx, Mvx};

/// HL7 0322 completion status (RXA-20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompletionStatus {
    #[default]
    Complete,
    PartiallyAdministered,
    NotAdministered,
    Refused,
}

impl CompletionStatus {
    pub fn from_hl7(code: &str) -> Option<CompletionStatus> {
        Some(match code.trim().to_ascii_uppercase().as_str() {
            "" | "CP" => CompletionStatus::Complete,
            "PA" => CompletionStatus::PartiallyAdministered,
            "NA" => CompletionStatus::NotAdministered,
            "RE" => CompletionStatus::Refused,
            _ => return None,
        })
    }

    pub fn hl7(self) -> &'static str {
        match self {
            CompletionStatus::Complete => "CP",
            CompletionStatus::PartiallyAdministered => "PA",
            CompletionStatus::NotAdministered => "NA",
            CompletionStatus::Refused => "RE",
        }
    }

    /// A dose was (at least partly) given: CP or PA.
    pub fn was_given(self) -> bool {
        matches!(
            self,
            CompletionStatus::Complete | CompletionStatus::PartiallyAdministered
        )
    }
}

/// NIP001 information source (RXA-9): administered by the sender, or historical.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InformationSource {
    /// `00`: new immunization record, given by the submitting provider.
    #[default]
    Administered,
    /// `01`–`08`: historical (the code says from where).
    Historical(String),
}

impl InformationSource {
    pub fn from_nip001(code: &str) -> InformationSource {
        match code.trim() {
            "" | "00" => InformationSource::Administered,
            other => InformationSource::Historical(other.to_string()),
        }
    }

    pub fn nip001(&self) -> &str {
        match self {
            InformationSource::Administered => "00",
            InformationSource::Historical(c) => c,
        }
    }

    pub fn is_administered(&self) -> bool {
        matches!(self, InformationSource::Administered)
    }
}

/// A Vaccine Information Statement given to the patient (OBX 69764-9 or
/// 30956-7 + 29768-9, and 29769-7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisDocument {
    /// GS1 fully encoded string (69764-9) or the vaccine type (30956-7).
    pub document: String,
    pub published: Option<NaiveDate>,
    pub presented: Option<NaiveDate>,
}

/// One dose (or refusal, or not-administered record) as one source reported it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VaccinationEvent {
    pub administered_date: Option<NaiveDate>,
    pub cvx: Option<Cvx>,
    /// NDC when the sender coded the product with it (RXA-5 alternate).
    pub ndc: Option<String>,
    pub mvx: Option<Mvx>,
    pub trade_name: Option<String>,
    pub lot_number: Option<String>,
    pub expiration_date: Option<NaiveDate>,
    /// RXA-6; `None` for 999 (unknown).
    pub amount: Option<f64>,
    /// UCUM units (RXA-7).
    pub units: Option<String>,
    pub route: Option<Code>,
    pub site: Option<Code>,
    pub information_source: InformationSource,
    pub completion: CompletionStatus,
    /// NIP002 refusal reason (RXA-18), required when refused.
    pub refusal_reason: Option<Code>,
    /// OBX 64994-7 VFC/funding eligibility at the time of the dose.
    pub funding_eligibility: Option<Code>,
    /// OBX 30963-3 funding source.
    pub funding_source: Option<Code>,
    pub vis: Vec<VisDocument>,
    /// RXA-11 administered-at location (facility code and name).
    pub administering_facility: Option<Code>,
    /// RXA-10 administering provider.
    pub administering_provider: Option<Code>,
    /// ORC-12 ordering provider.
    pub ordering_provider: Option<Code>,
    /// ORC-10 entered by.
    pub entered_by: Option<Code>,
    /// ORC-3 filler order number: with the sending facility, the dose identity
    /// used for RXA-21 updates and deletes.
    pub filler_order_number: Option<String>,
    pub placer_order_number: Option<String>,
}
