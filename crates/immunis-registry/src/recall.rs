//! Reminder/recall: who is due or overdue for which vaccine, as of a date,
//! for a provider's patients, a board of health's residents, a program's
//! clients, or the whole state (the registry's centralized reminder/recall).
//!
//! Every person goes through the same access decision as a record read
//! (`query::load_visible`), so an objection to data sharing, rosters and
//! jurisdictions apply, and a provider's forecast under an objection is
//! computed from its own doses only. People who asked for no reminders
//! (PD1-11 = 01), deceased people and inactive records (PD1-16 I, M, P) are
//! left out; "reminder only" / "recall only" / "no calls" / "to provider"
//! preferences (HL7 table 0215) shape the rows. People are read in waves of
//! chunks on several threads; each wave's listed people are audited (one
//! entry per wave, their ids in it) and committed before its rows leave.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use immunis_access::{decide, Action, Actor, Decision, Purpose, Role};
use immunis_cdsi::VaccineGroupId;
use immunis_model::{OrganizationId, PatientId, RegistryStatus};
use immunis_store::StoreError;

use crate::assessment::DueState;
use crate::checkpoint::load_visible;
use crate::query::PatientRecord;
use crate::{audit_entry, Registry, RegistryError};

/// What the run looks for.
#[derive(Debug, Clone)]
pub struct RecallCriteria {
    /// The date the forecast is made for (a letter's date).
    pub as_of: NaiveDate,
    /// Age range in completed months, inclusive (e.g. 19–35 for toddlers).
    pub min_age_months: Option<u32>,
    pub max_age_months: Option<u32>,
    /// Vaccine group names (`ScheduleSupportingData.xml`); empty = all.
    pub vaccine_groups: Vec<String>,
    /// Also list doses coming due within this many days (reminders); `None`
    /// lists only overdue doses (recall).
    pub due_within_days: Option<u32>,
}

/// Why a person is on the list for a vaccine group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecallStatus {
    /// Past the past-due date: a recall notice.
    Overdue,
    /// Recommended date reached or within the window: a reminder.
    Due,
}

impl RecallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecallStatus::Overdue => "overdue",
            RecallStatus::Due => "due",
        }
    }
}

/// How the person may be contacted (HL7 0215).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Any,
    NoCalls,
    /// The notice goes to the person's provider, not to the person.
    Provider,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Any => "any",
            Channel::NoCalls => "no_calls",
            Channel::Provider => "provider",
        }
    }
}

/// One line of the list: a person and one vaccine group they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallRow {
    pub patient_id: PatientId,
    pub family: String,
    pub given: String,
    pub birth_date: NaiveDate,
    pub age_months: u32,
    /// The first guardian (NK1), for a child's letter.
    pub guardian: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    /// Left out when the person asked for no calls.
    pub phone: Option<String>,
    pub channel: Channel,
    pub vaccine_group: String,
    pub dose_number: u16,
    pub earliest: NaiveDate,
    pub recommended: NaiveDate,
    pub past_due: Option<NaiveDate>,
    pub status: RecallStatus,
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecallSummary {
    /// Records considered (one per person; merged records count once).
    pub considered: u64,
    /// Not visible to the actor (policy), or outside a provider's patients.
    pub not_visible: u64,
    pub outside_age_range: u64,
    /// PD1-11 = 01 (no reminder/recall).
    pub opted_out: u64,
    /// Deceased, inactive, moved or gone elsewhere.
    pub inactive: u64,
    pub people_listed: u64,
    pub rows: u64,
}

/// People per read transaction.
const CHUNK: usize = 500;

/// The reminder/recall preference of HL7 table 0215 (PD1-11).
struct Preference {
    opted_out: bool,
    reminders: bool,
    recalls: bool,
    channel: Channel,
}

fn preference(code: Option<&str>) -> Preference {
    let (opted_out, reminders, recalls, channel) = match code.map(str::trim) {
        Some("01") => (true, false, false, Channel::Any),
        Some("03") => (false, true, true, Channel::NoCalls),
        Some("04") => (false, true, false, Channel::Any),
        Some("05") => (false, true, false, Channel::NoCalls),
        Some("06") => (false, false, true, Channel::Any),
        Some("07") => (false, false, true, Channel::NoCalls),
        Some("08") => (false, true, true, Channel::Provider),
        Some("09") | Some("10") => (false, true, false, Channel::Provider),
        Some("11") | Some("12") => (false, false, true, Channel::Provider),
        _ => (false, true, true, Channel::Any),
    };
    Preference {
        opted_out,
        reminders,
        recalls,
        channel,
    }
}

/// Completed months from `birth` to `on`.
fn age_months(birth: NaiveDate, on: NaiveDate) -> u32 {
    let mut months = (on.year() - birth.year()) * 12 + on.month() as i32 - birth.month() as i32;
    if on.day() < birth.day() {
        months -= 1;
    }
    u32::try_from(months).unwrap_or(0)
}

enum Outcome {
    NotVisible,
    OutsideAge,
    OptedOut,
    Inactive,
    Listed(Vec<RecallRow>),
}

