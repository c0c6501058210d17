//! The access policy: (actor, role, organization, purpose, patient, action,
//! consent state) → allow / allow-filtered / deny, with the reason.
//!
//! Pure: no I/O, no clock. The registry calls [`decide`] before every read or
//! write of patient data and records the decision in the audit trail, and
//! [`redact`] (in `redact.rs`) applies a decision to the record read; no
//! other crate makes access decisions or trims what a decision hides.
#![forbid(unsafe_code)]

use immunis_model::OrganizationId;

pub mod redact;
pub use redact::{redact, ItemFacts, RecordView, Redacted};

/// The kind of party acting, from the MIIS fact sheet's list of who may see data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A person at a provider organization.
    ProviderUser,
    /// An EHR or other system submitting and querying for a provider facility.
    ProviderSystem,
    School,
    BoardOfHealth,
    /// DPH programs such as WIC.
    HealthDepartment,
    /// A study approved by the Commissioner: de-identified extracts only.
    Study,
    RegistryAdmin,
    /// A person (or parent) looking at their own record.
    Person,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ProviderUser => "provider_user",
            Role::ProviderSystem => "provider_system",
            Role::School => "school",
            Role::BoardOfHealth => "board_of_health",
            Role::HealthDepartment => "health_department",
            Role::Study => "study",
            Role::RegistryAdmin => "registry_admin",
            Role::Person => "person",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "provider_user" => Role::ProviderUser,
            "provider_system" => Role::ProviderSystem,
            "school" => Role::School,
            "board_of_health" => Role::BoardOfHealth,
            "health_department" => Role::HealthDepartment,
            "study" => Role::Study,
            "registry_admin" => Role::RegistryAdmin,
            "person" => Role::Person,
            _ => return None,
        })
    }

    /// The purpose a role's reads serve.
    pub fn default_purpose(self) -> Purpose {
        match self {
            Role::ProviderUser | Role::ProviderSystem => Purpose::Treatment,
            Role::School => Purpose::SchoolEntry,
            Role::BoardOfHealth | Role::HealthDepartment => Purpose::PublicHealth,
            Role::Study => Purpose::Research,
            Role::RegistryAdmin => Purpose::Administration,
            Role::Person => Purpose::SelfAccess,
        }
    }
}

/// Why the data is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    Treatment,
    PublicHealth,
    SchoolEntry,
    Research,
    Administration,
    SelfAccess,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Treatment => "treatment",
            Purpose::PublicHealth => "public_health",
            Purpose::SchoolEntry => "school_entry",
            Purpose::Research => "research",
            Purpose::Administration => "administration",
            Purpose::SelfAccess => "self_access",
        }
    }
}

/// Who is asking: established by authentication at the transport edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Username or client id; never a patient identifier.
    pub subject: String,
    pub role: Role,
    pub organization: Option<OrganizationId>,
    /// The facility the actor submits for (MSH-4 must equal it).
    pub facility_code: Option<String>,
    pub client_addr: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Add or change vaccinations and demographics (VXU, forms).
    SubmitRecord,
    /// Find people by demographics (QBP, search screens).
    SearchPatients,
    /// Read one person's record (history, forecast).
    ReadRecord,
    /// Record or withdraw an objection to data sharing on a person's behalf.
    RecordConsent,
    /// A de-identified extract for an approved study.
    DeidentifiedExtract,
    /// Manage organizations, users, facilities, consent, merges.
    Administer,
    /// A school's own records about a rostered student: the grade on the
    /// roster, exemption certificates the nurse files. Discloses nothing from
    /// the registry, so an objection does not stop it; putting someone *on*
    /// a roster stays with administrators (it would grant access).
    MaintainSchoolRecords,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SubmitRecord => "submit_record",
            Action::SearchPatients => "search_patients",
            Action::ReadRecord => "read_record",
            Action::RecordConsent => "record_consent",
            Action::DeidentifiedExtract => "deidentified_extract",
            Action::Administer => "administer",
            Action::MaintainSchoolRecords => "maintain_school_records",
        }
    }
}

/// What the policy needs to know about the person concerned, and about the
/// person's relation to the asking actor. The registry computes it from the
/// consent history, rosters, jurisdictions and user accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatientContext {
    /// An active objection to data sharing (the latest consent event files one).
    pub objection_active: bool,
    /// The person is on the actor organization's roster (a school's students,
    /// a health-department program's enrolled clients).
    pub on_roster: bool,
    /// The person lives in the actor organization's jurisdiction (board of health).
    pub in_jurisdiction: bool,
    /// The person is the actor (a person's own account).
    pub is_self: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Under an objection to data sharing a provider sees only what its own
    /// organization gave (105 CMR 222).
    AllowOwnOrganizationOnly,
    /// Schools see the school-entry data only: name, birth date, sex, the
    /// vaccinations and evidence of immunity (no contacts, guardians, other
    /// observations or refusals).
    AllowSchoolEntryOnly,
    Deny(&'static str),
}

