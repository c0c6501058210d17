//! The CDC IIS SOAP web service, 2011 edition (`urn:cdc:iisb:2011`, SOAP 1.2,
//! document/literal): `connectivityTest` and `submitSingleMessage`, with
//! credentials in the body or in a WS-Security UsernameToken, SecurityFault
//! for bad credentials, MessageTooLargeFault for more than one message.
//! The 2014 element names are accepted too.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use immunis_registry::hl7::{process_message, Inbound, Submitter};

use crate::http::AppState;

pub const WSDL: &str = include_str!("../assets/cdc-iis-2011.wsdl");
const NS_2011: &str = "urn:cdc:iisb:2011";

/// What a SOAP request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum SoapRequest {
    ConnectivityTest {
        echo: String,
    },
    Submit {
        username: Option<String>,
        password: Option<String>,
        facility_id: Option<String>,
        hl7: String,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub struct SoapFault {
    /// SOAP 1.2 fault code: Sender or Receiver.
    pub code: &'static str,
    /// The CDC fault element (`SecurityFault`, `MessageTooLargeFault`, …).
    pub kind: &'static str,
    pub number: u32,
    pub reason: String,
    pub detail: String,
}

fn child_text<'a>(node: roxmltree::Node<'a, 'a>, names: &[&str]) -> Option<String> {
    node.descendants()
        .find(|n| n.is_element() && names.contains(&n.tag_name().name()))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect::<String>()
        })
}

/// Parses a SOAP 1.2 (or 1.1) envelope into a request.
pub fn parse_request(body: &str) -> Result<SoapRequest, SoapFault> {
    let doc = roxmltree::Document::parse(body).map_err(|e| SoapFault {
        code: "Sender",
        kind: "UnknownFault",
        number: 0,
        reason: "Malformed SOAP request".into(),
        detail: format!("the request is not well-formed XML: {e}"),
    })?;
    let root = doc.root_element();
    let body_el = root
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "Body")
        .ok_or_else(|| SoapFault {
            code: "Sender",
            kind: "UnknownFault",
            number: 0,
            reason: "Malformed SOAP request".into(),
            detail: "no SOAP Body".into(),
        })?;
    let op = body_el
        .children()
        .find(|n| n.is_element())
        .ok_or_else(|| SoapFault {
            code: "Sender",
            kind: "UnknownFault",
            number: 0,
            reason: "Malformed SOAP request".into(),
            detail: "empty SOAP Body".into(),
        })?;
    match op.tag_name().name() {
        "connectivityTest" | "ConnectivityTestRequest" | "ConnectivityTest" => {
            Ok(SoapRequest::ConnectivityTest {
                echo: child_text(op, &["echoBack", "EchoBack"]).unwrap_or_default(),
            })
        }
        "submitSingleMessage" | "SubmitSingleMessageRequest" | "SubmitSingleMessage" => {
            let header = root
                .children()
                .find(|n| n.is_element() && n.tag_name().name() == "Header");
            let (mut username, mut password) = (
                child_text(op, &["username", "Username"]),
                child_text(op, &["password", "Password"]),
            );
            if let Some(token) = header.and_then(|h| {
                h.descendants()
                    .find(|n| n.is_element() && n.tag_name().name() == "UsernameToken")
            }) {
                username = username
                    .filter(|u| !u.is_empty())
                    .or(child_text(token, &["Username"]));
                password = password
                    .filter(|p| !p.is_empty())
                    .or(child_text(token, &["Password"]));
            }
            Ok(SoapRequest::Submit {
                username,
                password,
                facility_id: child_text(op, &["facilityID", "FacilityID"]),
                hl7: child_text(op, &["hl7Message", "Hl7Message"]).unwrap_or_default(),
            })
        }
        other => Err(SoapFault {
            code: "Sender",
            kind: "UnsupportedOperationFault",
            number: 0,
            reason: "Unsupported Operation".into(),
            detail: format!("operation {other} is not supported"),
        }),
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

pub fn fault_xml(f: &SoapFault) -> String {
    envelope(&format!(
        "<soap:Fault><soap:Code><soap:Value>soap:{code}</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang=\"en\">{reason}</soap:Text></soap:Reason>\
         <soap:Detail><{kind} xmlns=\"{NS_2011}\"><Code>{num}</Code><Reason>{reason}</Reason><Detail>{detail}</Detail></{kind}></soap:Detail></soap:Fault>",
        code = f.code,
        kind = f.kind,
        num = f.number,
        reason = xml_escape(&f.reason),
        detail = xml_escape(&f.detail),
    ))
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        xml,
    )
        .into_response()
}

