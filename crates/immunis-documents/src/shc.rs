//! SMART Health Cards: the issuer's ES256 key (its `kid` is the RFC 7638 JWK
//! thumbprint), the signed JWS with a raw-DEFLATE payload, the `shc:/`
//! numeric encoding and the single-chunk QR code (version 22 or lower).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use qrcode::bits::Bits;
use qrcode::{EcLevel, QrCode, Version};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::fhir::{fhir_bundle, Detail};
use crate::record::RecordDocument;
use crate::DocumentError;

/// The media type of a `.smart-health-card` file.
pub const SHC_CONTENT_TYPE: &str = "application/smart-health-card";

/// The longest JWS that fits one version-22 QR code at error correction L
/// (the framework's single-chunk limit).
pub const SHC_MAX_SINGLE_JWS: usize = 1195;

/// The largest QR version the framework allows for one chunk.
const MAX_QR_VERSION: i16 = 22;

/// An issuer's signing key (P-256). The registry stores and rotates these;
/// this crate only signs with the one it is given.
#[derive(Clone)]
pub struct IssuerKey {
    signing: SigningKey,
    public: PublicJwk,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private scalar.
        f.debug_struct("IssuerKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

/// The public half of an issuer key as a JWK (`kty` EC, `crv` P-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    pub kid: String,
    pub x: String,
    pub y: String,
}

impl PublicJwk {
    pub fn from_verifying_key(vk: &VerifyingKey) -> PublicJwk {
        let point = vk.to_encoded_point(false);
        let x = point.x().map(|c| B64URL.encode(c)).unwrap_or_default();
        let y = point.y().map(|c| B64URL.encode(c)).unwrap_or_default();
        PublicJwk {
            kid: jwk_thumbprint(&x, &y),
            x,
            y,
        }
    }

    /// The JWK as published in `/.well-known/jwks.json`.
    pub fn to_json(&self) -> Value {
        json!({
            "kty": "EC",
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
        })
    }

    /// The key for verifying (tests, and a registry that checks its own cards).
    pub fn verifying_key(&self) -> Result<VerifyingKey, DocumentError> {
        let x = B64URL
            .decode(&self.x)
            .map_err(|e| DocumentError::InvalidKey(e.to_string()))?;
        let y = B64URL
            .decode(&self.y)
            .map_err(|e| DocumentError::InvalidKey(e.to_string()))?;
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(4);
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        VerifyingKey::from_sec1_bytes(&sec1).map_err(|e| DocumentError::InvalidKey(e.to_string()))
    }
}

/// RFC 7638 thumbprint of a P-256 JWK: base64url(SHA-256) of the required
/// members in lexicographic order, no whitespace.
pub fn jwk_thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    B64URL.encode(Sha256::digest(canonical.as_bytes()))
}

impl IssuerKey {
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> IssuerKey {
        Self::from_signing(SigningKey::random(rng))
    }

    /// From the 32-byte private scalar (as stored by the registry).
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<IssuerKey, DocumentError> {
        SigningKey::from_slice(bytes)
            .map(Self::from_signing)
            .map_err(|e| DocumentError::InvalidKey(e.to_string()))
    }

    fn from_signing(signing: SigningKey) -> IssuerKey {
        let public = PublicJwk::from_verifying_key(signing.verifying_key());
        IssuerKey { signing, public }
    }

    /// The 32-byte private scalar (for the registry to store, encrypted when it can).
    pub fn secret_bytes(&self) -> Vec<u8> {
        self.signing.to_bytes().to_vec()
    }

    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    pub fn public(&self) -> &PublicJwk {
        &self.public
    }

    /// A compact JWS (ES256) over `payload` with the given protected header.
    fn sign_compact(&self, header: &Value, payload: &[u8]) -> String {
        let mut input = B64URL.encode(header.to_string().as_bytes());
        input.push('.');
        input.push_str(&B64URL.encode(payload));
        let sig: Signature = self.signing.sign(input.as_bytes());
        input.push('.');
        input.push_str(&B64URL.encode(sig.to_bytes()));
        input
    }
}

/// A signed card ready to show: the JWS, the `shc:/` text and its QR code.
#[derive(Clone)]
pub struct HealthCard {
    pub jws: String,
    /// `shc:/` followed by the numeric encoding of the JWS.
    pub qr_text: String,
    pub qr: QrCode,
    /// What went into the card (lot numbers and performers are dropped, in
    /// that order, when the full card would not fit one QR code).
    pub detail: Detail,
}

