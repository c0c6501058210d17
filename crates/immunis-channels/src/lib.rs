//! `immunis-channels`: the operator's ways to deliver one-time codes for
//! "My immunization record" — adapters behind the application's
//! [`CodeChannel`] seam, kept out of the application crate so it links no
//! SMTP, HTTP client or TLS stack: e-mail through an SMTP server (`lettre`),
//! SMS through the gateway's HTTPS webhook (`ureq`), a router that sends
//! each kind of contact to its own channel, an operator's program per
//! message, and (development) an outbox directory of JSON files.
//!
//! Both run on a blocking thread apart from the request's answer (see
//! `consumer_request`), with a send timeout, so a slow server delays nothing
//! the requester sees. Their errors go to the server log, so they never carry
//! the recipient, the message or the server's reply text (an SMTP reply may
//! quote the address): only the kind of failure and a status code. Secrets
//! (SMTP password, webhook token) are held here and never printed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};

use std::io::Write;
use std::path::PathBuf;

pub use immunis_registry::consumer::{CodeChannel, ContactKind, Delivery};
use rand_core::{OsRng, RngCore};

/// A channel the operator configured that cannot work as given (a startup error).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ChannelConfigError {
    #[error("not a valid URL: {0}")]
    BadUrl(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{url} is unencrypted and {host} is not a loopback address: {hint}")]
    Plaintext {
        url: String,
        host: String,
        hint: &'static str,
    },
    #[error("the URL carries credentials: give them in the environment instead ({0})")]
    CredentialsInUrl(&'static str),
    #[error("not a valid e-mail address: {0}")]
    BadAddress(String),
    #[error("{0}")]
    BadSecret(&'static str),
    #[error("TLS: {0}")]
    Tls(String),
}

/// The host of a URL is this machine (plaintext to it never leaves the host).
/// `smtp:` is not a scheme the URL standard knows, so its host is opaque
/// text: an address there is parsed here.
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_start_matches('[').trim_end_matches(']');
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
        }
        url::Host::Ipv4(a) => IpAddr::V4(*a).is_loopback(),
        url::Host::Ipv6(a) => IpAddr::V6(*a).is_loopback(),
    }
}

fn parse_url(raw: &str) -> Result<url::Url, ChannelConfigError> {
    let u = url::Url::parse(raw.trim()).map_err(|e| ChannelConfigError::BadUrl(e.to_string()))?;
    if u.host().is_none() {
        return Err(ChannelConfigError::BadUrl(format!("{raw}: no host")));
    }
    Ok(u)
}

/// The URL without any user information or query (safe to print).
fn display_url(u: &url::Url) -> String {
    let host = u.host_str().unwrap_or("");
    match u.port() {
        Some(p) => format!("{}://{host}:{p}", u.scheme()),
        None => format!("{}://{host}", u.scheme()),
    }
}

/// The trusted root certificates: the system's store (`SSL_CERT_FILE` /
/// `SSL_CERT_DIR` override it, e.g. for a private CA).
fn system_roots() -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, ChannelConfigError> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        return Err(ChannelConfigError::Tls(format!(
            "no trusted root certificates found (install the system's CA certificates or set SSL_CERT_FILE){}",
            found
                .errors
                .first()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )));
    }
    Ok(found.certs)
}

/// How the operator's SMTP server is reached.
#[derive(Clone)]
pub struct SmtpConfig {
    /// lettre's URL form: `smtps://host[:465]` (implicit TLS),
    /// `smtp://host[:587]?tls=required` (STARTTLS), `smtp://host[:25]`
    /// (unencrypted); an optional path names the EHLO host.
    pub url: String,
    /// The From address of the messages.
    pub from: String,
    /// (user name, password), from the environment.
    pub credentials: Option<(String, String)>,
    /// Unencrypted (or opportunistic STARTTLS) to a host that is not loopback.
    pub allow_plaintext: bool,
    /// Gives up on one message after this long (connect, and each read or write).
    pub timeout: Duration,
}

/// E-mail through the operator's SMTP server (lettre, rustls).
pub struct SmtpChannel {
    transport: SmtpTransport,
    from: Mailbox,
    message_id_domain: String,
}

