//! Small cryptographic helpers: random tokens, HMAC signing, hashing.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// `n` random bytes from the OS.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], AppError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| {
        tracing::error!(error = %e, "OS random source failed");
        AppError::Internal
    })?;
    Ok(buf)
}

/// An unguessable URL-safe token of `N` random bytes (e.g. 12 bytes = 96 bits, 16 chars).
pub fn random_token<const N: usize>() -> Result<String, AppError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<N>()?))
}

pub fn sign(key: &[u8], message: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// HMAC-SHA256 as lowercase hex (signatures other systems check, e.g. webhooks).
pub fn hmac_sha256_hex(key: &[u8], message: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time check of a signature made by [`sign`].
pub fn verify(key: &[u8], message: &str, signature: &str) -> bool {
    let Ok(sig) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex_bytes(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256_hex(data: &str) -> String {
    sha256_hex_bytes(data.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_the_same_key_and_message() {
        let sig = sign(b"key-1", "shopper:42");
        assert!(verify(b"key-1", "shopper:42", &sig));
        assert!(!verify(b"key-2", "shopper:42", &sig));
        assert!(!verify(b"key-1", "shopper:43", &sig));
        assert!(!verify(b"key-1", "shopper:42", "not base64!"));
    }

    #[test]
    fn tokens_have_the_requested_entropy() {
        let a = random_token::<12>().expect("rng");
        let b = random_token::<12>().expect("rng");
        assert_eq!(a.len(), 16); // 96 bits in base64url
        assert_ne!(a, b);
    }
}