impl Decision {
    pub fn is_denied(self) -> bool {
        matches!(self, Decision::Deny(_))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::AllowOwnOrganizationOnly => "allow_own_organization_only",
            Decision::AllowSchoolEntryOnly => "allow_school_entry_only",
            Decision::Deny(_) => "deny",
        }
    }
}

fn is_provider(role: Role) -> bool {
    matches!(role, Role::ProviderUser | Role::ProviderSystem)
}

/// The one authorization point.
///
/// `patient` is `None` for a search before any person is known: the search
/// itself is allowed or not, and each candidate is then decided with its
/// context as a [`Action::ReadRecord`].
pub fn decide(
    actor: &Actor,
    action: Action,
    purpose: Purpose,
    patient: Option<PatientContext>,
) -> Decision {
    let ctx = patient.unwrap_or_default();
    let known = patient.is_some();
    let objection = ctx.objection_active;
    match (actor.role, action) {
        (Role::RegistryAdmin, _) => Decision::Allow,
        (_, Action::Administer) => Decision::Deny("only registry administrators administer"),
        (Role::School, Action::MaintainSchoolRecords) => {
            if purpose != Purpose::SchoolEntry {
                Decision::Deny("school access is for school entry")
            } else if actor.organization.is_none() {
                Decision::Deny("school user belongs to no organization")
            } else if known && !ctx.on_roster {
                Decision::Deny("the person is not on the school's roster")
            } else {
                Decision::Allow
            }
        }
        (_, Action::MaintainSchoolRecords) => {
            Decision::Deny("only the school and the registry keep school records")
        }
        (role, Action::SubmitRecord | Action::RecordConsent) if is_provider(role) => {
            if actor.organization.is_none() {
                Decision::Deny("submitter belongs to no organization")
            } else {
                Decision::Allow
            }
        }
        (_, Action::SubmitRecord) => Decision::Deny("only providers submit records"),
        (_, Action::RecordConsent) => {
            Decision::Deny("only providers and the registry record objections")
        }
        (Role::Study, Action::DeidentifiedExtract) if purpose == Purpose::Research => {
            Decision::Allow
        }
        (_, Action::DeidentifiedExtract) => {
            Decision::Deny("de-identified extracts are for approved studies")
        }
        (Role::Study, _) => Decision::Deny("studies receive de-identified extracts only"),
        (role, Action::SearchPatients | Action::ReadRecord) if is_provider(role) => {
            if purpose != Purpose::Treatment {
                Decision::Deny("providers read records for treatment")
            } else if actor.organization.is_none() {
                Decision::Deny("provider belongs to no organization")
            } else if objection {
                Decision::AllowOwnOrganizationOnly
            } else {
                Decision::Allow
            }
        }
        (Role::HealthDepartment, Action::SearchPatients | Action::ReadRecord) => {
            // A Department program's own access remains under an objection,
            // but only for the clients enrolled in it.
            if purpose != Purpose::PublicHealth {
                Decision::Deny("health department access is for public health")
            } else if known && !ctx.on_roster {
                Decision::Deny("the person is not enrolled in this program")
            } else {
                Decision::Allow
            }
        }
        (Role::School, Action::SearchPatients | Action::ReadRecord) => {
            if purpose != Purpose::SchoolEntry {
                Decision::Deny("school access is for school entry")
            } else if objection {
                Decision::Deny("the person objected to data sharing")
            } else if known && !ctx.on_roster {
                Decision::Deny("the person is not on the school's roster")
            } else {
                Decision::AllowSchoolEntryOnly
            }
        }
        (Role::BoardOfHealth, Action::SearchPatients | Action::ReadRecord) => {
            if purpose != Purpose::PublicHealth {
                Decision::Deny("board of health access is for public health")
            } else if objection {
                Decision::Deny("the person objected to data sharing")
            } else if known && !ctx.in_jurisdiction {
                Decision::Deny("the person does not live in the board's jurisdiction")
            } else {
                Decision::Allow
            }
        }
        (Role::Person, Action::ReadRecord) if purpose == Purpose::SelfAccess && ctx.is_self => {
            Decision::Allow
        }
        (Role::Person, _) => Decision::Deny("a person may only read their own record"),
        (_, Action::SearchPatients | Action::ReadRecord) => {
            Decision::Deny("no access rule for this role")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        Actor {
            subject: "u".into(),
            role,
            organization: Some(OrganizationId(1)),
            facility_code: None,
            client_addr: None,
        }
    }

    #[test]
    fn objection_limits_providers_and_blocks_schools() {
        let p = Some(PatientContext {
            objection_active: true,
            on_roster: true,
            in_jurisdiction: true,
            is_self: false,
        });
        assert_eq!(
            decide(
                &actor(Role::ProviderSystem),
                Action::ReadRecord,
                Purpose::Treatment,
                p
            ),
            Decision::AllowOwnOrganizationOnly
        );
        assert!(decide(
            &actor(Role::School),
            Action::ReadRecord,
            Purpose::SchoolEntry,
            p
        )
        .is_denied());
        assert!(decide(
            &actor(Role::BoardOfHealth),
            Action::ReadRecord,
            Purpose::PublicHealth,
            p
        )
        .is_denied());
        assert_eq!(
            decide(
                &actor(Role::HealthDepartment),
                Action::ReadRecord,
                Purpose::PublicHealth,
                p
            ),
            Decision::Allow
        );
        let not_enrolled = Some(PatientContext {
            objection_active: true,
            ..Default::default()
        });
        assert!(decide(
            &actor(Role::HealthDepartment),
            Action::ReadRecord,
            Purpose::PublicHealth,
            not_enrolled
        )
        .is_denied());
    }

    #[test]
    fn rosters_jurisdictions_and_self() {
        let none = PatientContext::default();
        let roster = PatientContext {
            on_roster: true,
            ..none
        };
        let resident = PatientContext {
            in_jurisdiction: true,
            ..none
        };
        let me = PatientContext {
            is_self: true,
            ..none
        };
        let school = actor(Role::School);
        assert_eq!(
            decide(
                &school,
                Action::ReadRecord,
                Purpose::SchoolEntry,
                Some(roster)
            ),
            Decision::AllowSchoolEntryOnly
        );
        assert!(decide(
            &school,
            Action::ReadRecord,
            Purpose::SchoolEntry,
            Some(none)
        )
        .is_denied());
        assert!(decide(
            &school,
            Action::ReadRecord,
            Purpose::PublicHealth,
            Some(roster)
        )
        .is_denied());
        let boh = actor(Role::BoardOfHealth);
        assert_eq!(
            decide(
                &boh,
                Action::ReadRecord,
                Purpose::PublicHealth,
                Some(resident)
            ),
            Decision::Allow
        );
        assert!(decide(
            &boh,
            Action::ReadRecord,
            Purpose::PublicHealth,
            Some(roster)
        )
        .is_denied());
        let person = actor(Role::Person);
        assert_eq!(
            decide(&person, Action::ReadRecord, Purpose::SelfAccess, Some(me)),
            Decision::Allow
        );
        assert!(decide(&person, Action::ReadRecord, Purpose::SelfAccess, Some(none)).is_denied());
        assert!(decide(&person, Action::SearchPatients, Purpose::SelfAccess, None).is_denied());
        let study = actor(Role::Study);
        assert_eq!(
            decide(&study, Action::DeidentifiedExtract, Purpose::Research, None),
            Decision::Allow
        );
        assert!(decide(&study, Action::ReadRecord, Purpose::Research, Some(me)).is_denied());
        assert!(decide(
            &actor(Role::ProviderSystem),
            Action::DeidentifiedExtract,
            Purpose::Research,
            None
        )
        .is_denied());
    }

    #[test]
    fn schools_maintain_their_rostered_students_records_only() {
        let school = actor(Role::School);
        let rostered = PatientContext {
            on_roster: true,
            ..Default::default()
        };
        let objected = PatientContext {
            on_roster: true,
            objection_active: true,
            ..Default::default()
        };
        let a = Action::MaintainSchoolRecords;
        let p = Purpose::SchoolEntry;
        assert_eq!(decide(&school, a, p, Some(rostered)), Decision::Allow);
        // Filing the school's own paper is not a disclosure: allowed under an objection.
        assert_eq!(decide(&school, a, p, Some(objected)), Decision::Allow);
        assert!(decide(&school, a, p, Some(PatientContext::default())).is_denied());
        assert!(decide(&school, a, Purpose::Treatment, Some(rostered)).is_denied());
        let mut orphan = actor(Role::School);
        orphan.organization = None;
        assert!(decide(&orphan, a, p, Some(rostered)).is_denied());
        for role in [
            Role::ProviderUser,
            Role::ProviderSystem,
            Role::BoardOfHealth,
            Role::HealthDepartment,
            Role::Study,
            Role::Person,
        ] {
            assert!(
                decide(&actor(role), a, p, Some(rostered)).is_denied(),
                "{role:?}"
            );
        }
        assert_eq!(
            decide(
                &actor(Role::RegistryAdmin),
                a,
                Purpose::Administration,
                None
            ),
            Decision::Allow
        );
    }

    #[test]
    fn only_providers_submit_and_only_admins_administer() {
        assert_eq!(
            decide(
                &actor(Role::ProviderSystem),
                Action::SubmitRecord,
                Purpose::Treatment,
                None
            ),
            Decision::Allow
        );
        assert!(decide(
            &actor(Role::School),
            Action::SubmitRecord,
            Purpose::SchoolEntry,
            None
        )
        .is_denied());
        assert!(decide(
            &actor(Role::ProviderUser),
            Action::Administer,
            Purpose::Administration,
            None
        )
        .is_denied());
        assert!(decide(
            &actor(Role::Study),
            Action::ReadRecord,
            Purpose::Research,
            None
        )
        .is_denied());
        let mut orphan = actor(Role::ProviderSystem);
        orphan.organization = None;
        assert!(decide(&orphan, Action::SubmitRecord, Purpose::Treatment, None).is_denied());
    }
}
