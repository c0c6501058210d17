//! The card verifies with the public key alone (p256), inflates to the FHIR
//! bundle it was made from, and fits one QR code of version ≤ 22.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use immunis_documents::p256::ecdsa::signature::Verifier;
use immunis_documents::p256::ecdsa::Signature;
use immunis_documents::sample::child_record;
use immunis_documents::{
    health_card, health_card_file, jwk_thumbprint, numeric_encode, official_record_pdf, shc_qr,
    DocumentError, IssuerKey,
};
use rand_core::OsRng;
use serde_json::Value;

const ISS: &str = "https://registry.example.org";

fn decode(jws: &str, key: &IssuerKey) -> (Value, Value) {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS");
    let header: Value =
        serde_json::from_slice(&B64URL.decode(parts[0]).expect("b64")).expect("header json");
    let sig = Signature::from_slice(&B64URL.decode(parts[2]).expect("b64")).expect("64-byte sig");
    let vk = key.public().verifying_key().expect("public key");
    let signed = format!("{}.{}", parts[0], parts[1]);
    vk.verify(signed.as_bytes(), &sig)
        .expect("signature verifies");
    let mut tampered = signed.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(
        vk.verify(&tampered, &sig).is_err(),
        "a changed payload fails"
    );
    let raw = miniz_oxide::inflate::decompress_to_vec(&B64URL.decode(parts[1]).expect("b64"))
        .expect("raw DEFLATE");
    (header, serde_json::from_slice(&raw).expect("payload json"))
}

#[test]
fn jws_round_trip_with_p256() {
    let key = IssuerKey::generate(&mut OsRng);
    let doc = child_record(25);
    let card = health_card(&doc, &key, ISS, 1_717_200_000).expect("fits");
    let (header, payload) = decode(&card.jws, &key);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["zip"], "DEF");
    assert_eq!(header["kid"], key.kid());
    let jwk = key.public();
    assert_eq!(key.kid(), jwk_thumbprint(&jwk.x, &jwk.y));
    assert_eq!(jwk.to_json()["kid"], key.kid());
    assert_eq!(payload["iss"], ISS);
    assert_eq!(payload["nbf"], 1_717_200_000);
    let types = payload["vc"]["type"].as_array().expect("types");
    assert!(types.contains(&Value::from("https://smarthealth.cards#health-card")));
    let bundle = &payload["vc"]["credentialSubject"]["fhirBundle"];
    assert_eq!(payload["vc"]["credentialSubject"]["fhirVersion"], "4.0.1");
    let entries = bundle["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), 26, "patient + 25 immunizations");
    let patient = &entries[0]["resource"];
    assert_eq!(patient["resourceType"], "Patient");
    assert_eq!(patient["birthDate"], "2018-03-14");
    assert_eq!(patient["name"][0]["family"], "Testperson");
    assert_eq!(patient["name"][0]["given"][0], "Zoë");
    for (e, dose) in entries[1..].iter().zip(&doc.doses) {
        let r = &e["resource"];
        assert_eq!(r["resourceType"], "Immunization");
        assert_eq!(r["status"], "completed");
        assert_eq!(r["patient"]["reference"], "resource:0");
        let coding = &r["vaccineCode"]["coding"][0];
        assert_eq!(coding["system"], "http://hl7.org/fhir/sid/cvx");
        assert_eq!(coding["code"], dose.cvx.as_str());
        assert_eq!(r["occurrenceDateTime"], dose.date.to_string());
        if card.detail.performer {
            assert_eq!(
                r["performer"][0]["actor"]["display"],
                dose.provider.as_deref().expect("sample has providers")
            );
        }
    }
    let file: Value = serde_json::from_str(&health_card_file(&card.jws)).expect("file json");
    assert_eq!(file["verifiableCredential"][0], card.jws.as_str());
}

#[test]
fn key_survives_storage_and_signs_with_same_kid() {
    let key = IssuerKey::generate(&mut OsRng);
    let again = IssuerKey::from_secret_bytes(&key.secret_bytes()).expect("same key");
    assert_eq!(again.kid(), key.kid());
    assert_eq!(again.public(), key.public());
    assert!(IssuerKey::from_secret_bytes(&[0u8; 32]).is_err());
    assert!(IssuerKey::from_secret_bytes(&[1u8; 7]).is_err());
    assert!(!format!("{key:?}").contains(&format!("{:?}", key.secret_bytes())));
}

#[test]
fn numeric_encoding_matches_the_framework() {
    // Each character minus 45, two digits: '-' → 00, '.' → 01, 'z' → 77;
    // "eyJ" (every JWS header starts so) → 56 76 29.
    assert_eq!(numeric_encode("-.z"), "000177");
    assert_eq!(numeric_encode("eyJ"), "567629");
    assert_eq!(numeric_encode("").len(), 0);
}

#[test]
fn typical_child_record_fits_qr_version_22() {
    let key = IssuerKey::generate(&mut OsRng);
    let card = health_card(&child_record(25), &key, ISS, 1_717_200_000).expect("fits");
    assert!(card.jws.len() <= 1195, "{}", card.jws.len());
    assert!(card.qr_version() <= 22, "version {}", card.qr_version());
    assert!(card.qr_text.starts_with("shc:/5676"));
    assert_eq!(card.qr_text.len(), 5 + 2 * card.jws.len());
}

#[test]
fn oversized_cards_drop_optional_fields_then_fail_clearly() {
    let key = IssuerKey::generate(&mut OsRng);
    // Grow until the full card no longer fits but a reduced one does.
    let mut reduced = None;
    for n in 25..120 {
        let card = health_card(&child_record(n), &key, ISS, 0);
        match card {
            Ok(c) if !c.detail.lot_number => {
                reduced = Some(c);
                break;
            }
            Ok(_) => continue,
            Err(e) => panic!("failed before any reduction at {n}: {e}"),
        }
    }
    let c = reduced.expect("some size needs the reduction");
    assert!(c.qr_version() <= 22);
    let (_, payload) = decode(&c.jws, &key);
    assert!(payload.to_string().find("lotNumber").is_none());
    let huge = health_card(&child_record(400), &key, ISS, 0);
    assert!(
        matches!(huge, Err(DocumentError::TooLarge { .. })),
        "{huge:?}"
    );
    assert!(matches!(
        shc_qr(&"a".repeat(1300)),
        Err(DocumentError::TooLarge { .. })
    ));
}

#[test]
fn pdf_is_a_pdf() {
    let key = IssuerKey::generate(&mut OsRng);
    let doc = child_record(25);
    let card = health_card(&doc, &key, ISS, 0).expect("fits");
    let pdf = official_record_pdf(&doc, &card);
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.windows(5).any(|w| w == b"%%EOF"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/Helvetica-Bold"));
    assert!(text.contains("/Count 1"), "one page for a typical record");
}
