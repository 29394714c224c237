//! A local WeChat Pay API v3 server for the tests: the parts the project uses (create order,
//! query, refund, payment and refund notifications) and WeChat's web authorisation
//! (`snsapi_base`), with keys generated per process and the documented cryptography: it
//! checks every request's merchant signature and signs every answer and notification with its
//! platform key; notification bodies are AES-256-GCM encrypted with the APIv3 key. A test
//! "pays" the way a phone does: `bridge_pay` checks the JSAPI parameters' `paySign` like
//! `WeixinJSBridge` would, then the platform notifies.
//!
//! The cargo tests start it in-process (`WechatPayServer::start`); the browser tests run the
//! `wechat-sim` binary (`src/main.rs`), whose `POST /test/bridge_pay` is what a page's
//! stand-in `WeixinJSBridge` calls. Never part of a deployment.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, OnceLock},
};

use aes_gcm::{
    aead::{Aead, Payload},
    Aes256Gcm, KeyInit, Nonce,
};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use rsa::{
    pkcs1v15::{Signature, SigningKey, VerifyingKey},
    pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding},
    signature::{SignatureEncoding, Signer, Verifier},
    RsaPrivateKey, RsaPublicKey,
};
use serde_json::{json, Value};
use sha2::Sha256;

pub const MCHID: &str = "1900000109";
pub const APPID: &str = "wx8888888888888888";
pub const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const PLATFORM_SERIAL: &str = "PUB_KEY_ID_0114232134912410000000000000";
pub const API_V3_KEY: &str = "0123456789abcdefghijklmnopqrstuv";
/// The official account's app secret (WeChat's web authorisation).
pub const APP_SECRET: &str = "test-app-secret-0123456789abcdef";

/// (merchant, platform, a stranger's) keys, generated once per test binary.
pub mod push;

pub fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey, RsaPrivateKey) {
    static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rsa::rand_core::OsRng;
        let mut key = || RsaPrivateKey::new(&mut rng, 2048).expect("RSA key");
        (key(), key(), key())
    })
}

/// The merchant's settings for this server (notifications to `notify_url`).
pub fn merchant_config(
    base_url: &str,
    notify_url: &str,
) -> shop_backend::buying::payment::wechat_pay::WechatPayConfig {
    let (merchant, platform, _) = keys();
    shop_backend::buying::payment::wechat_pay::WechatPayConfig {
        mchid: MCHID.into(),
        appid: APPID.into(),
        serial_no: MERCHANT_SERIAL.into(),
        private_key_pem: merchant
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem")
            .to_string(),
        platform_key_pem: public_pem(&platform.to_public_key()),
        platform_serial: PLATFORM_SERIAL.into(),
        api_v3_key: API_V3_KEY.into(),
        notify_url: notify_url.into(),
        base_url: base_url.into(),
    }
}

pub fn public_pem(key: &RsaPublicKey) -> String {
    key.to_public_key_pem(LineEnding::LF).expect("pem")
}

#[derive(Debug, Clone)]
pub struct Trade {
    pub kind: String,
    pub prepay_id: String,
    pub total: i64,
    pub state: String,
    pub transaction_id: Option<String>,
    pub notify_url: String,
    pub openid: Option<String>,
    pub refunded: i64,
}

#[derive(Default)]
struct Books {
    trades: HashMap<String, Trade>,
    refunds: HashMap<String, Value>,
    /// Request nonces seen: a replayed request is refused.
    nonces: std::collections::HashSet<String>,
    /// `cgi-bin/token` and `cgi-bin/ticket/getticket` answered (a cache should keep these low).
    pub token_fetches: usize,
    pub ticket_fetches: usize,
    /// Web-authorisation codes handed out, each good once: code → openid.
    codes: HashMap<String, String>,
    requests: usize,
}

#[derive(Clone)]
pub struct WechatPayServer {
    pub addr: SocketAddr,
    books: Arc<Mutex<Books>>,
    /// Sign answers with the stranger's key instead (a forged platform).
    pub forge_answers: Arc<std::sync::atomic::AtomicBool>,
    /// Where notifications go instead of the order's `notify_url` (a test server learns its
    /// port only after its settings are made).
    notify_to: Arc<Mutex<Option<String>>>,
    client: reqwest::Client,
}

