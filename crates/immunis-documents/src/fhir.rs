//! The FHIR R4 bundle of a SMART Health Card: one `Patient` (name, birth
//! date) and one `Immunization` per dose (status completed, CVX vaccine code,
//! occurrence date, performer, lot number). Minified per the SMART Health
//! Cards framework: no `id`, `meta` or narrative; `resource:N` references.

use serde_json::{json, Map, Value};

use crate::record::RecordDocument;

/// The CVX code system.
pub const CVX_SYSTEM: &str = "http://hl7.org/fhir/sid/cvx";

/// Which optional fields go into the card (dropped, in this order, when the
/// card would not fit one QR code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    pub lot_number: bool,
    pub performer: bool,
}

impl Detail {
    pub const FULL: Detail = Detail {
        lot_number: true,
        performer: true,
    };
}

/// The registry's CVX code, trimmed (the CDC table writes codes under 10
/// with two digits: `"03"`, `"08"`).
fn cvx_code(raw: &str) -> String {
    raw.trim().to_string()
}

pub fn fhir_bundle(doc: &RecordDocument, detail: Detail) -> Value {
    let p = &doc.person;
    let mut given: Vec<Value> = Vec::new();
    if !p.given.trim().is_empty() {
        given.push(json!(p.given.trim()));
    }
    if let Some(m) = p.middle.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        given.push(json!(m));
    }
    let mut name = Map::new();
    name.insert("family".into(), json!(p.family.trim()));
    if !given.is_empty() {
        name.insert("given".into(), Value::Array(given));
    }
    let mut entries = vec![json!({
        "fullUrl": "resource:0",
        "resource": {
            "resourceType": "Patient",
            "name": [Value::Object(name)],
            "birthDate": p.birth_date.format("%Y-%m-%d").to_string(),
        }
    })];
    for (i, d) in doc.doses.iter().enumerate() {
        let mut imm = Map::new();
        imm.insert("resourceType".into(), json!("Immunization"));
        imm.insert("status".into(), json!("completed"));
        imm.insert(
            "vaccineCode".into(),
            json!({"coding": [{"system": CVX_SYSTEM, "code": cvx_code(&d.cvx)}]}),
        );
        imm.insert("patient".into(), json!({"reference": "resource:0"}));
        imm.insert(
            "occurrenceDateTime".into(),
            json!(d.date.format("%Y-%m-%d").to_string()),
        );
        if detail.performer {
            if let Some(prov) = d
                .provider
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                imm.insert("performer".into(), json!([{"actor": {"display": prov}}]));
            }
        }
        if detail.lot_number {
            if let Some(lot) = d
                .lot_number
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                imm.insert("lotNumber".into(), json!(lot));
            }
        }
        entries.push(json!({
            "fullUrl": format!("resource:{}", i + 1),
            "resource": Value::Object(imm),
        }));
    }
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": entries,
    })
}
