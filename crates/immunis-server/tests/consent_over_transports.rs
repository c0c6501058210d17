//! The HL7 query interface over every transport — plaintext MLLP (loopback),
//! `POST /hl7` with basic authentication, the CDC SOAP service — × consent
//! state (none, active objection, withdrawn): a provider sees the other
//! organization's dose only when no objection is active, and its own always.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use immunis_hl7::{frame, MllpDecoder};
use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::{console_admin, Registry};
use immunis_server::ServerOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "plum-ferry-42-orbit";

fn vxu(facility: &str, ctrl: &str, date: &str) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IIS|MA|20240101||VXU^V04^VXU_V04|{ctrl}|P|2.5.1|||ER|AL\r\
         PID|1||M1^^^MAIIS^MR||Rivera^Sofia^^^^^L||20230214|F\r\
         ORC|RE||{ctrl}^{facility}\r\
         RXA|0|1|{date}||08^HepB^CVX|0.5|mL^mL^UCUM||00^New^NIP001||^^^{facility}||||L|20300101|MSD^Merck^MVX|||CP|A\r"
    )
}

const QBP: &str =
    "MSH|^~\\&|EHR|PEDS|IIS|MA|20240101||QBP^Q11^QBP_Q11|Q1|P|2.5.1|||||||||Z34^CDCPHINVS\r\
QPD|Z34^Request^CDCPHINVS|T1|M1^^^MAIIS^MR|Rivera^Sofia^^^^^L||20230214|F\r\
RCP|I|5^RD&records&HL70126\r";

async fn mllp(addr: SocketAddr, msg: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&frame(msg.as_bytes())).await.expect("write");
    let mut dec = MllpDecoder::new(1 << 20);
    let mut buf = vec![0u8; 65536];
    loop {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "connection closed");
        dec.push(buf.get(..n).expect("slice"));
        if let Some(Ok(f)) = dec.next_frame() {
            return String::from_utf8_lossy(&f).into_owned();
        }
    }
}

async fn post(addr: SocketAddr, path: &str, headers: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn http_hl7(addr: SocketAddr, msg: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("peds-ehr:{PASSWORD}"));
    post(
        addr,
        "/hl7",
        &format!("Authorization: Basic {auth}\r\nContent-Type: x-application/hl7-v2+er7\r\n"),
        msg,
    )
    .await
}

async fn soap(addr: SocketAddr, msg: &str) -> String {
    let body = format!(
        "<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:urn=\"urn:cdc:iisb:2011\"><soap:Body>\
         <urn:submitSingleMessage><urn:username>peds-ehr</urn:username><urn:password>{PASSWORD}</urn:password>\
         <urn:facilityID>PEDS</urn:facilityID><urn:hl7Message><![CDATA[{msg}]]></urn:hl7Message></urn:submitSingleMessage>\
         </soap:Body></soap:Envelope>"
    );
    post(
        addr,
        "/soap",
        "Content-Type: application/soap+xml;charset=UTF-8\r\n",
        &body,
    )
    .await
}

/// Facilities whose doses an RSP shows (RXA-11), in any transport's framing.
fn facilities(reply: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let reply = reply.replace("&#13;", "\r");
    for seg in reply.split(['\r', '\n']) {
        if seg.starts_with("RXA|") {
            if seg.contains("^^^PEDS|") {
                out.push("PEDS");
            } else if seg.contains("^^^OTHER|") {
                out.push("OTHER");
            } else {
                panic!("unexpected RXA {seg}");
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objection_applies_on_every_transport() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg: Arc<Registry> =
        Registry::new(immunis_registry::open_store(dir.path(), None).expect("store"))
            .expect("registry");
    let admin = console_admin();
    for (org, code) in [("Pediatrics Inc", "PEDS"), ("Other Clinic", "OTHER")] {
        reg.register_facility(&admin, org, OrganizationKind::Provider, code, code)
            .expect("facility");
    }
    reg.add_submitter_credential(&admin, "PEDS", "peds-ehr", PASSWORD)
        .expect("credential");
    let server = immunis_server::start(
        reg.clone(),
        ServerOptions::plain(
            "127.0.0.1:0".parse().expect("addr"),
            "127.0.0.1:0".parse().expect("addr"),
        ),
    )
    .await
    .expect("start");
    assert!(mllp(server.mllp_addr, &vxu("PEDS", "P1", "20230214"))
        .await
        .contains("MSA|AA"));
    assert!(mllp(server.mllp_addr, &vxu("OTHER", "O1", "20230414"))
        .await
        .contains("MSA|AA"));

    use immunis_store_kind::*;
    for (state, expected) in [
        (None, vec!["OTHER", "PEDS"]),
        (Some(FILE), vec!["PEDS"]),
        (Some(WITHDRAW), vec!["OTHER", "PEDS"]),
    ] {
        if let Some(k) = state {
            reg.record_consent(&admin, PatientId(1), k, None, None)
                .expect("consent");
        }
        let over_mllp = mllp(server.mllp_addr, QBP).await;
        let over_http = http_hl7(server.http_addr, QBP).await;
        let over_soap = soap(server.http_addr, QBP).await;
        for (name, reply) in [
            ("mllp", &over_mllp),
            ("http", &over_http),
            ("soap", &over_soap),
        ] {
            assert_eq!(facilities(reply), expected, "{name} {state:?}: {reply}");
        }
    }
    server.shutdown();
}

/// The consent kinds, named without depending on the store crate.
mod immunis_store_kind {
    pub use immunis_registry::ConsentKind;
    pub const FILE: ConsentKind = ConsentKind::ObjectionFiled;
    pub const WITHDRAW: ConsentKind = ConsentKind::ObjectionWithdrawn;
}
