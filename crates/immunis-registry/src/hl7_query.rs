//! QBP^Q11 (Z34/Z44) → RSP^K11: placeholder until the query builders land.

use immunis_access::Actor;
use immunis_hl7::{build_ack, check_header, AckCode, Expected, Message, MessageHeader};

use crate::hl7::Inbound;
use crate::Registry;

pub(crate) async fn process_qbp(
    reg: &Registry,
    _actor: &Actor,
    raw: &[u8],
    _msg: &Message<'_>,
    header: MessageHeader,
    inbound: &Inbound,
) -> Vec<u8> {
    let mut h = header.clone();
    h.message_type = "QBP-UNSUPPORTED".into();
    let issues = check_header(&h, Expected::Vxu);
    let reply = build_ack(&header, &issues, &crate::hl7::reply_options_pub()).into_bytes();
    crate::hl7::reply_without_changes_pub(reg, raw, inbound, Some(&header), reply, AckCode::Reject)
        .await
}