impl SmtpChannel {
    /// Checks the configuration and prepares the transport (TLS roots are
    /// loaded here, so a missing trust store is a startup error); no
    /// connection is made until the first message.
    pub fn new(config: &SmtpConfig) -> Result<Self, ChannelConfigError> {
        let u = parse_url(&config.url)?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err(ChannelConfigError::CredentialsInUrl(
                "IMMUNIS_SMTP_USERNAME, IMMUNIS_SMTP_PASSWORD",
            ));
        }
        let mut tls = None;
        for (k, v) in u.query_pairs() {
            if k != "tls" {
                return Err(ChannelConfigError::Unsupported(format!(
                    "unknown SMTP URL parameter {k:?} (only tls=required or tls=opportunistic)"
                )));
            }
            tls = Some(v.into_owned());
        }
        let encrypted = match (u.scheme(), tls.as_deref()) {
            ("smtps", None) => true,
            ("smtp", Some("required")) => true,
            ("smtp", None | Some("opportunistic")) => false,
            (scheme, tls) => {
                return Err(ChannelConfigError::Unsupported(format!(
                    "SMTP URL scheme {scheme:?}{}: use smtps://HOST (implicit TLS), smtp://HOST:587?tls=required (STARTTLS) or smtp://HOST (unencrypted)",
                    tls.map(|t| format!(" with tls={t}")).unwrap_or_default()
                )))
            }
        };
        let host = u
            .host()
            .ok_or_else(|| ChannelConfigError::BadUrl("no host".into()))?;
        if !encrypted && !config.allow_plaintext && !is_loopback(&host) {
            return Err(ChannelConfigError::Plaintext {
                url: display_url(&u),
                host: host.to_string(),
                hint: "use smtps://HOST or smtp://HOST:587?tls=required, or allow plaintext explicitly",
            });
        }
        if encrypted {
            system_roots()?;
        }
        let from: Mailbox =
            config.from.trim().parse().map_err(|e| {
                ChannelConfigError::BadAddress(format!("{}: {e}", config.from.trim()))
            })?;
        let message_id_domain = from.email.domain().to_string();
        let mut builder = SmtpTransport::from_url(u.as_str()).map_err(|e| {
            if e.is_tls() {
                ChannelConfigError::Tls(e.to_string())
            } else {
                ChannelConfigError::BadUrl(e.to_string())
            }
        })?;
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let transport = builder.timeout(Some(config.timeout)).build();
        Ok(SmtpChannel {
            transport,
            from,
            message_id_domain,
        })
    }
}

/// An SMTP failure for the log: the kind and the reply code, never the
/// server's reply text (it may quote the recipient).
fn smtp_failure(e: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        let kind = if e.is_permanent() {
            "refused"
        } else {
            "temporarily refused"
        };
        return format!("the SMTP server {kind} the message (reply code {code})");
    }
    if e.is_timeout() {
        return "the SMTP server did not answer in time".into();
    }
    let source = std::error::Error::source(e)
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    if e.is_tls() {
        format!("TLS with the SMTP server failed{source}")
    } else if e.is_response() {
        "the SMTP server's reply could not be read".into()
    } else if e.is_client() {
        "the SMTP exchange failed on the client side".into()
    } else {
        // Connection and network errors: an I/O error, no message content.
        format!("cannot reach the SMTP server{source}")
    }
}

impl CodeChannel for SmtpChannel {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn supports(&self, kind: ContactKind) -> bool {
        kind == ContactKind::Email
    }

    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        if d.kind != ContactKind::Email {
            return Err(format!(
                "the SMTP channel cannot send {} codes",
                d.kind.as_str()
            ));
        }
        let to: Mailbox =
            d.to.trim()
                .parse()
                .map_err(|_| "the recipient is not a deliverable e-mail address".to_string())?;
        let mut id = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
        let message_id = format!(
            "<{}@{}>",
            id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            self.message_id_domain
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(d.subject.clone())
            .message_id(Some(message_id))
            .header(ContentType::TEXT_PLAIN)
            .body(d.body.clone())
            .map_err(|_| "the message could not be built".to_string())?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| smtp_failure(&e))
    }
}

/// SMS through the gateway's webhook: `POST {"to": digits, "body": text}`
/// (JSON) with `Authorization: Bearer TOKEN`; any 2xx answer means sent.
pub struct WebhookSmsChannel {
    agent: ureq::Agent,
    url: String,
    authorization: Option<String>,
}

