//! A local Web Push service (RFC 8030) for the tests: it mints subscriptions as a browser's
//! push service would, and for each message checks what a real one checks (a `TTL`,
//! `Content-Encoding: aes128gcm`, at most 4,096 bytes, a VAPID JWT signed with ES256 for this
//! origin, expiring within 24 hours, with a contact; RFC 8292) and decrypts it with the
//! subscription's private key (RFC 8291), so a test reads the text the phone would show.
//! Deleted subscriptions answer 410, as expired ones do.
//!
//! `POST /push-sim/subscriptions` → `{id, endpoint, expirationTime, keys: {p256dh, auth}}`;
//! `POST /push-sim/push/{id}` (the endpoint) → 201; `GET /push-sim/messages?sub={id}` →
//! `[{payload, topic, urgency, ttl, vapid_key}]`; `DELETE /push-sim/subscriptions/{id}`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine as _};
use p256::{
    ecdsa::{signature::Verifier, Signature, VerifyingKey},
    elliptic_curve::sec1::ToEncodedPoint,
};
use serde_json::{json, Value};

struct Sub {
    secret: p256::SecretKey,
    auth: [u8; 16],
    gone: bool,
}

#[derive(Default)]
struct Inner {
    origin: String,
    subs: HashMap<String, Sub>,
    messages: Vec<(String, Value)>,
    next: u64,
}

#[derive(Clone)]
pub struct PushServer {
    inner: Arc<Mutex<Inner>>,
    addr: std::net::SocketAddr,
}

impl PushServer {
    pub async fn start() -> PushServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the push service");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Mutex::new(Inner {
            origin: format!("http://{addr}"),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/push-sim/subscriptions", post(subscribe))
            .route("/push-sim/subscriptions/{id}", delete(unsubscribe))
            .route("/push-sim/push/{id}", post(push))
            .route("/push-sim/messages", get(messages))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        PushServer { inner, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new subscription, as `PushSubscription.toJSON()` gives it (with the `id`).
    pub fn subscribe(&self) -> Value {
        mint(&self.inner)
    }

    /// The decrypted payloads a subscription received, oldest first.
    pub fn payloads(&self, id: &str) -> Vec<Value> {
        lock(&self.inner)
            .messages
            .iter()
            .filter(|(s, _)| s == id)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Every message received, of every subscription.
    pub fn all(&self) -> Vec<Value> {
        lock(&self.inner)
            .messages
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Later pushes to it answer 410 Gone.
    pub fn expire(&self, id: &str) {
        if let Some(s) = lock(&self.inner).subs.get_mut(id) {
            s.gone = true;
        }
    }
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn mint(inner: &Mutex<Inner>) -> Value {
    let secret = p256::SecretKey::random(&mut aes_gcm::aead::OsRng);
    let mut auth = [0u8; 16];
    getrandom::fill(&mut auth).expect("random");
    let mut g = lock(inner);
    g.next += 1;
    let id = format!("s{}", g.next);
    let p256dh = B64.encode(secret.public_key().to_encoded_point(false).as_bytes());
    let v = json!({
        "id": id,
        "endpoint": format!("{}/push-sim/push/{id}", g.origin),
        "expirationTime": null,
        "keys": { "p256dh": p256dh, "auth": B64.encode(auth) },
    });
    g.subs.insert(
        id,
        Sub {
            secret,
            auth,
            gone: false,
        },
    );
    v
}

async fn subscribe(State(inner): State<Arc<Mutex<Inner>>>) -> Json<Value> {
    Json(mint(&inner))
}

async fn unsubscribe(State(inner): State<Arc<Mutex<Inner>>>, Path(id): Path<String>) -> StatusCode {
    match lock(&inner).subs.get_mut(&id) {
        Some(s) => {
            s.gone = true;
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn messages(
    State(inner): State<Arc<Mutex<Inner>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let sub = q.get("sub").cloned().unwrap_or_default();
    Json(Value::Array(
        lock(&inner)
            .messages
            .iter()
            .filter(|(s, _)| sub.is_empty() || *s == sub)
            .map(|(_, m)| m.clone())
            .collect(),
    ))
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, why.to_string()).into_response()
}

async fn push(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (secret, auth, origin) = {
        let g = lock(&inner);
        match g.subs.get(&id) {
            None => return refuse(StatusCode::NOT_FOUND, "no such subscription"),
            Some(s) if s.gone => return refuse(StatusCode::GONE, "subscription expired"),
            Some(s) => (s.secret.clone(), s.auth, g.origin.clone()),
        }
    };
    let Some(ttl) = header("ttl").and_then(|t| t.parse::<u64>().ok()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "TTL header required (RFC 8030 5.2)",
        );
    };
    if header("content-encoding").as_deref() != Some("aes128gcm") {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "aes128gcm only");
    }
    if body.len() > 4096 {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "over 4096 bytes");
    }
    let vapid_key = match check_vapid(&header("authorization").unwrap_or_default(), &origin) {
        Ok(k) => k,
        Err(e) => return refuse(StatusCode::FORBIDDEN, &e),
    };
    let auth = *web_push_native::Auth::from_slice(&auth);
    let plain = match web_push_native::decrypt(body.to_vec(), &secret, &auth) {
        Ok(p) => p,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("cannot decrypt: {e}")),
    };
    let payload: Value = serde_json::from_slice(&plain)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&plain).into_owned()));
    let topic = header("topic");
    let mut g = lock(&inner);
    // A message with the topic of one still waiting replaces it (RFC 8030 5.4): the stand-in
    // delivers at once, so a repeat of a topic is kept apart only as a count.
    let repeats = g
        .messages
        .iter()
        .filter(|(s, m)| *s == id && topic.is_some() && m["topic"].as_str() == topic.as_deref())
        .count();
    g.messages.push((
        id,
        json!({
            "payload": payload, "topic": topic, "urgency": header("urgency"), "ttl": ttl,
            "vapid_key": vapid_key, "repeat_of_topic": repeats,
        }),
    ));
    let n = g.messages.len();
    (
        StatusCode::CREATED,
        [("location", format!("/push-sim/msg/{n}"))],
    )
        .into_response()
}

