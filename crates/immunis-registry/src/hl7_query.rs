//! QBP^Q11 → RSP^K11: Z34 (history: Z32 one match, Z31 candidates, Z33 not
//! found / too many / error) and Z44 (Z42 evaluated history and forecast from
//! the CDSi engine), echoing the query tag; the QBP and the RSP are journaled.

use std::collections::BTreeMap;

use immunis_access::{Actor, Purpose};
use immunis_cdsi::{DoseStatus, SeriesStatus as CdsiStatus};
use immunis_hl7::{
    build_rsp_candidates, build_rsp_error, build_rsp_evaluated, build_rsp_history,
    build_rsp_not_found, build_rsp_too_many, interpret_qbp, AckCode, DoseEvaluation, ErrorCode,
    Forecast, HistoryDose, Issue, Location, Message, MessageHeader, PatientRecord as WireRecord,
    QueryProfile, Recommendation, SeriesStatus,
};
use immunis_model::{Code, PatientObservation};

use crate::assessment::{DueState, RecordAssessment};
use crate::hl7::{reply_options, reply_without_changes, Inbound};
use crate::query::{PatientQuery, PatientRecord, QueryOutcome};
use crate::{Registry, RegistryError};

/// Candidates returned when the query sets no RCP-2 limit.
const DEFAULT_LIMIT: usize = 10;

/// CDSi vaccine group name → the CDC vaccine group's "unspecified" CVX
/// (the code HL7 OBX 30956-7 carries). Data, so a new group is a data edit;
/// see `data/cdsi_group_cvx.csv` (from the CDC CVX→vaccine group table).
const GROUP_CVX_CSV: &str = include_str!("../data/cdsi_group_cvx.csv");

fn group_code(name: &str, representative: Option<&str>) -> Code {
    let from_table = GROUP_CVX_CSV
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut parts = l.split(',');
            Some((parts.next()?, parts.next()?))
        })
        .find(|(g, _)| *g == name)
        .map(|(_, cvx)| cvx.to_string());
    Code {
        code: from_table
            .or_else(|| representative.map(str::to_string))
            .unwrap_or_else(|| name.to_string()),
        text: Some(name.to_string()),
        system: Some("CVX".into()),
    }
}

/// The Z42's series status: from the assessment's one classifier.
fn wire_status(s: CdsiStatus, state: DueState) -> SeriesStatus {
    match s {
        CdsiStatus::Complete => SeriesStatus::Complete,
        CdsiStatus::NotComplete if state == DueState::Overdue => SeriesStatus::Overdue,
        CdsiStatus::NotComplete => SeriesStatus::OnSchedule,
        CdsiStatus::AgedOut => SeriesStatus::TooOld,
        other => SeriesStatus::Other(Code {
            code: other.as_str().to_string(),
            text: Some(other.as_str().to_string()),
            system: Some("CDSi".into()),
        }),
    }
}

