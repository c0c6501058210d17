//! Administration pages (registry administrators): organizations and their
//! facilities, users (the TOTP secret shown once), the consent history with
//! file / withdraw, the possible-match review queue side by side, merge and
//! unmerge. Every action is a registry service that decides and audits.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::{ConsentKind, RecordSummary, RegistryError, Resolution, ReviewItem};
use maud::{html, Markup};

use crate::pages::{csrf, field, form_error, html_response, page, Section};
use crate::patients::parse_date;
use crate::{blocking, error_page, Portal, Role, Session, BASE};

type FormMap = HashMap<String, String>;

fn get<'a>(f: &'a FormMap, k: &str) -> &'a str {
    f.get(k).map(String::as_str).unwrap_or("").trim()
}

fn admin_session(
    p: &Portal,
    headers: &HeaderMap,
    ci: &Option<ConnectInfo<SocketAddr>>,
) -> Result<Session, Response> {
    let s = p.session(headers, ci)?;
    if s.actor.role != Role::RegistryAdmin {
        return Err(error_page(
            Some(&s),
            &RegistryError::Denied("only registry administrators administer"),
        ));
    }
    Ok(s)
}

fn admin_post(
    p: &Portal,
    headers: &HeaderMap,
    ci: &Option<ConnectInfo<SocketAddr>>,
    f: &FormMap,
) -> Result<Session, Response> {
    let s = p.session_post(headers, ci, f)?;
    if s.actor.role != Role::RegistryAdmin {
        return Err(error_page(
            Some(&s),
            &RegistryError::Denied("only registry administrators administer"),
        ));
    }
    Ok(s)
}

fn admin_page(s: &Session, title: &str, body: Markup) -> Markup {
    page(
        Some(s),
        Section::Admin,
        title,
        html! {
            nav aria-label="Administration" {
                ul.actions {
                    li { a href={ (BASE) "/admin/organizations" } { "Organizations" } }
                    li { a href={ (BASE) "/admin/users" } { "Users" } }
                    li { a href={ (BASE) "/admin/consent" } { "Consent" } }
                    li { a href={ (BASE) "/admin/review" } { "Possible matches" } }
                    li { a href={ (BASE) "/admin/merge" } { "Merge / unmerge" } }
                }
            }
            (body)
        },
    )
}