impl Registry {
    /// Runs reminder/recall and hands each row to `sink`, in patient order.
    /// `workers` threads read and forecast in parallel (1 or more).
    pub fn reminder_recall(
        &self,
        actor: &Actor,
        criteria: &RecallCriteria,
        workers: usize,
        sink: &mut dyn FnMut(&RecallRow) -> std::io::Result<()>,
    ) -> Result<RecallSummary, RegistryError> {
        let purpose = actor.role.default_purpose();
        let allowed_role = matches!(
            actor.role,
            Role::ProviderUser
                | Role::ProviderSystem
                | Role::BoardOfHealth
                | Role::HealthDepartment
                | Role::RegistryAdmin
        );
        if let (false, _) | (_, Decision::Deny(_)) = (
            allowed_role,
            decide(actor, Action::ReadRecord, purpose, None),
        ) {
            let _ =
                self.append_audit_blocking(audit_entry(actor, "reminder_recall", purpose, "deny"));
            return Err(RegistryError::Denied(
                "reminder/recall is for providers, boards of health, health-department programs and the registry",
            ));
        }
        let groups: Vec<VaccineGroupId> = criteria
            .vaccine_groups
            .iter()
            .map(|name| {
                self.engine().data().vaccine_group_id(name).ok_or_else(|| {
                    RegistryError::Invalid(format!("unknown vaccine group {name:?}"))
                })
            })
            .collect::<Result<_, _>>()?;
        let provider_org = match actor.role {
            Role::ProviderUser | Role::ProviderSystem => Some(
                actor
                    .organization
                    .ok_or(RegistryError::Denied("provider belongs to no organization"))?,
            ),
            _ => None,
        };
        let mut facility_org: HashMap<String, OrganizationId> = HashMap::new();
        let mut ids = Vec::new();
        self.read(&mut |tx| {
            ids = tx.live_patient_ids()?;
            facility_org = tx
                .list_facilities()?
                .into_iter()
                .map(|(f, o)| (f.code, o.id))
                .collect();
            Ok(())
        })?;
        let workers = workers.max(1);
        let chunks: Vec<&[PatientId]> = ids.chunks(CHUNK).collect();
        let mut summary = RecallSummary::default();
        let run = format!(
            "as of {}, ages {}–{} months, groups [{}], {}",
            criteria.as_of,
            criteria
                .min_age_months
                .map_or("any".into(), |m| m.to_string()),
            criteria
                .max_age_months
                .map_or("any".into(), |m| m.to_string()),
            criteria.vaccine_groups.join(", "),
            criteria
                .due_within_days
                .map_or("overdue only".into(), |d| format!("due within {d} days")),
        );
        for (wave_no, wave) in chunks.chunks(workers).enumerate() {
            let results: Vec<Result<Vec<(PatientId, Outcome)>, StoreError>> =
                std::thread::scope(|s| {
                    let handles: Vec<_> = wave
                        .iter()
                        .map(|chunk| {
                            let facility_org = &facility_org;
                            let groups = &groups;
                            s.spawn(move || {
                                self.recall_chunk(
                                    actor,
                                    purpose,
                                    criteria,
                                    groups,
                                    provider_org,
                                    facility_org,
                                    chunk,
                                )
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(StoreError::Corrupt("a recall worker panicked".into()))
                            })
                        })
                        .collect()
                });
            let mut listed = Vec::new();
            let mut rows = Vec::new();
            for chunk in results {
                for (id, outcome) in chunk? {
                    summary.considered += 1;
                    match outcome {
                        Outcome::NotVisible => summary.not_visible += 1,
                        Outcome::OutsideAge => summary.outside_age_range += 1,
                        Outcome::OptedOut => summary.opted_out += 1,
                        Outcome::Inactive => summary.inactive += 1,
                        Outcome::Listed(r) if r.is_empty() => {}
                        Outcome::Listed(r) => {
                            listed.push(id);
                            rows.extend(r);
                        }
                    }
                }
            }
            if listed.is_empty() {
                continue;
            }
            // The disclosure is on the record before the rows leave.
            let mut audit = audit_entry(actor, "reminder_recall", purpose, "allow");
            audit.detail = Some(format!(
                "{run}; part {}: {} people, {} rows",
                wave_no + 1,
                listed.len(),
                rows.len()
            ));
            summary.people_listed += listed.len() as u64;
            audit.patient_ids = listed;
            self.append_audit_blocking(audit)?;
            for r in &rows {
                sink(r).map_err(|e| RegistryError::Internal(format!("writing the list: {e}")))?;
                summary.rows += 1;
            }
        }
        Ok(summary)
    }

