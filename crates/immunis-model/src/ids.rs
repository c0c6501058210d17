//! Registry-internal identifiers. They never leave the registry on the wire
//! except as the state registry id (assigning authority of the registry).

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A person in the registry; the distribution key of every patient-owned row.
    PatientId
);
id_type!(
    /// One reported vaccination event (one source's report of one dose).
    VaccinationId
);
id_type!(
    /// A provider organization, school, board of health, program or study.
    OrganizationId
);
id_type!(
    /// A facility (site) of an organization; HL7 sending facility (MSH-4).
    FacilityId
);