fn evaluations_and_forecast(
    record: &PatientRecord,
    assessed: &RecordAssessment,
) -> (Vec<Vec<DoseEvaluation>>, Forecast) {
    let ev = &assessed.evaluated;
    let mut per_dose: Vec<Vec<DoseEvaluation>> = vec![Vec::new(); record.doses.len()];
    let mut recs = Vec::new();
    for ga in assessed.groups() {
        let g = ga.result;
        if g.status == CdsiStatus::NotRecommended {
            continue;
        }
        let name = ga.name;
        let representative = g
            .forecast
            .as_ref()
            .and_then(|f| f.vaccines.first().map(|c| c.0.to_string()))
            .or_else(|| {
                g.evaluations.first().and_then(|e| {
                    ev.dose_map
                        .get(e.dose_index)
                        .and_then(|&i| record.doses.get(i))
                        .and_then(|d| d.primary.event.cvx.as_ref().map(|c| c.to_string()))
                })
            });
        let code = group_code(name, representative.as_deref());
        // One evaluation per (dose, group): valid only if every antigen's is.
        let mut by_dose: BTreeMap<usize, (bool, Option<String>)> = BTreeMap::new();
        for e in &g.evaluations {
            let Some(&idx) = ev.dose_map.get(e.dose_index) else {
                continue;
            };
            let entry = by_dose.entry(idx).or_insert((true, None));
            if e.status != DoseStatus::Valid {
                entry.0 = false;
                if entry.1.is_none() {
                    entry.1 = Some(
                        e.reason
                            .map(|r| r.as_str().to_string())
                            .unwrap_or_else(|| e.status.as_str().to_string()),
                    );
                }
            }
        }
        for (idx, (valid, reason)) in by_dose {
            if let Some(slot) = per_dose.get_mut(idx) {
                slot.push(DoseEvaluation {
                    vaccine_group: code.clone(),
                    series_name: None,
                    dose_number: None,
                    doses_in_series: None,
                    valid,
                    reason: reason.map(|r| Code::with_text(r.clone(), r)),
                });
            }
        }
        // A group whose seasonal data is over gets no recommendation (the
        // data's "not recommended" would be an answer for a past season).
        if ga.season_ended.is_some() {
            continue;
        }
        let f = ga.forecast();
        recs.push(Recommendation {
            vaccine_group: code,
            series_name: None,
            dose_number: f.map(|f| u32::from(f.dose_number)),
            doses_in_series: None,
            earliest: f.map(|f| f.earliest),
            due: f.map(|f| f.recommended),
            overdue: f.and_then(|f| f.past_due),
            latest: f.and_then(|f| f.latest),
            status: wire_status(g.status, ga.state),
        });
    }
    (per_dose, Forecast::acip(ev.assessed_on, recs))
}

fn restricted_issue() -> Issue {
    Issue::warning(
        Location::segment_type("PID"),
        ErrorCode::MessageAccepted,
        None,
        "The patient objected to data sharing: only doses your organization gave are shown, and the forecast uses only those",
    )
}

fn build_found(
    reg: &Registry,
    profile: QueryProfile,
    echo: &immunis_hl7::QueryEcho,
    rec: &PatientRecord,
) -> String {
    let observations: Vec<PatientObservation> = rec
        .observations
        .iter()
        .map(|o| o.observation.clone())
        .collect();
    let mut issues = Vec::new();
    if rec.restricted {
        issues.push(restricted_issue());
    }
    let opts = reply_options();
    match profile {
        QueryProfile::Z34 => {
            let wire = WireRecord {
                patient: &rec.patient,
                doses: rec
                    .doses
                    .iter()
                    .map(|d| HistoryDose {
                        event: &d.primary.event,
                        facility: Some(d.primary.facility_code.as_str()),
                        evaluations: Vec::new(),
                    })
                    .collect(),
                observations: &observations,
            };
            build_rsp_history(echo, &wire, &issues, &opts)
        }
        QueryProfile::Z44 => {
            let assessed = reg.assess(rec, crate::hl7::today());
            let currency = &assessed.currency;
            let (mut per_dose, mut forecast) = evaluations_and_forecast(rec, &assessed);
            let warnings = currency.forecast_warnings();
            forecast.notes.push(format!(
                "Evaluated and forecast with CDC CDSi supporting data {}",
                currency.cdsi_release
            ));
            forecast.notes.extend(
                warnings
                    .iter()
                    .map(|w| format!("{w}; no forecast is given for it")),
            );
            if !warnings.is_empty() {
                // RSP_K11 has one ERR: one warning naming every group.
                let groups: Vec<&str> = warnings
                    .iter()
                    .filter_map(|w| w.split(':').next())
                    .collect();
                issues.push(Issue::warning(
                    Location::segment_type("QPD"),
                    ErrorCode::MessageAccepted,
                    None,
                    format!(
                        "No forecast for {}: the registry's CDC schedule data (CDSi supporting data {}) covers a season that is over",
                        groups.join(", "),
                        currency.cdsi_release
                    ),
                ));
            }
            let wire = WireRecord {
                patient: &rec.patient,
                doses: rec
                    .doses
                    .iter()
                    .enumerate()
                    .map(|(i, d)| HistoryDose {
                        event: &d.primary.event,
                        facility: Some(d.primary.facility_code.as_str()),
                        evaluations: per_dose.get_mut(i).map(std::mem::take).unwrap_or_default(),
                    })
                    .collect(),
                observations: &observations,
            };
            build_rsp_evaluated(echo, &wire, &forecast, &issues, &opts)
        }
    }
}

