//! What a decision lets the reader see of a record: the other half of the
//! access rules, next to [`crate::decide`]. The registry reads a record,
//! asks for the decision, and hands both here; only what comes back may be
//! shown.
//!
//! Pure and generic over the registry's row types: the caller says, per dose
//! and per observation, which organization recorded it and what kind it is
//! ([`ItemFacts`]).

use immunis_model::{OrganizationId, Patient};

use crate::{Actor, Decision};

/// What the policy needs to know of one dose or observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ItemFacts {
    /// The organization whose facility recorded it, when known.
    pub owner: Option<OrganizationId>,
    /// A refusal (not a dose).
    pub refusal: bool,
    /// Evidence of immunity (serology, verified disease history).
    pub evidence_of_immunity: bool,
}

/// A person's record as read, before redaction.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordView<E, O> {
    pub patient: Patient,
    pub events: Vec<E>,
    pub observations: Vec<O>,
}

/// What the reader may see: the redacted view and whether an objection to
/// data sharing limited it (`restricted`).
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted<E, O> {
    pub view: RecordView<E, O>,
    pub restricted: bool,
}

/// The core demographics everyone allowed to see a person sees: legal name,
/// birth date, sex, and the consent state itself.
fn core_only(p: &Patient) -> Patient {
    let mut core = Patient::new(p.legal_name().clone(), p.birth_date, p.sex);
    core.protection = p.protection.clone();
    core
}

/// Applies a decision to a record. `None`: the reader sees nothing of this
/// person (denied, or under an objection a provider that recorded nothing).
pub fn redact<E, O>(
    decision: Decision,
    actor: &Actor,
    view: RecordView<E, O>,
    event: impl Fn(&E) -> ItemFacts,
    observation: impl Fn(&O) -> ItemFacts,
) -> Option<Redacted<E, O>> {
    let RecordView {
        patient,
        mut events,
        mut observations,
    } = view;
    match decision {
        Decision::Deny(_) => None,
        Decision::Allow => Some(Redacted {
            view: RecordView {
                patient,
                events,
                observations,
            },
            restricted: false,
        }),
        Decision::AllowSchoolEntryOnly => {
            // School-entry data only (105 CMR 220.500(C)(3)): the core
            // demographics, the doses and evidence of immunity; no
            // refusals, contraindications, reactions or risk indications.
            observations.retain(|o| observation(o).evidence_of_immunity);
            events.retain(|e| !event(e).refusal);
            Some(Redacted {
                view: RecordView {
                    patient: core_only(&patient),
                    events,
                    observations,
                },
                restricted: false,
            })
        }
        Decision::AllowOwnOrganizationOnly => {
            // Under an objection (105 CMR 222) a provider sees what its own
            // organization recorded, and other providers' demographics not.
            let own = |f: ItemFacts| actor.organization.is_some() && f.owner == actor.organization;
            events.retain(|e| own(event(e)));
            observations.retain(|o| own(observation(o)));
            if events.is_empty() {
                // The provider gave nothing: nothing is shared.
                return None;
            }
            Some(Redacted {
                view: RecordView {
                    patient: core_only(&patient),
                    events,
                    observations,
                },
                restricted: true,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use immunis_model::{Address, BirthDate, PersonName, Sex};

    fn person() -> Patient {
        let mut p = Patient::new(
            PersonName::parse("Rivera", "Sofia").expect("name"),
            BirthDate(chrono::NaiveDate::from_ymd_opt(2023, 2, 14).expect("date")),
            Sex::Female,
        );
        p.addresses.push(Address {
            street1: "1 Main St".into(),
            city: "Springfield".into(),
            state: "MA".into(),
            zip: "01101".into(),
            ..Default::default()
        });
        p
    }

    /// (owner org, refusal / evidence of immunity)
    type Item = (i64, bool);

    fn view() -> RecordView<Item, Item> {
        RecordView {
            patient: person(),
            events: vec![(1, false), (2, false), (1, true)],
            observations: vec![(1, true), (2, false)],
        }
    }

    fn ev(e: &Item) -> ItemFacts {
        ItemFacts {
            owner: Some(OrganizationId(e.0)),
            refusal: e.1,
            evidence_of_immunity: false,
        }
    }

    fn ob(o: &Item) -> ItemFacts {
        ItemFacts {
            owner: Some(OrganizationId(o.0)),
            refusal: false,
            evidence_of_immunity: o.1,
        }
    }

    fn actor(role: Role, org: Option<i64>) -> Actor {
        Actor {
            subject: "u".into(),
            role,
            organization: org.map(OrganizationId),
            facility_code: None,
            client_addr: None,
        }
    }

    #[test]
    fn allow_shows_everything_and_deny_nothing() {
        let a = actor(Role::ProviderUser, Some(1));
        let r = redact(Decision::Allow, &a, view(), ev, ob).expect("shown");
        assert_eq!(r.view, view());
        assert!(!r.restricted);
        assert!(redact(Decision::Deny("no"), &a, view(), ev, ob).is_none());
    }

    #[test]
    fn schools_see_core_demographics_doses_and_immunity_only() {
        let a = actor(Role::School, Some(9));
        let r = redact(Decision::AllowSchoolEntryOnly, &a, view(), ev, ob).expect("shown");
        assert!(r.view.patient.addresses.is_empty());
        assert_eq!(r.view.patient.legal_name().family, "Rivera");
        assert_eq!(r.view.events, vec![(1, false), (2, false)], "no refusal");
        assert_eq!(r.view.observations, vec![(1, true)], "immunity only");
        assert!(!r.restricted);
    }

    #[test]
    fn under_an_objection_a_provider_sees_its_own_records_or_nothing() {
        let own = actor(Role::ProviderUser, Some(2));
        let r = redact(Decision::AllowOwnOrganizationOnly, &own, view(), ev, ob).expect("shown");
        assert_eq!(r.view.events, vec![(2, false)]);
        assert_eq!(r.view.observations, vec![(2, false)]);
        assert!(r.view.patient.addresses.is_empty());
        assert!(r.restricted);
        let stranger = actor(Role::ProviderUser, Some(3));
        assert!(redact(
            Decision::AllowOwnOrganizationOnly,
            &stranger,
            view(),
            ev,
            ob
        )
        .is_none());
        let no_org = actor(Role::ProviderUser, None);
        assert!(redact(Decision::AllowOwnOrganizationOnly, &no_org, view(), ev, ob).is_none());
    }
}
