//! The input: one person's record as the registry decided to show it.

use chrono::NaiveDate;

/// Everything the PDF and the health card show. No registry types: the
/// registry converts its record (after the access decision) into this.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDocument {
    /// The registry's name, printed as the header.
    pub registry_name: String,
    /// Lines under the header (address, phone, web site).
    pub registry_lines: Vec<String>,
    pub person: PersonInfo,
    /// Valid doses, in date order. A combination vaccine lists every group it counts for.
    pub doses: Vec<DoseInfo>,
    /// What is due, per vaccine group (from the forecast).
    pub due: Vec<DueInfo>,
    /// The day the document is issued (also the forecast's assessment date).
    pub issued_on: NaiveDate,
    /// Notes printed under the record (e.g. "limited to your organization's doses").
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonInfo {
    pub given: String,
    pub middle: Option<String>,
    pub family: String,
    pub birth_date: NaiveDate,
    /// Printed as given (e.g. "Female"); not put on the card.
    pub sex: Option<String>,
    /// The registry's own identifier for the person, printed on the PDF.
    pub registry_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoseInfo {
    pub date: NaiveDate,
    /// Vaccine name (CVX short description).
    pub vaccine: String,
    /// CVX code, as the registry holds it (e.g. `"20"`, `"03"`).
    pub cvx: String,
    /// Vaccine groups this dose counts for (e.g. `["DTaP/Tdap/Td"]`).
    pub groups: Vec<String>,
    /// Provider or facility that gave or reported the dose.
    pub provider: Option<String>,
    pub lot_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueInfo {
    pub group: String,
    /// The group status in the forecast's words ("Not Complete", "Complete", …).
    pub status: String,
    pub dose_number: Option<u16>,
    pub earliest: Option<NaiveDate>,
    pub recommended: Option<NaiveDate>,
    pub past_due: Option<NaiveDate>,
}

impl PersonInfo {
    /// "Given Middle Family".
    pub fn display_name(&self) -> String {
        let mut parts = vec![self.given.trim()];
        if let Some(m) = self
            .middle
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            parts.push(m);
        }
        parts.push(self.family.trim());
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}