pub(crate) async fn process_qbp(
    reg: &Registry,
    actor: &Actor,
    raw: &[u8],
    msg: &Message<'_>,
    header: MessageHeader,
    inbound: &Inbound,
) -> Vec<u8> {
    let outcome = interpret_qbp(msg);
    let Some(q) = outcome.query else {
        let reply = build_rsp_error(&outcome.echo, &outcome.issues, &reply_options());
        let code = match AckCode::from_issues(&outcome.issues) {
            AckCode::Accept => AckCode::Error,
            c => c,
        };
        return reply_without_changes(reg, raw, inbound, Some(&header), reply.into_bytes(), code)
            .await;
    };
    let pq = PatientQuery {
        identifiers: q.identifiers.clone(),
        family: q.name.as_ref().map(|n| n.family.clone()),
        given: q
            .name
            .as_ref()
            .map(|n| n.given.clone())
            .filter(|g| !g.is_empty()),
        birth_date: q.birth_date,
        sex: q.sex,
        mother_maiden_family: q.mother_maiden_name.as_ref().map(|n| n.family.clone()),
    };
    let limit = q
        .quantity_limit
        .map(|l| l as usize)
        .unwrap_or(DEFAULT_LIMIT);
    let echo = &outcome.echo;
    let opts = reply_options();
    let searched = reg.search(actor, Purpose::Treatment, &pq, limit).await;
    let (outcome_result, audit) = match searched {
        Ok((o, a)) => (Ok(o), Some(a)),
        Err(e) => (Err(e), None),
    };
    let (reply, code) = match outcome_result {
        Ok(QueryOutcome::Found(rec)) => (build_found(reg, q.profile, echo, &rec), AckCode::Accept),
        Ok(QueryOutcome::Candidates(list)) => {
            let patients: Vec<&immunis_model::Patient> = list.iter().map(|r| &r.patient).collect();
            (
                build_rsp_candidates(echo, &patients, &outcome.issues, &opts),
                AckCode::Accept,
            )
        }
        Ok(QueryOutcome::NotFound) => (
            build_rsp_not_found(echo, &outcome.issues, &opts),
            AckCode::Accept,
        ),
        Ok(QueryOutcome::TooMany) => (
            build_rsp_too_many(echo, &outcome.issues, &opts),
            AckCode::Accept,
        ),
        Err(RegistryError::Denied(why)) => {
            let issue = Issue::error(
                Location::segment_type("QPD"),
                ErrorCode::ApplicationInternalError,
                None,
                format!("Query not allowed: {why}"),
            );
            (build_rsp_error(echo, &[issue], &opts), AckCode::Reject)
        }
        Err(e) => {
            tracing::error!("query failed: {e}");
            let issue = Issue::error(
                Location::segment_type("QPD"),
                ErrorCode::ApplicationInternalError,
                None,
                "The registry could not answer this query; please retry",
            );
            (build_rsp_error(echo, &[issue], &opts), AckCode::Error)
        }
    };
    match audit {
        Some(a) => {
            crate::hl7::reply_with_audit(reg, raw, inbound, &header, reply.into_bytes(), code, a)
                .await
        }
        None => {
            reply_without_changes(reg, raw, inbound, Some(&header), reply.into_bytes(), code).await
        }
    }
}