pub(crate) async fn index(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    let s = match admin_session(&p, &headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let counts = p.registry.counts(&s.actor).ok();
    let body = html! {
        h1 { "Administration" }
        @if let Some((patients, events)) = counts {
            p { (patients) " patient records, " (events) " vaccination reports." }
        }
    };
    html_response(StatusCode::OK, admin_page(&s, "Administration", body))
}

// --------------------------------------------------------- organizations --

const KINDS: [(&str, &str); 6] = [
    ("provider", "Provider"),
    ("school", "School"),
    ("board_of_health", "Board of health"),
    ("health_department_program", "Health department program"),
    ("study", "Study"),
    ("registry", "Registry"),
];

fn organizations_body(p: &Portal, s: &Session, v: &FormMap, error: Option<&str>) -> Markup {
    let orgs = blocking(|| p.registry.list_organizations(&s.actor)).unwrap_or_default();
    let facilities = blocking(|| p.registry.list_facilities(&s.actor)).unwrap_or_default();
    html! {
        h1 { "Organizations" }
        (form_error(error))
        table {
            caption { "Organizations and their facilities" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Facilities (MSH-4 code)" } } }
            tbody { @for o in &orgs {
                tr { td { (o.name) } td { (o.kind.as_str()) }
                    td { @for (f, _) in facilities.iter().filter(|(f, _)| f.organization_id == o.id) {
                        (f.name) " (" (f.code) ") " } } }
            } }
        }
        div.side {
            form.stack.panel method="post" action={ (BASE) "/admin/organizations" } {
                h2 { "Add an organization" }
                (csrf(s))
                (field("name", "Name", "text", get(v, "name"), None, true))
                div { label for="kind" { "Kind" } select id="kind" name="kind" {
                    @for (k, l) in KINDS { option value=(k) selected[get(v, "kind") == k] { (l) } } } }
                button type="submit" { "Add" }
            }
            form.stack.panel method="post" action={ (BASE) "/admin/facilities" } {
                h2 { "Add a facility" }
                (csrf(s))
                div { label for="organization" { "Organization" } select id="organization" name="organization" {
                    @for o in orgs.iter().filter(|o| o.kind == OrganizationKind::Provider) { option value=(o.name) { (o.name) } } } }
                (field("code", "Facility code (MSH-4)", "text", get(v, "code"), None, true))
                (field("facility_name", "Facility name", "text", get(v, "facility_name"), None, true))
                button type="submit" { "Add" }
            }
        }
    }
}

pub(crate) async fn organizations(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    let s = match admin_session(&p, &headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    html_response(
        StatusCode::OK,
        admin_page(
            &s,
            "Organizations",
            organizations_body(&p, &s, &FormMap::new(), None),
        ),
    )
}

pub(crate) async fn add_organization(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = match OrganizationKind::parse(get(&f, "kind")) {
        None => Err(RegistryError::Invalid(
            "Choose the kind of organization".into(),
        )),
        Some(kind) => {
            blocking(|| p.registry.add_organization(&s.actor, get(&f, "name"), kind)).map(|_| ())
        }
    };
    org_result(&p, &s, &f, result)
}

fn org_result(p: &Portal, s: &Session, f: &FormMap, r: Result<(), RegistryError>) -> Response {
    match r {
        Ok(()) => Redirect::to(&format!("{BASE}/admin/organizations")).into_response(),
        Err(RegistryError::Invalid(m)) => html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            admin_page(s, "Organizations", organizations_body(p, s, f, Some(&m))),
        ),
        Err(e) => error_page(Some(s), &e),
    }
}

pub(crate) async fn add_facility(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let name = get(&f, "facility_name");
    let result = if name.is_empty() {
        Err(RegistryError::Invalid("Enter the facility's name".into()))
    } else {
        blocking(|| {
            p.registry.register_facility(
                &s.actor,
                get(&f, "organization"),
                OrganizationKind::Provider,
                get(&f, "code"),
                name,
            )
        })
        .map(|_| ())
    };
    org_result(&p, &s, &f, result)
}

// ----------------------------------------------------------------- users --

fn users_body(
    p: &Portal,
    s: &Session,
    v: &FormMap,
    error: Option<&str>,
    created: Option<Markup>,
) -> Markup {
    let users = blocking(|| p.registry.list_users(&s.actor)).unwrap_or_default();
    let orgs = blocking(|| p.registry.list_organizations(&s.actor)).unwrap_or_default();
    html! {
        h1 { "Users" }
        @if let Some(c) = created { (c) }
        (form_error(error))
        table {
            caption { "People who may log in" }
            thead { tr { th scope="col" { "Username" } th scope="col" { "Role" } th scope="col" { "Organization" } th scope="col" { "State" } th scope="col" { span.skip { "Actions" } } } }
            tbody { @for u in &users {
                tr {
                    td { (u.username) } td { (u.role) }
                    td { (u.organization.as_deref().unwrap_or("—")) @if let Some(pid) = u.person_patient_id { " person #" (pid.0) } }
                    td { @if u.disabled { "disabled" } @else if u.locked { "locked (failed logins)" } @else { "active" } }
                    td { form.inline method="post" action={ (BASE) "/admin/users/" (u.username) "/disabled" } {
                        (csrf(s))
                        input type="hidden" name="disabled" value=(if u.disabled { "0" } else { "1" });
                        button.secondary type="submit" { (if u.disabled { "Enable" } else { "Disable" }) span.skip { " " (u.username) } }
                    }
                    form.inline method="post" action={ (BASE) "/admin/users/" (u.username) "/reset" } {
                        (csrf(s))
                        button.secondary type="submit" { "Reset password and TOTP" span.skip { " of " (u.username) } }
                    } }
                }
            } }
        }
        form.stack.panel method="post" action={ (BASE) "/admin/users" } {
            h2 { "Add a user" }
            (csrf(s))
            div.grid {
                (field("username", "Username", "text", get(v, "username"), Some("letters, digits, - _ . @"), true))
                div { label for="organization" { "Organization" } select id="organization" name="organization" required {
                    @for o in &orgs { option value=(o.name) selected[get(v, "organization") == o.name] { (o.name) " (" (o.kind.as_str()) ")" } } } }
            }
            p.muted { "A password is generated and shown once, with the TOTP secret for the user's authenticator app." }
            button type="submit" { "Add the user" }
        }
    }
}

pub(crate) async fn users(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    let s = match admin_session(&p, &headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    html_response(
        StatusCode::OK,
        admin_page(&s, "Users", users_body(&p, &s, &FormMap::new(), None, None)),
    )
}

/// New secrets, shown once (after creating a user or resetting one).
fn secrets_shown(secrets: &immunis_registry::NewUserSecrets, what: &str) -> Markup {
    html! {
        section.alert.ok role="status" aria-labelledby="created-h" {
            h2 id="created-h" { "User " (secrets.username) " " (what) }
            p { "Give these to the user privately. They are shown only once." }
            dl {
                @if let Some(pw) = &secrets.password { dt { "Password" } dd.secret { (pw) } }
                dt { "TOTP secret (enter it in an authenticator app)" } dd.secret { (secrets.totp_secret) }
                dt { "Or this otpauth address" } dd.secret { (secrets.otpauth_uri) }
            }
        }
    }
}

/// An administrator resets a user's password and TOTP (shown once).
pub(crate) async fn reset_user(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match blocking(|| p.registry.reset_user_credentials(&s.actor, &username)) {
        Ok(secrets) => {
            let shown = secrets_shown(
                &secrets,
                "reset: a new password and TOTP secret (the old ones no longer work)",
            );
            html_response(
                StatusCode::OK,
                admin_page(
                    &s,
                    "Users",
                    users_body(&p, &s, &FormMap::new(), None, Some(shown)),
                ),
            )
        }
        Err(e) => error_page(Some(&s), &e),
    }
}

pub(crate) async fn add_user(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match blocking(|| {
        p.registry.add_user(
            &s.actor,
            get(&f, "username"),
            Some(get(&f, "organization")),
            None,
            None,
        )
    }) {
        Ok(secrets) => {
            let shown = secrets_shown(&secrets, "created");
            html_response(
                StatusCode::OK,
                admin_page(
                    &s,
                    "Users",
                    users_body(&p, &s, &FormMap::new(), None, Some(shown)),
                ),
            )
        }
        Err(RegistryError::Invalid(m)) | Err(RegistryError::NotFound(m)) => html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            admin_page(&s, "Users", users_body(&p, &s, &f, Some(&m), None)),
        ),
        Err(e) => error_page(Some(&s), &e),
    }
}

pub(crate) async fn set_user_disabled(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let disabled = get(&f, "disabled") == "1";
    if disabled && username == s.actor.subject {
        return error_page(
            Some(&s),
            &RegistryError::Invalid("You cannot disable your own account".into()),
        );
    }
    match blocking(|| p.registry.set_user_disabled(&s.actor, &username, disabled)) {
        Ok(()) => Redirect::to(&format!("{BASE}/admin/users")).into_response(),
        Err(e) => error_page(Some(&s), &e),
    }
}

// --------------------------------------------------------------- consent --

pub(crate) async fn consent_page(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Query(q): Query<FormMap>,
) -> Response {
    let s = match admin_session(&p, &headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let patient = get(&q, "patient")
        .trim_start_matches('#')
        .parse::<i64>()
        .ok();
    let history = match patient {
        Some(id) => match blocking(|| p.registry.consent_history(&s.actor, PatientId(id))) {
            Ok(h) => Some(h),
            Err(e) => return error_page(Some(&s), &e),
        },
        None => None,
    };
    let body = html! {
        h1 { "Objection to data sharing" }
        form.panel method="get" action={ (BASE) "/admin/consent" } {
            (field("patient", "Registry id of the person", "text", get(&q, "patient"), Some("e.g. 1234"), true))
            button type="submit" { "Show the history" }
        }
        @if let (Some(id), Some(h)) = (patient, &history) {
            h2 { "History for #" (id) }
            @if h.is_empty() { p { "No objection was ever recorded." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Change" } th scope="col" { "Effective" } th scope="col" { "Form received" } th scope="col" { "Recorded by" } th scope="col" { "Source" } } }
                    tbody { @for e in h {
                        tr { td { (match e.kind { ConsentKind::ObjectionFiled => "objection filed", ConsentKind::ObjectionWithdrawn => "objection withdrawn" }) }
                            td { (e.effective_date.map(|d| d.to_string()).unwrap_or_default()) }
                            td { (e.form_received.map(|d| d.to_string()).unwrap_or_default()) }
                            td { (e.recorded_by) } td { (e.source) } }
                    } }
                }
            }
            form.stack.panel method="post" action={ (BASE) "/admin/consent" } {
                h2 { "Record a form" }
                (csrf(&s))
                input type="hidden" name="patient" value=(id);
                fieldset { legend { "Change" }
                    div { label { input type="radio" name="kind" value="file" required; " File an objection" } }
                    div { label { input type="radio" name="kind" value="withdraw"; " Withdraw the objection" } } }
                div.grid {
                    (field("signed", "Date signed", "date", "", None, false))
                    (field("received", "Date received", "date", "", None, false))
                }
                button type="submit" { "Record" }
            }
        }
    };
    html_response(StatusCode::OK, admin_page(&s, "Consent", body))
}

pub(crate) async fn record_consent(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = get(&f, "patient").parse::<i64>() else {
        return error_page(
            Some(&s),
            &RegistryError::Invalid("Enter the registry id".into()),
        );
    };
    let kind = match get(&f, "kind") {
        "file" => ConsentKind::ObjectionFiled,
        "withdraw" => ConsentKind::ObjectionWithdrawn,
        _ => {
            return error_page(
                Some(&s),
                &RegistryError::Invalid("Choose: file or withdraw".into()),
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
    match blocking(|| {
        p.registry
            .record_consent(&s.actor, PatientId(id), kind, signed, received)
    }) {
        Ok(_) => Redirect::to(&format!("{BASE}/admin/consent?patient={id}")).into_response(),
        Err(e) => error_page(Some(&s), &e),
    }
}

// ---------------------------------------------------------------- review --

fn summary_card(r: &RecordSummary, title: &str) -> Markup {
    html! {
        div.panel {
            h3 { (title) ": " a href={ (BASE) "/patients/" (r.id.0) } { "#" (r.id.0) } }
            dl.demo {
                dt { "Name" } dd { (r.name) }
                dt { "Born" } dd { (r.birth_date) }
                dt { "Sex" } dd { (r.sex) }
                dt { "Identifiers" } dd { (r.identifiers.join(", ")) }
                @if r.root != r.id { dt { "Merged into" } dd { "#" (r.root.0) } }
            }
        }
    }
}

fn review_item(s: &Session, item: &ReviewItem) -> Markup {
    html! {
        section.panel aria-labelledby={ "item-" (item.id) } {
            h2 id={ "item-" (item.id) } { "Possible match " (item.id) " — score " (format!("{:.1}", item.score)) " bits" }
            div.side {
                (summary_card(&item.a, "Record A"))
                (summary_card(&item.b, "Record B"))
            }
            table {
                caption { "The matcher's comparison" }
                thead { tr { th scope="col" { "Field" } th scope="col" { "Agreement" } th scope="col" { "Detail" } th scope="col" { "Weight" } } }
                tbody { @for line in &item.explanation {
                    @let cols: Vec<&str> = line.split('\t').collect();
                    tr { @for i in 0..4 { td { (cols.get(i).copied().unwrap_or("")) } } }
                } }
            }
            form.inline method="post" action={ (BASE) "/admin/review/" (item.id) } {
                (csrf(s))
                button type="submit" name="resolution" value="same" { "Same person: merge" }
                " "
                button.secondary type="submit" name="resolution" value="different" { "Different people" }
            }
        }
    }
}

pub(crate) async fn review(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    let s = match admin_session(&p, &headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let items = match blocking(|| p.registry.review_list(&s.actor, 20)) {
        Ok(i) => i,
        Err(e) => return error_page(Some(&s), &e),
    };
    let body = html! {
        h1 { "Possible matches" }
        p.lead { "Records the matcher could not link or separate on its own. Your decision is final for the automatic matcher." }
        @if items.is_empty() { p { "The queue is empty." } }
        @for i in &items { (review_item(&s, i)) }
    };
    html_response(StatusCode::OK, admin_page(&s, "Possible matches", body))
}

pub(crate) async fn resolve(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Path(item): Path<i64>,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let resolution = match get(&f, "resolution") {
        "same" => Resolution::Same,
        "different" => Resolution::Different,
        _ => {
            return error_page(
                Some(&s),
                &RegistryError::Invalid("Choose same or different".into()),
            )
        }
    };
    match blocking(|| p.registry.review_resolve(&s.actor, item, resolution)) {
        Ok(_) => Redirect::to(&format!("{BASE}/admin/review")).into_response(),
        Err(e) => error_page(Some(&s), &e),
    }
}

// ----------------------------------------------------------------- merge --

fn merge_body(s: &Session, v: &FormMap, error: Option<&str>, done: Option<&str>) -> Markup {
    html! {
        h1 { "Merge and unmerge" }
        @if let Some(d) = done { div.alert.ok role="status" { p { (d) } } }
        (form_error(error))
        div.side {
            form.stack.panel method="post" action={ (BASE) "/admin/merge" } {
                h2 { "Merge two records" }
                p { "Nothing is deleted: the absorbed record reads as the kept one until unmerged." }
                (csrf(s))
                (field("keep", "Keep registry id", "text", get(v, "keep"), None, true))
                (field("absorb", "Absorb registry id", "text", get(v, "absorb"), None, true))
                button type="submit" { "Merge" }
            }
            form.stack.panel method="post" action={ (BASE) "/admin/unmerge" } {
                h2 { "Undo a merge" }
                p { "Both records come back exactly as they were." }
                (csrf(s))
                (field("absorbed", "Absorbed registry id", "text", get(v, "absorbed"), None, true))
                button type="submit" { "Unmerge" }
            }
        }
    }
}

pub(crate) async fn merge_page(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Query(q): Query<FormMap>,
) -> Response {
    let s = match admin_session(&p, &headers, &ci) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let done = match get(&q, "done") {
        "merge" => Some("The records were merged."),
        "unmerge" => Some("The records were separated."),
        _ => None,
    };
    html_response(
        StatusCode::OK,
        admin_page(&s, "Merge", merge_body(&s, &FormMap::new(), None, done)),
    )
}

fn id_field(f: &FormMap, k: &str) -> Result<PatientId, String> {
    get(f, k)
        .trim_start_matches('#')
        .parse::<i64>()
        .map(PatientId)
        .map_err(|_| format!("{:?} is not a registry id (a number)", get(f, k)))
}

fn merge_result(s: &Session, f: &FormMap, r: Result<(), RegistryError>, done: &str) -> Response {
    match r {
        Ok(()) => Redirect::to(&format!("{BASE}/admin/merge?done={done}")).into_response(),
        Err(RegistryError::Invalid(m)) | Err(RegistryError::NotFound(m)) => html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            admin_page(s, "Merge", merge_body(s, f, Some(&m), None)),
        ),
        Err(e) => error_page(Some(s), &e),
    }
}

pub(crate) async fn merge(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r = match (id_field(&f, "keep"), id_field(&f, "absorb")) {
        (Ok(k), Ok(a)) if k == a => Err(RegistryError::Invalid(
            "Choose two different records".into(),
        )),
        (Ok(k), Ok(a)) => blocking(|| p.registry.merge(&s.actor, k, a)).map(|_| ()),
        (Err(m), _) | (_, Err(m)) => Err(RegistryError::Invalid(m)),
    };
    merge_result(&s, &f, r, "merge")
}

pub(crate) async fn unmerge(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<FormMap>,
) -> Response {
    let s = match admin_post(&p, &headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r = match id_field(&f, "absorbed") {
        Ok(a) => blocking(|| p.registry.unmerge(&s.actor, a)).map(|_| ()),
        Err(m) => Err(RegistryError::Invalid(m)),
    };
    merge_result(&s, &f, r, "unmerge")
}
