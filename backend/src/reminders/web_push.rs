//! Web Push, the reminders' browser channel (issue 31): a message is encrypted for the
//! browser's subscription (RFC 8291, `aes128gcm`, by `web-push-native`), signed for the push
//! service with our VAPID key (RFC 8292, ES256 signed here so that `aud` keeps an explicit
//! port, as RFC 6454 serialises an origin) and POSTed to the subscription's endpoint (RFC 8030).
//!
//! A subscription's endpoint is a URL a browser handed us, so the server only posts to
//! `https` endpoints whose host resolves to public addresses (no requests into our own
//! network), unless the deployment allows private ones (a local push service in tests).

use std::{net::IpAddr, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine as _};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};

use crate::domain::{reminder::SendOutcome, restream::is_public_ip};

/// How long a push service keeps a message for an offline browser: "live now" is stale after
/// an hour.
const TTL: Duration = Duration::from_secs(3600);
/// Largest endpoint URL we keep.
pub const MAX_ENDPOINT: usize = 1024;

/// Our VAPID key pair (P-256) and the contact the push services see.
pub struct Vapid {
    key: SigningKey,
    public_b64: String,
    subject: String,
}

impl Vapid {
    /// From a base64url 32-byte private scalar.
    pub fn from_base64(private_b64: &str, subject: String) -> Result<Vapid, String> {
        let bytes = B64
            .decode(private_b64.trim())
            .map_err(|e| format!("VAPID key: {e}"))?;
        let key = SigningKey::from_slice(&bytes).map_err(|e| format!("VAPID key: {e}"))?;
        let public_b64 = B64.encode(key.verifying_key().to_encoded_point(false).as_bytes());
        Ok(Vapid {
            key,
            public_b64,
            subject,
        })
    }

    /// A new private key, base64url (kept in the database on first start).
    pub fn generate() -> Result<String, String> {
        let mut bytes = [0u8; 32];
        loop {
            getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
            if SigningKey::from_slice(&bytes).is_ok() {
                return Ok(B64.encode(bytes));
            }
        }
    }

    /// The public key browsers subscribe with (`applicationServerKey`): base64url of the
    /// uncompressed point.
    pub fn public_key(&self) -> &str {
        &self.public_b64
    }

    /// `Authorization: vapid t=<JWT>, k=<public key>` for a request to `endpoint` at `now_s`.
    pub fn authorization(&self, endpoint: &http::Uri, now_s: u64) -> String {
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": origin(endpoint),
            "exp": now_s + 12 * 3600,
            "sub": self.subject,
        });
        let input = format!("{header}.{}", B64.encode(claims.to_string()));
        let sig: Signature = self.key.sign(input.as_bytes());
        format!(
            "vapid t={input}.{}, k={}",
            B64.encode(sig.to_bytes()),
            self.public_b64
        )
    }
}

/// An origin as RFC 6454 writes it: scheme, host and an explicit port.
pub fn origin(u: &http::Uri) -> String {
    let scheme = u.scheme_str().unwrap_or("https");
    let host = u.host().unwrap_or_default();
    match u.port_u16() {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    }
}

/// A browser's subscription, checked: where to post, and the keys to encrypt for.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub endpoint: http::Uri,
    pub p256dh: p256::PublicKey,
    pub auth: web_push_native::Auth,
}

/// Checks what a browser sent (`PushSubscription.toJSON()`): an http(s) endpoint (https
/// unless private endpoints are allowed), a P-256 point and a 16-byte secret.
pub fn parse_subscription(
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    allow_private: bool,
) -> Result<Subscription, String> {
    if endpoint.len() > MAX_ENDPOINT {
        return Err("The push endpoint is too long.".into());
    }
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|_| "The push endpoint is not a URL.".to_string())?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_private => {}
        _ => return Err("The push endpoint must be an https URL.".into()),
    }
    let host = uri.host().unwrap_or_default();
    if host.is_empty() {
        return Err("The push endpoint has no host.".into());
    }
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        if !allow_private && !is_public_ip(ip) {
            return Err("The push endpoint must be a public address.".into());
        }
    }
    let key = B64
        .decode(p256dh.trim_end_matches('='))
        .map_err(|_| "The subscription's p256dh key is not base64url.".to_string())?;
    let p256dh = p256::PublicKey::from_sec1_bytes(&key)
        .map_err(|_| "The subscription's p256dh key is not a P-256 point.".to_string())?;
    let secret = B64
        .decode(auth.trim_end_matches('='))
        .map_err(|_| "The subscription's auth secret is not base64url.".to_string())?;
    if secret.len() != 16 {
        return Err("The subscription's auth secret must be 16 bytes.".into());
    }
    Ok(Subscription {
        endpoint: uri,
        p256dh,
        auth: *web_push_native::Auth::from_slice(&secret),
    })
}

/// Sends Web Push messages with our VAPID key.
pub struct WebPush {
    vapid: Vapid,
    client: reqwest::Client,
    allow_private: bool,
}

impl WebPush {
    pub fn new(vapid: Vapid, allow_private: bool) -> WebPush {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        WebPush {
            vapid,
            client,
            allow_private,
        }
    }

