//! The page frame and the small shared templates (maud: HTML escaped by
//! construction).

use std::sync::OnceLock;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use immunis_registry::clinical::ClinicalData;
use maud::{html, Markup, DOCTYPE};

use crate::{today, Role, Session, BASE};

/// The clinical data the registry serving these pages runs on (one per
/// process; set by [`crate::router`]), named in every page's footer.
static CLINICAL: OnceLock<ClinicalData> = OnceLock::new();

pub(crate) fn set_clinical(c: &ClinicalData) {
    let _ = CLINICAL.set(c.clone());
}

/// The footer: the software and clinical data versions in use, and whether
/// any of the data is out of date today.
fn footer() -> Markup {
    let currency = CLINICAL.get().map(|c| c.currency(today()));
    html! {
        footer.site id="site-footer" {
            p { "Immunis " (env!("CARGO_PKG_VERSION"))
                @if let Some(c) = &currency {
                    " · CDC CDSi supporting data " (c.cdsi_release)
                    " · " (c.school_requirements)
                }
            }
            @if let Some(c) = currency.as_ref().filter(|c| !c.out_of_date.is_empty()) {
                p.stale { strong { "Clinical data out of date: " }
                    (c.warnings().len()) " item(s) — see the warning on each chart and report." }
            }
        }
    }
}

/// Which top-level section a page belongs to (for `aria-current`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Search,
    NewPatient,
    Lots,
    School,
    Admin,
    None,
}

pub(crate) fn html_response(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        m.into_string(),
    )
        .into_response()
}

/// A hidden CSRF field for a session's forms.
pub(crate) fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="_csrf" value=(s.csrf); }
}

pub(crate) fn page(s: Option<&Session>, section: Section, title: &str, body: Markup) -> Markup {
    let nav = |sec: Section, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(section == sec).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Immunis" }
                link rel="stylesheet" href={ (BASE) "/static/portal.css" };
            }
            body {
                a.skip href="#main" { "Skip to main content" }
                header.top {
                    div.bar {
                        a.brand href={ (BASE) "/" } { "Immunis" }
                        @if let Some(s) = s {
                            nav aria-label="Main" {
                                ul {
                                    (nav(Section::Search, &format!("{BASE}/search"), "Find a patient"))
                                    @if s.actor.role == Role::School {
                                        (nav(Section::School, &format!("{BASE}/school"), "School report"))
                                    } @else if s.actor.role != Role::RegistryAdmin || s.actor.organization.is_some() {
                                        (nav(Section::NewPatient, &format!("{BASE}/patients/new"), "New patient"))
                                        (nav(Section::Lots, &format!("{BASE}/lots"), "Vaccine lots"))
                                    }
                                    @if s.actor.role == Role::RegistryAdmin {
                                        (nav(Section::Admin, &format!("{BASE}/admin"), "Administration"))
                                    }
                                }
                            }
                            div.who {
                                span { "Signed in as " a href={ (BASE) "/account" } { strong { (s.actor.subject) } } }
                                form.inline method="post" action={ (BASE) "/logout" } {
                                    (csrf(s))
                                    button type="submit" { "Log out" }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    (body)
                }
                (footer())
            }
        }
    }
}

pub(crate) fn message_page(
    s: Option<&Session>,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    let kind = if status.is_success() { "info" } else { "error" };
    html_response(
        status,
        page(
            s,
            Section::None,
            title,
            html! {
                h1 { (title) }
                div class={ "alert " (kind) } role="alert" { p { (text) } }
                p { a href={ (BASE) "/search" } { "Back to patient search" } }
            },
        ),
    )
}

pub(crate) fn login(
    status: StatusCode,
    csrf: &str,
    error: Option<&str>,
    notice: Option<&str>,
    username: &str,
) -> Response {
    html_response(
        status,
        page(
            None,
            Section::None,
            "Log in",
            html! {
                h1 { "Log in to the immunization registry" }
                @if let Some(n) = notice { div.alert.info role="status" { p { (n) } } }
                @if let Some(e) = error { div.alert.error role="alert" id="login-error" { p { (e) } } }
                form.stack.panel method="post" action={ (BASE) "/login" } {
                    input type="hidden" name="_csrf" value=(csrf);
                    div {
                        label for="username" { "Username" }
                        input type="text" id="username" name="username" value=(username)
                            autocomplete="username" autocapitalize="none" spellcheck="false" required
                            aria-describedby=[error.map(|_| "login-error")];
                    }
                    div {
                        label for="password" { "Password" }
                        input type="password" id="password" name="password" autocomplete="current-password" required;
                    }
                    div {
                        label for="totp" { "Code from your authenticator app"
                            span.hint { "6 digits; a new code every 30 seconds" } }
                        input type="text" id="totp" name="totp" inputmode="numeric" pattern="[0-9 ]*"
                            autocomplete="one-time-code" maxlength="8" required;
                    }
                    button type="submit" { "Log in" }
                }
                p.muted { "For authorized registry users only. Every access is recorded." }
            },
        ),
    )
}

/// An error box above a form (announced to screen readers).
pub(crate) fn form_error(error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error {
            div.alert.error role="alert" id="form-error" { p { strong { "Not saved: " } (e) } }
        }
    }
}

/// A labelled text-like input.
pub(crate) fn field(
    id: &str,
    label: &str,
    kind: &str,
    value: &str,
    hint: Option<&str>,
    required: bool,
) -> Markup {
    html! {
        div {
            label for=(id) { (label) @if required { " (required)" }
                @if let Some(h) = hint { span.hint { (h) } } }
            input type=(kind) id=(id) name=(id) value=(value) required[required];
        }
    }
}
