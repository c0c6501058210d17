//! Immunis transports. Each one authenticates the submitter, hands the raw
//! bytes to the registry's HL7 service (which journals, validates, applies and
//! builds the reply, all committed before it returns), and writes the reply:
//!
//! - MLLP over TCP ([`mllp`]): one frame in, one framed ACK/RSP out.
//! - HTTP ([`http`]): the CDC IIS SOAP 2011 web service and `POST /hl7` with
//!   basic authentication.
#![forbid(unsafe_code)]

pub mod http;
pub mod mllp;
pub mod soap;

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
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("plaintext MLLP on a non-loopback address ({0}) needs --mllp-allow-plaintext")]
    PlaintextRefused(SocketAddr),
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
    if !opts.allow_plaintext_mllp && !opts.mllp.ip().is_loopback() {
        return Err(ServerError::PlaintextRefused(opts.mllp));
    }
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
        stopped.clone(),
    ));
    tokio::spawn(http::serve(registry, http_listener, http_addr, stopped));
    Ok(RunningServer {
        http_addr,
        mllp_addr,
        stop,
    })
}
