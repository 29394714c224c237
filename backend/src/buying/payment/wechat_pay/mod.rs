//! WeChat Pay, API v3 (the merchant side of the protocol, as documented at
//! pay.weixin.qq.com/doc/v3/merchant).
//!
//! - Every request is signed with the merchant's RSA key: `Authorization:
//!   WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,signature=..,timestamp=..,serial_no=..`,
//!   the signature RSA-SHA256 (PKCS#1 v1.5) over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`.
//! - Every answer and every payment notification is signed by the platform: headers
//!   `Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial`, the signature over
//!   `TIMESTAMP\nNONCE\nBODY\n`, checked against the platform's public key (the "WeChat Pay public
//!   key", or the key of a platform certificate). An answer or notification whose signature,
//!   serial or age (more than 5 minutes off) does not check out is refused.
//! - A notification's `resource` is AES-256-GCM encrypted with the merchant's APIv3 key.
//! - JSAPI (inside WeChat): the page passes `appId, timeStamp, nonceStr, package, signType,
//!   paySign` to `WeixinJSBridge.invoke('getBrandWCPayRequest', ...)`; `paySign` is the merchant
//!   key's signature over `APPID\nTIMESTAMP\nNONCE\nprepay_id=...\n`.
//!
//! Only maintained crates do the cryptography (`rsa`, `sha2`, `aes-gcm`, `x509-cert`).

mod api;

use api::*;

use aes_gcm::{
    aead::{Aead, Payload},
    Aes256Gcm, KeyInit, Nonce,
};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use rsa::{
    pkcs1v15::{Signature, SigningKey, VerifyingKey},
    pkcs8::{DecodePrivateKey, DecodePublicKey},
    signature::{SignatureEncoding, Signer, Verifier},
    RsaPrivateKey, RsaPublicKey,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{
    buying::payment::{PaymentFuture, PaymentOutcome, PaymentProvider},
    crypto,
};

/// How far a signed answer's or notification's timestamp may be from our clock.
pub const MAX_SKEW_S: i64 = 300;

/// The merchant's settings (README: "WeChat Pay").
#[derive(Clone, PartialEq)]
pub struct WechatPayConfig {
    /// 商户号
    pub mchid: String,
    /// The app id (公众号 / 服务号) the shoppers' openids belong to.
    pub appid: String,
    /// Serial number of the merchant's API certificate.
    pub serial_no: String,
    /// The merchant's API private key (`apiclient_key.pem`, PKCS#8 PEM).
    pub private_key_pem: String,
    /// The platform's public key (`-----BEGIN PUBLIC KEY-----`) or a platform certificate
    /// (`-----BEGIN CERTIFICATE-----`).
    pub platform_key_pem: String,
    /// What the platform sends as `Wechatpay-Serial`: the public key's id (`PUB_KEY_ID_...`)
    /// or the certificate's serial.
    pub platform_serial: String,
    /// The APIv3 key: 32 characters.
    pub api_v3_key: String,
    /// Where the platform posts payment and refund notifications.
    pub notify_url: String,
    /// `https://api.mch.weixin.qq.com`, or a test server.
    pub base_url: String,
}

impl std::fmt::Debug for WechatPayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayConfig")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("serial_no", &self.serial_no)
            .field("platform_serial", &self.platform_serial)
            .field("notify_url", &self.notify_url)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WxError {
    #[error("WeChat Pay settings: {0}")]
    Config(String),
    #[error("WeChat Pay could not be reached: {0}")]
    Unreachable(String),
    #[error("WeChat Pay answered {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("signature missing or wrong")]
    BadSignature,
    #[error("signed by another key (serial {0})")]
    UnknownSerial(String),
    #[error("timestamp too far from now (replayed or stale)")]
    Stale,
    #[error("undecodable: {0}")]
    Undecodable(String),
}

/// Where the shopper pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// Inside WeChat: the shopper's openid from WeChat's web authorisation (`snsapi_base`).
    Jsapi { openid: String },
    /// Another mobile browser: WeChat opens from the returned URL.
    H5 { client_ip: String },
    /// Desktop: a QR code the shopper scans with WeChat.
    Native,
}

/// What the page needs to let the shopper pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prepay {
    Jsapi { params: JsapiParams },
    H5 { h5_url: String },
    Native { code_url: String },
}

