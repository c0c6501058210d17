//! TOTP second factor (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 30-second
//! steps, 6 digits — what authenticator apps expect), with RFC 4648 base32
//! for the shared secret. Codes are compared in constant time; a code is
//! accepted for the current step ±1 and never twice (the caller stores the
//! last step used).

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per step.
pub const STEP: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            let idx = ((buffer >> (bits - 5)) & 31) as usize;
            out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
            bits -= 5;
        }
    }
    if bits > 0 {
        let idx = ((buffer << (5 - bits)) & 31) as usize;
        out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
    }
    out
}

/// Decodes base32 (case-insensitive, padding and spaces ignored).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        if c == b'=' || c == b' ' {
            continue;
        }
        let v = BASE32.iter().position(|&x| x == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push(((buffer >> (bits - 8)) & 0xff) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// RFC 4226 HOTP value for a counter.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h.get(19).copied().unwrap_or(0) & 0x0f);
    let bytes = [
        h.get(offset).copied().unwrap_or(0) & 0x7f,
        h.get(offset + 1).copied().unwrap_or(0),
        h.get(offset + 2).copied().unwrap_or(0),
        h.get(offset + 3).copied().unwrap_or(0),
    ];
    u32::from_be_bytes(bytes) % 10u32.pow(digits)
}

/// The code for a given Unix time, zero-padded.
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, unix_secs / STEP, DIGITS),
        width = DIGITS as usize
    )
}

/// Checks a code at `unix_secs`, allowing one step of clock drift either way.
/// Returns the step it matched, which must be greater than `last_step` (a code
/// already used is refused, so an observed code cannot be replayed).
pub fn verify(secret: &[u8], code: &str, unix_secs: u64, last_step: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_secs / STEP;
    let mut matched = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = format!(
            "{:0width$}",
            hotp(secret, step, DIGITS),
            width = DIGITS as usize
        );
        let eq: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if eq && step > last_step && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// Whether `code` is a current code that was already used (its step is not
/// after `last_step`): a replay, refused by [`verify`], which the login
/// names so the person waits for the next code instead of retyping it.
pub fn reused(secret: &[u8], code: &str, unix_secs: u64, last_step: u64) -> bool {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let now = unix_secs / STEP;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .any(|step| {
            let expected = format!(
                "{:0width$}",
                hotp(secret, step, DIGITS),
                width = DIGITS as usize
            );
            let eq: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
            eq && step <= last_step
        })
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B (SHA-1 rows, 8 digits).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, expected) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, t / 30, 8), expected, "T={t}");
        }
    }

    /// RFC 4226 Appendix D.
    #[test]
    fn rfc4226_vectors() {
        let secret = b"12345678901234567890";
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, e) in expected.iter().enumerate() {
            assert_eq!(hotp(secret, counter as u64, 6), *e);
        }
    }

    #[test]
    fn base32_round_trip_and_rfc4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======"), Some(b"foobar".to_vec()));
        assert_eq!(base32_decode("mzxw6ytboi"), Some(b"foobar".to_vec()));
        assert_eq!(base32_decode("1!"), None);
    }

    #[test]
    fn window_and_replay() {
        let secret = b"12345678901234567890";
        let t = 1_700_000_000;
        let code = code_at(secret, t);
        let step = verify(secret, &code, t, 0).expect("valid now");
        assert_eq!(
            verify(secret, &code, t + 30, 0),
            Some(step),
            "one step late is fine"
        );
        assert_eq!(verify(secret, &code, t + 90, 0), None, "too late");
        assert_eq!(verify(secret, &code, t, step), None, "replay refused");
        assert!(reused(secret, &code, t, step), "and named a reuse");
        assert!(!reused(secret, &code, t, 0), "a fresh code is not a reuse");
        assert!(!reused(secret, "000000", t, step) || code == "000000");
        assert_eq!(verify(secret, "12345", t, 0), None);
        assert_eq!(verify(secret, "abcdef", t, 0), None);
    }
}