    pub fn public_key(&self) -> &str {
        self.vapid.public_key()
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Encrypts `payload` for `sub` and posts it; a `topic` makes the push service replace a
    /// message of the same topic still waiting for the browser (a repeat after a crash).
    pub async fn send(&self, sub: &Subscription, payload: &[u8], topic: &str) -> SendOutcome {
        if !self.allow_private {
            if let Err(e) = self.resolves_public(&sub.endpoint).await {
                return SendOutcome::Gone(e);
            }
        }
        let built =
            web_push_native::WebPushBuilder::new(sub.endpoint.clone(), sub.p256dh, sub.auth)
                .with_valid_duration(TTL)
                .build(payload.to_vec());
        let mut req = match built {
            Ok(r) => r,
            Err(e) => return SendOutcome::Failed(format!("encrypting: {e}")),
        };
        let now_s = u64::try_from(crate::now_ms() / 1000).unwrap_or_default();
        let headers = req.headers_mut();
        if let Ok(v) = self.vapid.authorization(&sub.endpoint, now_s).parse() {
            headers.insert(http::header::AUTHORIZATION, v);
        }
        if let Ok(v) = topic.parse() {
            headers.insert("Topic", v);
        }
        if let Ok(v) = "high".parse() {
            headers.insert("Urgency", v);
        }
        let req = match reqwest::Request::try_from(req) {
            Ok(r) => r,
            Err(e) => return SendOutcome::Failed(format!("request: {e}")),
        };
        match self.client.execute(req).await {
            Ok(r) => outcome(r.status().as_u16()),
            Err(e) => SendOutcome::Retry(format!("push service unreachable: {e}")),
        }
    }

    /// Every address the endpoint's host resolves to is public.
    async fn resolves_public(&self, endpoint: &http::Uri) -> Result<(), String> {
        let host = endpoint.host().unwrap_or_default();
        let port = endpoint.port_u16().unwrap_or(443);
        let addrs: Vec<_> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("push endpoint does not resolve: {e}"))?
            .collect();
        if addrs.is_empty() || addrs.iter().any(|a| !is_public_ip(a.ip())) {
            return Err("push endpoint resolves to a private address".into());
        }
        Ok(())
    }
}

/// What a push service's answer means (RFC 8030 §5, §8.3; RFC 8292 §4).
pub fn outcome(status: u16) -> SendOutcome {
    match status {
        200..=299 => SendOutcome::Sent,
        404 | 410 => SendOutcome::Gone(format!("push service: {status} (subscription gone)")),
        429 | 500..=599 => SendOutcome::Retry(format!("push service: {status}")),
        _ => SendOutcome::Failed(format!("push service refused it: {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::{
        ecdsa::{signature::Verifier, VerifyingKey},
        elliptic_curve::sec1::ToEncodedPoint,
    };

    fn browser() -> (p256::SecretKey, String, String) {
        let ua = p256::SecretKey::random(&mut aes_gcm::aead::OsRng);
        let p256dh = B64.encode(ua.public_key().to_encoded_point(false).as_bytes());
        let auth = B64.encode([7u8; 16]);
        (ua, p256dh, auth)
    }

    #[test]
    fn a_message_decrypts_for_the_browser_and_the_vapid_header_verifies() {
        let vapid =
            Vapid::from_base64(&Vapid::generate().unwrap(), "mailto:ops@example.com".into())
                .unwrap();
        let (ua, p256dh, auth) = browser();
        let sub = parse_subscription("http://127.0.0.1:9/push/1", &p256dh, &auth, true).unwrap();
        let req = web_push_native::WebPushBuilder::new(sub.endpoint.clone(), sub.p256dh, sub.auth)
            .build(b"{\"title\":\"live\"}".to_vec())
            .unwrap();
        let plain = web_push_native::decrypt(req.body().clone(), &ua, &sub.auth).unwrap();
        assert_eq!(plain, b"{\"title\":\"live\"}");

        let header = vapid.authorization(&sub.endpoint, 1_000);
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (jwt, k) = rest.split_once(", k=").unwrap();
        assert_eq!(k, vapid.public_key());
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let vk = VerifyingKey::from_sec1_bytes(&B64.decode(k).unwrap()).unwrap();
        let sig = Signature::from_slice(&B64.decode(sig).unwrap()).unwrap();
        vk.verify(input.as_bytes(), &sig).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(input.split_once('.').unwrap().1).unwrap()).unwrap();
        assert_eq!(claims["aud"], "http://127.0.0.1:9");
        assert_eq!(claims["exp"], 1_000 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
    }

    #[test]
    fn subscriptions_are_checked() {
        let (_, p256dh, auth) = browser();
        assert!(parse_subscription(
            "https://fcm.googleapis.com/fcm/send/x",
            &p256dh,
            &auth,
            false
        )
        .is_ok());
        for bad in [
            "http://fcm.googleapis.com/x",
            "https://127.0.0.1/x",
            "https://10.0.0.7/x",
            "https://[::1]/x",
            "ftp://example.com/x",
            "not a url",
        ] {
            assert!(
                parse_subscription(bad, &p256dh, &auth, false).is_err(),
                "{bad}"
            );
        }
        assert!(parse_subscription("https://push.example.com/x", "AAAA", &auth, false).is_err());
        assert!(parse_subscription("https://push.example.com/x", &p256dh, "AAAA", false).is_err());
    }

    #[test]
    fn answers_map_to_outcomes() {
        assert_eq!(outcome(201), SendOutcome::Sent);
        assert!(matches!(outcome(410), SendOutcome::Gone(_)));
        assert!(matches!(outcome(404), SendOutcome::Gone(_)));
        assert!(matches!(outcome(429), SendOutcome::Retry(_)));
        assert!(matches!(outcome(503), SendOutcome::Retry(_)));
        assert!(matches!(outcome(403), SendOutcome::Failed(_)));
    }
}
