//! Patient pages: search, chart (history + forecast), the printable record,
//! recording doses / refusals / observations, edits and deletions, consent,
//! new patients, and the facility's vaccine lots.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use immunis_model::{
    BirthDate, ObservationKind, Patient, PatientId, PatientIdentifier, PersonName, Sex, ValueSet,
    VisDocument,
};
use immunis_registry::portal::{
    sex_label, Chart, DoseEntry, DoseView, DueState, GroupView, HitStrength, RefusalEntry,
    SearchForm, SearchHit,
};
use immunis_registry::{ConsentKind, PatientRecord, RegistryError};
use maud::{html, Markup};

use crate::pages::{csrf, field, form_error, html_response, page, Section};
use crate::{blocking, error_page, today, Portal, Session, BASE};

type FormMap = HashMap<String, String>;

fn get<'a>(f: &'a FormMap, k: &str) -> &'a str {
    f.get(k).map(String::as_str).unwrap_or("").trim()
}

fn some(f: &FormMap, k: &str) -> Option<String> {
    let v = get(f, k);
    (!v.is_empty()).then(|| v.to_string())
}

/// A date typed as `YYYY-MM-DD` (the date input) or `MM/DD/YYYY`.
pub(crate) fn parse_date(what: &str, raw: &str) -> Result<Option<NaiveDate>, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%m/%d/%Y"))
        .map(Some)
        .map_err(|_| format!("The {what} {t:?} is not a date (use YYYY-MM-DD or MM/DD/YYYY)"))
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn long_date(d: NaiveDate) -> String {
    d.format("%b %-d, %Y").to_string()
}

/// Age in the words a clinician uses: months under 2 years, then years.
pub(crate) fn age(birth: NaiveDate, today: NaiveDate) -> String {
    let mut months =
        (today.year() - birth.year()) * 12 + today.month() as i32 - birth.month() as i32;
    if today.day() < birth.day() {
        months -= 1;
    }
    if months < 0 {
        return "not yet born".into();
    }
    if months < 24 {
        let days = (today - birth).num_days();
        if months == 0 {
            return format!("{days} days");
        }
        return format!("{months} months");
    }
    format!("{} years", months / 12)
}

fn patient_path(id: PatientId) -> String {
    format!("{BASE}/patients/{}", id.0)
}

// ---------------------------------------------------------------- search --

fn search_form(s: &Session, q: &FormMap) -> Markup {
    html! {
        form.panel method="get" action={ (BASE) "/search" } role="search" aria-label="Find a patient" {
            div.grid {
                (field("family", "Last name", "text", get(q, "family"), None, false))
                (field("given", "First name", "text", get(q, "given"), Some("nicknames are fine"), false))
                (field("birth_date", "Birth date", "date", get(q, "birth_date"), None, false))
                (field("identifier", "Identifier", "text", get(q, "identifier"), Some("MRN, state id, Medicaid, or #registry id"), false))
            }
            div.actions {
                button type="submit" { "Search" }
                @if s.actor.organization.is_some() {
                    a.button.secondary href={ (BASE) "/patients/new" } { "Register a new patient" }
                }
            }
        }
    }
}

fn hit_item(h: &SearchHit, today: NaiveDate) -> Markup {
    let tag = match h.strength {
        HitStrength::Likely => "done",
        HitStrength::Possible => "due",
        HitStrength::Weak => "contra",
    };
    html! {
        li {
            a.name href=(patient_path(h.id)) { (h.name) }
            " "
            span class={ "tag " (tag) } { (h.strength.label()) }
            @if h.restricted { " " span.tag.contra { "Objection to sharing" } }
            div {
                "Born " (long_date(h.birth_date)) " (" (age(h.birth_date, today)) "), " (sex_label(h.sex))
                @if let Some(t) = &h.town { " · " (t) }
                " · registry #" (h.id.0)
            }
            @if !h.identifiers.is_empty() {
                div.muted { (h.identifiers.join(" · ")) }
            }
            @if !h.reasons.is_empty() {
                div.muted { "Why: " (h.reasons.join("; ")) }
            }
        }
    }
}

