//! Login (password + TOTP through `Registry::login`), logout, the home redirect.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand_core::{OsRng, RngCore};

use crate::{
    client_addr, client_ip, cookie_value, pages, Portal, BASE, LOGIN_COOKIE, SESSION_COOKIE,
};
use immunis_registry::AuthError;

pub(crate) async fn home(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    match p.session(&headers, &ci) {
        Ok(_) => Redirect::to(&format!("{BASE}/search")).into_response(),
        Err(r) => r,
    }
}

fn nonce() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Renders the login form with a fresh pre-login nonce cookie.
fn login_form(
    p: &Portal,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
    username: &str,
) -> Response {
    let n = nonce();
    let csrf = p.csrf_for("login", &n);
    let mut res = pages::login(status, &csrf, error, notice, username);
    res.headers_mut()
        .append(header::SET_COOKIE, p.cookie(LOGIN_COOKIE, &n, Some(1800)));
    res
}

pub(crate) async fn login_page(
    State(p): State<Portal>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = if q.contains_key("expired") {
        Some("Your session ended after a period of inactivity. Log in again to continue.")
    } else if q.contains_key("out") {
        Some("You are logged out.")
    } else {
        None
    };
    login_form(&p, StatusCode::OK, None, notice, "")
}

pub(crate) async fn login(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| {
        form.get(k)
            .map(String::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let username = field("username");
    let pre = cookie_value(&headers, LOGIN_COOKIE).unwrap_or("");
    if pre.is_empty() || !p.csrf_ok("login", pre, form.get("_csrf").map(String::as_str)) {
        return login_form(
            &p,
            StatusCode::FORBIDDEN,
            Some("The login form expired. Please try again."),
            None,
            &username,
        );
    }
    if !(p.config.login_limit)(client_ip(&ci)) {
        return login_form(
            &p,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many login attempts from this device. Wait a minute and try again."),
            None,
            &username,
        );
    }
    let password = form.get("password").map(String::as_str).unwrap_or("");
    let code: String = field("totp")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if username.is_empty() || password.is_empty() || code.is_empty() {
        return login_form(
            &p,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter your username, password and the 6-digit code from your authenticator app."),
            None,
            &username,
        );
    }
    match p
        .registry
        .login(&username, password, &code, client_addr(&ci))
        .await
    {
        Ok(session) => {
            let mut res = Redirect::to(&format!("{BASE}/search")).into_response();
            let h = res.headers_mut();
            h.append(
                header::SET_COOKIE,
                p.cookie(SESSION_COOKIE, &session.token, None),
            );
            h.append(header::SET_COOKIE, p.cookie(LOGIN_COOKIE, "", Some(0)));
            res
        }
        Err(AuthError::Unavailable(_)) => login_form(
            &p,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("Login is unavailable right now. Try again shortly."),
            None,
            &username,
        ),
        Err(AuthError::ReusedCode) => login_form(
            &p,
            StatusCode::UNAUTHORIZED,
            Some("That code was already used to log in. Wait for the next code from your authenticator app (a new one every 30 seconds) and enter it."),
            None,
            &username,
        ),
        Err(_) => login_form(
            &p,
            StatusCode::UNAUTHORIZED,
            Some("Login failed: the username, password or code is not right (or the account is locked for a while after repeated failures)."),
            None,
            &username,
        ),
    }
}

pub(crate) async fn logout(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // A logout needs the CSRF token too (no one else may end the session);
    // an already-expired session simply goes to the login page.
    if let Err(r) = p.session_post(&headers, &ci, &form) {
        return r;
    }
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE) {
        p.registry.logout(token);
    }
    let mut res = Redirect::to(&format!("{BASE}/login?out=1")).into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, p.cookie(SESSION_COOKIE, "", Some(0)));
    res
}
