//! RFC 6238 time-based one-time passwords, as npm accounts use them: HMAC-SHA-1, 6 digits,
//! 30-second steps, secrets in RFC 4648 base32. Exposed so that tests and other crates can
//! compute the codes the sandbox accepts from a user's `totp_secret` (see `/-/sandbox/info`).

use aws_lc_rs::hmac;

/// Length of one time step, in seconds.
pub const STEP_SECONDS: u64 = 30;

/// Why a base32 secret could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid base32 TOTP secret: character {0:?} is not in the RFC 4648 alphabet")]
pub struct InvalidSecret(pub char);

/// Decodes an RFC 4648 base32 string (case-insensitive; `=` padding, spaces and dashes ignored).
pub fn decode_base32(secret: &str) -> Result<Vec<u8>, InvalidSecret> {
    let mut out = Vec::with_capacity(secret.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in secret.chars() {
        let value = match c.to_ascii_uppercase() {
            u @ 'A'..='Z' => u as u32 - 'A' as u32,
            d @ '2'..='7' => d as u32 - '2' as u32 + 26,
            '=' | ' ' | '-' => continue,
            other => return Err(InvalidSecret(other)),
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Encodes bytes as unpadded RFC 4648 base32 (upper case), the form authenticator apps read.
pub fn encode_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The 6-digit code for a raw key at a given time step (RFC 4226 dynamic truncation).
pub fn code_at_step(key: &[u8], step: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let digest = tag.as_ref();
    let offset = usize::from(digest.last().copied().unwrap_or(0) & 0x0f);
    let word = digest
        .get(offset..offset + 4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]) & 0x7fff_ffff)
        .unwrap_or(0);
    format!("{:06}", word % 1_000_000)
}

/// The code a user's authenticator shows at `unix_seconds`, from the base32 secret.
pub fn code(secret_base32: &str, unix_seconds: u64) -> Result<String, InvalidSecret> {
    let key = decode_base32(secret_base32)?;
    Ok(code_at_step(&key, unix_seconds / STEP_SECONDS))
}

/// The code for the current time.
pub fn current_code(secret_base32: &str) -> Result<String, InvalidSecret> {
    code(secret_base32, crate::clock::now_secs())
}

/// Whether `candidate` is valid at `unix_seconds`, allowing one step of skew either side.
/// A code may be used again within its step (the npm CLI sends one `--otp` for many requests).
pub fn verify(secret_base32: &str, candidate: &str, unix_seconds: u64) -> bool {
    let candidate = candidate.trim();
    if candidate.len() != 6 || !candidate.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(key) = decode_base32(secret_base32) else {
        return false;
    };
    let step = unix_seconds / STEP_SECONDS;
    [step.saturating_sub(1), step, step + 1]
        .iter()
        .any(|&s| constant_time_eq(code_at_step(&key, s).as_bytes(), candidate.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", truncated to 6 digits.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn rfc6238_vectors() {
        for (t, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code(RFC_SECRET, t).as_deref(), Ok(expected), "t={t}");
        }
    }

    #[test]
    fn base32_round_trip() {
        let bytes = b"12345678901234567890";
        assert_eq!(encode_base32(bytes), RFC_SECRET);
        assert_eq!(
            decode_base32(&RFC_SECRET.to_lowercase()).as_deref(),
            Ok(&bytes[..])
        );
        assert_eq!(decode_base32("AB1"), Err(InvalidSecret('1')));
    }

    #[test]
    fn skew_of_one_step_either_side() {
        let t = 1_000_000_020;
        let now = code(RFC_SECRET, t).unwrap_or_default();
        let prev = code(RFC_SECRET, t - 30).unwrap_or_default();
        let next = code(RFC_SECRET, t + 30).unwrap_or_default();
        let far = code(RFC_SECRET, t + 90).unwrap_or_default();
        assert!(verify(RFC_SECRET, &now, t));
        assert!(verify(RFC_SECRET, &now, t + 5), "reuse within the step");
        assert!(verify(RFC_SECRET, &prev, t));
        assert!(verify(RFC_SECRET, &next, t));
        assert!(!verify(RFC_SECRET, &far, t));
        assert!(!verify(RFC_SECRET, "12345", t));
        assert!(!verify(RFC_SECRET, "abcdef", t));
    }
}