/// RFC 8292: `vapid t=<JWT>, k=<key>`, ES256 over the JWT, `aud` this origin, `exp` within
/// 24 hours, `sub` a contact. Returns the key.
fn check_vapid(header: &str, origin: &str) -> Result<String, String> {
    let rest = header
        .strip_prefix("vapid ")
        .ok_or("no VAPID authorization")?;
    let (mut t, mut k) = (None, None);
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("t=") {
            t = Some(v);
        }
        if let Some(v) = part.strip_prefix("k=") {
            k = Some(v);
        }
    }
    let k = k.ok_or("no k")?;
    let key = B64.decode(k).map_err(|_| "k is not base64url")?;
    let vk = VerifyingKey::from_sec1_bytes(&key).map_err(|_| "k is not a P-256 key")?;
    let (input, sig) = t.ok_or("no t")?.rsplit_once('.').ok_or("bad JWT")?;
    let sig = Signature::from_slice(&B64.decode(sig).map_err(|_| "bad signature encoding")?)
        .map_err(|_| "bad signature")?;
    vk.verify(input.as_bytes(), &sig)
        .map_err(|_| "the JWT's signature does not verify")?;
    let (h, c) = input.split_once('.').ok_or("bad JWT")?;
    let h: Value = serde_json::from_slice(&B64.decode(h).map_err(|_| "bad JWT header")?)
        .map_err(|_| "bad JWT header")?;
    let c: Value = serde_json::from_slice(&B64.decode(c).map_err(|_| "bad JWT claims")?)
        .map_err(|_| "bad JWT claims")?;
    if h["alg"] != "ES256" {
        return Err("alg must be ES256".into());
    }
    if c["aud"] != origin {
        return Err(format!("aud {} is not {origin}", c["aud"]));
    }
    let now = crate::now_s() as u64;
    let exp = c["exp"].as_u64().ok_or("no exp")?;
    if exp <= now || exp > now + 24 * 3600 {
        return Err("exp must be within 24 hours".into());
    }
    if !c["sub"]
        .as_str()
        .is_some_and(|s| s.starts_with("mailto:") || s.starts_with("https:"))
    {
        return Err("sub must be a mailto: or https: contact".into());
    }
    Ok(k.to_string())
}
