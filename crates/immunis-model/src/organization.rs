//! Who takes part: organizations (providers, schools, boards of health,
//! health-department programs, studies, the registry) and their facilities.

use crate::ids::{FacilityId, OrganizationId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrganizationKind {
    Provider,
    School,
    BoardOfHealth,
    HealthDepartmentProgram,
    Study,
    Registry,
}

impl OrganizationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrganizationKind::Provider => "provider",
            OrganizationKind::School => "school",
            OrganizationKind::BoardOfHealth => "board_of_health",
            OrganizationKind::HealthDepartmentProgram => "health_department_program",
            OrganizationKind::Study => "study",
            OrganizationKind::Registry => "registry",
        }
    }

    pub fn parse(s: &str) -> Option<OrganizationKind> {
        Some(match s {
            "provider" => OrganizationKind::Provider,
            "school" => OrganizationKind::School,
            "board_of_health" => OrganizationKind::BoardOfHealth,
            "health_department_program" => OrganizationKind::HealthDepartmentProgram,
            "study" => OrganizationKind::Study,
            "registry" => OrganizationKind::Registry,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub kind: OrganizationKind,
}

/// A site of an organization. `code` is what the facility sends in MSH-4 (HD-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facility {
    pub id: FacilityId,
    pub organization_id: OrganizationId,
    pub code: String,
    pub name: String,
}
