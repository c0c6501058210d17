//! A synthetic child's record for tests and benchmarks (made-up people only).

use chrono::{Days, NaiveDate};

use crate::record::{DoseInfo, DueInfo, PersonInfo, RecordDocument};

/// A typical child's record: the routine schedule to school entry, about
/// 25 valid doses with providers and lot numbers, plus the forecast.
pub fn child_record(doses: usize) -> RecordDocument {
    let birth = NaiveDate::from_ymd_opt(2018, 3, 14).unwrap_or_default();
    let schedule: [(&str, &str, &[&str], u64); 12] = [
        ("08", "Hep B, adolescent or pediatric", &["HepB"], 0),
        ("20", "DTaP", &["DTaP/Tdap/Td"], 61),
        ("10", "IPV", &["Polio"], 61),
        ("49", "Hib (PRP-OMP)", &["Hib"], 61),
        (
            "133",
            "Pneumococcal conjugate PCV 13",
            &["Pneumococcal"],
            61,
        ),
        ("116", "Rotavirus, pentavalent", &["Rotavirus"], 61),
        (
            "110",
            "DTaP-Hep B-IPV",
            &["DTaP/Tdap/Td", "HepB", "Polio"],
            122,
        ),
        ("03", "MMR", &["MMR"], 366),
        ("21", "Varicella", &["Varicella"], 366),
        ("83", "Hep A, ped/adol, 2 dose", &["HepA"], 366),
        (
            "150",
            "Influenza, injectable, quadrivalent, preservative free",
            &["Influenza"],
            400,
        ),
        ("94", "MMRV", &["MMR", "Varicella"], 1500),
    ];
    let providers = [
        "Springfield Pediatrics",
        "Riverside Family Medicine",
        "Commonwealth Community Health Center",
    ];
    let mut out = Vec::new();
    for i in 0..doses {
        let (cvx, name, groups, base) = schedule[i % schedule.len()];
        let round = (i / schedule.len()) as u64;
        let date = birth
            .checked_add_days(Days::new(base + round * 62 + i as u64))
            .unwrap_or(birth);
        out.push(DoseInfo {
            date,
            vaccine: name.to_string(),
            cvx: cvx.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            provider: Some(providers[i % providers.len()].to_string()),
            lot_number: Some(format!("LOT{:05}X", 1000 + i * 37)),
        });
    }
    out.sort_by_key(|d| d.date);
    let today = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap_or_default();
    RecordDocument {
        registry_name: "Massachusetts Immunization Information System (synthetic)".into(),
        registry_lines: vec![
            "305 South Street, Jamaica Plain, MA 02130".into(),
            "https://registry.example.org".into(),
        ],
        person: PersonInfo {
            given: "Zoë".into(),
            middle: Some("Ann".into()),
            family: "Testperson".into(),
            birth_date: birth,
            sex: Some("Female".into()),
            registry_id: Some("1042".into()),
        },
        doses: out,
        due: vec![
            DueInfo {
                group: "DTaP/Tdap/Td".into(),
                status: "Not Complete".into(),
                dose_number: Some(5),
                earliest: NaiveDate::from_ymd_opt(2022, 3, 14),
                recommended: NaiveDate::from_ymd_opt(2022, 3, 14),
                past_due: NaiveDate::from_ymd_opt(2025, 3, 14),
            },
            DueInfo {
                group: "Influenza".into(),
                status: "Not Complete".into(),
                dose_number: Some(2),
                earliest: NaiveDate::from_ymd_opt(2024, 8, 1),
                recommended: NaiveDate::from_ymd_opt(2024, 9, 1),
                past_due: None,
            },
            DueInfo {
                group: "MMR".into(),
                status: "Complete".into(),
                dose_number: None,
                earliest: None,
                recommended: None,
                past_due: None,
            },
        ],
        issued_on: today,
        notes: Vec::new(),
    }
}