/// The argument of `WeixinJSBridge.invoke('getBrandWCPayRequest', ...)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiParams {
    pub app_id: String,
    pub time_stamp: String,
    pub nonce_str: String,
    pub package: String,
    pub sign_type: String,
    pub pay_sign: String,
}

/// A payment as the platform reports it (query, or a `TRANSACTION.*` notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub out_trade_no: String,
    pub transaction_id: Option<String>,
    /// SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING, PAYERROR.
    pub trade_state: String,
    /// What the order was created for, in fen.
    pub total: i64,
}

impl Transaction {
    /// What this state means for our order.
    pub fn outcome(&self) -> PaymentOutcome {
        match self.trade_state.as_str() {
            // REFUND: it was paid (a refund came later).
            "SUCCESS" | "REFUND" => PaymentOutcome::Confirmed {
                reference: self.transaction_id.clone().unwrap_or_default(),
            },
            "CLOSED" | "REVOKED" | "PAYERROR" => PaymentOutcome::Declined {
                reason: format!("WeChat Pay: {}", self.trade_state),
            },
            _ => PaymentOutcome::Pending,
        }
    }
}

/// A refund as the platform reports it (the answer to a refund, or a `REFUND.*` notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub refund_id: Option<String>,
    /// SUCCESS, PROCESSING, CLOSED, ABNORMAL.
    pub status: String,
    pub refund: i64,
}

impl Refund {
    /// What this refund's status means for our order.
    pub fn outcome(&self) -> crate::buying::payment::RefundOutcome {
        use crate::buying::payment::RefundOutcome;
        match self.status.as_str() {
            "SUCCESS" => RefundOutcome::Succeeded {
                reference: self.refund_id.clone().unwrap_or_default(),
            },
            "CLOSED" | "ABNORMAL" => RefundOutcome::Refused {
                reason: format!("WeChat Pay: refund {}", self.status),
            },
            _ => RefundOutcome::Pending,
        }
    }
}

/// A verified, decrypted notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Transaction { id: String, tx: Transaction },
    Refund { id: String, refund: Refund },
}

/// The signature headers of an answer or a notification.
#[derive(Debug, Clone, Default)]
pub struct Signed<'a> {
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub signature: &'a str,
    pub serial: &'a str,
}

impl<'a> Signed<'a> {
    /// Reads the `Wechatpay-*` headers (absent ones are empty and fail the check).
    pub fn from_headers(h: &'a axum::http::HeaderMap) -> Signed<'a> {
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        Signed {
            timestamp: get("wechatpay-timestamp"),
            nonce: get("wechatpay-nonce"),
            signature: get("wechatpay-signature"),
            serial: get("wechatpay-serial"),
        }
    }
}

pub struct WechatPay {
    cfg: WechatPayConfig,
    signer: SigningKey<Sha256>,
    platform: VerifyingKey<Sha256>,
    aead: Aes256Gcm,
    client: reqwest::Client,
}

/// Reads an RSA public key from a `PUBLIC KEY` PEM or from an X.509 certificate's PEM.
pub fn public_key_from_pem(pem: &str) -> Result<RsaPublicKey, WxError> {
    if pem.contains("BEGIN CERTIFICATE") {
        use x509_cert::der::{DecodePem, Encode};
        let cert = x509_cert::Certificate::from_pem(pem.trim())
            .map_err(|e| WxError::Config(format!("platform certificate: {e}")))?;
        let der = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| WxError::Config(format!("platform certificate: {e}")))?;
        RsaPublicKey::from_public_key_der(&der)
            .map_err(|e| WxError::Config(format!("platform certificate key: {e}")))
    } else {
        RsaPublicKey::from_public_key_pem(pem.trim())
            .map_err(|e| WxError::Config(format!("platform public key: {e}")))
    }
}

