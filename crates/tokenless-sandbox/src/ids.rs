//! Identifiers and made-up secrets: UUIDs (random, or derived from a name so that scenario
//! ids are stable across runs), npm-style token strings and TOTP secrets.

use aws_lc_rs::{digest, rand};

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The system RNG failing is not recoverable; fall back to a hash of the clock so that the
    // sandbox still starts (its secrets are made up and only protect a local emulator).
    if rand::fill(&mut buf).is_err() {
        let seed = digest::digest(&digest::SHA256, &crate::clock::now_millis().to_le_bytes());
        for (b, s) in buf.iter_mut().zip(seed.as_ref().iter().cycle()) {
            *b = *s;
        }
    }
    buf
}

fn format_uuid(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A random version-4 UUID.
pub fn random_uuid() -> String {
    format_uuid(random_bytes::<16>())
}

/// A UUID derived from `kind` and `name` (stable across runs, shaped like a v4 UUID).
pub fn stable_uuid(kind: &str, name: &str) -> String {
    let d = digest::digest(
        &digest::SHA256,
        format!("tokenless-sandbox\0{kind}\0{name}").as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    format_uuid(b)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An npm token: `npm_` + 30 random base62 characters + a 6-character base62 CRC32 checksum
/// (40 characters, the shape `npm-registry.md` §6.4 describes).
pub fn npm_token() -> String {
    let random: String = random_bytes::<30>()
        .iter()
        .map(|b| char::from(BASE62[usize::from(*b) % 62]))
        .collect();
    let mut crc = crc32(random.as_bytes());
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    format!("npm_{random}{}", String::from_utf8_lossy(&check))
}

/// A base32 TOTP secret of 20 random bytes.
pub fn totp_secret() -> String {
    crate::totp::encode_base32(&random_bytes::<20>())
}

/// A random alphanumeric password.
pub fn password() -> String {
    random_bytes::<18>()
        .iter()
        .map(|b| char::from(BASE62[usize::from(*b) % 62]))
        .collect()
}

/// A random URL-safe opaque id (web-login sessions, JWT ids).
pub fn opaque() -> String {
    random_bytes::<16>()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Whether `s` is a UUID in canonical hyphenated form (any case).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        let t = npm_token();
        assert_eq!(t.len(), 40);
        assert!(t.starts_with("npm_"));
        assert!(t[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(t, npm_token());
    }

    #[test]
    fn uuids() {
        assert!(is_uuid(&random_uuid()));
        assert_eq!(stable_uuid("org", "acme"), stable_uuid("org", "acme"));
        assert_ne!(stable_uuid("org", "acme"), stable_uuid("org", "acme2"));
        assert!(is_uuid(&stable_uuid("org", "acme")));
        assert!(!is_uuid("not-a-uuid"));
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
