//! Focused checks of CDSi rules on synthetic patients, against the embedded
//! supporting data 4.64 (the CDC case harness in `cdc_cases.rs` covers the
//! rest; these pin rules the CDC cases do not exercise: dose volume, trade
//! name, birth-date immunity and its exclusion, gender-specific series).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use immunis_cdsi::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dose(date: &str, cvx: &str) -> AdministeredDose {
    AdministeredDose::new(d(date), Cvx::parse(cvx).unwrap())
}

fn assess(
    engine: &Engine,
    dob: &str,
    sex: Sex,
    doses: &[AdministeredDose],
    observations: &[Observation],
    on: &str,
) -> Assessment {
    let patient = PatientHistory {
        birth_date: d(dob),
        sex,
        doses,
        observations,
    };
    engine.assess(&patient, d(on))
}

fn group<'a>(engine: &Engine, a: &'a Assessment, name: &str) -> &'a VaccineGroupResult {
    let id = engine.data().vaccine_group_id(name).expect("group id");
    a.group(id).expect("group result")
}

/// CDSi 6.8: a preferable vaccine given with less than the supporting-data
/// volume (HepB CVX 08, 0.5 mL for the infant series) still counts, flagged
/// "Less than recommended volume"; the full volume, a larger one or an
/// unknown volume carry no reason.
#[test]
fn preferable_vaccine_less_than_recommended_volume_still_counts() {
    let engine = Engine::default_data().unwrap();
    for (volume, short) in [
        (Some(0.25), true),
        (Some(0.5), false),
        (Some(1.0), false),
        (None, false),
    ] {
        let mut first = dose("2025-01-01", "08");
        first.volume_ml = volume;
        let doses = [first];
        let a = assess(
            &engine,
            "2025-01-01",
            Sex::Female,
            &doses,
            &[],
            "2025-01-02",
        );
        let hepb = group(&engine, &a, "HepB");
        let e = hepb
            .evaluations
            .iter()
            .find(|e| e.dose_index == 0)
            .expect("evaluation");
        assert_eq!(e.status, DoseStatus::Valid, "volume {volume:?}");
        assert_eq!(e.reason, None, "volume {volume:?}");
        assert_eq!(
            e.reasons.contains(EvalReason::LessThanRecommendedVolume),
            short,
            "volume {volume:?}"
        );
        // the dose counted: the forecast is for dose 2
        assert_eq!(hepb.forecast.as_ref().unwrap().dose_number, 2);
    }
}

/// CDSi 6.8 volume is a preferable-vaccine attribute only: a dose which fails
/// another check keeps that reason first and also reports the short volume.
#[test]
fn short_volume_on_a_dose_that_fails_age() {
    let engine = Engine::default_data().unwrap();
    // DTaP (CVX 20, 0.5 mL) at 2 months, then 0.1 mL two weeks later:
    // below the absolute minimum interval (4 weeks - 4 days)
    let mut early = dose("2025-03-15", "20");
    early.volume_ml = Some(0.1);
    let doses = [dose("2025-03-01", "20"), early];
    let a = assess(&engine, "2025-01-01", Sex::Male, &doses, &[], "2025-03-15");
    let dtap = group(&engine, &a, "DTaP/Tdap/Td");
    let e = dtap.evaluations.iter().find(|e| e.dose_index == 1).unwrap();
    assert_eq!(e.status, DoseStatus::NotValid);
    assert_eq!(e.reason, Some(EvalReason::IntervalTooSoon));
    assert!(e.reasons.contains(EvalReason::LessThanRecommendedVolume));
}

/// CDSi 6.8 trade name: the HepB adolescent 2-dose series takes only
/// Recombivax adult (CVX 43, MVX MSD). Two adult-formulation doses from
/// another manufacturer at 11-15 years do not complete it.
#[test]
fn preferable_vaccine_trade_name() {
    let engine = Engine::default_data().unwrap();
    let run = |mvx: Option<&str>| {
        let mut doses = [dose("2022-06-01", "43"), dose("2022-12-01", "43")];
        for x in doses.iter_mut() {
            x.mvx = mvx.and_then(Mvx::parse);
        }
        let a = assess(
            &engine,
            "2010-01-01",
            Sex::Female,
            &doses,
            &[],
            "2023-01-01",
        );
        group(&engine, &a, "HepB").status
    };
    assert_eq!(run(Some("MSD")), SeriesStatus::Complete);
    // unknown manufacturer: the trade name cannot be contradicted
    assert_eq!(run(None), SeriesStatus::Complete);
    assert_eq!(run(Some("SKB")), SeriesStatus::NotComplete);
}

/// CDSi 7.2 evidence of immunity by birth date (Measles, Mumps, Rubella: born
/// before 1957), unless an exclusion observation applies (055 health care
/// personnel).
#[test]
fn birth_date_immunity_and_exclusion() {
    let engine = Engine::default_data().unwrap();
    let a = assess(&engine, "1950-05-05", Sex::Female, &[], &[], "2025-01-01");
    assert_eq!(group(&engine, &a, "MMR").status, SeriesStatus::Immune);
    let hcp = [Observation {
        code: 55,
        date: None,
    }];
    let a = assess(&engine, "1950-05-05", Sex::Female, &[], &hcp, "2025-01-01");
    let mmr = group(&engine, &a, "MMR");
    assert_eq!(mmr.status, SeriesStatus::NotComplete);
    assert_eq!(mmr.forecast.as_ref().unwrap().dose_number, 1);
    // born in 1957: no birth-date immunity
    let a = assess(&engine, "1957-01-01", Sex::Female, &[], &[], "2025-01-01");
    assert_ne!(group(&engine, &a, "MMR").status, SeriesStatus::Immune);
}

/// CDSi 5.1 required gender: the Pertussis pregnancy series (Female /
/// Unknown only) is relevant for a pregnant woman, and its interval is
/// measured from the onset-of-pregnancy observation (CALCDTINT from a
/// relevant observation: 27 weeks); for a male patient it is not relevant.
#[test]
fn gender_and_observation_interval() {
    let engine = Engine::default_data().unwrap();
    let obs = [
        Observation {
            code: 7,
            date: None,
        },
        Observation {
            code: 170,
            date: Some(d("2024-03-01")),
        },
    ];
    // a 24-year-old with a complete childhood series and the adolescent Tdap
    // (the standard Pertussis series is complete): only the pregnancy series
    // asks for a pertussis dose
    let doses = [
        dose("2000-03-01", "20"),
        dose("2000-05-01", "20"),
        dose("2000-07-01", "20"),
        dose("2001-04-01", "20"),
        dose("2004-02-01", "20"),
        dose("2011-02-01", "115"),
    ];
    let a = assess(
        &engine,
        "2000-01-01",
        Sex::Female,
        &doses,
        &obs,
        "2024-04-01",
    );
    let f = group(&engine, &a, "DTaP/Tdap/Td")
        .forecast
        .clone()
        .expect("pregnancy dose due");
    // 2024-03-01 + 27 weeks
    assert_eq!(f.earliest, d("2024-09-06"));
    let a = assess(&engine, "2000-01-01", Sex::Male, &doses, &obs, "2024-04-01");
    let f = group(&engine, &a, "DTaP/Tdap/Td").forecast.clone().unwrap();
    // the male patient is only due the Td booster (5 years after the Tdap)
    assert_eq!(f.earliest, d("2016-02-01"));
}
