//! The signed-in user's own account: change the password (the current one
//! is asked; the registry checks the new one like at creation, audits the
//! change and ends the user's other sessions).

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use immunis_registry::RegistryError;
use maud::html;

use crate::pages::{csrf, form_error, html_response, page, Section};
use crate::{cookie_value, error_page, Portal, Session, BASE, SESSION_COOKIE};

fn account_page(s: &Session, status: StatusCode, error: Option<&str>, done: bool) -> Response {
    let body = html! {
        h1 { "Your account" }
        p.lead { "Signed in as " strong { (s.actor.subject) } "." }
        @if done {
            div.alert.ok role="status" { p { "Your password was changed. Your other sessions were ended; use the new password next time." } }
        }
        h2 { "Change your password" }
        (form_error(error))
        form.stack method="post" action={ (BASE) "/account/password" } aria-describedby=[error.map(|_| "form-error")] {
            (csrf(s))
            div {
                label for="current" { "Current password (required)" }
                input type="password" id="current" name="current" autocomplete="current-password" required;
            }
            div {
                label for="new" { "New password (required)"
                    span.hint { "at least 12 characters; not a common password, not your username" } }
                input type="password" id="new" name="new" autocomplete="new-password" required;
            }
            div {
                label for="repeat" { "New password again (required)" }
                input type="password" id="repeat" name="repeat" autocomplete="new-password" required;
            }
            div.actions { button type="submit" { "Change the password" } }
        }
    };
    html_response(status, page(Some(s), Section::None, "Your account", body))
}

pub(crate) async fn page_view(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    match p.session(&headers, &ci) {
        Ok(s) => account_page(&s, StatusCode::OK, None, false),
        Err(r) => r,
    }
}

pub(crate) async fn change_password(
    State(p): State<Portal>,
    ci: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let s = match p.session_post(&headers, &ci, &f) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("new") != get("repeat") {
        return account_page(
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("The two new passwords differ"),
            false,
        );
    }
    let token = cookie_value(&headers, SESSION_COOKIE).unwrap_or("");
    match p
        .registry
        .change_own_password(&s.actor, token, get("current"), get("new"))
        .await
    {
        Ok(()) => account_page(&s, StatusCode::OK, None, true),
        Err(RegistryError::Invalid(m)) => {
            account_page(&s, StatusCode::UNPROCESSABLE_ENTITY, Some(&m), false)
        }
        Err(e) => error_page(Some(&s), &e),
    }
}
