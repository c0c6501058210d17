//! What a submitter asks the registry to record for one person: the boundary
//! crates (HL7, later JSON/FHIR and the web UI) produce this, the registry applies it.

use crate::observation::PatientObservation;
use crate::patient::Patient;
use crate::vaccination::VaccinationEvent;

/// HL7 0323 action code (RXA-21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DoseAction {
    #[default]
    Add,
    Update,
    Delete,
}

impl DoseAction {
    pub fn from_hl7(code: &str) -> Option<DoseAction> {
        Some(match code.trim().to_ascii_uppercase().as_str() {
            "" | "A" => DoseAction::Add,
            "U" => DoseAction::Update,
            "D" => DoseAction::Delete,
            _ => return None,
        })
    }

    pub fn hl7(self) -> &'static str {
        match self {
            DoseAction::Add => "A",
            DoseAction::Update => "U",
            DoseAction::Delete => "D",
        }
    }
}

/// One reported dose with what to do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct DoseReport {
    pub action: DoseAction,
    pub event: VaccinationEvent,
}

/// Who sent the data: the sending facility (MSH-4) and the message id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmissionSource {
    pub facility_code: String,
    pub message_control_id: String,
}

/// One person's record as submitted (one VXU, one UI form, one FHIR bundle).
#[derive(Debug, Clone, PartialEq)]
pub struct PatientSubmission {
    pub source: SubmissionSource,
    pub patient: Patient,
    pub doses: Vec<DoseReport>,
    pub observations: Vec<PatientObservation>,
}
