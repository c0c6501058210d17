//! The storage boundary: explicit conversions between domain types and the
//! JSON documents kept in `patient.doc` / `vaccination_event.doc`. Domain types
//! stay free of serde; the document shapes here are versioned with the schema.

use chrono::NaiveDate;
use immunis_model::{
    Address, BirthDate, Code, CompletionStatus, Cvx, Dated, Guardian, InformationSource, Mvx,
    NameType, Patient, PatientIdentifier, PersonName, Phone, RegistryStatus, Sex, VaccinationEvent,
    VisDocument,
};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Dates in stored documents. They are written by chrono as `YYYY-MM-DD`
/// and read here by hand, falling back to chrono for anything else (a
/// year past 9999): chrono's general parser was 3.6 % of the instructions
/// of a Z34 query, which decodes every event of the record
/// (`examples/z34_instr.rs`).
mod date_doc {
    use std::fmt;

    use chrono::NaiveDate;
    use serde::de::{self, Deserializer, Unexpected, Visitor};

    /// `YYYY-MM-DD` by hand; any other shape through chrono.
    pub(crate) fn parse(s: &str) -> Option<NaiveDate> {
        let b = s.as_bytes();
        if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
            let num = |r: &[u8]| {
                r.iter().try_fold(0u32, |acc, &c| {
                    c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
                })
            };
            if let (Some(y), Some(m), Some(d)) = (num(&b[..4]), num(&b[5..7]), num(&b[8..])) {
                // y < 10,000: fits an i32.
                return NaiveDate::from_ymd_opt(y as i32, m, d);
            }
        }
        s.parse().ok()
    }

    struct Date;

    impl Visitor<'_> for Date {
        type Value = NaiveDate;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a date (YYYY-MM-DD)")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<NaiveDate, E> {
            parse(s).ok_or_else(|| E::invalid_value(Unexpected::Str(s), &self))
        }
    }

    struct OptDate;

    impl<'de> Visitor<'de> for OptDate {
        type Value = Option<NaiveDate>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a date (YYYY-MM-DD) or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            one(d).map(Some)
        }
    }

    pub(crate) fn one<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        d.deserialize_str(Date)
    }

    pub(crate) fn opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        d.deserialize_option(OptDate)
    }
}

#[derive(Serialize, Deserialize, Default)]
struct CodeDoc {
    c: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
}

fn code_to(c: &Code) -> CodeDoc {
    CodeDoc {
        c: c.code.clone(),
        t: c.text.clone(),
        s: c.system.clone(),
    }
}
fn code_from(d: CodeDoc) -> Code {
    Code {
        code: d.c,
        text: d.t,
        system: d.s,
    }
}

#[derive(Serialize, Deserialize, Default)]
struct NameDoc {
    family: String,
    given: String,
    #[serde(default)]
    middle: Option<String>,
    #[serde(default)]
    suffix: Option<String>,
    #[serde(default)]
    kind: String,
}

fn name_to(n: &PersonName) -> NameDoc {
    NameDoc {
        family: n.family.clone(),
        given: n.given.clone(),
        middle: n.middle.clone(),
        suffix: n.suffix.clone(),
        kind: n.name_type.hl7().to_string(),
    }
}
fn name_from(d: NameDoc) -> PersonName {
    PersonName {
        family: d.family,
        given: d.given,
        middle: d.middle,
        suffix: d.suffix,
        name_type: NameType::from_hl7(&d.kind),
    }
}