impl WechatPayServer {
    pub async fn start() -> WechatPayServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::serve(listener)
    }

    /// Serves on `listener` (the binary: a fixed port).
    pub fn serve(listener: tokio::net::TcpListener) -> WechatPayServer {
        let addr = listener.local_addr().expect("addr");
        let server = WechatPayServer {
            addr,
            books: Arc::default(),
            forge_answers: Arc::default(),
            notify_to: Arc::default(),
            client: reqwest::Client::new(),
        };
        let app = Router::new()
            .route("/v3/pay/transactions/{kind}", post(create))
            .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
            .route("/v3/pay/transactions/out-trade-no/{no}/close", post(close))
            .route("/v3/refund/domestic/refunds", post(refund))
            .route("/sns/oauth2/access_token", get(access_token))
            .route("/connect/oauth2/authorize", get(authorize))
            .route("/cgi-bin/token", get(cgi_token))
            .route("/cgi-bin/ticket/getticket", get(cgi_ticket))
            .route("/test/bridge_pay", post(bridge))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// WeChat's authorize page, for a shopper whose openid is `openid`: the code it would hand
    /// back to the merchant's `redirect_uri`.
    pub fn issue_code(&self, openid: &str) -> String {
        let code = format!("{:032x}", rand_u128());
        self.books
            .lock()
            .unwrap()
            .codes
            .insert(code.clone(), openid.to_string());
        code
    }

    /// Sends every notification to `url` from now on.
    pub fn notify_to(&self, url: String) {
        *self.notify_to.lock().unwrap() = Some(url);
    }

    /// The shopper paid, but the notification never arrived (only a query tells).
    pub fn pay_silently(&self, out_trade_no: &str) {
        let mut books = self.books.lock().unwrap();
        if let Some(t) = books.trades.get_mut(out_trade_no) {
            if t.state == "NOTPAY" {
                t.state = "SUCCESS".into();
                t.transaction_id = Some(format!("42000{}", 20_000_000 + out_trade_no.len() * 7919));
            }
        }
    }

    pub fn trade(&self, out_trade_no: &str) -> Option<Trade> {
        self.books.lock().unwrap().trades.get(out_trade_no).cloned()
    }

    /// How many access tokens and JS-SDK tickets were handed out.
    pub fn fetches(&self) -> (usize, usize) {
        let b = self.books.lock().unwrap();
        (b.token_fetches, b.ticket_fetches)
    }

    pub fn requests(&self) -> usize {
        self.books.lock().unwrap().requests
    }

    /// What `WeixinJSBridge` does when the page passes these parameters and the shopper
    /// confirms: the signature must be the merchant's over the documented four lines. Then the
    /// platform notifies the merchant; returns the merchant's answer to that notification.
    pub async fn bridge_pay(&self, params: &Value) -> Result<u16, String> {
        let field = |k: &str| params[k].as_str().unwrap_or("").to_string();
        if field("appId") != APPID || field("signType") != "RSA" {
            return Err(format!("wrong appId or signType: {params}"));
        }
        let message = format!(
            "{}\n{}\n{}\n{}\n",
            field("appId"),
            field("timeStamp"),
            field("nonceStr"),
            field("package")
        );
        let sig = B64
            .decode(field("paySign"))
            .map_err(|_| "paySign is not base64")?;
        let sig = Signature::try_from(sig.as_slice()).map_err(|_| "paySign")?;
        VerifyingKey::<Sha256>::new(keys().0.to_public_key())
            .verify(message.as_bytes(), &sig)
            .map_err(|_| "paySign does not verify".to_string())?;
        let prepay = field("package")
            .trim_start_matches("prepay_id=")
            .to_string();
        let no = {
            let books = self.books.lock().unwrap();
            books
                .trades
                .iter()
                .find(|(_, t)| t.prepay_id == prepay)
                .map(|(no, _)| no.clone())
                .ok_or("unknown prepay_id")?
        };
        self.pay(&no).await
    }

    /// The race a real platform has: the shopper's payment went through as the merchant
    /// closed the trade (or the notification came after the merchant gave up): the trade
    /// succeeds whatever its state, and the platform notifies.
    pub async fn pay_despite_close(&self, out_trade_no: &str) -> Result<u16, String> {
        if let Some(t) = self.books.lock().unwrap().trades.get_mut(out_trade_no) {
            if t.state == "CLOSED" {
                t.state = "NOTPAY".into();
            }
        }
        self.pay(out_trade_no).await
    }

    /// The shopper paid (scanned the QR code, or opened the H5 URL): the trade succeeds and
    /// the platform notifies the merchant. Returns the merchant's HTTP answer.
    pub async fn pay(&self, out_trade_no: &str) -> Result<u16, String> {
        let trade = {
            let mut books = self.books.lock().unwrap();
            let t = books.trades.get_mut(out_trade_no).ok_or("no such trade")?;
            if t.state == "NOTPAY" {
                t.state = "SUCCESS".into();
                t.transaction_id = Some(format!("42000{}", 10_000_000 + out_trade_no.len() * 7919));
            }
            t.clone()
        };
        if trade.state != "SUCCESS" {
            return Err(format!("the trade is {}", trade.state));
        }
        let resource = trade_json(out_trade_no, &trade);
        let body = notification("TRANSACTION.SUCCESS", "transaction", &resource);
        let url = self
            .notify_to
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(trade.notify_url);
        self.notify(&url, &body, now_s(), &keys().1).await
    }

    /// Posts `body` to `url` signed at `ts` with `key`, like the platform does.
    pub async fn notify(
        &self,
        url: &str,
        body: &str,
        ts: i64,
        key: &RsaPrivateKey,
    ) -> Result<u16, String> {
        let nonce = format!("{:032X}", rand_u128());
        let res = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Wechatpay-Timestamp", ts.to_string())
            .header("Wechatpay-Nonce", &nonce)
            .header(
                "Wechatpay-Signature",
                sign(key, &format!("{ts}\n{nonce}\n{body}\n")),
            )
            .header("Wechatpay-Serial", PLATFORM_SERIAL)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(res.status().as_u16())
    }

    fn answer(&self, status: StatusCode, body: Value) -> Response {
        self.answer_raw(status, body.to_string())
    }

    /// An answer signed over exactly `body` (empty for 204).
    fn answer_raw(&self, status: StatusCode, body: String) -> Response {
        let ts = now_s();
        let nonce = format!("{:032X}", rand_u128());
        let key = if self
            .forge_answers
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            &keys().2
        } else {
            &keys().1
        };
        let signature = sign(key, &format!("{ts}\n{nonce}\n{body}\n"));
        (
            status,
            [
                ("Content-Type", "application/json".to_string()),
                ("Wechatpay-Timestamp", ts.to_string()),
                ("Wechatpay-Nonce", nonce),
                ("Wechatpay-Signature", signature),
                ("Wechatpay-Serial", PLATFORM_SERIAL.to_string()),
            ],
            body,
        )
            .into_response()
    }

    fn error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        self.answer(status, json!({ "code": code, "message": message }))
    }

    /// A signed request's JSON body, or the platform's refusal.
    fn signed_json(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Value, Box<Response>> {
        let text = String::from_utf8_lossy(body);
        self.authorized(method, uri, headers, &text)?;
        serde_json::from_str(&text)
            .map_err(|_| Box::new(self.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "not JSON")))
    }

    /// Checks a request's `Authorization` against the merchant's public key.
    fn authorized(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<(), Box<Response>> {
        let refuse = |m: &str| {
            Err(Box::new(self.error(
                StatusCode::UNAUTHORIZED,
                "SIGN_ERROR",
                m,
            )))
        };
        let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return refuse("no Authorization");
        };
        let Some(rest) = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else {
            return refuse("unknown scheme");
        };
        let f: HashMap<&str, &str> = rest
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim_matches('"')))
            .collect();
        let get = |k: &str| f.get(k).copied().unwrap_or("");
        if get("mchid") != MCHID || get("serial_no") != MERCHANT_SERIAL {
            return refuse("unknown merchant or certificate");
        }
        let ts: i64 = get("timestamp").parse().unwrap_or(0);
        if (now_s() - ts).abs() > 300 {
            return refuse("timestamp expired");
        }
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
        let message = format!("{method}\n{path}\n{ts}\n{}\n{body}\n", get("nonce_str"));
        let ok = B64
            .decode(get("signature"))
            .ok()
            .and_then(|raw| Signature::try_from(raw.as_slice()).ok())
            .is_some_and(|sig| {
                VerifyingKey::<Sha256>::new(keys().0.to_public_key())
                    .verify(message.as_bytes(), &sig)
                    .is_ok()
            });
        if !ok {
            return refuse("signature does not verify");
        }
        let mut books = self.books.lock().unwrap();
        books.requests += 1;
        if !books.nonces.insert(get("nonce_str").to_string()) {
            drop(books);
            return refuse("replayed nonce");
        }
        Ok(())
    }
}