fn fault(f: SoapFault) -> Response {
    // SOAP 1.2 HTTP binding: Sender faults are 400, Receiver faults 500.
    let status = if f.code == "Sender" {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    xml_response(status, fault_xml(&f))
}

fn security_fault() -> SoapFault {
    SoapFault {
        code: "Sender",
        kind: "SecurityFault",
        number: 10,
        reason: "Security".into(),
        detail: "Invalid Username or Password".into(),
    }
}

pub(crate) async fn post_soap(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return fault(SoapFault {
            code: "Sender",
            kind: "UnknownFault",
            number: 0,
            reason: "Malformed SOAP request".into(),
            detail: "the request is not UTF-8".into(),
        });
    };
    let req = match parse_request(text) {
        Ok(r) => r,
        Err(f) => return fault(f),
    };
    match req {
        SoapRequest::ConnectivityTest { echo } => xml_response(
            StatusCode::OK,
            envelope(&format!(
                "<connectivityTestResponse xmlns=\"{NS_2011}\"><return>{}</return></connectivityTestResponse>",
                xml_escape(&echo)
            )),
        ),
        SoapRequest::Submit {
            username,
            password,
            facility_id,
            hl7,
        } => {
            if state.failure_limit.blocked(peer.ip()) {
                return fault(security_fault());
            }
            let (Some(user), Some(pass)) = (username.filter(|u| !u.is_empty()), password) else {
                return fault(security_fault());
            };
            let actor = match state
                .registry
                .authenticate_submitter(&user, &pass, Some(peer.to_string()))
                .await
            {
                Ok(a) => a,
                Err(immunis_registry::AuthError::BadCredentials) => {
                    state.failure_limit.hit(peer.ip());
                    return fault(security_fault());
                }
                Err(e) => {
                    return fault(SoapFault {
                        code: "Receiver",
                        kind: "UnknownFault",
                        number: 0,
                        reason: "Unavailable".into(),
                        detail: e.to_string(),
                    })
                }
            };
            if let Some(fid) = facility_id.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
                if actor.facility_code.as_deref() != Some(fid) {
                    return fault(SoapFault {
                        code: "Sender",
                        kind: "SecurityFault",
                        number: 10,
                        reason: "Security".into(),
                        detail: "facilityID is not the facility these credentials belong to".into(),
                    });
                }
            }
            // Senders put LF or CRLF between segments inside the XML.
            let normalized = hl7.trim().replace("\r\n", "\r").replace('\n', "\r");
            let count = immunis_hl7::split_messages(&normalized).messages.len();
            if count > 1 {
                return fault(SoapFault {
                    code: "Sender",
                    kind: "MessageTooLargeFault",
                    number: 1313,
                    reason: "Message Too Large".into(),
                    detail: "Please submit one and only one HL7 message per transaction".into(),
                });
            }
            let inbound = Inbound {
                transport: "soap",
                remote_addr: Some(peer.to_string()),
            };
            let reply = process_message(
                &state.registry,
                &Submitter::Authenticated(actor),
                normalized.as_bytes(),
                &inbound,
            )
            .await;
            let reply_text = String::from_utf8_lossy(&reply);
            xml_response(
                StatusCode::OK,
                envelope(&format!(
                    "<submitSingleMessageResponse xmlns=\"{NS_2011}\"><return>{}</return></submitSingleMessageResponse>",
                    xml_escape(&reply_text)
                )),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wssecurity_sample() {
        let xml = r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:urn="urn:cdc:iisb:2011">
   <soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
   <wsse:UsernameToken><wsse:Username>u1</wsse:Username><wsse:Password>p1</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>
   <soap:Body><urn:submitSingleMessage><urn:facilityID>10144</urn:facilityID><urn:hl7Message><![CDATA[MSH|^~\&|A]]></urn:hl7Message></urn:submitSingleMessage></soap:Body></soap:Envelope>"#;
        assert_eq!(
            parse_request(xml),
            Ok(SoapRequest::Submit {
                username: Some("u1".into()),
                password: Some("p1".into()),
                facility_id: Some("10144".into()),
                hl7: "MSH|^~\\&|A".into(),
            })
        );
    }

    #[test]
    fn body_credentials_and_connectivity() {
        let xml = r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body><connectivityTest xmlns="urn:cdc:iisb:2011"><echoBack>hi</echoBack></connectivityTest></Body></Envelope>"#;
        assert_eq!(
            parse_request(xml),
            Ok(SoapRequest::ConnectivityTest { echo: "hi".into() })
        );
        let bad = parse_request("<not xml").map_err(|f| f.kind);
        assert_eq!(bad, Err("UnknownFault"));
        let op = r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body><deleteEverything/></Body></Envelope>"#;
        assert_eq!(
            parse_request(op).map_err(|f| f.kind),
            Err("UnsupportedOperationFault")
        );
    }

    #[test]
    fn faults_are_well_formed() {
        let x = fault_xml(&security_fault());
        assert!(roxmltree::Document::parse(&x).is_ok());
        assert!(x.contains("<Code>10</Code>"));
    }
}