#[derive(Serialize, Deserialize, Default)]
struct AddressDoc {
    street1: String,
    #[serde(default)]
    street2: Option<String>,
    city: String,
    state: String,
    zip: String,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    county: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

fn address_to(a: &Address) -> AddressDoc {
    AddressDoc {
        street1: a.street1.clone(),
        street2: a.street2.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        zip: a.zip.clone(),
        country: a.country.clone(),
        county: a.county.clone(),
        kind: a.address_type.clone(),
    }
}
fn address_from(d: AddressDoc) -> Address {
    Address {
        street1: d.street1,
        street2: d.street2,
        city: d.city,
        state: d.state,
        zip: d.zip,
        country: d.country,
        county: d.county,
        address_type: d.kind,
    }
}

#[derive(Serialize, Deserialize, Default)]
struct PhoneDoc {
    number: String,
    #[serde(default)]
    use_code: Option<String>,
    #[serde(default)]
    equipment: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

fn phone_to(p: &Phone) -> PhoneDoc {
    PhoneDoc {
        number: p.number.clone(),
        use_code: p.use_code.clone(),
        equipment: p.equipment.clone(),
        email: p.email.clone(),
    }
}
fn phone_from(d: PhoneDoc) -> Phone {
    Phone {
        number: d.number,
        use_code: d.use_code,
        equipment: d.equipment,
        email: d.email,
    }
}

#[derive(Serialize, Deserialize)]
struct GuardianDoc {
    name: NameDoc,
    relationship: CodeDoc,
    #[serde(default)]
    address: Option<AddressDoc>,
    #[serde(default)]
    phone: Option<PhoneDoc>,
}

#[derive(Serialize, Deserialize)]
struct IdDoc {
    v: String,
    a: String,
    t: String,
}

#[derive(Serialize, Deserialize)]
struct DatedDoc<T> {
    v: T,
    #[serde(default, deserialize_with = "date_doc::opt")]
    on: Option<NaiveDate>,
}

#[derive(Serialize, Deserialize)]
struct PatientDoc {
    ids: Vec<IdDoc>,
    names: Vec<NameDoc>,
    #[serde(default)]
    mother_maiden: Option<NameDoc>,
    #[serde(deserialize_with = "date_doc::one")]
    birth_date: NaiveDate,
    sex: String,
    #[serde(default)]
    race: Vec<CodeDoc>,
    #[serde(default)]
    ethnicity: Vec<CodeDoc>,
    #[serde(default)]
    addresses: Vec<AddressDoc>,
    #[serde(default)]
    phones: Vec<PhoneDoc>,
    #[serde(default)]
    guardians: Vec<GuardianDoc>,
    #[serde(default)]
    multiple_birth: Option<bool>,
    #[serde(default)]
    birth_order: Option<u8>,
    #[serde(default, deserialize_with = "date_doc::opt")]
    death_date: Option<NaiveDate>,
    #[serde(default)]
    deceased: Option<bool>,
    #[serde(default)]
    registry_status: Option<DatedDoc<String>>,
    #[serde(default)]
    publicity: Option<DatedDoc<CodeDoc>>,
    #[serde(default)]
    protection: Option<DatedDoc<bool>>,
}

pub fn patient_to_doc(p: &Patient) -> String {
    let doc = PatientDoc {
        ids: p
            .identifiers
            .iter()
            .map(|i| IdDoc {
                v: i.value.clone(),
                a: i.assigning_authority.clone(),
                t: i.id_type.clone(),
            })
            .collect(),
        names: p.names.iter().map(name_to).collect(),
        mother_maiden: p.mother_maiden_name.as_ref().map(name_to),
        birth_date: p.birth_date.0,
        sex: p.sex.hl7().to_string(),
        race: p.race.iter().map(code_to).collect(),
        ethnicity: p.ethnicity.iter().map(code_to).collect(),
        addresses: p.addresses.iter().map(address_to).collect(),
        phones: p.phones.iter().map(phone_to).collect(),
        guardians: p
            .guardians
            .iter()
            .map(|g| GuardianDoc {
                name: name_to(&g.name),
                relationship: code_to(&g.relationship),
                address: g.address.as_ref().map(address_to),
                phone: g.phone.as_ref().map(phone_to),
            })
            .collect(),
        multiple_birth: p.multiple_birth,
        birth_order: p.birth_order,
        death_date: p.death_date,
        deceased: p.deceased,
        registry_status: p.registry_status.as_ref().map(|d| DatedDoc {
            v: d.value.hl7().to_string(),
            on: d.effective,
        }),
        publicity: p.publicity.as_ref().map(|d| DatedDoc {
            v: code_to(&d.value),
            on: d.effective,
        }),
        protection: p.protection.as_ref().map(|d| DatedDoc {
            v: d.value,
            on: d.effective,
        }),
    };
    // Serialising plain structs of strings, numbers and dates cannot fail.
    serde_json::to_string(&doc).unwrap_or_default()
}

pub fn patient_from_doc(text: &str) -> Result<Patient, StoreError> {
    let d: PatientDoc =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("patient doc: {e}")))?;
    Ok(Patient {
        identifiers: d
            .ids
            .into_iter()
            .map(|i| PatientIdentifier {
                value: i.v,
                assigning_authority: i.a,
                id_type: i.t,
            })
            .collect(),
        names: d.names.into_iter().map(name_from).collect(),
        mother_maiden_name: d.mother_maiden.map(name_from),
        birth_date: BirthDate(d.birth_date),
        sex: Sex::from_hl7(&d.sex),
        race: d.race.into_iter().map(code_from).collect(),
        ethnicity: d.ethnicity.into_iter().map(code_from).collect(),
        addresses: d.addresses.into_iter().map(address_from).collect(),
        phones: d.phones.into_iter().map(phone_from).collect(),
        guardians: d
            .guardians
            .into_iter()
            .map(|g| Guardian {
                name: name_from(g.name),
                relationship: code_from(g.relationship),
                address: g.address.map(address_from),
                phone: g.phone.map(phone_from),
            })
            .collect(),
        multiple_birth: d.multiple_birth,
        birth_order: d.birth_order,
        death_date: d.death_date,
        deceased: d.deceased,
        registry_status: d.registry_status.and_then(|r| {
            RegistryStatus::from_hl7(&r.v).map(|value| Dated {
                value,
                effective: r.on,
            })
        }),
        publicity: d.publicity.map(|r| Dated {
            value: code_from(r.v),
            effective: r.on,
        }),
        protection: d.protection.map(|r| Dated {
            value: r.v,
            effective: r.on,
        }),
    })
}