impl WechatPay {
    pub fn new(cfg: WechatPayConfig) -> Result<WechatPay, WxError> {
        let key = RsaPrivateKey::from_pkcs8_pem(cfg.private_key_pem.trim())
            .map_err(|e| WxError::Config(format!("merchant private key: {e}")))?;
        let platform = public_key_from_pem(&cfg.platform_key_pem)?;
        if cfg.api_v3_key.len() != 32 {
            return Err(WxError::Config("the APIv3 key has 32 characters".into()));
        }
        let aead = Aes256Gcm::new_from_slice(cfg.api_v3_key.as_bytes())
            .map_err(|_| WxError::Config("the APIv3 key has 32 characters".into()))?;
        for (name, v) in [
            ("merchant id", &cfg.mchid),
            ("app id", &cfg.appid),
            ("certificate serial", &cfg.serial_no),
            ("platform serial", &cfg.platform_serial),
            ("notify URL", &cfg.notify_url),
            ("API base URL", &cfg.base_url),
        ] {
            if v.trim().is_empty() {
                return Err(WxError::Config(format!("the {name} is missing")));
            }
        }
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| WxError::Config(e.to_string()))?;
        Ok(WechatPay {
            signer: SigningKey::<Sha256>::new(key),
            platform: VerifyingKey::<Sha256>::new(platform),
            aead,
            client,
            cfg,
        })
    }

    /// Base64 of the merchant key's RSA-SHA256 signature of `message`.
    fn sign(&self, message: &str) -> String {
        B64.encode(self.signer.sign(message.as_bytes()).to_bytes())
    }

    /// The `Authorization` header of a request.
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        body: &str,
        ts: i64,
        nonce: &str,
    ) -> String {
        let signature = self.sign(&format!("{method}\n{path}\n{ts}\n{nonce}\n{body}\n"));
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{ts}\",serial_no=\"{}\"",
            self.cfg.mchid, self.cfg.serial_no
        )
    }

    /// Checks the platform's signature of `body` (an answer or a notification).
    pub fn verify(&self, s: &Signed<'_>, body: &[u8], now_s: i64) -> Result<(), WxError> {
        if s.serial != self.cfg.platform_serial {
            return Err(WxError::UnknownSerial(s.serial.chars().take(64).collect()));
        }
        let ts: i64 = s.timestamp.parse().map_err(|_| WxError::BadSignature)?;
        // abs_diff: a timestamp near i64's ends cannot overflow the check.
        if now_s.abs_diff(ts) > MAX_SKEW_S.unsigned_abs() {
            return Err(WxError::Stale);
        }
        let raw = B64.decode(s.signature).map_err(|_| WxError::BadSignature)?;
        let sig = Signature::try_from(raw.as_slice()).map_err(|_| WxError::BadSignature)?;
        let mut message = Vec::with_capacity(body.len() + 64);
        message.extend_from_slice(format!("{}\n{}\n", s.timestamp, s.nonce).as_bytes());
        message.extend_from_slice(body);
        message.push(b'\n');
        self.platform
            .verify(&message, &sig)
            .map_err(|_| WxError::BadSignature)
    }

    /// Decrypts a notification's `resource` (AEAD_AES_256_GCM with the APIv3 key).
    pub fn decrypt(&self, resource: &Value) -> Result<Vec<u8>, WxError> {
        let field = |k: &str| resource.get(k).and_then(Value::as_str).unwrap_or("");
        if field("algorithm") != "AEAD_AES_256_GCM" {
            return Err(WxError::Undecodable("unknown algorithm".into()));
        }
        let nonce = field("nonce").as_bytes();
        if nonce.len() != 12 {
            return Err(WxError::Undecodable("nonce is not 12 bytes".into()));
        }
        let ciphertext = B64
            .decode(field("ciphertext"))
            .map_err(|_| WxError::Undecodable("ciphertext is not base64".into()))?;
        self.aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: &ciphertext,
                    aad: field("associated_data").as_bytes(),
                },
            )
            .map_err(|_| WxError::BadSignature)
    }

    /// Verifies and decrypts a notification the platform posted to `notify_url`.
    pub fn notification(&self, s: &Signed<'_>, body: &[u8], now_s: i64) -> Result<Notice, WxError> {
        self.verify(s, body, now_s)?;
        let v: Value =
            serde_json::from_slice(body).map_err(|e| WxError::Undecodable(e.to_string()))?;
        let id = v["id"].as_str().unwrap_or_default().to_string();
        let plain = self.decrypt(&v["resource"])?;
        let r: Value =
            serde_json::from_slice(&plain).map_err(|e| WxError::Undecodable(e.to_string()))?;
        let event = v["event_type"].as_str().unwrap_or_default();
        if event.starts_with("REFUND.") {
            Ok(Notice::Refund {
                id,
                refund: refund_from(&r)?,
            })
        } else if event.starts_with("TRANSACTION.") {
            Ok(Notice::Transaction {
                id,
                tx: transaction_from(&r)?,
            })
        } else {
            Err(WxError::Undecodable(format!("event type {event}")))
        }
    }

    /// The JSAPI page's payment parameters for a prepay id.
    pub fn jsapi_params(&self, prepay_id: &str, ts: i64, nonce: &str) -> JsapiParams {
        let package = format!("prepay_id={prepay_id}");
        let pay_sign = self.sign(&format!("{}\n{ts}\n{nonce}\n{package}\n", self.cfg.appid));
        JsapiParams {
            app_id: self.cfg.appid.clone(),
            time_stamp: ts.to_string(),
            nonce_str: nonce.to_string(),
            package,
            sign_type: "RSA".into(),
            pay_sign,
        }
    }
}

