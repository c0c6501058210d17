//! "My immunization record": server-rendered pages (maud; plain, accessible
//! HTML with labels) for a person or parent. Request form → the same answer
//! page whether or not a person matched → code entry → the record with
//! download links for the PDF and the SMART Health Card. The registry does
//! the matching, codes, sessions, access decision and audit; this module
//! adds the per-client-IP rate limit and the session cookie.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use immunis_registry::consumer::{RecordRequest, RequestOutcome};
use immunis_registry::AuthError;
use immunis_registry::Purpose;
use maud::{html, Markup, DOCTYPE};

use crate::documents::{issue, registry_problem};
use crate::http::AppState;
use crate::limit::RateLimiter;

const COOKIE: &str = "immunis_my_record";
/// Requests and code attempts per client IP per window.
const PER_IP: u32 = 20;
const IP_WINDOW: Duration = Duration::from_secs(10 * 60);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/my-record", get(get_form))
        .route("/my-record/request", post(post_request))
        .route("/my-record/verify", post(post_verify))
        .route("/my-record/view", get(get_view))
        .route("/my-record/record.pdf", get(get_pdf))
        .route("/my-record/record.smart-health-card", get(get_card))
        .route("/my-record/logout", post(post_logout))
        .layer(Extension(Arc::new(RateLimiter::new(PER_IP, IP_WINDOW))))
}

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — My immunization record" }
                style { "body{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}label{display:block;margin-top:1rem;font-weight:bold}input{font-size:1rem;padding:.4rem;width:100%;max-width:24rem}button{margin-top:1.2rem;font-size:1rem;padding:.5rem 1rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #ccc}" }
            }
            body {
                header { p { a href="/my-record" { "My immunization record" } } }
                main { h1 { (title) } (body) }
            }
        }
    }
}

fn html_response(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        m.into_string(),
    )
        .into_response()
}

fn request_form(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message { p role="alert" { (m) } }
        p { "Enter the details as your doctor or clinic has them. If they match one record, we send a one-time code to the phone number or e-mail address you give — it must already be on file." }
        form method="post" action="/my-record/request" {
            label for="given" { "Given (first) name" }
            input id="given" name="given" type="text" autocomplete="given-name" required;
            label for="family" { "Family (last) name" }
            input id="family" name="family" type="text" autocomplete="family-name" required;
            label for="birth_date" { "Date of birth" }
            input id="birth_date" name="birth_date" type="date" required;
            label for="contact" { "Mobile phone number or e-mail address on file" }
            input id="contact" name="contact" type="text" autocomplete="email" required;
            button type="submit" { "Send me a code" }
        }
    }
}

fn code_form(handle: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message { p role="alert" { (m) } }
        form method="post" action="/my-record/verify" {
            input type="hidden" name="handle" value=(handle);
            label for="code" { "One-time code (6 digits)" }
            input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required;
            button type="submit" { "Show my record" }
        }
    }
}

async fn get_form() -> Response {
    html_response(
        StatusCode::OK,
        page("Get your immunization record", request_form(None)),
    )
}

fn too_many() -> Response {
    html_response(
        StatusCode::TOO_MANY_REQUESTS,
        page(
            "Too many requests",
            html! { p { "Too many requests. Please wait a few minutes and try again." } },
        ),
    )
}

