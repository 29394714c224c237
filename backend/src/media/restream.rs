//! Stream keys at rest: sealed with AES-256-GCM under a key derived from the server secret
//! (`APP_COOKIE_SECRET`, or the one kept in the database) for this purpose alone, bound to the
//! host who owns the destination, a random nonce per key. The studio's server functions seal;
//! only the node that pushes opens. Changing the server secret makes stored keys unreadable:
//! such a destination fails with `domain::restream::KEY_UNREADABLE`.

use crate::error::Result;
use crate::{crypto, domain::restream::StreamKey};
use shop_core::ids::HostId;

/// The label the stream keys' encryption key is derived under.
const KEY_LABEL: &str = "live-shopping restream stream keys v1";

fn aad(host_id: HostId) -> String {
    format!("restream-key:host:{host_id}")
}

/// The stored form of `key`, for a destination of `host_id`.
pub fn seal_key(secret: &[u8], host_id: HostId, key: &StreamKey) -> Result<String> {
    crypto::seal(
        &crypto::derive_key(secret, KEY_LABEL),
        aad(host_id).as_bytes(),
        key.expose().as_bytes(),
    )
}

/// The key [`seal_key`] stored; `None` when it cannot be read (another server secret).
pub fn open_key(secret: &[u8], host_id: HostId, sealed: &str) -> Option<StreamKey> {
    let bytes = crypto::open(
        &crypto::derive_key(secret, KEY_LABEL),
        aad(host_id).as_bytes(),
        sealed,
    )?;
    StreamKey::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_keys_round_trip_and_are_bound_to_their_host() {
        let secret = b"a server secret of at least 32 characters!";
        let key = StreamKey::parse("live_0123456789_abcdef").unwrap();
        let sealed = seal_key(secret, HostId(7), &key).expect("seal");
        assert!(!sealed.contains("0123456789"));
        assert_eq!(open_key(secret, HostId(7), &sealed), Some(key));
        assert_eq!(open_key(secret, HostId(8), &sealed), None);
        assert_eq!(open_key(b"another secret", HostId(7), &sealed), None);
    }
}