/// WeChat Pay as the order path's provider. A charge creates the platform's order on the
/// shopper's channel (JSAPI inside WeChat with their openid, H5 in another phone browser, a
/// QR code otherwise) and waits for the shopper: the platform's notification, or a query,
/// says when it is paid.
impl PaymentProvider for WechatPay {
    fn name(&self) -> &'static str {
        "wechat"
    }
    fn label(&self) -> &'static str {
        "WeChat Pay"
    }
    fn charge<'a>(
        &'a self,
        charge: &'a crate::buying::payment::Charge,
    ) -> PaymentFuture<'a, PaymentOutcome> {
        Box::pin(async move {
            let merchant_ref = charge.merchant_ref();
            let channel = channel_for(&charge.payer);
            match self
                .create(
                    &channel,
                    &merchant_ref,
                    &charge.description,
                    charge.amount.0,
                )
                .await
            {
                Ok(prepay) => PaymentOutcome::Awaiting(prepay.into()),
                // Already paid (a retry after the shopper paid): the query says so.
                Err(WxError::Refused { code, .. }) if code == "ORDERPAID" => {
                    match self.query(&merchant_ref).await {
                        Ok(Some(tx)) => tx.outcome(),
                        _ => PaymentOutcome::Pending,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, merchant_ref, "WeChat Pay: could not create the order");
                    PaymentOutcome::Pending
                }
            }
        })
    }
    fn query<'a>(&'a self, merchant_ref: &'a str) -> PaymentFuture<'a, Option<PaymentOutcome>> {
        Box::pin(async move {
            match WechatPay::query(self, merchant_ref).await {
                Ok(found) => found.map(|tx| tx.outcome()),
                Err(e) => {
                    tracing::warn!(error = %e, merchant_ref, "WeChat Pay: query failed");
                    Some(PaymentOutcome::Pending)
                }
            }
        })
    }
    fn refund<'a>(
        &'a self,
        r: &'a crate::buying::payment::RefundRequest,
    ) -> PaymentFuture<'a, crate::buying::payment::RefundOutcome> {
        use crate::buying::payment::RefundOutcome;
        Box::pin(async move {
            match WechatPay::refund(
                self,
                &r.merchant_ref,
                &r.out_refund_no,
                r.amount.0,
                r.total.0,
                &r.reason,
            )
            .await
            {
                Ok(refund) => refund.outcome(),
                Err(WxError::Refused { code, message, .. }) => RefundOutcome::Refused {
                    reason: format!("{code}: {message}"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, refund = %r.out_refund_no, "WeChat Pay: refund not confirmed");
                    RefundOutcome::Pending
                }
            }
        })
    }
    fn cancel<'a>(&'a self, merchant_ref: &'a str) -> PaymentFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.close(merchant_ref).await {
                tracing::warn!(error = %e, merchant_ref, "WeChat Pay: could not close the order");
            }
        })
    }
}

/// JSAPI inside WeChat once we know the shopper's openid; H5 in other phone browsers (WeChat
/// refuses H5 inside itself); a QR code elsewhere (inside WeChat it can be long-pressed).
pub fn channel_for(payer: &crate::buying::payment::Payer) -> Channel {
    match (&payer.wechat_openid, payer.in_wechat, payer.mobile) {
        (Some(openid), true, _) => Channel::Jsapi {
            openid: openid.clone(),
        },
        (_, false, true) => Channel::H5 {
            client_ip: payer.client_ip.clone(),
        },
        _ => Channel::Native,
    }
}

