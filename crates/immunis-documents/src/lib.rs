//! Documents a person can hold: the official immunization record as a PDF
//! and the same record as a SMART Health Card (FHIR R4 bundle in a signed,
//! compressed JWS, shown as a `shc:/` QR code).
//!
//! Pure: the input is a plain [`RecordDocument`] the registry fills in from
//! what the actor may see; "now" and the signing key are arguments. Nothing
//! here reads a clock, a file or the network, and nothing here decides who
//! may see what (the registry does, before calling in).
#![forbid(unsafe_code)]

mod fhir;
mod metrics;
mod pdf;
mod record;
#[doc(hidden)]
pub mod sample;
mod shc;

pub use fhir::{fhir_bundle, Detail};
pub use pdf::official_record_pdf;
pub use record::{DoseInfo, DueInfo, PersonInfo, RecordDocument};
pub use shc::{
    health_card, health_card_file, jwk_thumbprint, numeric_encode, shc_qr, sign_card, HealthCard,
    IssuerKey, PublicJwk, SHC_CONTENT_TYPE, SHC_MAX_SINGLE_JWS,
};

/// Re-exported so callers (and tests) can verify with the same curve types.
pub use p256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error(
        "the health card does not fit one QR code of version 22 or lower ({jws_len} characters, \
         at most {max} even without lot numbers and performers)"
    )]
    TooLarge { jws_len: usize, max: usize },
    #[error("invalid signing key: {0}")]
    InvalidKey(String),
    #[error("QR encoding failed: {0}")]
    Qr(String),
}