    #[allow(clippy::too_many_arguments)]
    fn recall_chunk(
        &self,
        actor: &Actor,
        purpose: Purpose,
        criteria: &RecallCriteria,
        groups: &[VaccineGroupId],
        provider_org: Option<OrganizationId>,
        facility_org: &HashMap<String, OrganizationId>,
        chunk: &[PatientId],
    ) -> Result<Vec<(PatientId, Outcome)>, StoreError> {
        let mut records = Vec::with_capacity(chunk.len());
        self.read(&mut |tx| {
            records.clear();
            for &id in chunk {
                records.push((id, load_visible(tx, self, actor, purpose, id)?));
            }
            Ok(())
        })?;
        Ok(records
            .into_iter()
            .map(|(id, rec)| {
                let outcome = match rec {
                    None => Outcome::NotVisible,
                    Some(rec) => {
                        self.recall_one(criteria, groups, provider_org, facility_org, &rec)
                    }
                };
                (id, outcome)
            })
            .collect())
    }

    fn recall_one(
        &self,
        criteria: &RecallCriteria,
        groups: &[VaccineGroupId],
        provider_org: Option<OrganizationId>,
        facility_org: &HashMap<String, OrganizationId>,
        rec: &PatientRecord,
    ) -> Outcome {
        let p = &rec.patient;
        if let Some(org) = provider_org {
            // A provider's patients: people it has given or reported a dose for.
            let ours = rec.doses.iter().any(|d| {
                d.reporting_facilities
                    .iter()
                    .any(|f| facility_org.get(f) == Some(&org))
            });
            if !ours {
                return Outcome::NotVisible;
            }
        }
        let birth = p.birth_date.0;
        let age = age_months(birth, criteria.as_of);
        if birth > criteria.as_of
            || criteria.min_age_months.is_some_and(|m| age < m)
            || criteria.max_age_months.is_some_and(|m| age > m)
        {
            return Outcome::OutsideAge;
        }
        if p.deceased == Some(true)
            || p.death_date.is_some()
            || p.registry_status.as_ref().is_some_and(|s| {
                matches!(
                    s.value,
                    RegistryStatus::Inactive
                        | RegistryStatus::MovedOrGoneElsewhere
                        | RegistryStatus::PermanentlyInactive
                )
            })
        {
            return Outcome::Inactive;
        }
        let pref = preference(p.publicity.as_ref().map(|c| c.value.code.as_str()));
        if pref.opted_out {
            return Outcome::OptedOut;
        }
        let assessed = self.assess(rec, criteria.as_of);
        let window_end = criteria
            .due_within_days
            .map(|d| criteria.as_of + chrono::Duration::days(i64::from(d)));
        let name = p.legal_name();
        let address = p.addresses.first();
        let mut rows = Vec::new();
        for ga in assessed.groups() {
            let g = ga.result;
            if !groups.is_empty() && !groups.contains(&g.group) {
                continue;
            }
            // No forecast for a group whose seasonal data is over: nobody
            // is recalled on data the registry knows is out of date.
            let Some(f) = ga.forecast() else { continue };
            let status = if ga.state == DueState::Overdue {
                RecallStatus::Overdue
            } else if window_end.is_some_and(|end| f.recommended <= end) {
                RecallStatus::Due
            } else {
                continue;
            };
            let wanted = match status {
                RecallStatus::Overdue => pref.recalls,
                RecallStatus::Due => pref.reminders,
            };
            if !wanted {
                continue;
            }
            rows.push(RecallRow {
                patient_id: rec.id,
                family: name.family.clone(),
                given: name.given.clone(),
                birth_date: birth,
                age_months: age,
                guardian: p.guardians.first().map(|g| {
                    format!("{} {}", g.name.given, g.name.family)
                        .trim()
                        .to_string()
                }),
                street: address.map(|a| a.street1.clone()),
                city: address.map(|a| a.city.clone()),
                state: address.map(|a| a.state.clone()),
                zip: address.map(|a| a.zip.clone()),
                phone: (pref.channel != Channel::NoCalls)
                    .then(|| p.phones.first().map(|ph| ph.number.clone()))
                    .flatten(),
                channel: pref.channel,
                vaccine_group: self.engine().vaccine_group_name(g.group).to_string(),
                dose_number: f.dose_number,
                earliest: f.earliest,
                recommended: f.recommended,
                past_due: f.past_due,
                status,
            });
        }
        Outcome::Listed(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid literal date")
    }

    #[test]
    fn completed_months() {
        assert_eq!(age_months(d(2024, 1, 31), d(2024, 2, 29)), 0);
        assert_eq!(age_months(d(2024, 1, 31), d(2024, 3, 31)), 2);
        assert_eq!(age_months(d(2023, 5, 15), d(2025, 5, 14)), 23);
        assert_eq!(age_months(d(2023, 5, 15), d(2025, 5, 15)), 24);
        assert_eq!(age_months(d(2025, 5, 15), d(2024, 5, 15)), 0);
    }

    #[test]
    fn publicity_codes_shape_the_list() {
        assert!(preference(Some("01")).opted_out);
        let p = preference(Some("05"));
        assert!(p.reminders && !p.recalls && p.channel == Channel::NoCalls);
        let p = preference(Some("11"));
        assert!(!p.reminders && p.recalls && p.channel == Channel::Provider);
        let p = preference(None);
        assert!(!p.opted_out && p.reminders && p.recalls && p.channel == Channel::Any);
    }
}