impl From<Prepay> for crate::model::PayAction {
    fn from(p: Prepay) -> Self {
        use crate::model::PayAction;
        match p {
            Prepay::Jsapi { params } => PayAction::WechatJsapi {
                params: serde_json::to_value(params).unwrap_or_default(),
            },
            Prepay::H5 { h5_url } => PayAction::Redirect { url: h5_url },
            Prepay::Native { code_url } => PayAction::QrCode { code_url },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::{pkcs8::EncodePrivateKey, pkcs8::EncodePublicKey, pkcs8::LineEnding};
    use std::sync::OnceLock;

    /// (merchant key, platform key): generated once per test run.
    fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
        static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = rsa::rand_core::OsRng;
            (
                RsaPrivateKey::new(&mut rng, 2048).expect("merchant key"),
                RsaPrivateKey::new(&mut rng, 2048).expect("platform key"),
            )
        })
    }

    const V3_KEY: &str = "0123456789abcdefghijklmnopqrstuv";

    fn pay() -> WechatPay {
        let (merchant, platform) = keys();
        WechatPay::new(WechatPayConfig {
            mchid: "1900000109".into(),
            appid: "wx8888888888888888".into(),
            serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
            private_key_pem: merchant.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
            platform_key_pem: platform
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
            platform_serial: "PUB_KEY_ID_0114232134912410000000000000".into(),
            api_v3_key: V3_KEY.into(),
            notify_url: "https://shop.example.com/api/payments/wechat/notify".into(),
            base_url: "http://127.0.0.1:9".into(),
        })
        .expect("config")
    }

    fn platform_sign(message: &[u8]) -> String {
        let key = SigningKey::<Sha256>::new(keys().1.clone());
        B64.encode(key.sign(message).to_bytes())
    }

    fn signed_by_platform(body: &str, ts: i64) -> (String, String) {
        let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_string();
        (
            nonce.clone(),
            platform_sign(format!("{ts}\n{nonce}\n{body}\n").as_bytes()),
        )
    }

    fn check(
        p: &WechatPay,
        body: &str,
        ts: i64,
        sig: &str,
        nonce: &str,
        serial: &str,
        now: i64,
    ) -> Result<(), WxError> {
        let s = Signed {
            timestamp: &ts.to_string(),
            nonce,
            signature: sig,
            serial,
        };
        p.verify(&s, body.as_bytes(), now)
    }

    #[test]
    fn requests_carry_the_merchant_signature_in_the_documented_form() {
        let p = pay();
        let body = r#"{"appid":"wx8888888888888888"}"#;
        let auth = p.authorization(
            "POST",
            "/v3/pay/transactions/native",
            body,
            1_554_208_460,
            "593BEC0C930BF1AFEB40B4A08C8FB242",
        );
        let rest = auth
            .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
            .expect("scheme");
        let fields: std::collections::HashMap<&str, &str> = rest
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, v.trim_matches('"')))
            .collect();
        assert_eq!(fields["mchid"], "1900000109");
        assert_eq!(
            fields["serial_no"],
            "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
        );
        assert_eq!(fields["timestamp"], "1554208460");
        let sig = Signature::try_from(B64.decode(fields["signature"]).unwrap().as_slice()).unwrap();
        let merchant = VerifyingKey::<Sha256>::new(keys().0.to_public_key());
        let message = format!("POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{body}\n");
        merchant
            .verify(message.as_bytes(), &sig)
            .expect("the merchant key signed exactly the documented message");
        assert!(merchant
            .verify(message.replace("native", "jsapi").as_bytes(), &sig)
            .is_err());
    }

    #[test]
    fn answers_are_accepted_only_with_the_platform_signature_serial_and_a_fresh_timestamp() {
        let p = pay();
        let serial = "PUB_KEY_ID_0114232134912410000000000000";
        let body = r#"{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}"#;
        let now = 1_700_000_000;
        let (nonce, sig) = signed_by_platform(body, now);
        assert_eq!(check(&p, body, now, &sig, &nonce, serial, now + 10), Ok(()));
        // Tampered body, other nonce, another key's signature, garbage: refused, no panic.
        let tampered = body.replace("p4lp", "evil");
        assert_eq!(
            check(&p, &tampered, now, &sig, &nonce, serial, now),
            Err(WxError::BadSignature)
        );
        assert_eq!(
            check(&p, body, now, &sig, "other", serial, now),
            Err(WxError::BadSignature)
        );
        let forged = {
            let key = SigningKey::<Sha256>::new(keys().0.clone());
            B64.encode(
                key.sign(format!("{now}\n{nonce}\n{body}\n").as_bytes())
                    .to_bytes(),
            )
        };
        assert_eq!(
            check(&p, body, now, &forged, &nonce, serial, now),
            Err(WxError::BadSignature)
        );
        for junk in ["", "not base64!", "AAAA"] {
            assert_eq!(
                check(&p, body, now, junk, &nonce, serial, now),
                Err(WxError::BadSignature)
            );
        }
        assert!(matches!(
            check(&p, body, now, &sig, &nonce, "OTHER", now),
            Err(WxError::UnknownSerial(_))
        ));
        // Replayed or stale: more than 5 minutes off either way.
        assert_eq!(
            check(&p, body, now, &sig, &nonce, serial, now + MAX_SKEW_S + 1),
            Err(WxError::Stale)
        );
        assert_eq!(
            check(&p, body, now, &sig, &nonce, serial, now - MAX_SKEW_S - 1),
            Err(WxError::Stale)
        );
        let bad_ts = Signed {
            timestamp: "soon",
            nonce: &nonce,
            signature: &sig,
            serial,
        };
        assert_eq!(
            p.verify(&bad_ts, body.as_bytes(), now),
            Err(WxError::BadSignature)
        );
    }

    fn encrypt(plain: &str, nonce: &str, aad: &str) -> String {
        let aead = Aes256Gcm::new_from_slice(V3_KEY.as_bytes()).unwrap();
        let ct = aead
            .encrypt(
                Nonce::from_slice(nonce.as_bytes()),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap();
        B64.encode(ct)
    }

    fn notification_body(event: &str, plain: &str) -> String {
        json!({
            "id": "EV-2018022511223320873",
            "create_time": "2015-05-20T13:29:35+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event,
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": encrypt(plain, "fdasflkja484", "transaction"),
                "associated_data": "transaction",
                "nonce": "fdasflkja484",
            }
        })
        .to_string()
    }

    #[test]
    fn notifications_are_verified_then_decrypted_with_the_apiv3_key() {
        let p = pay();
        let serial = "PUB_KEY_ID_0114232134912410000000000000";
        let plain = r#"{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"order-42","transaction_id":"4200000000202311270000000001","trade_state":"SUCCESS","amount":{"total":12950,"payer_total":12950,"currency":"CNY"}}"#;
        let body = notification_body("TRANSACTION.SUCCESS", plain);
        let now = 1_700_000_000;
        let (nonce, sig) = signed_by_platform(&body, now);
        let s = Signed {
            timestamp: &now.to_string(),
            nonce: &nonce,
            signature: &sig,
            serial,
        };
        let notice = p.notification(&s, body.as_bytes(), now).expect("valid");
        let Notice::Transaction { id, tx } = notice else {
            panic!("a transaction")
        };
        assert_eq!(id, "EV-2018022511223320873");
        assert_eq!(tx.out_trade_no, "order-42");
        assert_eq!(tx.total, 12_950);
        assert_eq!(
            tx.outcome(),
            PaymentOutcome::Confirmed {
                reference: "4200000000202311270000000001".into()
            }
        );

        // Signed but encrypted with another key: refused.
        let mut other: Value = serde_json::from_str(&body).unwrap();
        let aead = Aes256Gcm::new_from_slice(b"vutsrqponmlkjihgfedcba9876543210").unwrap();
        other["resource"]["ciphertext"] = json!(B64.encode(
            aead.encrypt(
                Nonce::from_slice(b"fdasflkja484"),
                Payload {
                    msg: plain.as_bytes(),
                    aad: b"transaction"
                }
            )
            .unwrap()
        ));
        let other = other.to_string();
        let (nonce, sig) = signed_by_platform(&other, now);
        let s = Signed {
            timestamp: &now.to_string(),
            nonce: &nonce,
            signature: &sig,
            serial,
        };
        assert_eq!(
            p.notification(&s, other.as_bytes(), now),
            Err(WxError::BadSignature)
        );

        // A nonce of the wrong length, an unknown algorithm, not JSON: an error, never a panic.
        for (path, value) in [
            ("nonce", json!("short")),
            ("algorithm", json!("AEAD_AES_128_GCM")),
            ("ciphertext", json!("%%%")),
        ] {
            let mut v: Value = serde_json::from_str(&body).unwrap();
            v["resource"][path] = value;
            let b = v.to_string();
            let (nonce, sig) = signed_by_platform(&b, now);
            let s = Signed {
                timestamp: &now.to_string(),
                nonce: &nonce,
                signature: &sig,
                serial,
            };
            assert!(p.notification(&s, b.as_bytes(), now).is_err(), "{path}");
        }
        let (nonce, sig) = signed_by_platform("not json", now);
        let s = Signed {
            timestamp: &now.to_string(),
            nonce: &nonce,
            signature: &sig,
            serial,
        };
        assert!(matches!(
            p.notification(&s, b"not json", now),
            Err(WxError::Undecodable(_))
        ));
    }

    #[test]
    fn refund_notifications_are_read_too() {
        let p = pay();
        let plain = r#"{"mchid":"1900000109","out_trade_no":"order-42","transaction_id":"42000","out_refund_no":"refund-42-1","refund_id":"50000","refund_status":"SUCCESS","amount":{"total":12950,"refund":12950,"payer_total":12950,"payer_refund":12950}}"#;
        let body = notification_body("REFUND.SUCCESS", plain);
        let now = 1_700_000_000;
        let (nonce, sig) = signed_by_platform(&body, now);
        let s = Signed {
            timestamp: &now.to_string(),
            nonce: &nonce,
            signature: &sig,
            serial: "PUB_KEY_ID_0114232134912410000000000000",
        };
        let Notice::Refund { refund, .. } = p.notification(&s, body.as_bytes(), now).unwrap()
        else {
            panic!("a refund")
        };
        assert_eq!(
            (
                refund.out_refund_no.as_str(),
                refund.status.as_str(),
                refund.refund
            ),
            ("refund-42-1", "SUCCESS", 12_950)
        );
    }

    #[test]
    fn the_jsapi_pay_sign_is_the_merchant_signature_of_the_four_documented_lines() {
        let p = pay();
        let params = p.jsapi_params(
            "wx201410272009395522657a690389285100",
            1_414_561_699,
            "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        );
        assert_eq!(
            params.package,
            "prepay_id=wx201410272009395522657a690389285100"
        );
        assert_eq!(params.sign_type, "RSA");
        let v = serde_json::to_value(&params).unwrap();
        for k in [
            "appId",
            "timeStamp",
            "nonceStr",
            "package",
            "signType",
            "paySign",
        ] {
            assert!(v[k].is_string(), "{k} in {v}");
        }
        let sig = Signature::try_from(B64.decode(&params.pay_sign).unwrap().as_slice()).unwrap();
        let message = "wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n";
        VerifyingKey::<Sha256>::new(keys().0.to_public_key())
            .verify(message.as_bytes(), &sig)
            .expect("paySign");
    }

    /// A platform certificate (self-signed here) and the public key it carries.
    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIDSTCCAjGgAwIBAgIUP4tV6neLd0k52Nge8+DIzaiiJhkwDQYJKoZIhvcNAQEL\nBQAwNDEhMB8GA1UEAwwYV2VDaGF0IFBheSBQbGF0Zm9ybSBUZXN0MQ8wDQYDVQQK\nDAZUZW5wYXkwHhcNMjYxMTI3MjIzMzA5WhcNMzYxMTI0MjIzMzA5WjA0MSEwHwYD\nVQQDDBhXZUNoYXQgUGF5IFBsYXRmb3JtIFRlc3QxDzANBgNVBAoMBlRlbnBheTCC\nASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAKA0XaE6tr7AQBGnLkHbFv3h\n4mrr4bk9wBdW6D+AYWRjLoYfCbd8ZMIi8u8HgST2edDgDz0OBp31cb+WT9U6Ht86\nmnVkMro8EmGx3KZD9rf29lSsmHSPysjRWdMRE7+lowNk5T//peyFcq+OB10dqdxs\nubdRpSwh0elBOc4wu/ziEkQFxEurMo7cucNe3W9F89cRISJARhvTjowR5w5ex6Xt\n7fGJrWM5Z38zdlmlbNIxHkdpufWfJyt0irffTD5PrFaLoMIaFofOoAxjcg3+2DEr\nsaAvZE4788ol2RmZzy1GD88hwtFu1mabchjFs4IfXKXTdCurbfjVcEpbFbrIZv8C\nAwEAAaNTMFEwHQYDVR0OBBYEFGWEdNh20ECYvTkvaC2DJpsGg5JVMB8GA1UdIwQY\nMBaAFGWEdNh20ECYvTkvaC2DJpsGg5JVMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZI\nhvcNAQELBQADggEBAAJVxLF31IuUURqWTZwlI70gZK004byFV4bv2z/a2Tox+48l\nKizWPuUasznv8ckjVzwzYeHvxd0HLppx/qt7G9DbQ6Y67H8jNX8/82nCVMiKf9SR\nq91GjnizukoTIqXGme18ZrVi5xhAjuFru+eKqfK9gJe9T/E3RlLwgQty1cXWkpEr\nOZ75QE32F3NEzEmNz2JhQMJhgdTyjtHKEEpvKZwptIWngD4buzSRpMeCV0c6RNd4\n/APDwhwDHpclt6H028Klvb3yEuCRdyDjmNfKDcVpRsQqzvX+JpOFYFY75hL5Nq2Z\nXKiLu4HzLtwMgbV2JjOWBkze2Nu5VrZOUxTXA4I=\n-----END CERTIFICATE-----";
    const CERT_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoDRdoTq2vsBAEacuQdsW\n/eHiauvhuT3AF1boP4BhZGMuhh8Jt3xkwiLy7weBJPZ50OAPPQ4GnfVxv5ZP1Toe\n3zqadWQyujwSYbHcpkP2t/b2VKyYdI/KyNFZ0xETv6WjA2TlP/+l7IVyr44HXR2p\n3Gy5t1GlLCHR6UE5zjC7/OISRAXES6syjty5w17db0Xz1xEhIkBGG9OOjBHnDl7H\npe3t8YmtYzlnfzN2WaVs0jEeR2m59Z8nK3SKt99MPk+sVougwhoWh86gDGNyDf7Y\nMSuxoC9kTjvzyiXZGZnPLUYPzyHC0W7WZptyGMWzgh9cpdN0K6tt+NVwSlsVushm\n/wIDAQAB\n-----END PUBLIC KEY-----";

    #[test]
    fn the_platform_key_may_come_as_a_certificate() {
        let from_cert = public_key_from_pem(CERT).expect("certificate");
        let plain = public_key_from_pem(CERT_KEY).expect("public key");
        assert_eq!(from_cert, plain);
        assert!(public_key_from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
        )
        .is_err());
        assert!(public_key_from_pem("nonsense").is_err());
    }

    #[test]
    fn settings_are_checked_at_start() {
        let mut cfg = pay().cfg.clone();
        cfg.api_v3_key = "short".into();
        assert!(matches!(
            WechatPay::new(cfg.clone()),
            Err(WxError::Config(_))
        ));
        cfg.api_v3_key = V3_KEY.into();
        cfg.mchid = " ".into();
        assert!(matches!(
            WechatPay::new(cfg.clone()),
            Err(WxError::Config(_))
        ));
        cfg.mchid = "1900000109".into();
        cfg.private_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----".into();
        assert!(matches!(WechatPay::new(cfg), Err(WxError::Config(_))));
    }

    #[test]
    fn states_map_to_outcomes() {
        let tx = |s: &str| Transaction {
            out_trade_no: "order-1".into(),
            transaction_id: Some("t".into()),
            trade_state: s.into(),
            total: 1,
        };
        assert!(matches!(
            tx("SUCCESS").outcome(),
            PaymentOutcome::Confirmed { .. }
        ));
        assert!(matches!(
            tx("REFUND").outcome(),
            PaymentOutcome::Confirmed { .. }
        ));
        for s in ["NOTPAY", "USERPAYING", ""] {
            assert_eq!(tx(s).outcome(), PaymentOutcome::Pending, "{s}");
        }
        for s in ["CLOSED", "REVOKED", "PAYERROR"] {
            assert!(
                matches!(tx(s).outcome(), PaymentOutcome::Declined { .. }),
                "{s}"
            );
        }
        assert_eq!(
            crate::domain::text::percent_encode("order-1/../x?y"),
            "order-1%2F..%2Fx%3Fy"
        );
    }
}
