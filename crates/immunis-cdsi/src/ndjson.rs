//! NDJSON boundary for the `immunis forecast` CLI: one patient per input
//! line, one assessment (or error) per output line, in order.
//!
//! Input: `{"id":"case-1","birth_date":"2020-01-31","sex":"F",
//! "assessment_date":"2025-11-10","doses":[{"date":"2020-03-31","cvx":"20",
//! "mvx":"SKB"}],"observations":[{"code":"055","date":"2021-01-01"}]}`
//! (`mvx`, `volume_ml` — millilitres administered — and `observations`
//! optional).
//!
//! Output: `{"id":"case-1","vaccine_groups":[{"name":"DTaP/Tdap/Td",
//! "status":"Not Complete","forecast":{"dose_number":2,"earliest":…,
//! "recommended":…,"past_due":…,"latest":null},"evaluations":[{"dose_index":0,
//! "antigen":"Diphtheria","status":"Valid","reason":null}]}]}`; a line which
//! cannot be processed yields `{"id":…,"error":"…"}` and processing goes on.

use std::io::{BufRead, Write};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::api::*;
use crate::engine::Scratch;
use crate::error::InputError;
use crate::model::Mvx;
use crate::Engine;

/// One input dose.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InDose {
    /// ISO date administered.
    pub date: String,
    /// CVX code.
    pub cvx: String,
    /// MVX code.
    #[serde(default)]
    pub mvx: Option<String>,
    /// Volume administered in millilitres (optional; CDSi 6.8 flags a
    /// preferable vaccine given with less than the recommended volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_ml: Option<f32>,
}

/// One input observation.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InObservation {
    /// CDSi observation code, e.g. `"055"`.
    pub code: String,
    /// ISO date, optional.
    #[serde(default)]
    pub date: Option<String>,
}

/// One input line.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InPatient {
    /// Caller's identifier, echoed back.
    pub id: serde_json::Value,
    /// ISO date of birth.
    pub birth_date: String,
    /// `M`, `F` or `U`.
    pub sex: String,
    /// ISO assessment date.
    pub assessment_date: String,
    /// Doses administered.
    #[serde(default)]
    pub doses: Vec<InDose>,
    /// Observations.
    #[serde(default)]
    pub observations: Vec<InObservation>,
}

/// Output forecast.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutForecast {
    /// Next target dose number (1-based).
    pub dose_number: u16,
    /// ISO earliest date.
    pub earliest: String,
    /// ISO recommended date.
    pub recommended: String,
    /// ISO past-due date.
    pub past_due: Option<String>,
    /// ISO latest date.
    pub latest: Option<String>,
}

/// Output evaluation of one dose for one antigen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutEvaluation {
    /// Index of the dose in the input `doses` array.
    pub dose_index: usize,
    /// Antigen name.
    pub antigen: String,
    /// `Valid`, `Not Valid`, `Extraneous`, `Sub-standard`.
    pub status: String,
    /// Reason, null when valid (the first failed check).
    pub reason: Option<String>,
    /// Every failed check (CDSi chapter 6), omitted when none; a valid dose
    /// can carry only "Less than recommended volume" (CDSi 6.8).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// Output vaccine group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutGroup {
    /// Vaccine group name (ScheduleSupportingData.xml).
    pub name: String,
    /// Status in the spec's words.
    pub status: String,
    /// Null when no dose is due.
    pub forecast: Option<OutForecast>,
    /// Dose evaluations.
    pub evaluations: Vec<OutEvaluation>,
}

/// A successful output line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutPatient {
    /// Echo of the input id.
    pub id: serde_json::Value,
    /// Vaccine group results.
    pub vaccine_groups: Vec<OutGroup>,
}

/// An error output line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutError {
    /// Echo of the input id (null when unreadable).
    pub id: serde_json::Value,
    /// What went wrong.
    pub error: String,
}

