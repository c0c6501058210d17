//! The provider web portal: server-rendered HTML (maud templates, one
//! hand-written stylesheet, no JavaScript) over the registry's services.
//! `immunis-server` nests [`router`] under `/portal`.
//!
//! Invariants: this crate never touches storage or makes access decisions —
//! every handler obtains its [`Actor`] from the session (password + TOTP login
//! through [`Registry::login`]) and calls a registry service, which decides
//! and audits; every POST carries a per-session CSRF token that is checked
//! before anything else happens.
#![forbid(unsafe_code)]
// Handlers return `Result<_, Response>` where the error is the page to send
// at once (login redirect, CSRF refusal); boxing it would gain nothing.
#![allow(clippy::result_large_err)]

mod account;
mod admin;
mod auth;
mod pages;
mod patients;
mod school;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hmac::{Hmac, Mac};
use immunis_registry::{Actor, AuthError, Registry, RegistryError};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

pub use immunis_registry::Role;

/// The portal's stylesheet (served at `/portal/static/portal.css`).
pub const CSS: &str = include_str!("../static/portal.css");

/// Session cookie name.
pub(crate) const SESSION_COOKIE: &str = "immunis_session";
/// Pre-login cookie binding the login form's CSRF token.
pub(crate) const LOGIN_COOKIE: &str = "immunis_login";
/// Where the portal is mounted (cookie path, links).
pub const BASE: &str = "/portal";

/// Says whether a client may try to log in now (and counts the attempt):
/// the server's per-client rate limiter.
pub type LoginLimiter = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// How the portal is served.
#[derive(Clone)]
pub struct PortalConfig {
    /// Served over TLS: cookies get `Secure`.
    pub secure_cookies: bool,
    pub login_limit: LoginLimiter,
}