async fn post_request(
    State(state): State<AppState>,
    Extension(limit): Extension<Arc<RateLimiter>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !limit.hit(peer.ip()) {
        return too_many();
    }
    let field = |k: &str| {
        form.get(k)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let Ok(birth_date) = chrono::NaiveDate::parse_from_str(&field("birth_date"), "%Y-%m-%d") else {
        return html_response(
            StatusCode::BAD_REQUEST,
            page(
                "Get your immunization record",
                request_form(Some(
                    "Please enter the date of birth as a date (YYYY-MM-DD).",
                )),
            ),
        );
    };
    let req = RecordRequest {
        given: field("given"),
        family: field("family"),
        birth_date,
        contact: field("contact"),
    };
    match state
        .registry
        .consumer_request(&req, Some(peer.to_string()))
        .await
    {
        Ok(RequestOutcome::Accepted { handle }) => html_response(
            StatusCode::OK,
            page(
                "Check your phone or e-mail",
                html! {
                    p { "If the details match a record, we sent a one-time code to the phone number or e-mail address you gave. It expires in 10 minutes." }
                    (code_form(&handle, None))
                },
            ),
        ),
        Ok(RequestOutcome::RateLimited) => too_many(),
        Err(e) => {
            tracing::error!("consumer request failed: {e}");
            html_response(
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    "Please try again later",
                    html! { p { "The registry could not answer." } },
                ),
            )
        }
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

async fn post_verify(
    State(state): State<AppState>,
    Extension(limit): Extension<Arc<RateLimiter>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !limit.hit(peer.ip()) {
        return too_many();
    }
    let handle = form.get("handle").cloned().unwrap_or_default();
    let code = form.get("code").cloned().unwrap_or_default();
    match state
        .registry
        .consumer_verify(&handle, &code, Some(peer.to_string()))
        .await
    {
        Ok(login) => {
            let secure = if state.base_url.starts_with("https") {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{COOKIE}={}; Path=/my-record; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                login.token,
                login.expires_in.as_secs()
            );
            let mut r = Redirect::to("/my-record/view").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(AuthError::Unavailable(e)) => {
            tracing::error!("consumer verify failed: {e}");
            html_response(
                StatusCode::SERVICE_UNAVAILABLE,
                page("Please try again later", html! { p { "The registry could not answer." } }),
            )
        }
        Err(_) => html_response(
            StatusCode::UNAUTHORIZED,
            page(
                "Check your phone or e-mail",
                code_form(
                    &handle,
                    Some("That code is not right, has expired or was already used. You can try again, or ask for a new code."),
                ),
            ),
        ),
    }
}

fn session(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(immunis_registry::Actor, immunis_model::PatientId), Box<Response>> {
    let expired = || {
        Box::new(html_response(
            StatusCode::UNAUTHORIZED,
            page(
                "Your session ended",
                html! { p { "For your privacy the session ends after a few minutes. " a href="/my-record" { "Ask for a new code" } "." } },
            ),
        ))
    };
    let token = cookie_token(headers).ok_or_else(expired)?;
    state
        .registry
        .consumer_session(&token, Some(peer.to_string()))
        .map_err(|_| expired())
}

fn us_date(d: chrono::NaiveDate) -> String {
    d.format("%m/%d/%Y").to_string()
}

async fn get_view(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let (actor, pid) = match session(&state, &headers, peer) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let rec = match state
        .registry
        .patient_record(&actor, Purpose::SelfAccess, pid)
        .await
    {
        Ok(r) => r,
        Err(e) => return registry_problem(&e),
    };
    let codes = state.registry.codes();
    let name = rec.patient.legal_name();
    let body = html! {
        p { strong { (name.given) " " (name.family) } ", born " (us_date(rec.patient.birth_date.0)) }
        ul {
            li { a href="/my-record/record.pdf" { "Download the official record (PDF)" } }
            li { a href="/my-record/record.smart-health-card" download { "Download the SMART Health Card (.smart-health-card)" } }
        }
        h2 { "Vaccinations on record" }
        @if rec.doses.is_empty() {
            p { "No vaccinations are on record." }
        } @else {
            table {
                thead { tr { th scope="col" { "Date" } th scope="col" { "Vaccine" } } }
                tbody {
                    @for d in &rec.doses {
                        @let e = &d.primary.event;
                        tr {
                            td { (e.administered_date.map(us_date).unwrap_or_default()) }
                            td { (e.cvx.as_ref().and_then(|c| codes.cvx(c)).map(|i| i.short_description.clone()).unwrap_or_else(|| "Unknown vaccine".into())) }
                        }
                    }
                }
            }
        }
        form method="post" action="/my-record/logout" { button type="submit" { "Sign out" } }
    };
    html_response(StatusCode::OK, page("Your immunization record", body))
}

async fn get_pdf(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    own_document(state, peer, headers, true).await
}

async fn get_card(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    own_document(state, peer, headers, false).await
}

/// The person's own record (PDF or health card) for a live consumer session.
async fn own_document(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    pdf: bool,
) -> Response {
    match session(&state, &headers, peer) {
        Ok((actor, pid)) => issue(&state, &actor, Purpose::SelfAccess, pid, pdf).await,
        Err(r) => *r,
    }
}

async fn post_logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(t) = cookie_token(&headers) {
        if let Err(e) = state.registry.consumer_logout(&t).await {
            tracing::error!("consumer logout failed: {e}");
        }
    }
    let mut r = Redirect::to("/my-record").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "immunis_my_record=; Path=/my-record; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}