impl WebhookSmsChannel {
    /// `url` must be https unless its host is loopback; `token` (from the
    /// environment) goes in the Authorization header. No connection is made
    /// until the first message.
    pub fn new(
        url: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, ChannelConfigError> {
        let u = parse_url(url)?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err(ChannelConfigError::CredentialsInUrl(
                "IMMUNIS_SMS_WEBHOOK_TOKEN",
            ));
        }
        let host = u
            .host()
            .ok_or_else(|| ChannelConfigError::BadUrl("no host".into()))?;
        let loopback = is_loopback(&host);
        match u.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(ChannelConfigError::Plaintext {
                    url: display_url(&u),
                    host: host.to_string(),
                    hint: "use https://",
                })
            }
            other => {
                return Err(ChannelConfigError::Unsupported(format!(
                    "webhook URL scheme {other:?}: use https://"
                )))
            }
        }
        let authorization = match token.map(str::trim) {
            Some(t) if !t.is_empty() => {
                if !t.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(ChannelConfigError::BadSecret(
                        "the webhook token must be printable ASCII without spaces",
                    ));
                }
                Some(format!("Bearer {t}"))
            }
            _ => None,
        };
        let mut tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()));
        if u.scheme() == "https" {
            let roots: Vec<ureq::tls::Certificate<'static>> = system_roots()?
                .iter()
                .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
        }
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // The token and the message go to this URL only.
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent("immunis")
            .tls_config(tls.build());
        if loopback {
            config = config.proxy(None);
        }
        Ok(WebhookSmsChannel {
            agent: config.build().new_agent(),
            url: u.to_string(),
            authorization,
        })
    }
}

impl CodeChannel for WebhookSmsChannel {
    fn name(&self) -> &'static str {
        "sms-webhook"
    }

    fn supports(&self, kind: ContactKind) -> bool {
        kind == ContactKind::Sms
    }

    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        if d.kind != ContactKind::Sms {
            return Err(format!(
                "the SMS webhook cannot send {} codes",
                d.kind.as_str()
            ));
        }
        let digits: String = d.to.chars().filter(char::is_ascii_digit).collect();
        let body = serde_json::json!({ "to": digits, "body": d.body }).to_string();
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a);
        }
        match request.send(body.as_bytes()) {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!(
                "the SMS gateway answered HTTP {}",
                response.status().as_u16()
            )),
            Err(ureq::Error::Timeout(_)) => Err("the SMS gateway did not answer in time".into()),
            Err(ureq::Error::Io(e)) => Err(format!("cannot reach the SMS gateway: {e}")),
            Err(ureq::Error::Tls(e)) => Err(format!("TLS with the SMS gateway failed: {e}")),
            Err(e @ (ureq::Error::HostNotFound | ureq::Error::ConnectionFailed)) => {
                Err(format!("cannot reach the SMS gateway: {e}"))
            }
            Err(e) => Err(format!("the SMS gateway request failed: {e}")),
        }
    }
}

/// Sends each kind of contact to its own channel (e-mail by SMTP, SMS by the
/// webhook, or one channel for both); a kind without a channel is not sent.
#[derive(Default, Clone)]
pub struct RoutingChannel {
    pub email: Option<Arc<dyn CodeChannel>>,
    pub sms: Option<Arc<dyn CodeChannel>>,
}

impl RoutingChannel {
    fn route(&self, kind: ContactKind) -> Option<&Arc<dyn CodeChannel>> {
        match kind {
            ContactKind::Email => self.email.as_ref(),
            ContactKind::Sms => self.sms.as_ref(),
        }
    }
}

impl CodeChannel for RoutingChannel {
    fn name(&self) -> &'static str {
        "router"
    }

    fn supports(&self, kind: ContactKind) -> bool {
        self.route(kind).is_some_and(|c| c.supports(kind))
    }

    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        match self.route(d.kind) {
            Some(c) => c.deliver(d).map_err(|e| format!("{}: {e}", c.name())),
            None => Err(format!(
                "no channel is configured for {} codes",
                d.kind.as_str()
            )),
        }
    }
}

/// Development and test channel: each message becomes a JSON file in a directory.
pub struct OutboxChannel {
    pub dir: PathBuf,
}