async fn create(
    State(s): State<WechatPayServer>,
    Path(kind): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match s.signed_json(&method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(refused) => return *refused,
    };
    let no = v["out_trade_no"].as_str().unwrap_or("").to_string();
    let total = v["amount"]["total"].as_i64().unwrap_or(0);
    let openid = v["payer"]["openid"].as_str().map(str::to_string);
    let bad = v["appid"] != APPID
        || v["mchid"] != MCHID
        || no.is_empty()
        || total <= 0
        || v["amount"]["currency"] != "CNY"
        || !v["notify_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http"))
        || (kind == "jsapi" && openid.is_none())
        || (kind == "h5" && v["scene_info"]["payer_client_ip"].as_str().is_none())
        || !["jsapi", "h5", "native"].contains(&kind.as_str());
    if bad {
        return s.error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "missing or wrong parameters",
        );
    }
    let trade = {
        let mut books = s.books.lock().unwrap();
        let n = books.trades.len();
        let t = books.trades.entry(no.clone()).or_insert_with(|| Trade {
            kind: kind.clone(),
            prepay_id: format!("wx{:030}", n + 1),
            total,
            state: "NOTPAY".into(),
            transaction_id: None,
            notify_url: v["notify_url"].as_str().unwrap_or("").to_string(),
            openid: openid.clone(),
            refunded: 0,
        });
        t.clone()
    };
    if trade.state == "SUCCESS" || trade.state == "REFUND" {
        return s.error(StatusCode::BAD_REQUEST, "ORDERPAID", "the order is paid");
    }
    if trade.state == "CLOSED" {
        return s.error(
            StatusCode::BAD_REQUEST,
            "ORDERCLOSED",
            "the order is closed",
        );
    }
    if trade.total != total || trade.kind != kind {
        return s.error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "same out_trade_no, other parameters",
        );
    }
    let body = match kind.as_str() {
        "jsapi" => json!({ "prepay_id": trade.prepay_id }),
        "h5" => {
            json!({ "h5_url": format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={}", trade.prepay_id) })
        }
        _ => json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={}", trade.prepay_id) }),
    };
    s.answer(StatusCode::OK, body)
}

async fn query(
    State(s): State<WechatPayServer>,
    Path(no): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = s.authorized(&method, &uri, &headers, "") {
        return *refused;
    }
    if q.get("mchid").map(String::as_str) != Some(MCHID) {
        return s.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid");
    }
    let trade = s.trade(&no);
    match trade {
        Some(t) => s.answer(StatusCode::OK, trade_json(&no, &t)),
        None => s.error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "no such order"),
    }
}

