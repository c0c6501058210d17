//! MLLP over TCP: many concurrent connections, each a task; frames are
//! decoded incrementally, processed in order, and each reply is written only
//! after the registry has committed the message and its reply.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use immunis_hl7::{frame, MllpDecoder};
use immunis_registry::hl7::{
    is_batch_payload, process_message, process_payload, Inbound, Submitter,
};
use immunis_registry::Registry;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::MAX_MESSAGE_BYTES;

/// A connection idle this long is closed (a stuck client cannot pin a task forever).
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A TLS handshake slower than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn serve(
    registry: Arc<Registry>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match &acceptor {
                        None => {
                            tokio::spawn(connection(registry.clone(), stream, peer, Submitter::TrustedNetwork));
                        }
                        Some(acc) => {
                            tokio::spawn(tls_connection(registry.clone(), acc.clone(), stream, peer));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("mllp accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

/// MLLP over TLS: the verified client certificate names the facility (by its
/// registered fingerprint); an unregistered certificate is refused.
async fn tls_connection(
    registry: Arc<Registry>,
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::info!("mllp tls handshake from {peer} failed: {e}");
            return;
        }
        Err(_) => return,
    };
    let fingerprint = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| crate::tls::fingerprint(c.as_ref()));
    let Some(fp) = fingerprint else {
        return;
    };
    match registry
        .certificate_actor(&fp, Some(peer.to_string()))
        .await
    {
        Ok(actor) => connection(registry, tls, peer, Submitter::Certified(actor)).await,
        Err(_) => {
            tracing::warn!(
                "mllp tls client certificate from {peer} is not registered to a facility"
            );
            let mut tls = tls;
            let _ = tls.shutdown().await;
        }
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    registry: Arc<Registry>,
    mut stream: S,
    peer: SocketAddr,
    who: Submitter,
) {
    let mut decoder = MllpDecoder::new(MAX_MESSAGE_BYTES);
    let mut buf = vec![0u8; 64 * 1024];
    let inbound = Inbound {
        transport: "mllp",
        remote_addr: Some(peer.to_string()),
    };
    loop {
        let n = match tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => return,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!("mllp read from {peer}: {e}");
                return;
            }
        };
        decoder.push(buf.get(..n).unwrap_or_default());
        while let Some(frame_result) = decoder.next_frame() {
            let reply = match frame_result {
                // A whole FHS/BHS batch in one frame gets a batch of ACKs.
                Ok(msg) if is_batch_payload(&msg) => {
                    process_payload(&registry, &who, &msg, &inbound).await
                }
                Ok(msg) => process_message(&registry, &who, &msg, &inbound).await,
                Err(e) => {
                    // Oversized or broken framing: answer with a reject and drop the connection.
                    tracing::warn!("mllp framing error from {peer}: {e}");
                    let nak = immunis_registry::hl7::framing_reject(&e.to_string());
                    let _ = stream.write_all(&frame(&nak)).await;
                    return;
                }
            };
            if stream.write_all(&frame(&reply)).await.is_err() {
                return;
            }
        }
    }
}