pub(crate) async fn search(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Query(q): Query<FormMap>,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let asked = ["family", "given", "birth_date", "identifier"]
        .iter()
        .any(|k| !get(&q, k).is_empty());
    let mut error = None;
    let mut results = None;
    if asked {
        match parse_date("birth date", get(&q, "birth_date")) {
            Err(e) => error = Some(e),
            Ok(birth_date) => {
                let form = SearchForm {
                    family: some(&q, "family"),
                    given: some(&q, "given"),
                    birth_date,
                    sex: None,
                    identifier: some(&q, "identifier"),
                };
                match p.registry.portal_search(&s.actor, &form, 25).await {
                    Ok(r) => results = Some(r),
                    Err(RegistryError::Invalid(m)) => error = Some(m),
                    Err(e) => return error_page(Some(&s), &e),
                }
            }
        }
    }
    let t = today();
    let body = html! {
        h1 { "Find a patient" }
        p.lead { "Search by last name and birth date (typos and nicknames are tolerated), by last name alone, or by an identifier." }
        (form_error(error.as_deref()))
        (search_form(&s, &q))
        @if let Some(r) = &results {
            section aria-labelledby="results-h" {
                h2 id="results-h" { (r.hits.len()) " " (if r.hits.len() == 1 { "person" } else { "people" }) " found"
                    @if r.truncated { " (more exist: add a birth date or first name)" } }
                @if r.hits.is_empty() {
                    p { "No one you may see matches. Check the spelling, try a nickname's full form, or "
                        a href={ (BASE) "/patients/new" } { "register a new patient" } "." }
                } @else {
                    ol.hits { @for h in &r.hits { (hit_item(h, t)) } }
                }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html_response(
        status,
        page(Some(&s), Section::Search, "Find a patient", body),
    )
}

// ----------------------------------------------------------------- chart --

fn state_tag(state: DueState) -> Markup {
    let class = match state {
        DueState::Overdue => "overdue",
        DueState::DueNow => "due",
        DueState::CanGive => "can",
        DueState::Upcoming => "upcoming",
        DueState::Done => "done",
        DueState::Contraindicated => "contra",
        DueState::DataOutOfDate => "stale",
    };
    html! { span class={ "tag " (class) } { (state.label()) } }
}

fn next_words(g: &GroupView) -> String {
    match &g.next {
        Some(n) => format!("dose {}", n.dose_number),
        None => String::new(),
    }
}

fn demographics(rec: &PatientRecord, t: NaiveDate) -> Markup {
    let p = &rec.patient;
    html! {
        div.demo.panel {
            dl {
                dt { "Born" } dd { (long_date(p.birth_date.0)) " (" (age(p.birth_date.0, t)) ")" }
                dt { "Sex" } dd { (sex_label(p.sex)) }
                dt { "Registry id" } dd { "#" (rec.id.0) }
                @if !p.identifiers.is_empty() {
                    dt { "Identifiers" }
                    dd { @for (i, id) in p.identifiers.iter().enumerate() {
                        @if i > 0 { ", " } (id.id_type) " " (id.value)
                        @if !id.assigning_authority.is_empty() { " (" (id.assigning_authority) ")" } } }
                }
                @if let Some(a) = p.addresses.first() {
                    dt { "Address" } dd { (a.street1) ", " (a.city) " " (a.state) " " (a.zip) }
                }
                @if let Some(ph) = p.phones.first() { dt { "Phone" } dd { (ph.number) } }
                @for g in &p.guardians {
                    dt { "Guardian" } dd { (g.name.display()) " (" (g.relationship.code) ")" }
                }
            }
        }
    }
}

fn consent_banner(rec: &PatientRecord) -> Markup {
    let since = rec
        .patient
        .protection
        .as_ref()
        .and_then(|p| p.effective)
        .map(long_date);
    html! {
        @if rec.objection_active {
            div.alert.warn role="status" id="consent-banner" {
                p { strong { "Objection to data sharing on file" }
                    @if let Some(d) = &since { " (since " (d) ")" } "." }
                @if rec.restricted {
                    p { "You see only what your organization recorded; other providers' doses are not shown and the forecast is based on your doses only." }
                }
            }
        } @else {
            p.muted id="consent-banner" { "No objection to data sharing on file." }
        }
    }
}

/// What of the clinical data is out of date, above every forecast: the
/// groups it names show no answer.
pub(crate) fn data_warnings(c: &Chart) -> Markup {
    let warnings = c.currency.forecast_warnings();
    html! {
        @if !warnings.is_empty() {
            div.alert.warn role="alert" id="data-warning" {
                p { strong { "Schedule data out of date. " }
                    "This forecast was made with CDC CDSi supporting data " (c.currency.cdsi_release)
                    ". Ask the registry to load the current CDC release." }
                ul { @for w in &warnings { li { (w) } } }
            }
        }
    }
}

fn due_summary(c: &Chart) -> Markup {
    let due = c.due_now();
    html! {
        section.panel.summary aria-labelledby="due-h" id="due-summary" {
            h2 id="due-h" { "What is due" }
            @if due.is_empty() {
                p { strong { "Nothing is due today." } }
            } @else {
                ul {
                    @for g in &due {
                        li { (state_tag(g.state)) " " strong { (g.name) } " " (next_words(g))
                            @if let Some(n) = &g.next {
                                @if g.state == DueState::Overdue {
                                    @if let Some(pd) = n.past_due { " — overdue since " (long_date(pd)) }
                                } @else {
                                    " — recommended " (long_date(n.recommended))
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(g) = c.next_visit() {
                @if let Some(n) = &g.next {
                    p { "Next: " strong { (g.name) } " " (next_words(g)) " on " (long_date(n.recommended))
                        @if n.earliest < n.recommended { " (not before " (long_date(n.earliest)) ")" } "." }
                }
            }
        }
    }
}

fn forecast_table(c: &Chart) -> Markup {
    html! {
        table id="forecast" {
            caption { "Forecast as of " (long_date(c.assessed_on)) }
            thead { tr {
                th scope="col" { "Vaccine group" } th scope="col" { "Status" } th scope="col" { "Next dose" }
                th scope="col" { "Earliest" } th scope="col" { "Recommended" } th scope="col" { "Past due" }
            } }
            tbody {
                @for g in &c.groups {
                    tr {
                        th scope="row" { (g.name) }
                        td { @if g.state == DueState::Done && g.status != "Complete" { span.tag.done { (g.status) } }
                            @else if g.state == DueState::DataOutOfDate { (state_tag(g.state)) span.hint { (g.status) } }
                            @else { (state_tag(g.state)) } }
                        @if let Some(n) = &g.next {
                            td { (n.dose_number)
                                @if !n.vaccines.is_empty() { span.hint { (n.vaccines.join(", ")) } } }
                            td { (date(n.earliest)) }
                            td { (date(n.recommended)) }
                            td { (n.past_due.map(date).unwrap_or_else(|| "—".into())) }
                        } @else {
                            td { "—" } td { "—" } td { "—" } td { "—" }
                        }
                    }
                }
            }
        }
    }
}

fn dose_rows(s: Option<&Session>, id: PatientId, doses: &[DoseView], evaluated: bool) -> Markup {
    html! {
        @for d in doses {
            tr {
                td { (date(d.date)) }
                td { (d.vaccine) span.hint { "CVX " (d.cvx) } }
                td { (d.lot.as_deref().unwrap_or("—")) }
                td { (d.facility)
                    @if d.historical { span.hint { "historical record" } }
                    @if d.reports > 1 { span.hint { "reported by " (d.reports) " sources" } } }
                td {
                    @if !evaluated { span.muted { "not evaluated" } }
                    @else if d.valid { span.tag.valid { "Valid" } }
                    @else {
                        span.tag.invalid { "Not valid" }
                        @for n in &d.notes { span.hint { (n) } }
                    }
                }
                @if let Some(s) = s {
                    td.no-print {
                        @if let Some(src) = &d.editable_source {
                            @if s.actor.organization.is_some() {
                                a href={ (patient_path(id)) "/doses/" (src) "/edit" } { "Correct or delete" span.skip { " dose of " (date(d.date)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn history(s: Option<&Session>, c: &Chart) -> Markup {
    let id = c.record.id;
    let with_doses: Vec<&GroupView> = c.groups.iter().filter(|g| !g.doses.is_empty()).collect();
    html! {
        @if with_doses.is_empty() && c.other_doses.is_empty() {
            p { "No vaccinations recorded." }
        }
        @for g in &with_doses {
            table.history {
                caption { (g.name) " — " (g.doses.len()) " " (if g.doses.len() == 1 { "dose" } else { "doses" }) }
                thead { tr {
                    th scope="col" { "Date" } th scope="col" { "Vaccine" } th scope="col" { "Lot" }
                    th scope="col" { "Reported by" } th scope="col" { "Evaluation" }
                    @if s.is_some() { th.no-print scope="col" { span.skip { "Actions" } } }
                } }
                tbody { (dose_rows(s, id, &g.doses, true)) }
            }
        }
        @if !c.other_doses.is_empty() {
            table.history {
                caption { "Other vaccinations (not evaluated by the schedule)" }
                thead { tr {
                    th scope="col" { "Date" } th scope="col" { "Vaccine" } th scope="col" { "Lot" }
                    th scope="col" { "Reported by" } th scope="col" { "Evaluation" }
                    @if s.is_some() { th.no-print scope="col" { span.skip { "Actions" } } }
                } }
                tbody { (dose_rows(s, id, &c.other_doses, false)) }
            }
        }
    }
}

fn refusals_and_observations(c: &Chart) -> Markup {
    let codes = immunis_model::CodeTables::embedded();
    html! {
        @if !c.record.refusals.is_empty() {
            h3 { "Refusals" }
            ul { @for r in &c.record.refusals {
                li { (r.event.administered_date.map(long_date).unwrap_or_default()) ": "
                    (r.event.cvx.as_ref().and_then(|x| codes.cvx(x)).map(|i| i.short_description.as_str()).unwrap_or("vaccine"))
                    " refused" @if let Some(why) = &r.event.refusal_reason { " (" (refusal_reason(&why.code)) ")" } }
            } }
        }
        @if !c.record.observations.is_empty() {
            h3 { "Immunity, contraindications and conditions" }
            ul { @for o in &c.record.observations {
                li { (observation_kind(o.observation.kind)) ": " (o.observation.value.code)
                    @if let Some(t) = &o.observation.value.text { " " (t) }
                    @if let Some(d) = o.observation.date { " (" (long_date(d)) ")" } }
            } }
        }
    }
}

fn refusal_reason(code: &str) -> &'static str {
    match code {
        "00" => "parental decision",
        "01" => "religious exemption",
        "03" => "patient decision",
        _ => "other",
    }
}

fn observation_kind(k: ObservationKind) -> &'static str {
    match k {
        ObservationKind::EvidenceOfImmunity => "Evidence of immunity",
        ObservationKind::Contraindication => "Contraindication or precaution",
        ObservationKind::Reaction => "Reaction",
        ObservationKind::Indication => "Condition",
    }
}

fn flash(q: &FormMap) -> Option<&'static str> {
    Some(match get(q, "done") {
        "dose" => "The vaccination was recorded. The forecast below includes it.",
        "historical" => "The historical dose was recorded.",
        "update" => "The correction was recorded; the earlier version is kept in the history.",
        "unchanged" => "Nothing was changed, so no new version of the dose was recorded.",
        "delete" => "The dose was deleted; it is kept in the history with your reason.",
        "refusal" => "The refusal was recorded.",
        "observation" => "The observation was recorded; the forecast takes it into account.",
        "consent" => "The consent change was recorded.",
        "created" => "The patient was registered.",
        "existing" => "This person was already in the registry: this is their record.",
        "review" => {
            "The patient was registered. Similar records were sent to the registry's review queue."
        }
        _ => return None,
    })
}

pub(crate) async fn chart(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<FormMap>,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = today();
    // Rendered while the read's audit entry is made durable.
    p.registry
        .portal_chart_with(&s.actor, PatientId(id), t, |c| chart_page(&s, &q, &c, t))
        .await
        .unwrap_or_else(|e| error_page(Some(&s), &e))
}

fn chart_page(s: &Session, q: &FormMap, c: &Chart, t: NaiveDate) -> Response {
    let rec = &c.record;
    let name = rec.patient.legal_name().display();
    let base = patient_path(rec.id);
    let can_record = s.actor.organization.is_some();
    let body = html! {
        @if let Some(f) = flash(q) { div.alert.ok role="status" { p { (f) } } }
        h1 { (name) }
        (consent_banner(rec))
        (data_warnings(c))
        (due_summary(c))
        div.actions.no-print {
            @if can_record {
                a.button href={ (base) "/doses/new" } { "Record a vaccination" }
                a.button.secondary href={ (base) "/doses/new?historical=1" } { "Add a historical dose" }
                a.button.secondary href={ (base) "/refusals/new" } { "Record a refusal" }
                a.button.secondary href={ (base) "/observations/new" } { "Immunity or contraindication" }
            }
            a.button.secondary href={ (base) "/print" } { "Printable record" }
            a.button.secondary href={ (base) "/record.pdf" } { "PDF" }
            a.button.secondary href={ (base) "/record.smart-health-card" } { "SMART Health Card" }
        }
        (demographics(rec, t))
        h2 { "Forecast" }
        (forecast_table(c))
        h2 { "Vaccination history" }
        (history(Some(s), c))
        (refusals_and_observations(c))
        @if !c.changes.is_empty() {
            h2 { "Changes made by hand" }
            table {
                thead { tr { th scope="col" { "Dose" } th scope="col" { "Change" } th scope="col" { "Reason" } th scope="col" { "By" } } }
                tbody { @for ch in &c.changes {
                    tr { td { (ch.source_id) } td { (ch.action) } td { (ch.reason) } td { (ch.actor) " (" (ch.facility_code) ")" } }
                } }
            }
        }
        section.no-print aria-labelledby="consent-h" {
            h2 id="consent-h" { "Objection to data sharing" }
            p { "Record a signed objection form (105 CMR 222) or its withdrawal." }
            form.panel method="post" action={ (base) "/consent" } {
                (csrf(s))
                fieldset {
                    legend { "Change" }
                    div { label { input type="radio" name="kind" value="file" required checked[!rec.objection_active]; " File an objection" } }
                    div { label { input type="radio" name="kind" value="withdraw" checked[rec.objection_active]; " Withdraw the objection" } }
                }
                div.grid {
                    (field("signed", "Date signed on the form", "date", "", None, false))
                    (field("received", "Date the form was received", "date", &date(t), None, false))
                }
                button type="submit" { "Record" }
            }
        }
    };
    html_response(StatusCode::OK, page(Some(s), Section::Search, &name, body))
}

/// The official record, laid out for the browser's Print (print stylesheet).
pub(crate) async fn print(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = today();
    p.registry
        .portal_chart_with(&s.actor, PatientId(id), t, |c| print_page(&s, &c, t))
        .await
        .unwrap_or_else(|e| error_page(Some(&s), &e))
}

fn print_page(s: &Session, c: &Chart, t: NaiveDate) -> Response {
    let rec = &c.record;
    let name = rec.patient.legal_name().display();
    let body = html! {
        div.actions.no-print {
            a.button.secondary href=(patient_path(rec.id)) { "Back to the chart" }
            span.muted { "Use your browser's Print command (Ctrl+P / ⌘P) to print or save this record." }
        }
        h1 { "Official Immunization Record" }
        p { strong { (name) } " · born " (long_date(rec.patient.birth_date.0)) " · " (sex_label(rec.patient.sex))
            " · registry #" (rec.id.0) }
        p.muted { "Massachusetts-style immunization information system (Immunis). Printed " (long_date(t))
            " by " (s.actor.subject) "." }
        @if rec.restricted {
            div.alert.warn { p { "An objection to data sharing is on file: this record shows only the doses recorded by the printing organization." } }
        }
        h2 { "Vaccinations" }
        (history(None, c))
        (refusals_and_observations(c))
        h2 { "Recommendations" }
        (data_warnings(c))
        (forecast_table(c))
        p.print-only.muted { "Valid = counted toward the series by the CDC schedule (CDSi). Generated from the registry's consolidated record." }
    };
    html_response(
        StatusCode::OK,
        page(Some(s), Section::Search, &format!("Record of {name}"), body),
    )
}

// ---------------------------------------------------------------- doses --

fn cvx_options(selected: &str, active_only: bool) -> Markup {
    let codes = immunis_model::CodeTables::embedded();
    let mut list: Vec<(&str, &str)> = codes
        .cvx_codes()
        .filter(|(_, i)| i.status == "Active" || (!active_only && i.status == "Inactive"))
        .filter(|(c, _)| *c != "998" && *c != "999")
        .map(|(c, i)| (c, i.short_description.as_str()))
        .collect();
    list.sort_by_key(|a| a.1.to_lowercase());
    html! {
        option value="" { "— choose —" }
        @for (c, d) in list {
            option value=(c) selected[c == selected] { (d) " (CVX " (c) ")" }
        }
    }
}

/// Choices of a coded field in plain words ("Intramuscular"), one per label:
/// the code the form holds, else the NCI Thesaurus code the CDC guide
/// prefers (route), else the first. Codes AIRA marks invalid are left out.
fn code_options(set: ValueSet, selected: &str) -> Markup {
    let codes = immunis_model::CodeTables::embedded();
    let mut by_label: Vec<(&str, &str)> = Vec::new();
    let mut entries: Vec<(&str, &str)> = codes
        .value_set(set)
        .filter(|(c, e)| *c == selected || e.status == "Valid")
        .map(|(c, e)| (c, e.label.as_str()))
        .collect();
    // The selected code first, then NCIt codes (`C` + digits), then the rest.
    let rank = |c: &str| {
        if c == selected {
            0
        } else if c.len() > 1 && c.starts_with('C') && c[1..].bytes().all(|b| b.is_ascii_digit()) {
            1
        } else {
            2
        }
    };
    entries.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then(a.0.cmp(b.0)));
    for (c, l) in entries {
        if !by_label
            .iter()
            .any(|(_, seen)| seen.eq_ignore_ascii_case(l))
        {
            by_label.push((c, l));
        }
    }
    by_label.sort_by_key(|(_, l)| l.to_lowercase());
    let unknown = !selected.is_empty() && !by_label.iter().any(|(c, _)| *c == selected);
    html! {
        option value="" { "— not recorded —" }
        @if unknown {
            option value=(selected) selected { (selected) " (code on file)" }
        }
        @for (c, l) in by_label {
            option value=(c) selected[c == selected] { (l) }
        }
    }
}

fn select_field(id: &str, label: &str, options: Markup) -> Markup {
    html! {
        div {
            label for=(id) { (label) }
            select id=(id) name=(id) { (options) }
        }
    }
}

/// How many VIS rows the form shows: those on file plus one empty row.
fn vis_rows(values: &FormMap) -> usize {
    (0..)
        .take_while(|i| values.contains_key(&format!("vis_document_{i}")))
        .count()
        + 1
}

struct DoseFormView<'a> {
    s: &'a Session,
    rec: &'a PatientRecord,
    historical: bool,
    values: &'a FormMap,
    error: Option<&'a str>,
    /// Editing this source id.
    edit: Option<&'a str>,
    lots: Vec<immunis_registry::portal::FacilityLot>,
    facilities: Vec<immunis_model::Facility>,
}

fn dose_form(v: DoseFormView<'_>) -> Markup {
    let base = patient_path(v.rec.id);
    let name = v.rec.patient.legal_name().display();
    let action = match v.edit {
        Some(src) => format!("{base}/doses/{src}/edit"),
        None => format!("{base}/doses/new"),
    };
    let title = match (v.edit.is_some(), v.historical) {
        (true, _) => "Correct a vaccination",
        (false, true) => "Add a historical dose",
        (false, false) => "Record a vaccination",
    };
    let t = today();
    let date_default = if v.values.contains_key("date") {
        get(v.values, "date").to_string()
    } else if v.historical {
        String::new()
    } else {
        date(t)
    };
    let lot_sel = get(v.values, "lot_id");
    html! {
        h1 { (title) }
        p.lead { "For " strong { (name) } ", born " (long_date(v.rec.patient.birth_date.0)) "." }
        (form_error(v.error))
        form.stack method="post" action=(action) aria-describedby=[v.error.map(|_| "form-error")] {
            (csrf(v.s))
            input type="hidden" name="historical" value=(if v.historical { "1" } else { "" });
            @if v.facilities.len() > 1 && !v.historical {
                div {
                    label for="facility" { "Facility" }
                    select id="facility" name="facility" {
                        @for f in &v.facilities {
                            option value=(f.code) selected[get(v.values, "facility") == f.code] { (f.name) " (" (f.code) ")" }
                        }
                    }
                }
            }
            div {
                label for="date" { (if v.historical { "Date given (from the card)" } else { "Date given" }) " (required)" }
                input type="date" id="date" name="date" value=(date_default) max=(date(t)) required;
            }
            @if !v.historical && !v.lots.is_empty() {
                div {
                    label for="lot_id" { "Lot from your inventory"
                        span.hint { "fills in the vaccine, manufacturer, route, site and amount" } }
                    select id="lot_id" name="lot_id" {
                        option value="" { "— none / type below —" }
                        @for l in &v.lots {
                            option value=(l.id) selected[lot_sel == l.id.to_string()] {
                                (l.lot_number) " — CVX " (l.cvx)
                                @if let Some(x) = l.expiration_date { " — expires " (date(x)) }
                            }
                        }
                    }
                }
            }
            div {
                label for="cvx" { "Vaccine" @if v.historical || v.lots.is_empty() { " (required)" }
                    @if !v.historical && !v.lots.is_empty() { span.hint { "leave empty to use the lot's vaccine" } } }
                select id="cvx" name="cvx" { (cvx_options(get(v.values, "cvx"), !v.historical)) }
            }
            div.grid {
                (field("lot_number", if v.historical { "Lot number (if on the card)" } else { "Lot number" }, "text", get(v.values, "lot_number"),
                    (!v.historical && !v.lots.is_empty()).then_some("or choose a lot above"), false))
                (field("mvx", "Manufacturer (MVX code)", "text", get(v.values, "mvx"), Some("e.g. PMC, MSD, SKB"), false))
                @if !v.historical {
                    (field("expiration", "Lot expiration date", "date", get(v.values, "expiration"),
                        (!v.lots.is_empty()).then_some("an inventory lot gives it"), false))
                    (select_field("route", "Route", code_options(ValueSet::Route, get(v.values, "route"))))
                    (select_field("site", "Site", code_options(ValueSet::Site, get(v.values, "site"))))
                    (field("amount_ml", "Amount (mL)", "text", get(v.values, "amount_ml"), None, false))
                    (field("given_by", "Given by", "text", get(v.values, "given_by"), None, false))
                    (select_field("funding_eligibility", "VFC eligibility of the patient for this dose",
                        code_options(ValueSet::FundingEligibility, get(v.values, "funding_eligibility"))))
                    (select_field("funding_source", "Funding source of the vaccine",
                        code_options(ValueSet::FundingSource, get(v.values, "funding_source"))))
                }
            }
            @if !v.historical {
                fieldset {
                    legend { "Vaccine Information Statement given" }
                    @for i in 0..vis_rows(v.values) {
                        div.grid {
                            (field(&format!("vis_document_{i}"), "VIS (document or vaccine)", "text",
                                get(v.values, &format!("vis_document_{i}")), (i == 0).then_some("e.g. MMR, or the VIS barcode"), false))
                            (field(&format!("vis_published_{i}"), "Edition date", "date",
                                get(v.values, &format!("vis_published_{i}")), None, false))
                            (field(&format!("vis_presented_{i}"), "Date given to the patient", "date",
                                get(v.values, &format!("vis_presented_{i}")), None, false))
                        }
                    }
                }
            }
            @if v.edit.is_some() {
                div {
                    label for="reason" { "Reason for the correction (required)" }
                    input type="text" id="reason" name="reason" value=(get(v.values, "reason")) required;
                }
            }
            div.actions {
                button type="submit" { (if v.edit.is_some() { "Save the correction" } else { "Record" }) }
                a.button.secondary href=(base) { "Cancel" }
            }
        }
    }
}

fn dose_entry(f: &FormMap) -> Result<DoseEntry, String> {
    let lot_id = match get(f, "lot_id") {
        "" => None,
        v => Some(
            v.parse::<i64>()
                .map_err(|_| "Choose a lot from the list".to_string())?,
        ),
    };
    Ok(DoseEntry {
        administered: get(f, "historical").is_empty(),
        date: parse_date("date given", get(f, "date"))?,
        cvx: get(f, "cvx").to_string(),
        lot_id,
        lot_number: some(f, "lot_number"),
        mvx: some(f, "mvx"),
        route: some(f, "route"),
        site: some(f, "site"),
        amount_ml: some(f, "amount_ml"),
        given_by: some(f, "given_by"),
        expiration: parse_date("lot expiration date", get(f, "expiration"))?,
        funding_eligibility: some(f, "funding_eligibility"),
        funding_source: some(f, "funding_source"),
        vis: (0..vis_rows(f))
            .map(|i| {
                Ok(VisDocument {
                    document: get(f, &format!("vis_document_{i}")).to_string(),
                    published: parse_date(
                        "VIS edition date",
                        get(f, &format!("vis_published_{i}")),
                    )?,
                    presented: parse_date(
                        "date the VIS was given",
                        get(f, &format!("vis_presented_{i}")),
                    )?,
                })
            })
            .collect::<Result<_, String>>()?,
    })
}

/// The form's values for a stored dose (the correction form starts from
/// every detail on file, so saving it unchanged changes nothing).
fn entry_values(e: &DoseEntry) -> FormMap {
    let mut values = FormMap::new();
    let mut put = |k: String, v: Option<String>| {
        if let Some(v) = v {
            values.insert(k, v);
        }
    };
    put("historical".into(), (!e.administered).then(|| "1".into()));
    put("date".into(), e.date.map(date));
    put("cvx".into(), Some(e.cvx.clone()));
    put("lot_number".into(), e.lot_number.clone());
    put("mvx".into(), e.mvx.clone());
    put("route".into(), e.route.clone());
    put("site".into(), e.site.clone());
    put("amount_ml".into(), e.amount_ml.clone());
    put("given_by".into(), e.given_by.clone());
    put("expiration".into(), e.expiration.map(date));
    put("funding_eligibility".into(), e.funding_eligibility.clone());
    put("funding_source".into(), e.funding_source.clone());
    for (i, v) in e.vis.iter().enumerate() {
        put(format!("vis_document_{i}"), Some(v.document.clone()));
        put(format!("vis_published_{i}"), v.published.map(date));
        put(format!("vis_presented_{i}"), v.presented.map(date));
    }
    values
}

async fn render_dose_form(
    p: &Portal,
    s: &Session,
    id: PatientId,
    historical: bool,
    values: &FormMap,
    error: Option<&str>,
    edit: Option<&str>,
) -> Response {
    let rec = match p
        .registry
        .patient_record(&s.actor, s.actor.role.default_purpose(), id)
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(Some(s), &e),
    };
    let lots = blocking(|| p.registry.portal_lots(&s.actor, false)).unwrap_or_default();
    let facilities = p.registry.portal_facilities(&s.actor).unwrap_or_default();
    let title = if historical {
        "Historical dose"
    } else {
        "Record a vaccination"
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html_response(
        status,
        page(
            Some(s),
            Section::Search,
            title,
            dose_form(DoseFormView {
                s,
                rec: &rec,
                historical,
                values,
                error,
                edit,
                lots,
                facilities,
            }),
        ),
    )
}

pub(crate) async fn dose_page(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<FormMap>,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let historical = !get(&q, "historical").is_empty();
    render_dose_form(
        &p,
        &s,
        PatientId(id),
        historical,
        &FormMap::new(),
        None,
        None,
    )
    .await
}

pub(crate) async fn record_dose(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let pid = PatientId(id);
    let historical = !get(&f, "historical").is_empty();
    let entry = match dose_entry(&f) {
        Ok(e) => e,
        Err(m) => return render_dose_form(&p, &s, pid, historical, &f, Some(&m), None).await,
    };
    let facility = some(&f, "facility");
    match p
        .registry
        .portal_record_dose(&s.actor, pid, facility.as_deref(), &entry, today())
        .await
    {
        Ok(w) => Redirect::to(&format!(
            "{}?done={}",
            patient_path(w.patient_id),
            if historical { "historical" } else { "dose" }
        ))
        .into_response(),
        Err(RegistryError::Invalid(m)) => {
            render_dose_form(&p, &s, pid, historical, &f, Some(&m), None).await
        }
        Err(e) => error_page(Some(&s), &e),
    }
}

pub(crate) async fn edit_dose_page(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path((id, source)): Path<(i64, String)>,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let pid = PatientId(id);
    let entry = match p.registry.portal_dose_entry(&s.actor, pid, &source).await {
        Ok(e) => e,
        Err(e) => return error_page(Some(&s), &e),
    };
    let values = entry_values(&entry);
    let mut res = render_dose_form(
        &p,
        &s,
        pid,
        !entry.administered,
        &values,
        None,
        Some(&source),
    )
    .await;
    // The deletion form follows the correction form on the same page.
    let delete = html! {
        section aria-labelledby="delete-h" {
            h2 id="delete-h" { "Delete this dose" }
            p { "The dose is removed from the record and the forecast; it stays in the history with your reason." }
            form.panel.stack method="post" action={ (patient_path(pid)) "/doses/" (source) "/delete" } {
                (csrf(&s))
                div {
                    label for="delete-reason" { "Reason for the deletion (required)" }
                    input type="text" id="delete-reason" name="reason" required;
                }
                button.danger type="submit" { "Delete the dose" }
            }
        }
    };
    if res.status() == StatusCode::OK {
        let body = axum::body::to_bytes(std::mem::take(res.body_mut()), 1 << 22)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body)
            .replace("</main>", &format!("{}</main>", delete.into_string()));
        *res.body_mut() = axum::body::Body::from(text);
        res.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
    }
    res
}

pub(crate) async fn update_dose(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path((id, source)): Path<(i64, String)>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let pid = PatientId(id);
    let historical = !get(&f, "historical").is_empty();
    let entry = match dose_entry(&f) {
        Ok(e) => e,
        Err(m) => {
            return render_dose_form(&p, &s, pid, historical, &f, Some(&m), Some(&source)).await
        }
    };
    match p
        .registry
        .portal_update_dose(&s.actor, pid, &source, &entry, get(&f, "reason"), today())
        .await
    {
        Ok(w) => {
            let done = if w.journal_id.is_some() {
                "update"
            } else {
                "unchanged"
            };
            Redirect::to(&format!("{}?done={done}", patient_path(w.patient_id))).into_response()
        }
        Err(RegistryError::Invalid(m)) => {
            render_dose_form(&p, &s, pid, historical, &f, Some(&m), Some(&source)).await
        }
        Err(e) => error_page(Some(&s), &e),
    }
}

pub(crate) async fn delete_dose(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path((id, source)): Path<(i64, String)>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match p
        .registry
        .portal_delete_dose(&s.actor, PatientId(id), &source, get(&f, "reason"))
        .await
    {
        Ok(w) => {
            Redirect::to(&format!("{}?done=delete", patient_path(w.patient_id))).into_response()
        }
        Err(e) => error_page(Some(&s), &e),
    }
}

// ------------------------------------------------- refusals, observations --

async fn simple_form_page(
    p: &Portal,
    s: &Session,
    id: PatientId,
    title: &str,
    error: Option<&str>,
    fields: Markup,
    action: &str,
) -> Response {
    let rec = match p
        .registry
        .patient_record(&s.actor, s.actor.role.default_purpose(), id)
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(Some(s), &e),
    };
    let base = patient_path(rec.id);
    let body = html! {
        h1 { (title) }
        p.lead { "For " strong { (rec.patient.legal_name().display()) } ", born " (long_date(rec.patient.birth_date.0)) "." }
        (form_error(error))
        form.stack method="post" action={ (base) "/" (action) } {
            (csrf(s))
            (fields)
            div.actions {
                button type="submit" { "Record" }
                a.button.secondary href=(base) { "Cancel" }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html_response(status, page(Some(s), Section::Search, title, body))
}

fn refusal_fields(v: &FormMap) -> Markup {
    let reason = get(v, "reason");
    html! {
        div { label for="cvx" { "Vaccine refused (required)" }
            select id="cvx" name="cvx" required { (cvx_options(get(v, "cvx"), false)) } }
        div { label for="date" { "Date (required)" }
            input type="date" id="date" name="date" value=(if v.contains_key("date") { get(v, "date").to_string() } else { date(today()) }) required; }
        fieldset {
            legend { "Reason (required)" }
            @for (code, label) in [("00", "Parental decision"), ("03", "Patient decision"), ("01", "Religious exemption"), ("02", "Other")] {
                div { label { input type="radio" name="reason" value=(code) required checked[reason == code]; " " (label) } }
            }
        }
    }
}

pub(crate) async fn refusal_page(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let fields = refusal_fields(&FormMap::new());
    simple_form_page(
        &p,
        &s,
        PatientId(id),
        "Record a refusal",
        None,
        fields,
        "refusals/new",
    )
    .await
}

pub(crate) async fn record_refusal(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let pid = PatientId(id);
    let result = match parse_date("date", get(&f, "date")) {
        Err(m) => Err(RegistryError::Invalid(m)),
        Ok(d) => {
            let entry = RefusalEntry {
                date: d,
                cvx: get(&f, "cvx").to_string(),
                reason: get(&f, "reason").to_string(),
            };
            p.registry
                .portal_record_refusal(&s.actor, pid, None, &entry, today())
                .await
        }
    };
    match result {
        Ok(w) => {
            Redirect::to(&format!("{}?done=refusal", patient_path(w.patient_id))).into_response()
        }
        Err(RegistryError::Invalid(m)) => {
            simple_form_page(
                &p,
                &s,
                pid,
                "Record a refusal",
                Some(&m),
                refusal_fields(&f),
                "refusals/new",
            )
            .await
        }
        Err(e) => error_page(Some(&s), &e),
    }
}

fn observation_fields(p: &Portal, v: &FormMap) -> Markup {
    let kind = get(v, "kind");
    let code = get(v, "code");
    html! {
        fieldset {
            legend { "Kind (required)" }
            @for (k, label) in [("immunity", "Evidence of immunity (e.g. history of disease, serology)"), ("contraindication", "Contraindication or precaution")] {
                div { label { input type="radio" name="kind" value=(k) required checked[kind == k]; " " (label) } }
            }
        }
        div { label for="code" { "Condition (required)" }
            select id="code" name="code" required {
                option value="" { "— choose —" }
                @for (c, title) in p.registry.portal_observation_choices() {
                    option value=(c) selected[code == c] { (title) " (" (c) ")" }
                }
            }
        }
        (field("date", "Date observed", "date", get(v, "date"), None, false))
    }
}

pub(crate) async fn observation_page(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let fields = observation_fields(&p, &FormMap::new());
    simple_form_page(
        &p,
        &s,
        PatientId(id),
        "Record immunity or a contraindication",
        None,
        fields,
        "observations/new",
    )
    .await
}

pub(crate) async fn record_observation(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let pid = PatientId(id);
    let result = match (
        ObservationKind::parse(get(&f, "kind")),
        parse_date("date observed", get(&f, "date")),
    ) {
        (None, _) => Err(RegistryError::Invalid(
            "Choose the kind: evidence of immunity or contraindication".into(),
        )),
        (_, Err(m)) => Err(RegistryError::Invalid(m)),
        (Some(kind), Ok(d)) => {
            p.registry
                .portal_record_observation(&s.actor, pid, None, kind, get(&f, "code"), d, today())
                .await
        }
    };
    match result {
        Ok(w) => Redirect::to(&format!("{}?done=observation", patient_path(w.patient_id)))
            .into_response(),
        Err(RegistryError::Invalid(m)) => {
            let fields = observation_fields(&p, &f);
            simple_form_page(
                &p,
                &s,
                pid,
                "Record immunity or a contraindication",
                Some(&m),
                fields,
                "observations/new",
            )
            .await
        }
        Err(e) => error_page(Some(&s), &e),
    }
}

// --------------------------------------------------------------- consent --

pub(crate) async fn consent(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let kind = match get(&f, "kind") {
        "file" => ConsentKind::ObjectionFiled,
        "withdraw" => ConsentKind::ObjectionWithdrawn,
        _ => {
            return error_page(
                Some(&s),
                &RegistryError::Invalid("Choose: file an objection or withdraw it".into()),
            )
        }
    };
    let (signed, received) = match (
        parse_date("date signed", get(&f, "signed")),
        parse_date("date received", get(&f, "received")),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(m), _) | (_, Err(m)) => return error_page(Some(&s), &RegistryError::Invalid(m)),
    };
    // The person must be one the actor may see.
    let rec = match p
        .registry
        .patient_record(&s.actor, s.actor.role.default_purpose(), PatientId(id))
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(Some(&s), &e),
    };
    match blocking(|| {
        p.registry
            .record_consent(&s.actor, rec.id, kind, signed, received)
    }) {
        Ok(_) => Redirect::to(&format!("{}?done=consent", patient_path(rec.id))).into_response(),
        Err(e) => error_page(Some(&s), &e),
    }
}

// ----------------------------------------------------------- new patient --

fn new_patient_fields(v: &FormMap) -> Markup {
    let sex = get(v, "sex");
    html! {
        fieldset {
            legend { "Name" }
            div.grid {
                (field("family", "Last name", "text", get(v, "family"), None, true))
                (field("given", "First name", "text", get(v, "given"), None, false))
                (field("middle", "Middle name", "text", get(v, "middle"), None, false))
            }
        }
        div.grid {
            (field("birth_date", "Birth date", "date", get(v, "birth_date"), None, true))
            div { label for="sex" { "Sex" }
                select id="sex" name="sex" {
                    @for (c, l) in [("U", "Unknown"), ("F", "Female"), ("M", "Male"), ("X", "Other")] {
                        option value=(c) selected[sex == c] { (l) }
                    }
                } }
            (field("mrn", "Medical record number (your clinic)", "text", get(v, "mrn"), None, false))
            (field("mother_maiden", "Mother's maiden name", "text", get(v, "mother_maiden"), None, false))
        }
        fieldset {
            legend { "Address and phone" }
            div.grid {
                (field("street", "Street", "text", get(v, "street"), None, false))
                (field("city", "Town", "text", get(v, "city"), None, false))
                (field("state", "State", "text", if v.contains_key("state") { get(v, "state") } else { "MA" }, None, false))
                (field("zip", "ZIP", "text", get(v, "zip"), None, false))
                (field("phone", "Phone", "text", get(v, "phone"), None, false))
            }
        }
    }
}

fn patient_from_form(p: &Portal, s: &Session, f: &FormMap) -> Result<Patient, String> {
    let family = get(f, "family");
    let mut name = PersonName::parse(family, get(f, "given"))
        .map_err(|_| "Enter the last name".to_string())?;
    name.middle = some(f, "middle");
    let birth = parse_date("birth date", get(f, "birth_date"))?.ok_or("Enter the birth date")?;
    let mut patient = Patient::new(name, BirthDate(birth), Sex::from_hl7(get(f, "sex")));
    if let Some(mrn) = some(f, "mrn") {
        let authority = p
            .registry
            .portal_facilities(&s.actor)
            .ok()
            .and_then(|v| v.first().map(|f| f.code.clone()))
            .unwrap_or_default();
        patient
            .identifiers
            .push(PatientIdentifier::new(&mrn, &authority, "MR"));
    }
    if let Some(m) = some(f, "mother_maiden") {
        patient.mother_maiden_name = PersonName::parse(&m, "").ok();
    }
    if some(f, "street").is_some() || some(f, "city").is_some() || some(f, "zip").is_some() {
        patient.addresses.push(immunis_model::Address {
            street1: get(f, "street").into(),
            city: get(f, "city").into(),
            state: get(f, "state").into(),
            zip: get(f, "zip").into(),
            address_type: Some("H".into()),
            ..Default::default()
        });
    }
    if let Some(ph) = some(f, "phone") {
        let digits: String = ph.chars().filter(char::is_ascii_digit).collect();
        if !(7..=15).contains(&digits.len()) {
            return Err(format!(
                "The phone number {ph:?} should have 7 to 15 digits"
            ));
        }
        patient.phones.push(immunis_model::Phone {
            number: digits,
            use_code: Some("PRN".into()),
            ..Default::default()
        });
    }
    Ok(patient)
}

fn new_patient_page_body(
    s: &Session,
    v: &FormMap,
    error: Option<&str>,
    dups: Option<&[SearchHit]>,
) -> Markup {
    let t = today();
    html! {
        h1 { "Register a new patient" }
        p.lead { "The registry first checks whether this person is already recorded." }
        (form_error(error))
        @if let Some(d) = dups {
            @if d.is_empty() {
                div.alert.ok role="status" { p { "No similar record was found. Confirm below to create the record." } }
            } @else {
                section.alert.warn aria-labelledby="dups-h" {
                    h2 id="dups-h" { "This person may already be in the registry" }
                    p { "Open the record if it is the same person. Create a new record only if none of these is them." }
                    ol.hits { @for h in d { (hit_item(h, t)) } }
                }
            }
        }
        form.stack method="post" action={ (BASE) "/patients/new" } {
            (csrf(s))
            (new_patient_fields(v))
            @if dups.is_some() {
                input type="hidden" name="confirm" value="1";
                div.actions {
                    button type="submit" { "Create the new record" }
                    a.button.secondary href={ (BASE) "/search" } { "Cancel" }
                }
            } @else {
                div.actions { button type="submit" { "Check for duplicates" } }
            }
        }
    }
}

pub(crate) async fn new_patient_page(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    html_response(
        StatusCode::OK,
        page(
            Some(&s),
            Section::NewPatient,
            "New patient",
            new_patient_page_body(&s, &FormMap::new(), None, None),
        ),
    )
}

pub(crate) async fn new_patient(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let bad = |m: &str| {
        html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                Some(&s),
                Section::NewPatient,
                "New patient",
                new_patient_page_body(&s, &f, Some(m), None),
            ),
        )
    };
    let patient = match patient_from_form(&p, &s, &f) {
        Ok(pt) => pt,
        Err(m) => return bad(&m),
    };
    if patient.birth_date.0 > today() {
        return bad("The birth date is in the future");
    }
    if get(&f, "confirm") != "1" {
        return match p.registry.portal_duplicate_check(&s.actor, &patient).await {
            Ok(d) => html_response(
                StatusCode::OK,
                page(
                    Some(&s),
                    Section::NewPatient,
                    "New patient",
                    new_patient_page_body(&s, &f, None, Some(&d)),
                ),
            ),
            Err(e) => error_page(Some(&s), &e),
        };
    }
    match p
        .registry
        .portal_register_patient(&s.actor, None, patient, today())
        .await
    {
        Ok((id, o)) => {
            let done = if !o.patient_created {
                "existing"
            } else if o.needs_review {
                "review"
            } else {
                "created"
            };
            Redirect::to(&format!("{}?done={done}", patient_path(id))).into_response()
        }
        Err(RegistryError::Invalid(m)) => bad(&m),
        Err(e) => error_page(Some(&s), &e),
    }
}

// ------------------------------------------------------------------ lots --

fn lots_body(p: &Portal, s: &Session, v: &FormMap, error: Option<&str>) -> Markup {
    let lots = blocking(|| p.registry.portal_lots(&s.actor, true)).unwrap_or_default();
    html! {
        h1 { "Vaccine lots" }
        p.lead { "Lots on hand at your facility. Active lots are offered when recording a vaccination and fill in its details." }
        table {
            caption { "Your lots" }
            thead { tr { th scope="col" { "Lot" } th scope="col" { "Vaccine" } th scope="col" { "Manufacturer" }
                th scope="col" { "Expires" } th scope="col" { "Defaults" } th scope="col" { "Status" } } }
            tbody {
                @if lots.is_empty() { tr { td colspan="6" { "No lots yet." } } }
                @for l in &lots {
                    tr {
                        td { (l.lot_number) span.hint { (l.facility_code) } }
                        td { "CVX " (l.cvx) }
                        td { (l.mvx.as_deref().unwrap_or("—")) }
                        td { (l.expiration_date.map(date).unwrap_or_else(|| "—".into())) }
                        td { (l.route.as_deref().unwrap_or("")) " " (l.site.as_deref().unwrap_or("")) " "
                            @if let Some(a) = &l.amount_ml { (a) " mL" } }
                        td {
                            form.inline method="post" action={ (BASE) "/lots/" (l.id) "/active" } {
                                (csrf(s))
                                input type="hidden" name="active" value=(if l.active { "0" } else { "1" });
                                (if l.active { "Active " } else { "Retired " })
                                button.secondary type="submit" { (if l.active { "Retire" } else { "Restore" }) span.skip { " lot " (l.lot_number) } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a lot" }
        (form_error(error))
        form.stack.panel method="post" action={ (BASE) "/lots" } {
            (csrf(s))
            div { label for="cvx" { "Vaccine (required)" } select id="cvx" name="cvx" required { (cvx_options(get(v, "cvx"), true)) } }
            div.grid {
                (field("lot_number", "Lot number", "text", get(v, "lot_number"), None, true))
                (field("mvx", "Manufacturer (MVX code)", "text", get(v, "mvx"), Some("e.g. PMC, MSD, SKB"), false))
                (field("expiration", "Expiration date", "date", get(v, "expiration"), None, false))
                (field("route", "Default route", "text", get(v, "route"), Some("e.g. C28161 (IM)"), false))
                (field("site", "Default site", "text", get(v, "site"), Some("e.g. LD"), false))
                (field("amount_ml", "Default amount (mL)", "text", get(v, "amount_ml"), None, false))
            }
            button type="submit" { "Add the lot" }
        }
    }
}

pub(crate) async fn lots_page(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    html_response(
        StatusCode::OK,
        page(
            Some(&s),
            Section::Lots,
            "Vaccine lots",
            lots_body(&p, &s, &FormMap::new(), None),
        ),
    )
}

pub(crate) async fn add_lot(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let exp = match parse_date("expiration date", get(&f, "expiration")) {
        Ok(d) => d,
        Err(m) => {
            return html_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(
                    Some(&s),
                    Section::Lots,
                    "Vaccine lots",
                    lots_body(&p, &s, &f, Some(&m)),
                ),
            )
        }
    };
    let opt = |k: &str| some(&f, k);
    match p
        .registry
        .portal_add_lot(
            &s.actor,
            None,
            get(&f, "cvx"),
            get(&f, "lot_number"),
            opt("mvx").as_deref(),
            exp,
            opt("route").as_deref(),
            opt("site").as_deref(),
            opt("amount_ml").as_deref(),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("{BASE}/lots")).into_response(),
        Err(RegistryError::Invalid(m)) => html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                Some(&s),
                Section::Lots,
                "Vaccine lots",
                lots_body(&p, &s, &f, Some(&m)),
            ),
        ),
        Err(e) => error_page(Some(&s), &e),
    }
}

pub(crate) async fn set_lot_active(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(lot): Path<i64>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match p
        .registry
        .portal_set_lot_active(&s.actor, lot, get(&f, "active") == "1")
        .await
    {
        Ok(()) => Redirect::to(&format!("{BASE}/lots")).into_response(),
        Err(e) => error_page(Some(&s), &e),
    }
}

/// The official record as PDF, or as a SMART Health Card file: the same
/// registry services as `GET /api/v0/patients/{id}/record.*` (access
/// decision, visible doses only, signed, audited as a disclosure).
async fn record_document(
    p: Portal,
    headers: HeaderMap,
    ci: Option<ConnectInfo<SocketAddr>>,
    id: i64,
    pdf: bool,
) -> Response {
    let s = match p.session(&headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (t, now) = (today(), chrono::Utc::now().timestamp());
    let purpose = s.actor.role.default_purpose();
    let (bytes, content_type, disposition) = if pdf {
        match p
            .registry
            .official_record_pdf(&s.actor, purpose, PatientId(id), t, now)
            .await
        {
            Ok(b) => (
                b,
                "application/pdf",
                format!("inline; filename=\"immunization-record-{id}.pdf\""),
            ),
            Err(e) => return error_page(Some(&s), &e),
        }
    } else {
        match p
            .registry
            .health_card_file(&s.actor, purpose, PatientId(id), t, now)
            .await
        {
            Ok(f) => (
                f.into_bytes(),
                "application/smart-health-card",
                format!("attachment; filename=\"immunization-record-{id}.smart-health-card\""),
            ),
            Err(e) => return error_page(Some(&s), &e),
        }
    };
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(content_type),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&disposition) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    res
}

pub(crate) async fn record_pdf(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    record_document(p, headers, ci, id, true).await
}

pub(crate) async fn record_card(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    record_document(p, headers, ci, id, false).await
}
