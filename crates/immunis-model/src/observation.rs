//! Patient-level observations: evidence of immunity, contraindications and
//! precautions, reactions, special indications (risk conditions). In HL7 2.5.1
//! they travel in an `ORC 9999` / `RXA 998 NA` group; they feed CDSi.

use chrono::NaiveDate;

use crate::codes::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObservationKind {
    /// LOINC 59784-9 disease with presumed immunity; 75505-8 serology.
    EvidenceOfImmunity,
    /// LOINC 30945-0 contraindication, precaution or exemption.
    Contraindication,
    /// LOINC 31044-1 reaction to an immunization.
    Reaction,
    /// LOINC 59785-6 special indication (risk condition).
    Indication,
}

impl ObservationKind {
    /// The kind a LOINC observation identifier stands for, if it is patient-level.
    pub fn from_loinc(code: &str) -> Option<ObservationKind> {
        Some(match code.trim() {
            "59784-9" | "75505-8" => ObservationKind::EvidenceOfImmunity,
            "30945-0" => ObservationKind::Contraindication,
            "31044-1" => ObservationKind::Reaction,
            "59785-6" => ObservationKind::Indication,
            _ => return None,
        })
    }

    pub fn loinc(self) -> &'static str {
        match self {
            ObservationKind::EvidenceOfImmunity => "59784-9",
            ObservationKind::Contraindication => "30945-0",
            ObservationKind::Reaction => "31044-1",
            ObservationKind::Indication => "59785-6",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObservationKind::EvidenceOfImmunity => "immunity",
            ObservationKind::Contraindication => "contraindication",
            ObservationKind::Reaction => "reaction",
            ObservationKind::Indication => "indication",
        }
    }

    pub fn parse(s: &str) -> Option<ObservationKind> {
        Some(match s {
            "immunity" => ObservationKind::EvidenceOfImmunity,
            "contraindication" => ObservationKind::Contraindication,
            "reaction" => ObservationKind::Reaction,
            "indication" => ObservationKind::Indication,
            _ => return None,
        })
    }
}

/// One patient-level observation with its value (SNOMED or CDC code) and date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientObservation {
    pub kind: ObservationKind,
    pub value: Code,
    /// OBX-14 date of observation.
    pub date: Option<NaiveDate>,
}
