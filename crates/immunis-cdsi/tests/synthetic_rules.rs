//! CDSi rules the CDC cases do not pin down (a mutation of the engine that
//! ignores them leaves the CDC pass count unchanged), checked on a small
//! synthetic supporting data set: conditional skip in the evaluation context
//! only and in the forecast context only (CDSi 6.2 / 7.1), and an
//! "Evaluation Only" series (CDSi 5.1, 8.1 SELECTSCORE-2, 8.8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use immunis_cdsi::*;

const SCHEDULE: &str = r#"<scheduleSupportingData>
<vaccineGroups><vaccineGroup><name>Test</name><administerFullVaccineGroup>No</administerFullVaccineGroup></vaccineGroup></vaccineGroups>
<vaccineGroupToAntigenMap><vaccineGroupMap><name>Test</name><antigen>Testosis</antigen></vaccineGroupMap></vaccineGroupToAntigenMap>
<cvxToAntigenMap>
<cvxMap><cvx>901</cvx><shortDescription>test vaccine</shortDescription><association><antigen>Testosis</antigen><associationBeginAge/><associationEndAge/></association></cvxMap>
<cvxMap><cvx>902</cvx><shortDescription>old test vaccine</shortDescription><association><antigen>Testosis</antigen><associationBeginAge/><associationEndAge/></association></cvxMap>
</cvxToAntigenMap>
</scheduleSupportingData>"#;

fn age_skip(context: &str, begin_age: &str) -> String {
    format!(
        r#"<conditionalSkip><context>{context}</context><setLogic>n/a</setLogic>
<set><setID>1</setID><conditionLogic>AND</conditionLogic>
<condition><conditionID>1</conditionID><conditionType>Age</conditionType><beginAge>{begin_age}</beginAge><endAge/></condition>
</set></conditionalSkip>"#
    )
}

fn dose(age: &str, interval: &str, cvx: &str, skip: &str) -> String {
    let interval = if interval.is_empty() {
        String::new()
    } else {
        format!(
            "<interval><fromPrevious>Y</fromPrevious><absMinInt>{interval}</absMinInt><minInt>{interval}</minInt><earliestRecInt>{interval}</earliestRecInt></interval>"
        )
    };
    format!(
        r#"<seriesDose><age><absMinAge>{age}</absMinAge><minAge>{age}</minAge><earliestRecAge>{age}</earliestRecAge></age>
{interval}
<preferableVaccine><cvx>{cvx}</cvx><beginAge/><endAge/><volume>0.5</volume><forecastVaccineType>Y</forecastVaccineType></preferableVaccine>
{skip}<recurringDose>No</recurringDose></seriesDose>"#
    )
}

/// One antigen "Testosis":
/// * "Std 3-dose" (standard, default, series group 1): dose 1 at 2 months;
///   dose 2 4 weeks later, skipped in the *evaluation* context when the dose
///   is given at 5 years or later; dose 3 6 months later, skipped in the
///   *forecast* context when the patient is 4 years or older;
/// * "Old 1-dose" (evaluation only, series group 2, equivalent to group 1):
///   one dose of CVX 902 from 1 year.
fn antigen() -> String {
    let std = format!(
        r#"<series><seriesName>Std 3-dose</seriesName><targetDisease>Testosis</targetDisease><vaccineGroup>Test</vaccineGroup>
<seriesType>Standard</seriesType><equivalentSeriesGroups>2</equivalentSeriesGroups>
<selectSeries><defaultSeries>Yes</defaultSeries><productPath>No</productPath><seriesGroup>1</seriesGroup><seriesPriority>A</seriesPriority><seriesPreference>1</seriesPreference></selectSeries>
{}{}{}</series>"#,
        dose("2 months", "", "901", ""),
        dose("", "4 weeks", "901", &age_skip("Evaluation", "5 years")),
        dose("", "6 months", "901", &age_skip("Forecast", "4 years")),
    );
    let old = format!(
        r#"<series><seriesName>Old 1-dose</seriesName><targetDisease>Testosis</targetDisease><vaccineGroup>Test</vaccineGroup>
<seriesType>Evaluation Only</seriesType><equivalentSeriesGroups>1</equivalentSeriesGroups>
<selectSeries><defaultSeries>No</defaultSeries><productPath>No</productPath><seriesGroup>2</seriesGroup><seriesPriority>A</seriesPriority><seriesPreference>1</seriesPreference></selectSeries>
{}</series>"#,
        dose("1 year", "", "902", "")
    );
    format!("<antigenSupportingData>{std}{old}</antigenSupportingData>")
}