async fn close(
    State(s): State<WechatPayServer>,
    Path(no): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match s.signed_json(&method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(refused) => return *refused,
    };
    if v["mchid"] != MCHID {
        return s.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid");
    }
    let mut books = s.books.lock().unwrap();
    match books.trades.get_mut(&no) {
        None => {
            drop(books);
            s.error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "no such order")
        }
        Some(t) if t.state == "SUCCESS" || t.state == "REFUND" => {
            drop(books);
            s.error(StatusCode::BAD_REQUEST, "ORDERPAID", "the order is paid")
        }
        Some(t) => {
            t.state = "CLOSED".into();
            drop(books);
            s.answer_raw(StatusCode::NO_CONTENT, String::new())
        }
    }
}

async fn refund(
    State(s): State<WechatPayServer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match s.signed_json(&method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(refused) => return *refused,
    };
    let no = v["out_trade_no"].as_str().unwrap_or("").to_string();
    let refund_no = v["out_refund_no"].as_str().unwrap_or("").to_string();
    let amount = v["amount"]["refund"].as_i64().unwrap_or(0);
    let (answer, notify) = {
        let mut books = s.books.lock().unwrap();
        if let Some(done) = books.refunds.get(&refund_no) {
            (Ok(done.clone()), None)
        } else {
            let refund_n = books.refunds.len() + 1;
            match books.trades.get_mut(&no) {
                None => (Err((StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS")), None),
                Some(t) if t.state != "SUCCESS" && t.state != "REFUND" => {
                    (Err((StatusCode::FORBIDDEN, "TRADE_NOT_PAID")), None)
                }
                Some(t)
                    if amount <= 0
                        || v["amount"]["total"] != t.total
                        || t.refunded + amount > t.total =>
                {
                    (Err((StatusCode::BAD_REQUEST, "INVALID_REQUEST")), None)
                }
                Some(t) => {
                    t.refunded += amount;
                    t.state = "REFUND".into();
                    let r = json!({
                        "refund_id": format!("50300{refund_n:010}"),
                        "out_refund_no": refund_no,
                        "out_trade_no": no,
                        "transaction_id": t.transaction_id,
                        "status": "SUCCESS",
                        "amount": { "refund": amount, "total": t.total, "currency": "CNY" },
                    });
                    let url = v["notify_url"]
                        .as_str()
                        .unwrap_or(&t.notify_url)
                        .to_string();
                    books.refunds.insert(refund_no.clone(), r.clone());
                    (Ok(r), Some(url))
                }
            }
        }
    };
    match answer {
        Err((status, code)) => s.error(status, code, "refund refused"),
        Ok(r) => {
            if let Some(url) = notify {
                let mut resource = r.clone();
                resource["refund_status"] = resource["status"].take();
                let body = notification("REFUND.SUCCESS", "refund", &resource);
                let server = s.clone();
                tokio::spawn(async move {
                    let _ = server.notify(&url, &body, now_s(), &keys().1).await;
                });
            }
            s.answer(StatusCode::OK, r)
        }
    }
}

/// The official account's JS-SDK ticket: the same for the server's lifetime (WeChat's lives
/// 7,200 s), so a test can check a `wx.config` signature.
pub const JSAPI_TICKET: &str = "sim-jsapi-ticket-5d41402abc4b2a76b9719d911017c592";
const ACCESS_TOKEN: &str = "sim-access-token-7215ee9c7d9dc229d2921a40e899ec5f";

/// `GET /cgi-bin/token?grant_type=client_credential&appid&secret`.
async fn cgi_token(
    State(s): State<WechatPayServer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credential"
        || get("appid") != APPID
        || get("secret") != APP_SECRET
    {
        return axum::Json(json!({ "errcode": 40125, "errmsg": "invalid appsecret" }))
            .into_response();
    }
    s.books.lock().unwrap().token_fetches += 1;
    axum::Json(json!({ "access_token": ACCESS_TOKEN, "expires_in": 7200 })).into_response()
}

/// `GET /cgi-bin/ticket/getticket?access_token&type=jsapi`.
async fn cgi_ticket(
    State(s): State<WechatPayServer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("access_token") != ACCESS_TOKEN || get("type") != "jsapi" {
        return axum::Json(json!({ "errcode": 40001, "errmsg": "invalid credential" }))
            .into_response();
    }
    s.books.lock().unwrap().ticket_fetches += 1;
    axum::Json(json!({ "errcode": 0, "errmsg": "ok", "ticket": JSAPI_TICKET, "expires_in": 7200 }))
        .into_response()
}

/// WeChat's authorisation page (`snsapi_base`: silent): straight back to `redirect_uri` with
/// a one-time code for a new openid (each visit is a new WeChat user here).
async fn authorize(
    State(s): State<WechatPayServer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("appid") != APPID || get("scope") != "snsapi_base" || get("response_type") != "code" {
        return (
            StatusCode::BAD_REQUEST,
            "wrong appid, scope or response_type",
        )
            .into_response();
    }
    let redirect = get("redirect_uri");
    if !redirect.starts_with("http") {
        return (StatusCode::BAD_REQUEST, "redirect_uri").into_response();
    }
    let code = s.issue_code(&format!("oSim{:024x}", rand_u128() >> 32));
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let state: String = get("state")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.~".contains(*c))
        .collect();
    let to = format!("{redirect}{sep}code={code}&state={state}");
    (StatusCode::FOUND, [("Location", to)]).into_response()
}

/// What the WeChat app does when a page calls `getBrandWCPayRequest` and the shopper
/// confirms (`bridge_pay`), for a page whose stand-in bridge posts the parameters here
/// (any origin: the page is the merchant's). Answers WeChat's `err_msg`.
async fn bridge(State(s): State<WechatPayServer>, body: Bytes) -> Response {
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let err_msg = match s.bridge_pay(&params).await {
        Ok(200 | 204) => "get_brand_wcpay_request:ok".to_string(),
        Ok(status) => format!("get_brand_wcpay_request:fail merchant answered {status}"),
        Err(e) => format!("get_brand_wcpay_request:fail {e}"),
    };
    (
        [("Access-Control-Allow-Origin", "*")],
        axum::Json(json!({ "err_msg": err_msg })),
    )
        .into_response()
}

/// `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`.
async fn access_token(
    State(s): State<WechatPayServer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let openid = (get("appid") == APPID
        && get("secret") == APP_SECRET
        && get("grant_type") == "authorization_code")
        .then(|| s.books.lock().unwrap().codes.remove(get("code")))
        .flatten();
    let body = match openid {
        Some(openid) => json!({
            "access_token": "ACCESS_TOKEN", "expires_in": 7200, "refresh_token": "REFRESH_TOKEN",
            "openid": openid, "scope": "snsapi_base",
        }),
        None => json!({ "errcode": 40029, "errmsg": "invalid code" }),
    };
    axum::Json(body).into_response()
}

pub fn trade_json(no: &str, t: &Trade) -> Value {
    json!({
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": no,
        "transaction_id": t.transaction_id,
        "trade_type": t.kind.to_uppercase(),
        "trade_state": t.state,
        "trade_state_desc": t.state,
        "payer": { "openid": t.openid },
        "amount": { "total": t.total, "payer_total": t.total, "currency": "CNY", "payer_currency": "CNY" },
    })
}

/// A notification body: `resource` encrypted with the APIv3 key.
pub fn notification(event: &str, original_type: &str, resource: &Value) -> String {
    let nonce = format!("{:012x}", rand_u128() & 0xffff_ffff_ffff);
    let aead = Aes256Gcm::new_from_slice(API_V3_KEY.as_bytes()).expect("key");
    let ciphertext = aead
        .encrypt(
            Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: resource.to_string().as_bytes(),
                aad: original_type.as_bytes(),
            },
        )
        .expect("encrypt");
    json!({
        "id": format!("EV-{:020}", rand_u128() % 100_000_000_000_000_000_000),
        "create_time": "2026-11-27T20:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event,
        "summary": "支付成功",
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": B64.encode(ciphertext),
            "associated_data": original_type,
            "nonce": nonce,
        }
    })
    .to_string()
}

pub fn sign(key: &RsaPrivateKey, message: &str) -> String {
    B64.encode(
        SigningKey::<Sha256>::new(key.clone())
            .sign(message.as_bytes())
            .to_bytes(),
    )
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rand_u128() -> u128 {
    use rsa::rand_core::RngCore;
    let mut b = [0u8; 16];
    rsa::rand_core::OsRng.fill_bytes(&mut b);
    u128::from_le_bytes(b)
}
