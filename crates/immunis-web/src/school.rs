//! The school nurse's page: the school's roster against the school-entry
//! requirements in force (the registry's: Massachusetts embedded, or the
//! operator's `--school-requirements`), filterable by grade, and the
//! same report as CSV. The registry reads each student as the school may
//! see them and audits every student in the report.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use immunis_registry::school::{RowStatus, SchoolReport};
use immunis_registry::RegistryError;
use immunis_schools::Grade;
use maud::html;

use crate::pages::{html_response, message_page, page, Section};
use crate::{blocking, error_page, today, Portal, Session, BASE};

const GRADES: [(&str, &str); 15] = [
    ("", "All grades"),
    ("PK", "Preschool / child care"),
    ("K", "Kindergarten"),
    ("1", "Grade 1"),
    ("2", "Grade 2"),
    ("3", "Grade 3"),
    ("4", "Grade 4"),
    ("5", "Grade 5"),
    ("6", "Grade 6"),
    ("7", "Grade 7"),
    ("8", "Grade 8"),
    ("9", "Grade 9"),
    ("10", "Grade 10"),
    ("11", "Grade 11"),
    ("12", "Grade 12"),
];

/// The session and the report for its school (and the grade asked for), or
/// the response to send instead.
fn report(
    p: &Portal,
    headers: &HeaderMap,
    ci: &Option<ConnectInfo<SocketAddr>>,
    q: &HashMap<String, String>,
) -> Result<(Session, SchoolReport, String), Response> {
    let session = p.session(headers, ci)?;
    let s = &session;
    let school = match blocking(|| p.registry.own_school(&s.actor)) {
        Ok(Some(name)) => name,
        Ok(None) => {
            return Err(message_page(
                Some(s),
                StatusCode::FORBIDDEN,
                "School users only",
                "The school report is for a school's nurse or registration staff, for their own school's students.",
            ))
        }
        Err(e) => return Err(error_page(Some(s), &e)),
    };
    let grade_text = q.get("grade").map(|g| g.trim()).unwrap_or("").to_string();
    let grade = if grade_text.is_empty() {
        None
    } else {
        match Grade::parse(&grade_text) {
            Ok(g) => Some(g),
            Err(e) => {
                return Err(error_page(
                    Some(s),
                    &RegistryError::Invalid(format!("The grade {grade_text:?} is not known: {e}")),
                ))
            }
        }
    };
    let rules = p.registry.clinical().school_rules();
    let r = blocking(|| {
        p.registry
            .school_report(&s.actor, rules, &school, grade.as_ref(), today())
    })
    .map_err(|e| error_page(Some(s), &e))?;
    Ok((session, r, grade_text))
}

pub(crate) async fn page_view(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (s, r, grade) = match report(&p, &headers, &ci, &q) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let sum = &r.summary;
    let csv_href = format!("{BASE}/school/report.csv?grade={grade}");
    let body = html! {
        h1 { "School-entry immunization status" }
        p { strong { (r.organization) } " · school year " (r.school_year) " · assessed "
            (r.assessed_on.format("%b %-d, %Y")) " · requirements: " (r.requirements) }
        @if !r.warnings.is_empty() {
            div.alert.warn role="alert" id="data-warning" {
                p { strong { "Requirements out of date. " }
                    "Statuses below may be wrong; ask the registry to load the current requirements." }
                ul { @for w in &r.warnings { li { (w) } } }
            }
        }
        form.panel.filter method="get" action={ (BASE) "/school" } {
            label for="grade" { "Grade" }
            select id="grade" name="grade" {
                @for (value, label) in GRADES {
                    option value=(value) selected[value == grade] { (label) }
                }
            }
            button type="submit" { "Show" }
            a.button.secondary href=(csv_href) { "Download CSV" }
        }
        ul.summary aria-label="Summary" {
            li { (sum.students) " students" }
            li { (sum.compliant) " compliant" }
            li { (sum.in_progress) " in progress" }
            li { (sum.not_compliant) " not compliant" }
            li { (sum.exempt) " exempt" }
            li { (sum.not_available) " record not available" }
            li { (sum.not_assessed) " not assessed" }
        }
        @if r.rows.is_empty() {
            p { "No students on the roster" @if !grade.is_empty() { " in this grade" } "." }
        } @else {
            div.table-wrap tabindex="0" role="region" aria-label="Student status table" {
                table.school {
                    caption { "Students and their status against each requirement" }
                    thead { tr {
                        th scope="col" { "Student" }
                        th scope="col" { "Born" }
                        th scope="col" { "Grade" }
                        th scope="col" { "Status" }
                        @for c in &r.columns { th scope="col" { (c.label) } }
                        th scope="col" { "Missing" }
                    } }
                    tbody {
                        @for row in &r.rows {
                            tr {
                                th scope="row" {
                                    @if row.name.is_empty() { "Registry #" (row.patient_id.0) } @else { (row.name) }
                                }
                                td { @if let Some(b) = row.birth_date { (b.format("%Y-%m-%d")) } }
                                td { (row.grade) }
                                td class={ "status " (status_class(&row.status)) } { (row.status.to_string()) }
                                @for cell in &row.cells {
                                    td { @if let Some(c) = cell { (c.text) } @else { span.muted { "—" } } }
                                }
                                td.missing { (row.missing.join("; ")) }
                            }
                        }
                    }
                }
            }
        }
        p.muted { "“Record not available” means the person objected to data sharing: rely on the paper certificate. Every student shown here is recorded in the registry's audit trail." }
    };
    html_response(
        StatusCode::OK,
        page(Some(&s), Section::School, "School report", body),
    )
}

fn status_class(s: &RowStatus) -> &'static str {
    match s {
        RowStatus::Assessed(o) => match o.to_string().as_str() {
            "compliant" => "ok",
            "in progress" => "warn",
            "not compliant" => "bad",
            _ => "info",
        },
        RowStatus::NotAvailable | RowStatus::NotAssessed(_) => "info",
    }
}

pub(crate) async fn csv(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (s, r, _) = match report(&p, &headers, &ci, &q) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let mut out = Vec::new();
    if let Err(e) = r.write_csv(&mut out) {
        return error_page(Some(&s), &e);
    }
    let mut res = (StatusCode::OK, out).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"school-immunization-report.csv\""),
    );
    res
}
