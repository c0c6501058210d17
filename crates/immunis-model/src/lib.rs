//! Immunis domain types, in the registry's words.
//!
//! Everything here is plain data with parse-don't-validate constructors. Nothing
//! in this crate knows a wire format (HL7, JSON, FHIR) or does I/O; the code
//! tables are embedded CSV data (see `data/README.md`), parsed once on first use.
#![forbid(unsafe_code)]

pub mod codes;
pub mod ids;
pub mod observation;
pub mod organization;
pub mod patient;
pub mod submission;
pub mod vaccination;

pub use codes::{Code, CodeTables, Cvx, Mvx, ValueSet};
pub use ids::{FacilityId, OrganizationId, PatientId, VaccinationId};
pub use observation::{ObservationKind, PatientObservation};
pub use organization::{Facility, Organization, OrganizationKind};
pub use patient::{
    Address, BirthDate, Dated, Guardian, NameType, Patient, PatientIdentifier, PersonName, Phone,
    RegistryStatus, Sex,
};
pub use submission::{DoseAction, DoseReport, PatientSubmission, SubmissionSource};
pub use vaccination::{CompletionStatus, InformationSource, VaccinationEvent, VisDocument};

/// Errors raised when outside data cannot become a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("invalid date {0:?} (expected YYYYMMDD or YYYY-MM-DD)")]
    InvalidDate(String),
    #[error("invalid CVX code {0:?}")]
    InvalidCvx(String),
    #[error("invalid MVX code {0:?}")]
    InvalidMvx(String),
    #[error("invalid {what}: {value:?}")]
    InvalidValue { what: &'static str, value: String },
    #[error("code table {table} is malformed at line {line}: {reason}")]
    CodeTable {
        table: &'static str,
        line: u64,
        reason: String,
    },
}
