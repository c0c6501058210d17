//! The access policy: (actor, role, organization, purpose, patient, action,
//! consent state) → allow / allow-filtered / deny, with the reason.
//!
//! Pure: no I/O, no clock. The registry calls [`decide`] before every read or
//! write of patient data and records the decision in the audit trail; no other
//! crate makes access decisions.
#![forbid(unsafe_code)]

use immunis_model::OrganizationId;

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
    /// Manage organizations, users, facilities, consent, merges.
    Administer,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SubmitRecord => "submit_record",
            Action::SearchPatients => "search_patients",
            Action::ReadRecord => "read_record",
            Action::Administer => "administer",
        }
    }
}

/// What the policy needs to know about the person concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatientContext {
    /// An active objection to data sharing (PD1-12 = Y).
    pub objection_active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Under an objection to data sharing a provider sees only what its own
    /// organization gave (105 CMR 222).
    AllowOwnOrganizationOnly,
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
            Decision::Deny(_) => "deny",
        }
    }
}

/// The one authorization point.
pub fn decide(
    actor: &Actor,
    action: Action,
    purpose: Purpose,
    patient: Option<PatientContext>,
) -> Decision {
    let objection = patient.is_some_and(|p| p.objection_active);
    match (actor.role, action) {
        (Role::RegistryAdmin, _) => Decision::Allow,
        (_, Action::Administer) => Decision::Deny("only registry administrators administer"),
        (Role::ProviderUser | Role::ProviderSystem, Action::SubmitRecord) => {
            if actor.organization.is_none() {
                Decision::Deny("submitter belongs to no organization")
            } else {
                Decision::Allow
            }
        }
        (_, Action::SubmitRecord) => Decision::Deny("only providers submit records"),
        (
            Role::ProviderUser | Role::ProviderSystem,
            Action::SearchPatients | Action::ReadRecord,
        ) => {
            if purpose != Purpose::Treatment {
                Decision::Deny("providers read records for treatment")
            } else if objection {
                Decision::AllowOwnOrganizationOnly
            } else {
                Decision::Allow
            }
        }
        (Role::HealthDepartment, Action::SearchPatients | Action::ReadRecord) => {
            // The Department's own access remains under an objection.
            if purpose == Purpose::PublicHealth {
                Decision::Allow
            } else {
                Decision::Deny("health department access is for public health")
            }
        }
        (Role::School | Role::BoardOfHealth, Action::SearchPatients | Action::ReadRecord) => {
            if objection {
                Decision::Deny("the person objected to data sharing")
            } else {
                Decision::Allow
            }
        }
        (Role::Study, _) => Decision::Deny("studies receive de-identified extracts only"),
        (Role::Person, Action::ReadRecord) if purpose == Purpose::SelfAccess => Decision::Allow,
        (Role::Person, _) => Decision::Deny("a person may only read their own record"),
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