/// Counters returned by [`run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines read (blank lines are skipped and not counted).
    pub lines: u64,
    /// Patients assessed.
    pub ok: u64,
    /// Lines answered with an error.
    pub errors: u64,
}

fn date(s: &str) -> Result<NaiveDate, InputError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| InputError::Date(s.to_string()))
}

fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Converts and assesses one parsed input record.
pub fn assess_record(
    engine: &Engine,
    scratch: &mut Scratch,
    p: &InPatient,
) -> Result<OutPatient, InputError> {
    let birth_date = date(&p.birth_date)?;
    let assessment_date = date(&p.assessment_date)?;
    let sex = Sex::parse(&p.sex)?;
    let mut doses = Vec::with_capacity(p.doses.len());
    for d in &p.doses {
        doses.push(AdministeredDose {
            date: date(&d.date)?,
            cvx: Cvx::parse(&d.cvx)?,
            mvx: d.mvx.as_deref().and_then(Mvx::parse),
            volume_ml: match d.volume_ml {
                Some(v) if !v.is_finite() || v < 0.0 => {
                    return Err(InputError::Volume(v.to_string()))
                }
                v => v,
            },
            condition: DoseCondition::Normal,
        });
    }
    let mut observations = Vec::with_capacity(p.observations.len());
    for o in &p.observations {
        let code = o
            .code
            .trim()
            .parse::<u16>()
            .map_err(|_| InputError::Observation(o.code.clone()))?;
        let date = match &o.date {
            Some(s) if !s.trim().is_empty() => Some(date(s)?),
            _ => None,
        };
        observations.push(Observation { code, date });
    }
    let history = PatientHistory {
        birth_date,
        sex,
        doses: &doses,
        observations: &observations,
    };
    let mut a = Assessment::default();
    engine.assess_with(scratch, &history, assessment_date, &mut a);
    Ok(OutPatient {
        id: p.id.clone(),
        vaccine_groups: a
            .vaccine_groups
            .iter()
            .map(|g| OutGroup {
                name: engine.vaccine_group_name(g.group).to_string(),
                status: g.status.as_str().to_string(),
                forecast: g.forecast.as_ref().map(|f| OutForecast {
                    dose_number: f.dose_number,
                    earliest: iso(f.earliest),
                    recommended: iso(f.recommended),
                    past_due: f.past_due.map(iso),
                    latest: f.latest.map(iso),
                }),
                evaluations: g
                    .evaluations
                    .iter()
                    .map(|e| OutEvaluation {
                        dose_index: e.dose_index,
                        antigen: engine.antigen_name(e.antigen).to_string(),
                        status: e.status.as_str().to_string(),
                        reason: e.reason.map(|r| r.as_str().to_string()),
                        reasons: e.reasons.iter().map(|r| r.as_str().to_string()).collect(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Processes NDJSON: one line in, one line out, in order. Blank lines are
/// skipped. Only I/O failures abort; bad records produce error lines.
pub fn run<R: BufRead, W: Write>(
    engine: &Engine,
    input: R,
    mut output: W,
) -> std::io::Result<Stats> {
    let mut stats = Stats::default();
    let mut scratch = Scratch::new();
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        stats.lines += 1;
        let result = match serde_json::from_str::<InPatient>(&line) {
            Ok(p) => match assess_record(engine, &mut scratch, &p) {
                Ok(out) => Ok(serde_json::to_string(&out)),
                Err(e) => Err(OutError {
                    id: p.id.clone(),
                    error: e.to_string(),
                }),
            },
            Err(e) => {
                // recover the id for the error line when the JSON is readable
                let id = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(serde_json::Value::Null);
                Err(OutError {
                    id,
                    error: format!("invalid input: {e}"),
                })
            }
        };
        let text = match result {
            Ok(t) => {
                stats.ok += 1;
                t
            }
            Err(err) => {
                stats.errors += 1;
                serde_json::to_string(&err)
            }
        }
        .map_err(std::io::Error::other)?;
        output.write_all(text.as_bytes())?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(stats)
}
