//! Clinical data currency (issue 20, defect 2): after the embedded CDSi
//! data's influenza season (2025-07-01 to 2026-06-30) the chart must not say
//! "not recommended" for influenza, it must say the data is out of date; a
//! newer CDC release loaded at start-up (no rebuild) gives real answers
//! again; the school report warns when the requirements are for an earlier
//! school year; the Z42 names the release it was computed with.

mod support;

use std::sync::Arc;

use chrono::NaiveDate;
use immunis_cdsi::SupportingData;
use immunis_model::OrganizationKind;
use immunis_registry::clinical::ClinicalData;
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::portal::DueState;
use immunis_registry::{console_admin, ProbabilisticMatcher, Purpose, Registry};
use immunis_schools::Rules;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid literal")
}

const VXU: &str = "MSH|^~\\&|EHR|PEDS|IIS|MA|20240301||VXU^V04^VXU_V04|C1|P|2.5.1|||ER|AL\r\
PID|1||M77^^^MAIIS^MR||Okafor^Amara^^^^^L||20240115|F|||9 Elm St^^Lowell^MA^01850^USA^L\r\
ORC|RE||PE1^PEDS\r\
RXA|0|1|20240115||08^HepB^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||^^^PEDS||||L1|20300101|MSD^Merck^MVX|||CP|A\r";

const Z44: &str = "MSH|^~\\&|EHR|PEDS|IIS|MA|20240301||QBP^Q11^QBP_Q11|Q1|P|2.5.1|||||||||Z44^CDCPHINVS\r\
QPD|Z44^Request Evaluated History and Forecast^CDCPHINVS|T1|M77^^^MAIIS^MR|Okafor^Amara^^^^^L||20240115|F\r\
RCP|I|5^RD&records&HL70126\r";

/// The embedded 4.64 files, with the influenza season moved a year on and
/// release notes naming them 4.99: what loading a newer CDC release does.
fn next_release() -> SupportingData {
    let mut files: Vec<(String, String)> = immunis_cdsi::embedded::ANTIGEN_XMLS
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let text = if t.contains("<targetDisease>Influenza</targetDisease>") {
                t.replace(
                    "<startDate>20250701</startDate>",
                    "<startDate>20260701</startDate>",
                )
                .replace("<endDate>20260630</endDate>", "<endDate>20270630</endDate>")
            } else {
                t.to_string()
            };
            (format!("AntigenSupportingData- {i}-508.xml"), text)
        })
        .collect();
    files.push((
        "ScheduleSupportingData.xml".into(),
        immunis_cdsi::embedded::SCHEDULE_XML.into(),
    ));
    files.push((
        "Release-Notes.txt".into(),
        "Supporting Data Release Notes \u{2013} 4.99\n".into(),
    ));
    SupportingData::from_files(&files).expect("the next release loads")
}

async fn registry(clinical: ClinicalData) -> (Arc<Registry>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_registry::open_store(dir.path(), None).expect("store");
    let reg =
        Registry::with_clinical_data(store, Arc::new(ProbabilisticMatcher::default()), clinical)
            .expect("registry");
    let admin = console_admin();
    reg.register_facility(&admin, "Peds", OrganizationKind::Provider, "PEDS", "Peds")
        .expect("facility");
    support::submit_as(&reg, "PEDS", VXU).await;
    (reg, dir)
}