#[derive(Serialize, Deserialize, Default)]
struct VisDoc {
    doc: String,
    #[serde(default, deserialize_with = "date_doc::opt")]
    published: Option<NaiveDate>,
    #[serde(default, deserialize_with = "date_doc::opt")]
    presented: Option<NaiveDate>,
}

#[derive(Serialize, Deserialize, Default)]
struct EventDoc {
    #[serde(default, deserialize_with = "date_doc::opt")]
    date: Option<NaiveDate>,
    #[serde(default)]
    cvx: Option<String>,
    #[serde(default)]
    ndc: Option<String>,
    #[serde(default)]
    mvx: Option<String>,
    #[serde(default)]
    trade_name: Option<String>,
    #[serde(default)]
    lot: Option<String>,
    #[serde(default, deserialize_with = "date_doc::opt")]
    expiration: Option<NaiveDate>,
    #[serde(default)]
    amount: Option<f64>,
    #[serde(default)]
    units: Option<String>,
    #[serde(default)]
    route: Option<CodeDoc>,
    #[serde(default)]
    site: Option<CodeDoc>,
    source: String,
    completion: String,
    #[serde(default)]
    refusal_reason: Option<CodeDoc>,
    #[serde(default)]
    funding_eligibility: Option<CodeDoc>,
    #[serde(default)]
    funding_source: Option<CodeDoc>,
    #[serde(default)]
    vis: Vec<VisDoc>,
    #[serde(default)]
    facility: Option<CodeDoc>,
    #[serde(default)]
    provider: Option<CodeDoc>,
    #[serde(default)]
    ordering: Option<CodeDoc>,
    #[serde(default)]
    entered_by: Option<CodeDoc>,
    #[serde(default)]
    filler: Option<String>,
    #[serde(default)]
    placer: Option<String>,
}

