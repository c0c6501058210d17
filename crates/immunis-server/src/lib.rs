//! Immunis transports. Each one authenticates the submitter, hands the raw
//! bytes to the registry's HL7 service (which journals, validates, applies and
//! builds the reply, all committed before it returns), and writes the reply:
//!
//! - MLLP over TCP ([`mllp`]): one frame in, one framed ACK/RSP out.
//! - HTTP ([`http`]): the CDC IIS SOAP 2011 web service and `POST /hl7` with
//!   basic authentication.
#![forbid(unsafe_code)]

pub mod api;
pub mod consumer;
pub mod documents;
pub mod http;
pub mod limit;
pub mod mllp;
pub mod soap;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use immunis_registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Largest HL7 payload accepted on any transport (bytes).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub http: SocketAddr,
    pub mllp: SocketAddr,
    /// Plaintext MLLP identifies the facility by MSH-4 alone; allowed only when
    /// the operator says so (default: only on loopback addresses).
    pub allow_plaintext_mllp: bool,
    /// HTTPS instead of HTTP.
    pub http_tls: Option<tls::TlsFiles>,
    /// MLLP over TLS with required client certificates issued by `client_ca`.
    pub mllp_tls: Option<MllpTls>,
    /// Anchor the audit chain head this often (and append it to `file`).
    pub audit_anchor: Option<AuditAnchoring>,
}

impl ServerOptions {
    /// Plain listeners, no TLS, no periodic anchoring.
    pub fn plain(http: SocketAddr, mllp: SocketAddr) -> ServerOptions {
        ServerOptions {
            http,
            mllp,
            allow_plaintext_mllp: false,
            http_tls: None,
            mllp_tls: None,
            audit_anchor: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MllpTls {
    pub files: tls::TlsFiles,
    pub client_ca: std::path::PathBuf,
}

#[derive(Debug, Clone)]
pub struct AuditAnchoring {
    pub every: std::time::Duration,
    pub file: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("plaintext MLLP on a non-loopback address ({0}) needs --mllp-allow-plaintext or MLLP over TLS")]
    PlaintextRefused(SocketAddr),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// A started server; dropping the handle does not stop it, `shutdown` does.
pub struct RunningServer {
    pub http_addr: SocketAddr,
    pub mllp_addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl RunningServer {
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

/// Binds both listeners and serves until [`RunningServer::shutdown`].
pub async fn start(
    registry: Arc<Registry>,
    opts: ServerOptions,
) -> Result<RunningServer, ServerError> {
    if opts.mllp_tls.is_none() && !opts.allow_plaintext_mllp && !opts.mllp.ip().is_loopback() {
        return Err(ServerError::PlaintextRefused(opts.mllp));
    }
    let http_tls = opts.http_tls.as_ref().map(tls::server_config).transpose()?;
    let mllp_tls = opts
        .mllp_tls
        .as_ref()
        .map(|m| tls::mutual_config(&m.files, &m.client_ca))
        .transpose()?;
    let http_listener = TcpListener::bind(opts.http)
        .await
        .map_err(|source| ServerError::Bind {
            addr: opts.http,
            source,
        })?;
    let mllp_listener = TcpListener::bind(opts.mllp)
        .await
        .map_err(|source| ServerError::Bind {
            addr: opts.mllp,
            source,
        })?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|source| ServerError::Bind {
            addr: opts.http,
            source,
        })?;
    let mllp_addr = mllp_listener
        .local_addr()
        .map_err(|source| ServerError::Bind {
            addr: opts.mllp,
            source,
        })?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(mllp::serve(
        registry.clone(),
        mllp_listener,
        mllp_tls,
        stopped.clone(),
    ));
    if let Some(a) = opts.audit_anchor.clone() {
        tokio::spawn(anchor_periodically(registry.clone(), a, stopped.clone()));
    }
    tokio::spawn(http::serve(
        registry,
        http_listener,
        http_addr,
        http_tls,
        stopped,
    ));
    Ok(RunningServer {
        http_addr,
        mllp_addr,
        stop,
    })
}

/// Writes an audit anchor every `a.every` (and appends it to `a.file`).
async fn anchor_periodically(
    registry: Arc<Registry>,
    a: AuditAnchoring,
    mut stop: watch::Receiver<bool>,
) {
    let admin = immunis_registry::console_admin();
    let mut tick = tokio::time::interval(a.every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match registry.anchor_audit_async(&admin).await {
            Ok(Some(anchor)) => {
                if let Some(path) = &a.file {
                    let line = format!("{}\n", anchor.to_line());
                    let written = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .and_then(|mut f| {
                            use std::io::Write;
                            f.write_all(line.as_bytes())?;
                            f.sync_all()
                        });
                    if let Err(e) = written {
                        tracing::error!(
                            "cannot append the audit anchor to {}: {e}",
                            path.display()
                        );
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!("audit anchoring failed: {e}"),
        }
    }
}