impl CodeChannel for OutboxChannel {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let mut rnd = [0u8; 6];
        OsRng.fill_bytes(&mut rnd);
        let name = format!(
            "{}-{}.json",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let msg = serde_json::json!({
            "channel": d.kind.as_str(),
            "to": d.to,
            "subject": d.subject,
            "body": d.body,
        });
        let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
        f.write_all(msg.to_string().as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, self.dir.join(name)).map_err(|e| e.to_string())
    }
}

/// Production channel: runs an operator-configured program per message —
/// e.g. `sendmail -t` behind a wrapper for e-mail through the operator's
/// SMTP relay, or a `curl` call to the SMS gateway's webhook. The program
/// gets `IMMUNIS_CHANNEL` (sms|email), `IMMUNIS_TO`, `IMMUNIS_SUBJECT`
/// in its environment and the message body on stdin; exit status 0 means sent.
pub struct CommandChannel {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl CodeChannel for CommandChannel {
    fn name(&self) -> &'static str {
        "command"
    }

    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let mut child = std::process::Command::new(&self.program)
            .args(&self.args)
            .env("IMMUNIS_CHANNEL", d.kind.as_str())
            .env("IMMUNIS_TO", &d.to)
            .env("IMMUNIS_SUBJECT", &d.subject)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run the delivery command: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(d.body.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the delivery command exited with {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(url: &str) -> SmtpConfig {
        SmtpConfig {
            url: url.into(),
            from: "Registry <no-reply@registry.example.org>".into(),
            credentials: None,
            allow_plaintext: false,
            timeout: Duration::from_secs(10),
        }
    }

    fn sms(to: &str) -> Delivery {
        Delivery {
            kind: ContactKind::Sms,
            to: to.into(),
            subject: "s".into(),
            body: "b".into(),
        }
    }

    #[test]
    fn smtp_plaintext_only_to_loopback_unless_allowed() {
        for ok in [
            "smtp://127.0.0.1:2525",
            "smtp://localhost:25",
            "smtp://[::1]:2525",
            "smtp://127.0.0.1:2525?tls=opportunistic",
        ] {
            assert!(SmtpChannel::new(&smtp(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "smtp://mail.example.org:25",
            "smtp://10.0.0.5",
            "smtp://mail.example.org:587?tls=opportunistic",
        ] {
            let e = SmtpChannel::new(&smtp(bad)).err();
            assert!(
                matches!(e, Some(ChannelConfigError::Plaintext { .. })),
                "{bad}: {e:?}"
            );
        }
        let allowed = SmtpConfig {
            allow_plaintext: true,
            ..smtp("smtp://mail.example.org:25")
        };
        assert!(SmtpChannel::new(&allowed).is_ok());
    }

    #[test]
    fn smtp_urls_and_addresses_are_checked() {
        let err = |url: &str| SmtpChannel::new(&smtp(url)).err();
        assert!(matches!(
            err("not a url"),
            Some(ChannelConfigError::BadUrl(_))
        ));
        assert!(matches!(
            err("http://mail.example.org"),
            Some(ChannelConfigError::Unsupported(_))
        ));
        assert!(matches!(
            err("smtp://mail.example.org?tls=require"),
            Some(ChannelConfigError::Unsupported(_))
        ));
        assert!(matches!(
            err("smtp://localhost?tsl=required"),
            Some(ChannelConfigError::Unsupported(_))
        ));
        let e = err("smtps://user:secret@mail.example.org");
        assert!(matches!(e, Some(ChannelConfigError::CredentialsInUrl(_))));
        assert!(
            !e.map(|e| e.to_string())
                .unwrap_or_default()
                .contains("secret"),
            "the password is not repeated"
        );
        let bad_from = SmtpConfig {
            from: "registry at example".into(),
            ..smtp("smtp://127.0.0.1:2525")
        };
        assert!(matches!(
            SmtpChannel::new(&bad_from).err(),
            Some(ChannelConfigError::BadAddress(_))
        ));
    }

    #[test]
    fn smtp_refuses_other_kinds_and_bad_recipients_without_echoing_them() {
        let c = SmtpChannel::new(&smtp("smtp://127.0.0.1:9")).expect("channel");
        assert!(c.supports(ContactKind::Email) && !c.supports(ContactKind::Sms));
        let e = c.deliver(&sms("6175550142")).expect_err("not e-mail");
        assert!(!e.contains("6175550142"));
        let e = c
            .deliver(&Delivery {
                kind: ContactKind::Email,
                to: "not an address".into(),
                subject: "s".into(),
                body: "code 123456".into(),
            })
            .expect_err("bad address");
        assert!(
            !e.contains("not an address") && !e.contains("123456"),
            "{e}"
        );
    }

    #[test]
    fn smtp_failure_names_no_recipient() {
        // Nothing listens on port 9 of loopback (discard): a connection error.
        let c = SmtpChannel::new(&SmtpConfig {
            timeout: Duration::from_secs(2),
            ..smtp("smtp://127.0.0.1:9")
        })
        .expect("channel");
        let e = c
            .deliver(&Delivery {
                kind: ContactKind::Email,
                to: "parent@example.org".into(),
                subject: "s".into(),
                body: "code 123456".into(),
            })
            .expect_err("nobody listens");
        assert!(e.contains("SMTP server"), "{e}");
        assert!(!e.contains("parent@") && !e.contains("123456"), "{e}");
    }

    #[test]
    fn webhook_needs_https_unless_loopback() {
        let t = Duration::from_secs(10);
        for ok in [
            "http://127.0.0.1:8099/sms",
            "http://localhost/sms",
            "https://sms.example.org/v1/send",
        ] {
            assert!(WebhookSmsChannel::new(ok, Some("tok"), t).is_ok(), "{ok}");
        }
        let e = WebhookSmsChannel::new("http://sms.example.org/send", Some("tok"), t).err();
        assert!(
            matches!(e, Some(ChannelConfigError::Plaintext { .. })),
            "{e:?}"
        );
        assert!(matches!(
            WebhookSmsChannel::new("ftp://sms.example.org/", None, t).err(),
            Some(ChannelConfigError::Unsupported(_))
        ));
        assert!(matches!(
            WebhookSmsChannel::new("sms.example.org/send", None, t).err(),
            Some(ChannelConfigError::BadUrl(_))
        ));
        assert!(matches!(
            WebhookSmsChannel::new("https://k:secret@sms.example.org/", None, t).err(),
            Some(ChannelConfigError::CredentialsInUrl(_))
        ));
        assert!(matches!(
            WebhookSmsChannel::new("https://sms.example.org/", Some("a b\n"), t).err(),
            Some(ChannelConfigError::BadSecret(_))
        ));
    }

    #[test]
    fn webhook_failure_names_no_recipient() {
        let c = WebhookSmsChannel::new(
            "http://127.0.0.1:9/sms",
            Some("tok"),
            Duration::from_secs(2),
        )
        .expect("channel");
        assert!(c.supports(ContactKind::Sms) && !c.supports(ContactKind::Email));
        let e = c
            .deliver(&sms("+1 (617) 555-0142"))
            .expect_err("nobody listens");
        assert!(e.contains("SMS gateway"), "{e}");
        assert!(!e.contains("555") && !e.contains("tok"), "{e}");
    }

    #[test]
    fn the_router_sends_each_kind_to_its_channel() {
        struct Fixed(&'static str, ContactKind, std::sync::Mutex<Vec<String>>);
        impl CodeChannel for Fixed {
            fn name(&self) -> &'static str {
                self.0
            }
            fn supports(&self, kind: ContactKind) -> bool {
                kind == self.1
            }
            fn deliver(&self, d: &Delivery) -> Result<(), String> {
                if let Ok(mut v) = self.2.lock() {
                    v.push(d.to.clone());
                }
                Ok(())
            }
        }
        let mail = Arc::new(Fixed("mail", ContactKind::Email, Default::default()));
        let router = RoutingChannel {
            email: Some(mail.clone()),
            sms: None,
        };
        assert!(router.supports(ContactKind::Email));
        assert!(!router.supports(ContactKind::Sms));
        let e = router
            .deliver(&sms("6175550142"))
            .expect_err("no sms channel");
        assert_eq!(e, "no channel is configured for sms codes");
        router
            .deliver(&Delivery {
                kind: ContactKind::Email,
                to: "a@example.org".into(),
                subject: "s".into(),
                body: "b".into(),
            })
            .expect("routed");
        assert_eq!(
            mail.2.lock().map(|v| v.clone()).unwrap_or_default(),
            vec!["a@example.org".to_string()]
        );
    }
}
