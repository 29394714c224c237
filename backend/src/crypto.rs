//! Small cryptographic helpers: random tokens, HMAC signing, hashing, and AES-256-GCM for
//! secrets kept at rest (keys derived from the server secret per purpose).

use crate::error::{Error, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `n` random bytes from the OS.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::fault(format!("reading the OS random source: {e}")))?;
    Ok(buf)
}

/// An unguessable URL-safe token of `N` random bytes (e.g. 12 bytes = 96 bits, 16 chars).
pub fn random_token<const N: usize>() -> Result<String> {
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

/// A 256-bit key for one purpose, derived from a server secret: HMAC-SHA256(secret, label).
/// Each purpose has its own label, so no two share a key.
pub fn derive_key(secret: &[u8], label: &str) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Encrypts `plaintext` with AES-256-GCM under `key`, bound to `aad` (what it belongs to),
/// with a fresh random 96-bit nonce: base64url of nonce, ciphertext and tag.
pub fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<String> {
    use aes_gcm::{
        aead::{Aead, Payload},
        Aes256Gcm, KeyInit, Nonce,
    };
    let nonce = random_bytes::<12>()?;
    let sealed = Aes256Gcm::new(key.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::fault("sealing with AES-GCM"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// Decrypts what [`seal`] made with the same key and `aad`; `None` when it was made under
/// another key (the server secret changed), for something else, or altered.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &str) -> Option<Vec<u8>> {
    use aes_gcm::{
        aead::{Aead, Payload},
        Aes256Gcm, KeyInit, Nonce,
    };
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < 12 + 16 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
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
    fn sealed_text_opens_only_with_its_key_and_purpose() {
        let key = derive_key(b"server secret", "purpose one");
        assert_ne!(key, derive_key(b"server secret", "purpose two"));
        assert_ne!(key, derive_key(b"other secret", "purpose one"));
        let a = seal(&key, b"host:1", b"live_123456_secret").expect("seal");
        let b = seal(&key, b"host:1", b"live_123456_secret").expect("seal");
        // A fresh nonce each time: equal plaintexts do not show.
        assert_ne!(a, b);
        assert!(!a.contains("secret"));
        assert_eq!(
            open(&key, b"host:1", &a).as_deref(),
            Some(&b"live_123456_secret"[..])
        );
        assert_eq!(
            open(&key, b"host:2", &a),
            None,
            "bound to what it belongs to"
        );
        let other = derive_key(b"other secret", "purpose one");
        assert_eq!(open(&other, b"host:1", &a), None);
        let mut tampered = a.into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            open(&key, b"host:1", std::str::from_utf8(&tampered).unwrap()),
            None
        );
        assert_eq!(open(&key, b"host:1", "short"), None);
    }

    #[test]
    fn tokens_have_the_requested_entropy() {
        let a = random_token::<12>().expect("rng");
        let b = random_token::<12>().expect("rng");
        assert_eq!(a.len(), 16); // 96 bits in base64url
        assert_ne!(a, b);
    }
}