impl PortalConfig {
    /// Plain HTTP, no login limit (tests).
    pub fn unlimited() -> PortalConfig {
        PortalConfig {
            secure_cookies: false,
            login_limit: Arc::new(|_| true),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Portal {
    pub registry: Arc<Registry>,
    pub config: PortalConfig,
    /// Key for CSRF tokens (random per process: after a restart sessions go
    /// on, but a form opened before it must be reloaded).
    csrf_key: Arc<[u8; 32]>,
}

impl Portal {
    fn mac(&self, purpose: &str, value: &str) -> String {
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(self.csrf_key.as_slice()) else {
            return String::new();
        };
        m.update(purpose.as_bytes());
        m.update(&[0]);
        m.update(value.as_bytes());
        m.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The CSRF token of a session (or of a pre-login nonce).
    pub(crate) fn csrf_for(&self, purpose: &str, value: &str) -> String {
        self.mac(purpose, value)
    }

    pub(crate) fn csrf_ok(&self, purpose: &str, value: &str, presented: Option<&str>) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.mac(purpose, value);
        match presented {
            Some(p) if !expected.is_empty() => {
                bool::from(expected.as_bytes().ct_eq(p.trim().as_bytes()))
            }
            _ => false,
        }
    }

    pub(crate) fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let mut c = format!("{name}={value}; Path={BASE}; HttpOnly; SameSite=Strict");
        if self.config.secure_cookies {
            c.push_str("; Secure");
        }
        if let Some(a) = max_age {
            c.push_str(&format!("; Max-Age={a}"));
        }
        HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// The logged-in user of a request.
#[derive(Clone)]
pub(crate) struct Session {
    pub actor: Actor,
    pub csrf: String,
}

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(crate) fn client_addr(ci: &Option<ConnectInfo<SocketAddr>>) -> Option<String> {
    ci.as_ref().map(|c| c.0.to_string())
}

pub(crate) fn client_ip(ci: &Option<ConnectInfo<SocketAddr>>) -> IpAddr {
    ci.as_ref()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

impl Portal {
    /// The session of a request, or the response that sends the person to
    /// the login page (saying why when the session expired).
    pub(crate) fn session(
        &self,
        headers: &HeaderMap,
        ci: &Option<ConnectInfo<SocketAddr>>,
    ) -> Result<Session, Response> {
        let Some(token) = cookie_value(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(Redirect::to(&format!("{BASE}/login")).into_response());
        };
        match self.registry.session_actor(token, client_addr(ci)) {
            Ok(actor) => Ok(Session {
                actor,
                csrf: self.csrf_for("session", token),
            }),
            Err(AuthError::Expired) => {
                Err(Redirect::to(&format!("{BASE}/login?expired=1")).into_response())
            }
            Err(AuthError::BadCredentials | AuthError::ReusedCode) => {
                Err(Redirect::to(&format!("{BASE}/login")).into_response())
            }
            Err(AuthError::Unavailable(_)) => Err(pages::message_page(
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "The registry cannot check your session right now. Try again shortly.",
            )),
        }
    }

    /// The session of a POST, with its CSRF token checked.
    pub(crate) fn session_post(
        &self,
        headers: &HeaderMap,
        ci: &Option<ConnectInfo<SocketAddr>>,
        form: &std::collections::HashMap<String, String>,
    ) -> Result<Session, Response> {
        let s = self.session(headers, ci)?;
        let token = cookie_value(headers, SESSION_COOKIE).unwrap_or("");
        if !self.csrf_ok("session", token, form.get("_csrf").map(String::as_str)) {
            return Err(csrf_rejected(Some(&s)));
        }
        Ok(s)
    }
}

pub(crate) fn csrf_rejected(s: Option<&Session>) -> Response {
    pages::message_page(
        s,
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form could not be accepted (its security token is missing or out of date). Go back, reload the page and submit it again.",
    )
}

/// A registry error as a page: never a 500 for what a person did.
pub(crate) fn error_page(s: Option<&Session>, e: &RegistryError) -> Response {
    match e {
        RegistryError::Invalid(m) => {
            pages::message_page(s, StatusCode::UNPROCESSABLE_ENTITY, "Check the form", m)
        }
        RegistryError::Denied(why) => pages::message_page(
            s,
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!("You may not do this: {why}."),
        ),
        RegistryError::NotFound(_) => pages::message_page(
            s,
            StatusCode::NOT_FOUND,
            "Not found",
            "No such record visible to you.",
        ),
        other => {
            tracing::error!("portal request failed: {other}");
            pages::message_page(
                s,
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "The registry could not answer. Nothing was changed by this request unless a confirmation was shown. Try again shortly.",
            )
        }
    }
}

/// Runs a blocking registry call (administration services) off the async
/// worker when on a multi-thread runtime.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

pub(crate) fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn portal_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The portal's routes, to be nested under [`BASE`].
pub fn router(registry: Arc<Registry>, config: PortalConfig) -> Router {
    pages::set_clinical(registry.clinical());
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let portal = Portal {
        registry,
        config,
        csrf_key: Arc::new(key),
    };
    Router::new()
        .route("/", get(auth::home))
        .route("/static/portal.css", get(stylesheet))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/account", get(account::page_view))
        .route("/account/password", post(account::change_password))
        .route("/search", get(patients::search))
        .route(
            "/patients/new",
            get(patients::new_patient_page).post(patients::new_patient),
        )
        .route("/patients/:id", get(patients::chart))
        .route("/patients/:id/print", get(patients::print))
        .route("/patients/:id/record.pdf", get(patients::record_pdf))
        .route(
            "/patients/:id/record.smart-health-card",
            get(patients::record_card),
        )
        .route(
            "/patients/:id/doses/new",
            get(patients::dose_page).post(patients::record_dose),
        )
        .route(
            "/patients/:id/doses/:source/edit",
            get(patients::edit_dose_page).post(patients::update_dose),
        )
        .route(
            "/patients/:id/doses/:source/delete",
            post(patients::delete_dose),
        )
        .route(
            "/patients/:id/refusals/new",
            get(patients::refusal_page).post(patients::record_refusal),
        )
        .route(
            "/patients/:id/observations/new",
            get(patients::observation_page).post(patients::record_observation),
        )
        .route("/patients/:id/consent", post(patients::consent))
        .route("/lots", get(patients::lots_page).post(patients::add_lot))
        .route("/lots/:lot/active", post(patients::set_lot_active))
        .route("/school", get(school::page_view))
        .route("/school/report.csv", get(school::csv))
        .route("/admin", get(admin::index))
        .route(
            "/admin/organizations",
            get(admin::organizations).post(admin::add_organization),
        )
        .route("/admin/facilities", post(admin::add_facility))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route(
            "/admin/users/:username/disabled",
            post(admin::set_user_disabled),
        )
        .route("/admin/users/:username/reset", post(admin::reset_user))
        .route(
            "/admin/consent",
            get(admin::consent_page).post(admin::record_consent),
        )
        .route("/admin/review", get(admin::review))
        .route("/admin/review/:item", post(admin::resolve))
        .route("/admin/merge", get(admin::merge_page).post(admin::merge))
        .route("/admin/unmerge", post(admin::unmerge))
        .fallback(|| async {
            pages::message_page(
                None,
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no such page in the portal.",
            )
        })
        .layer(axum::middleware::map_response(portal_headers))
        .with_state(portal)
}
