//! HTTP transport: the CDC IIS SOAP 2011 web service (`POST /soap`, WSDL at
//! `GET /soap?wsdl`) and `POST /hl7` (HL7 body, basic authentication).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use immunis_registry::hl7::{process_payload, Inbound, Submitter};
use immunis_registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::limit::RateLimiter;
use crate::soap;
use crate::MAX_MESSAGE_BYTES;
use std::time::Duration;

#[derive(Clone)]
pub(crate) struct AppState {
    pub registry: Arc<Registry>,
    pub base_url: String,
    /// Every request to the token and session endpoints, per client.
    pub login_limit: Arc<RateLimiter>,
    /// Failed basic/SOAP authentications, per client.
    pub failure_limit: Arc<RateLimiter>,
}

/// Token/session requests per client per minute.
const LOGIN_REQUESTS_PER_MINUTE: u32 = 30;
/// Failed submitter authentications per client per minute before refusal.
const AUTH_FAILURES_PER_MINUTE: u32 = 20;

pub async fn serve(
    registry: Arc<Registry>,
    listener: TcpListener,
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: watch::Receiver<bool>,
) {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let state = AppState {
        registry,
        base_url: format!("{scheme}://{addr}"),
        login_limit: Arc::new(RateLimiter::new(
            LOGIN_REQUESTS_PER_MINUTE,
            Duration::from_secs(60),
        )),
        failure_limit: Arc::new(RateLimiter::new(
            AUTH_FAILURES_PER_MINUTE,
            Duration::from_secs(60),
        )),
    };
    let portal = immunis_web::PortalConfig {
        secure_cookies: tls.is_some(),
        login_limit: {
            let limit = state.login_limit.clone();
            Arc::new(move |ip| limit.hit(ip))
        },
    };
    let app = router(state, portal);
    match tls {
        None => serve_plain(app, listener, stop).await,
        Some(cfg) => serve_tls(app, listener, cfg, stop).await,
    }
}

async fn serve_plain(app: Router, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    if let Err(e) = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    {
        tracing::error!("http server stopped: {e}");
    }
}

/// HTTPS: rustls in front of the same router, one task per connection.
async fn serve_tls(
    app: Router,
    listener: TcpListener,
    cfg: Arc<rustls::ServerConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("https accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    _ => return,
                };
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let mut app = app.clone();
                    async move { tower_service::Service::call(&mut app, req).await }
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Liveness plus what the registry's answers rest on: the software version,
/// the storage backend, the CDC CDSi supporting data release and the school
/// requirements in force, and what of them is out of date today (a monitor
/// can alert on a non-empty `out_of_date`).
async fn health(State(state): State<AppState>) -> Response {
    let reg = &state.registry;
    let currency = reg.data_currency(chrono::Local::now().date_naive());
    let body = serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": reg.backend(),
        "cdsi_supporting_data": currency.cdsi_release,
        "school_requirements": currency.school_requirements,
        "out_of_date": currency.warnings(),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The transports' routes, the provider portal under `/portal`, and `/`
/// redirecting to the portal.
fn router(state: AppState, portal: immunis_web::PortalConfig) -> Router {
    let web = immunis_web::router(state.registry.clone(), portal);
    Router::new()
        .route("/health", get(health))
        .route("/hl7", post(post_hl7))
        .route("/soap", post(soap::post_soap).get(get_wsdl))
        .route("/IISService", post(soap::post_soap).get(get_wsdl))
        .route("/oauth/token", post(crate::api::post_token))
        .route("/session", post(crate::api::post_session))
        .route("/api/v0/patients/:id", get(crate::api::get_patient))
        .merge(crate::documents::routes().merge(crate::consumer::routes()))
        .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
        .route(
            "/",
            get(|| async { axum::response::Redirect::to(immunis_web::BASE) }),
        )
        .nest(immunis_web::BASE, web)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    res
}

async fn get_wsdl(
    State(state): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !q.contains_key("wsdl") && !q.contains_key("WSDL") {
        return (
            StatusCode::NOT_FOUND,
            "append ?wsdl for the service description",
        )
            .into_response();
    }
    let wsdl = soap::WSDL.replace("{{LOCATION}}", &format!("{}/soap", state.base_url));
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], wsdl).into_response()
}

/// `user:password` from an HTTP Basic `Authorization` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

pub(crate) fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "{{\"type\":\"about:blank\",\"title\":{},\"status\":{},\"detail\":{}}}",
        json_str(title),
        status.as_u16(),
        json_str(detail)
    );
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body,
    )
        .into_response()
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn post_hl7(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.failure_limit.blocked(peer.ip()) {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed authentications",
            "try again later",
        );
    }
    let Some((user, pass)) = basic_credentials(&headers) else {
        let mut r = problem(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
            "use HTTP Basic authentication with your submitter credentials",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"immunis\""),
        );
        return r;
    };
    let actor = match state
        .registry
        .authenticate_submitter(&user, &pass, Some(peer.to_string()))
        .await
    {
        Ok(a) => a,
        Err(immunis_registry::AuthError::BadCredentials) => {
            state.failure_limit.hit(peer.ip());
            return problem(
                StatusCode::UNAUTHORIZED,
                "Invalid credentials",
                "invalid username or password",
            );
        }
        Err(e) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &e.to_string(),
            )
        }
    };
    if body.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "Empty body",
            "the request body must hold an HL7 v2 message",
        );
    }
    let inbound = Inbound {
        transport: "http",
        remote_addr: Some(peer.to_string()),
    };
    let out = process_payload(
        &state.registry,
        &Submitter::Authenticated(actor),
        &body,
        &inbound,
    )
    .await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "x-application/hl7-v2+er7; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