fn engine() -> Engine {
    Engine::new(SupportingData::from_xml_strings(SCHEDULE, &[antigen()]).expect("synthetic data"))
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn run(engine: &Engine, doses: &[(&str, &str)], on: &str) -> VaccineGroupResult {
    let doses: Vec<AdministeredDose> = doses
        .iter()
        .map(|(date, cvx)| AdministeredDose::new(d(date), Cvx::parse(cvx).unwrap()))
        .collect();
    let patient = PatientHistory {
        birth_date: d("2020-01-01"),
        sex: Sex::Unknown,
        doses: &doses,
        observations: &[],
    };
    let a = engine.assess(&patient, d(on));
    a.vaccine_groups.into_iter().next().expect("Test group")
}

#[test]
fn evaluation_context_skip_applies_only_to_evaluation() {
    let engine = engine();
    // forecast at 6 years after one dose: the evaluation-only skip of dose 2
    // does not apply, dose 2 is due
    let g = run(&engine, &[("2020-03-01", "901")], "2026-02-01");
    assert_eq!(g.status, SeriesStatus::NotComplete);
    assert_eq!(g.forecast.as_ref().unwrap().dose_number, 2);
    // a dose given at 6 years skips target dose 2 (evaluation context) and
    // satisfies target dose 3
    let g = run(
        &engine,
        &[("2020-03-01", "901"), ("2026-02-01", "901")],
        "2026-02-01",
    );
    assert!(g.evaluations.iter().all(|e| e.status == DoseStatus::Valid));
    assert_eq!(g.status, SeriesStatus::Complete);
    assert!(g.forecast.is_none());
}

#[test]
fn forecast_context_skip_applies_only_to_forecast() {
    let engine = engine();
    let two = [("2020-03-01", "901"), ("2020-04-01", "901")];
    // at 2 years dose 3 is due (6 months after dose 2)
    let g = run(&engine, &two, "2022-01-01");
    let f = g.forecast.as_ref().expect("dose 3 due");
    assert_eq!((f.dose_number, f.earliest), (3, d("2020-10-01")));
    // at 4 years or older the forecast-context skip removes dose 3
    let g = run(&engine, &two, "2024-06-01");
    assert_eq!(g.status, SeriesStatus::Complete);
    assert!(g.forecast.is_none());
    // ... but a third dose given at 5 years is still evaluated against
    // target dose 3 (the skip does not apply in evaluation): valid
    let three = [
        ("2020-03-01", "901"),
        ("2020-04-01", "901"),
        ("2025-01-01", "901"),
    ];
    let g = run(&engine, &three, "2025-01-01");
    let third = g.evaluations.iter().find(|e| e.dose_index == 2).unwrap();
    assert_eq!(third.status, DoseStatus::Valid);
    assert_eq!(g.status, SeriesStatus::Complete);
}

#[test]
fn evaluation_only_series_counts_only_when_complete() {
    let engine = engine();
    // no doses: the evaluation-only series is never forecast
    let g = run(&engine, &[], "2021-01-01");
    let f = g.forecast.as_ref().expect("standard series forecast");
    assert_eq!((f.dose_number, f.earliest), (1, d("2020-03-01")));
    // one dose of the old vaccine at 18 months: not a vaccine of the standard
    // series, but it completes the evaluation-only series, which is then a
    // best series in an equivalent group: complete, nothing due
    let g = run(&engine, &[("2021-07-01", "902")], "2022-01-01");
    assert_eq!(g.status, SeriesStatus::Complete);
    assert!(g.forecast.is_none());
    assert_eq!(g.evaluations[0].status, DoseStatus::Valid);
    // the old vaccine before 1 year does not complete it: the standard series
    // is forecast (the dose counts for nothing)
    let g = run(&engine, &[("2020-09-01", "902")], "2021-01-01");
    assert_eq!(g.status, SeriesStatus::NotComplete);
    assert_eq!(g.forecast.as_ref().unwrap().dose_number, 1);
}