async fn patient(reg: &Registry) -> immunis_model::PatientId {
    support::find_one(reg, "Okafor", "Amara", d(2024, 1, 15)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn after_the_season_influenza_is_out_of_date_never_not_recommended() {
    let (reg, _dir) = registry(ClinicalData::embedded().expect("embedded")).await;
    let id = patient(&reg).await;
    let admin = console_admin();
    let flu = |c: &immunis_registry::portal::Chart| {
        c.groups
            .iter()
            .find(|g| g.name == "Influenza")
            .cloned()
            .expect("an influenza group")
    };
    // In the data's season: a real answer (a toddler without flu doses).
    let in_season = reg
        .portal_chart(&admin, id, d(2026, 1, 15))
        .await
        .expect("chart");
    let g = flu(&in_season);
    assert!(
        matches!(
            g.state,
            DueState::Overdue | DueState::DueNow | DueState::CanGive
        ),
        "{g:?}"
    );
    assert!(in_season.currency.out_of_date.is_empty());
    // After its end: out of date, no forecast, and never "Done".
    let after = reg
        .portal_chart(&admin, id, d(2026, 12, 7))
        .await
        .expect("chart");
    let g = flu(&after);
    assert_eq!(g.state, DueState::DataOutOfDate, "{g:?}");
    assert!(g.next.is_none());
    assert!(g.status.contains("Jun 30, 2026"), "{}", g.status);
    assert_ne!(g.status, "Not Recommended");
    assert_eq!(after.currency.cdsi_release, "4.64");
    assert!(after
        .currency
        .forecast_warnings()
        .iter()
        .any(|w| w.starts_with("Influenza:")));
    // Groups the expired data does not cover keep their answers.
    let mmr = after.groups.iter().find(|g| g.name == "MMR").expect("MMR");
    assert_ne!(mmr.state, DueState::DataOutOfDate);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_release_loaded_at_start_up_answers_for_the_new_season() {
    let clinical = ClinicalData::new(next_release(), Rules::massachusetts().expect("rules"));
    let (reg, _dir) = registry(clinical).await;
    let id = patient(&reg).await;
    let chart = reg
        .portal_chart(&console_admin(), id, d(2026, 12, 7))
        .await
        .expect("chart");
    assert_eq!(chart.currency.cdsi_release, "4.99");
    assert_eq!(chart.currency.expired_group("Influenza"), None);
    let g = chart
        .groups
        .iter()
        .find(|g| g.name == "Influenza")
        .expect("influenza");
    assert!(
        matches!(
            g.state,
            DueState::Overdue | DueState::DueNow | DueState::CanGive
        ),
        "{g:?}"
    );
    let next = g.next.as_ref().expect("a next dose");
    assert!(next.earliest >= d(2026, 7, 1), "{next:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_z42_names_the_release_and_says_what_it_cannot_forecast() {
    let (reg, _dir) = registry(ClinicalData::embedded().expect("embedded")).await;
    let actor = reg.facility_actor("PEDS", None).expect("facility actor");
    let inbound = Inbound {
        transport: "test",
        remote_addr: None,
    };
    let rsp = process_message(
        &reg,
        &Submitter::Authenticated(actor),
        Z44.as_bytes(),
        &inbound,
    )
    .await;
    let rsp = String::from_utf8_lossy(&rsp);
    assert!(rsp.contains("MSA|AA"), "{rsp}");
    let nte = rsp
        .split('\r')
        .find(|s| s.starts_with("NTE|") && s.contains("CDC CDSi supporting data 4.64"))
        .unwrap_or_else(|| panic!("no NTE naming the release: {rsp}"));
    assert!(
        nte.starts_with("NTE|1||Evaluated and forecast with"),
        "{nte}"
    );
    // What is out of date today is said, and not forecast.
    let today = chrono::Local::now().date_naive();
    let warnings = reg.data_currency(today).forecast_warnings();
    for o in &warnings {
        let group = o.split(':').next().expect("group");
        assert!(
            rsp.contains("NTE|") && rsp.contains(&format!("{group}: the CDC schedule data")),
            "{rsp}"
        );
        let vaccine_type = rsp
            .split('\r')
            .filter(|s| s.starts_with("OBX|") && s.contains("|30956-7^"))
            .any(|s| s.contains(&format!("^{group}^CVX")));
        assert!(
            !vaccine_type,
            "{group} forecast although its data is out of date: {rsp}"
        );
    }
    if !warnings.is_empty() {
        let err = rsp
            .split('\r')
            .find(|s| s.starts_with("ERR|"))
            .expect("an ERR");
        assert!(
            err.contains("|W|") && err.contains("No forecast for"),
            "{err}"
        );
    }
}

#[test]
fn the_school_requirements_warn_outside_their_school_years() {
    let c = ClinicalData::embedded().expect("embedded");
    assert_eq!(c.currency(d(2025, 9, 2)).school_warning(), None);
    let w = c
        .currency(d(2026, 9, 2))
        .school_warning()
        .expect("a warning");
    assert!(
        w.contains("2026-27") && w.contains("2024-25 to 2025-26"),
        "{w}"
    );
}

/// The text shown by a PDF's content streams (inflated), for searching.
fn pdf_text(pdf: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = pdf;
    while let Some(at) = rest.windows(6).position(|w| w == b"stream") {
        let body = &rest[at + 6..];
        let body = body
            .strip_prefix(b"\r\n")
            .or_else(|| body.strip_prefix(b"\n"))
            .unwrap_or(body);
        let end = body
            .windows(9)
            .position(|w| w == b"endstream")
            .unwrap_or(body.len());
        if let Ok(raw) = miniz_oxide::inflate::decompress_to_vec_zlib(&body[..end]) {
            // Text operands are `(…) Tj`: keep what is inside parentheses.
            let s = String::from_utf8_lossy(&raw);
            for piece in s.split('(').skip(1) {
                out.push_str(piece.split(')').next().unwrap_or(""));
                out.push(' ');
            }
        }
        rest = &body[end.min(body.len())..];
        if rest.len() >= 9 {
            rest = &rest[9..];
        } else {
            break;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pdf_and_the_school_report_say_what_is_out_of_date() {
    let (reg, _dir) = registry(ClinicalData::embedded().expect("embedded")).await;
    let id = patient(&reg).await;
    let admin = console_admin();
    reg.set_document_settings(immunis_registry::DocumentSettings {
        public_url: Some("https://iis.example.org".into()),
        ..Default::default()
    });
    // The printed record: a note instead of a forecast for expired groups.
    let pdf = reg
        .official_record_pdf(
            &admin,
            Purpose::Administration,
            id,
            d(2026, 12, 7),
            1_796_000_000,
        )
        .await
        .expect("pdf");
    let text = pdf_text(&pdf);
    assert!(
        text.contains("Influenza:") && text.contains("4.64"),
        "{text}"
    );
    let in_season = pdf_text(
        &reg.official_record_pdf(
            &admin,
            Purpose::Administration,
            id,
            d(2026, 1, 15),
            1_768_000_000,
        )
        .await
        .expect("pdf"),
    );
    assert!(!in_season.contains("Influenza:"), "{in_season}");
    // The school report: the requirements' school year.
    reg.add_organization(&admin, "Elm School", OrganizationKind::School)
        .expect("school");
    reg.add_to_roster(&admin, "Elm School", id).expect("roster");
    let rules = reg.clinical().school_rules();
    let report = reg
        .school_report(&admin, rules, "Elm School", None, d(2026, 12, 7))
        .expect("report");
    assert!(
        report.warnings.iter().any(|w| w.contains("2026-27")),
        "{:?}",
        report.warnings
    );
    let current = reg
        .school_report(&admin, rules, "Elm School", None, d(2025, 9, 2))
        .expect("report");
    assert!(current.warnings.is_empty(), "{:?}", current.warnings);
}