pub fn event_to_doc(e: &VaccinationEvent) -> String {
    let doc = EventDoc {
        date: e.administered_date,
        cvx: e.cvx.as_ref().map(|c| c.as_str().to_string()),
        ndc: e.ndc.clone(),
        mvx: e.mvx.as_ref().map(|m| m.as_str().to_string()),
        trade_name: e.trade_name.clone(),
        lot: e.lot_number.clone(),
        expiration: e.expiration_date,
        amount: e.amount,
        units: e.units.clone(),
        route: e.route.as_ref().map(code_to),
        site: e.site.as_ref().map(code_to),
        source: e.information_source.nip001().to_string(),
        completion: e.completion.hl7().to_string(),
        refusal_reason: e.refusal_reason.as_ref().map(code_to),
        funding_eligibility: e.funding_eligibility.as_ref().map(code_to),
        funding_source: e.funding_source.as_ref().map(code_to),
        vis: e
            .vis
            .iter()
            .map(|v| VisDoc {
                doc: v.document.clone(),
                published: v.published,
                presented: v.presented,
            })
            .collect(),
        facility: e.administering_facility.as_ref().map(code_to),
        provider: e.administering_provider.as_ref().map(code_to),
        ordering: e.ordering_provider.as_ref().map(code_to),
        entered_by: e.entered_by.as_ref().map(code_to),
        filler: e.filler_order_number.clone(),
        placer: e.placer_order_number.clone(),
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

pub fn event_from_doc(text: &str) -> Result<VaccinationEvent, StoreError> {
    let d: EventDoc =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("event doc: {e}")))?;
    Ok(VaccinationEvent {
        administered_date: d.date,
        cvx: d.cvx.and_then(|c| Cvx::parse(&c).ok()),
        ndc: d.ndc,
        mvx: d.mvx.and_then(|m| Mvx::parse(&m).ok()),
        trade_name: d.trade_name,
        lot_number: d.lot,
        expiration_date: d.expiration,
        amount: d.amount,
        units: d.units,
        route: d.route.map(code_from),
        site: d.site.map(code_from),
        information_source: InformationSource::from_nip001(&d.source),
        completion: CompletionStatus::from_hl7(&d.completion).unwrap_or_default(),
        refusal_reason: d.refusal_reason.map(code_from),
        funding_eligibility: d.funding_eligibility.map(code_from),
        funding_source: d.funding_source.map(code_from),
        vis: d
            .vis
            .into_iter()
            .map(|v| VisDocument {
                document: v.doc,
                published: v.published,
                presented: v.presented,
            })
            .collect(),
        administering_facility: d.facility.map(code_from),
        administering_provider: d.provider.map(code_from),
        ordering_provider: d.ordering.map(code_from),
        entered_by: d.entered_by.map(code_from),
        filler_order_number: d.filler,
        placer_order_number: d.placer,
    })
}

#[cfg(test)]
mod tests {
    use super::date_doc;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    proptest! {
        /// The hand-written reading agrees with chrono on every date chrono
        /// writes (years 0–9999) and on nearby malformed strings.
        #[test]
        fn dates_read_as_chrono_reads_them(days in 0i64..3_652_424, cut in 0usize..11, junk in "[0-9a-z-]{0,3}") {
            let base = NaiveDate::from_ymd_opt(0, 1, 1).expect("date");
            let d = base + chrono::Duration::days(days);
            let text = d.to_string();
            prop_assert_eq!(date_doc::parse(&text), Some(d));
            let mut bad = text.clone();
            bad.truncate(cut);
            bad.push_str(&junk);
            prop_assert_eq!(date_doc::parse(&bad), bad.parse::<NaiveDate>().ok());
        }
    }

    #[test]
    fn impossible_and_far_dates() {
        assert_eq!(date_doc::parse("2023-02-29"), None);
        assert_eq!(
            date_doc::parse("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(date_doc::parse("2024-13-01"), None);
        assert_eq!(date_doc::parse("+12345-01-01"), "+12345-01-01".parse().ok());
        assert_eq!(date_doc::parse("20240101"), None);
    }
}
