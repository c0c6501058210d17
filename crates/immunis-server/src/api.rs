//! The JSON edge for the APIs to come: `POST /oauth/token` (OAuth2
//! client-credentials; opaque bearer tokens with expiry, scoped to the
//! client's organization), `POST /session` (human login: password + TOTP;
//! sessions expire on inactivity) and `GET /api/v0/patients/{id}` (one
//! person's immunizations as the bearer may see them). Every read goes
//! through the registry, which decides and audits.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use immunis_model::PatientId;
use immunis_registry::{AuthError, RegistryError};
use serde_json::json;

use crate::http::{basic_credentials, problem, AppState};

fn json_response(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        v.to_string(),
    )
        .into_response()
}

fn too_many() -> Response {
    problem(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        "too many authentication attempts from this client; try again later",
    )
}

/// RFC 6749 §4.4 client credentials (form body or HTTP Basic).
pub(crate) async fn post_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !state.login_limit.hit(peer.ip()) {
        return too_many();
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"}),
        );
    }
    let (id, secret) = match basic_credentials(&headers) {
        Some(c) => c,
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(i), Some(s)) => (i.clone(), s.clone()),
            _ => {
                return json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}))
            }
        },
    };
    match state
        .registry
        .issue_token(&id, &secret, Some(peer.to_string()))
        .await
    {
        Ok(t) => json_response(
            StatusCode::OK,
            json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "scope": t.scope,
            }),
        ),
        Err(AuthError::Unavailable(_)) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "authentication is unavailable",
        ),
        Err(_) => json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"})),
    }
}

/// Human login: `username`, `password`, `totp` (form body).
pub(crate) async fn post_session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !state.login_limit.hit(peer.ip()) {
        return too_many();
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    match state
        .registry
        .login(
            field("username"),
            field("password"),
            field("totp"),
            Some(peer.to_string()),
        )
        .await
    {
        Ok(s) => json_response(
            StatusCode::OK,
            json!({"session": s.token, "role": s.actor.role.as_str()}),
        ),
        Err(AuthError::Unavailable(_)) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "authentication is unavailable",
        ),
        Err(AuthError::ReusedCode) => problem(
            StatusCode::UNAUTHORIZED,
            "Code already used",
            "this code was already used to log in: wait for the next code",
        ),
        Err(_) => problem(
            StatusCode::UNAUTHORIZED,
            "Login failed",
            "invalid username, password or code",
        ),
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(str::trim)
}

/// One person's immunizations as the bearer (OAuth token or session) may see them.
pub(crate) async fn get_patient(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return problem(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
            "send an OAuth2 bearer token or a session token",
        );
    };
    let addr = Some(peer.to_string());
    let actor = match state.registry.token_actor(token, addr.clone()) {
        Ok(a) => a,
        Err(AuthError::BadCredentials) => match state.registry.session_actor(token, addr) {
            Ok(a) => a,
            Err(e) => return auth_problem(&e),
        },
        Err(e) => return auth_problem(&e),
    };
    // The answer is rendered while the read's audit entry is made durable.
    let render = |rec: immunis_registry::PatientRecord| {
        let doses: Vec<_> = rec
            .doses
            .iter()
            .map(|d| {
                json!({
                    "cvx": d.primary.event.cvx.as_ref().map(|c| c.as_str().to_string()),
                    "date": d.primary.event.administered_date.map(|x| x.to_string()),
                    "facility": d.primary.facility_code,
                })
            })
            .collect();
        json_response(
            StatusCode::OK,
            json!({
                "id": rec.id.0,
                "restricted": rec.restricted,
                "objection_to_sharing": rec.objection_active,
                "doses": doses,
            }),
        )
    };
    match state
        .registry
        .patient_record_with(&actor, actor.role.default_purpose(), PatientId(id), render)
        .await
    {
        Ok(answer) => answer,
        // Not found and not allowed look alike: existence is not disclosed.
        Err(RegistryError::NotFound(_) | RegistryError::Denied(_)) => problem(
            StatusCode::NOT_FOUND,
            "Not found",
            "no such patient visible to you",
        ),
        Err(e) => {
            tracing::error!("api read failed: {e}");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "the registry could not answer",
            )
        }
    }
}

pub(crate) fn auth_problem(e: &AuthError) -> Response {
    match e {
        AuthError::Expired => problem(
            StatusCode::UNAUTHORIZED,
            "Expired",
            "the session or token expired; authenticate again",
        ),
        AuthError::Unavailable(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "authentication is unavailable",
        ),
        AuthError::BadCredentials | AuthError::ReusedCode => problem(
            StatusCode::UNAUTHORIZED,
            "Invalid token",
            "unknown bearer token",
        ),
    }
}