impl std::fmt::Debug for HealthCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCard")
            .field("jws_len", &self.jws.len())
            .field("qr_version", &self.qr_version())
            .field("detail", &self.detail)
            .finish()
    }
}

impl HealthCard {
    /// The QR version (1..=22).
    pub fn qr_version(&self) -> i16 {
        match self.qr.version() {
            Version::Normal(v) | Version::Micro(v) => v,
        }
    }
}

fn card_payload(doc: &RecordDocument, issuer: &str, now_unix: i64, detail: Detail) -> Vec<u8> {
    let vc = json!({
        "iss": issuer,
        "nbf": now_unix,
        "vc": {
            "type": [
                "https://smarthealth.cards#health-card",
                "https://smarthealth.cards#immunization",
            ],
            "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": fhir_bundle(doc, detail),
            }
        }
    });
    vc.to_string().into_bytes()
}

/// Signs the card's JWS: header `{"alg":"ES256","kid":…,"zip":"DEF"}`,
/// payload the raw-DEFLATE-compressed, minified JSON credential.
pub fn sign_card(
    doc: &RecordDocument,
    key: &IssuerKey,
    issuer: &str,
    now_unix: i64,
    detail: Detail,
) -> String {
    let payload = card_payload(doc, issuer, now_unix, detail);
    let compressed = miniz_oxide::deflate::compress_to_vec(&payload, 9);
    let header = json!({"alg": "ES256", "kid": key.kid(), "zip": "DEF"});
    key.sign_compact(&header, &compressed)
}

/// The health card for a record, issued by `issuer` (the registry's public
/// base URL; its keys are at `{issuer}/.well-known/jwks.json`) at `now_unix`.
/// When the full card is too large for one QR code, lot numbers and then
/// performers are left out (the framework's advice); if it still does not
/// fit, an error says so.
pub fn health_card(
    doc: &RecordDocument,
    key: &IssuerKey,
    issuer: &str,
    now_unix: i64,
) -> Result<HealthCard, DocumentError> {
    let steps = [
        Detail::FULL,
        Detail {
            lot_number: false,
            performer: true,
        },
        Detail {
            lot_number: false,
            performer: false,
        },
    ];
    let mut last_len = 0;
    for detail in steps {
        let jws = sign_card(doc, key, issuer, now_unix, detail);
        last_len = jws.len();
        if jws.len() > SHC_MAX_SINGLE_JWS {
            continue;
        }
        let (qr, qr_text) = shc_qr(&jws)?;
        return Ok(HealthCard {
            jws,
            qr_text,
            qr,
            detail,
        });
    }
    Err(DocumentError::TooLarge {
        jws_len: last_len,
        max: SHC_MAX_SINGLE_JWS,
    })
}

/// The `.smart-health-card` file: `{"verifiableCredential":[jws]}`.
pub fn health_card_file(jws: &str) -> String {
    json!({ "verifiableCredential": [jws] }).to_string()
}

/// Each character of the JWS as two digits: its code minus 45.
pub fn numeric_encode(jws: &str) -> String {
    let mut out = String::with_capacity(jws.len() * 2);
    for b in jws.bytes() {
        let n = b.saturating_sub(45);
        out.push(char::from(b'0' + n / 10 % 10));
        out.push(char::from(b'0' + n % 10));
    }
    out
}

/// The QR code for a JWS: the `shc:/` prefix in a byte-mode segment and the
/// digits in a numeric-mode segment, in the smallest version (≤ 22) that
/// holds them at error correction L, then the strongest error correction
/// that still fits that version.
pub fn shc_qr(jws: &str) -> Result<(QrCode, String), DocumentError> {
    let digits = numeric_encode(jws);
    let build = |v: i16, ec: EcLevel| -> Option<Bits> {
        let mut bits = Bits::new(Version::Normal(v));
        bits.push_byte_data(b"shc:/").ok()?;
        bits.push_numeric_data(digits.as_bytes()).ok()?;
        bits.push_terminator(ec).ok()?;
        Some(bits)
    };
    for v in 1..=MAX_QR_VERSION {
        if build(v, EcLevel::L).is_none() {
            continue;
        }
        for ec in [EcLevel::H, EcLevel::Q, EcLevel::M, EcLevel::L] {
            if let Some(bits) = build(v, ec) {
                let qr =
                    QrCode::with_bits(bits, ec).map_err(|e| DocumentError::Qr(e.to_string()))?;
                return Ok((qr, format!("shc:/{digits}")));
            }
        }
    }
    Err(DocumentError::TooLarge {
        jws_len: jws.len(),
        max: SHC_MAX_SINGLE_JWS,
    })
}
