//! Documents over HTTP: the official record as PDF and as a SMART Health
//! Card file (bearer token or session, like `GET /api/v0/patients/{id}`),
//! and the registry's public keys at `/.well-known/jwks.json` (open to any
//! origin, as the SMART Health Cards framework requires). The registry
//! decides, reads, signs and audits; this module only maps to HTTP.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use immunis_model::PatientId;
use immunis_registry::{Actor, AuthError, Purpose, RegistryError};

use crate::api::{auth_problem, bearer};
use crate::http::{problem, AppState};

pub const SHC_CONTENT_TYPE: &str = "application/smart-health-card";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v0/patients/:id/record.pdf", get(get_pdf))
        .route(
            "/api/v0/patients/:id/record.smart-health-card",
            get(get_card),
        )
        .route("/.well-known/jwks.json", get(get_jwks))
}

/// Today (the registry's local date) and now (Unix seconds): the clock is
/// read here, at the edge, and passed in.
pub(crate) fn clock() -> (chrono::NaiveDate, i64) {
    (
        chrono::Local::now().date_naive(),
        chrono::Utc::now().timestamp(),
    )
}

fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Actor, Box<Response>> {
    let Some(token) = bearer(headers) else {
        return Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
            "send an OAuth2 bearer token or a session token",
        )));
    };
    let addr = Some(peer.to_string());
    match state.registry.token_actor(token, addr.clone()) {
        Ok(a) => Ok(a),
        Err(AuthError::BadCredentials) => state
            .registry
            .session_actor(token, addr)
            .map_err(|e| Box::new(auth_problem(&e))),
        Err(e) => Err(Box::new(auth_problem(&e))),
    }
}

/// Maps a registry failure; not found and not allowed look alike.
pub(crate) fn registry_problem(e: &RegistryError) -> Response {
    match e {
        RegistryError::NotFound(_) | RegistryError::Denied(_) => problem(
            StatusCode::NOT_FOUND,
            "Not found",
            "no such patient visible to you",
        ),
        RegistryError::Invalid(m) => {
            tracing::error!("document not issued: {m}");
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Document not issued",
                "the document could not be produced for this record",
            )
        }
        other => {
            tracing::error!("document failed: {other}");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "the registry could not answer",
            )
        }
    }
}

/// A document download: its media type and how the browser should treat it
/// (`inline` to show, `attachment` to save) under the given file name.
fn file_response(
    body: Vec<u8>,
    media_type: &'static str,
    disposition: &str,
    filename: &str,
) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("{disposition}; filename=\"{filename}\""))
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response()
}

pub(crate) fn pdf_response(bytes: Vec<u8>, id: i64) -> Response {
    file_response(
        bytes,
        "application/pdf",
        "inline",
        &format!("immunization-record-{id}.pdf"),
    )
}

pub(crate) fn card_response(file: String, id: i64) -> Response {
    file_response(
        file.into_bytes(),
        SHC_CONTENT_TYPE,
        "attachment",
        &format!("immunization-record-{id}.smart-health-card"),
    )
}

/// The official record as a PDF (`pdf`) or as a SMART Health Card file, as
/// `actor` may see it; the registry decides, signs and audits.
pub(crate) async fn issue(
    state: &AppState,
    actor: &Actor,
    purpose: Purpose,
    id: PatientId,
    pdf: bool,
) -> Response {
    let (today, now) = clock();
    let registry = &state.registry;
    let answer = if pdf {
        registry
            .official_record_pdf(actor, purpose, id, today, now)
            .await
            .map(|bytes| pdf_response(bytes, id.0))
    } else {
        registry
            .health_card_file(actor, purpose, id, today, now)
            .await
            .map(|file| card_response(file, id.0))
    };
    answer.unwrap_or_else(|e| registry_problem(&e))
}

/// The document for the bearer of a token or session.
async fn document(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    id: i64,
    pdf: bool,
) -> Response {
    match authenticate(&state, &headers, peer) {
        Ok(actor) => {
            let purpose = actor.role.default_purpose();
            issue(&state, &actor, purpose, PatientId(id), pdf).await
        }
        Err(r) => *r,
    }
}

async fn get_pdf(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    document(state, peer, headers, id, true).await
}

async fn get_card(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    document(state, peer, headers, id, false).await
}

async fn get_jwks(State(state): State<AppState>) -> Response {
    match state.registry.jwks() {
        Ok(v) => {
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                v.to_string(),
            )
                .into_response();
            r.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            r
        }
        Err(e) => {
            tracing::error!("jwks failed: {e}");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "the key set could not be read",
            )
        }
    }
}
