//! Verifying mobile numbers with one-time codes, and signing back in by number.
//!
//! A code is 6 random digits, kept only as an HMAC (keyed with the server's cookie key, bound
//! to the number), valid for 5 minutes and for 5 attempts; sending is rate-limited per number
//! and per client IP, trying per client IP. Verifying binds the number to the shopper; a number
//! that already belongs to another shopper signs this browser in as that shopper (a new phone,
//! cleared cookies), and what this browser did anonymously moves along.
//!
//! Delivery is a [`CodeSender`]: `log` (development: the server log, and the page shows the
//! code) or `webhook` (a signed POST to the deployment's SMS gateway).

use crate::error::{Error, Result};
use std::{future::Future, pin::Pin};

use crate::{
    crypto,
    domain::{phone::Phone, reminder::SendOutcome},
    error::AppError,
    identity,
    model::{CodeSent, PhoneVerified},
    now_ms,
    ratelimit::Action,
    repo::phones::{self, CodeCheck},
    request::Browser,
    AppState,
};

pub const CODE_TTL_MS: i64 = 5 * 60 * 1000;
pub const MAX_ATTEMPTS: i64 = 5;

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// How one-time codes reach people.
pub trait CodeSender: Send + Sync {
    /// `log` or `webhook`.
    fn name(&self) -> &'static str;
    /// Only the development sender lets the page show the code.
    fn shows_code(&self) -> bool {
        false
    }
    fn send<'a>(&'a self, phone: &'a Phone, code: &'a str, locale: &'a str) -> SendFuture<'a>;
    /// A reminder's text (`reminders`): `id` names the message, so a gateway that hears it
    /// twice (a node died after sending, before recording it) can drop the repeat.
    fn send_text<'a>(
        &'a self,
        phone: &'a Phone,
        id: &'a str,
        text: &'a str,
        locale: &'a str,
    ) -> TextFuture<'a>;
}

pub type TextFuture<'a> = Pin<Box<dyn Future<Output = SendOutcome> + Send + 'a>>;

/// Development: the code goes to the server log (and the page shows it).
pub struct LogSender;

impl CodeSender for LogSender {
    fn name(&self) -> &'static str {
        "log"
    }
    fn shows_code(&self) -> bool {
        true
    }
    fn send<'a>(&'a self, phone: &'a Phone, code: &'a str, _locale: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            tracing::info!(phone = %phone.masked(), code, "one-time code (log sender, development only)");
            Ok(())
        })
    }
    fn send_text<'a>(
        &'a self,
        phone: &'a Phone,
        id: &'a str,
        text: &'a str,
        _locale: &'a str,
    ) -> TextFuture<'a> {
        Box::pin(async move {
            tracing::info!(phone = %phone.masked(), id, text, "text message (log sender, development only)");
            SendOutcome::Sent
        })
    }
}

/// Production: POSTs `{"phone", "code", "locale"}` to the deployment's SMS gateway, signed
/// with HMAC-SHA256 over `"{timestamp}.{body}"`: headers `X-Live-Timestamp` (Unix seconds)
/// and `X-Live-Signature: sha256=<hex>`. The gateway checks the signature and the age.
pub struct WebhookSender {
    url: String,
    secret: Vec<u8>,
    client: reqwest::Client,
}

impl WebhookSender {
    pub fn new(url: String, secret: Vec<u8>) -> WebhookSender {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        WebhookSender {
            url,
            secret,
            client,
        }
    }

    /// The signature header value for a body sent at `timestamp` (also what tests check).
    pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
        format!(
            "sha256={}",
            crypto::hmac_sha256_hex(secret, &format!("{timestamp}.{body}"))
        )
    }
}

impl CodeSender for WebhookSender {
    fn name(&self) -> &'static str {
        "webhook"
    }
    fn send<'a>(&'a self, phone: &'a Phone, code: &'a str, locale: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let body =
                serde_json::json!({ "phone": phone.as_str(), "code": code, "locale": locale })
                    .to_string();
            let ts = now_ms() / 1000;
            let res = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-live-timestamp", ts.to_string())
                .header("x-live-signature", Self::signature(&self.secret, ts, &body))
                .body(body)
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(Error::fault(format!(
                    "the SMS webhook refused the code ({})",
                    r.status()
                ))),
                Err(e) => Err(Error::caused("the SMS webhook is unreachable", e)),
            }
        })
    }
    /// POSTs `{"kind": "text", "id", "phone", "text", "locale"}`, signed as the codes are.
    fn send_text<'a>(
        &'a self,
        phone: &'a Phone,
        id: &'a str,
        text: &'a str,
        locale: &'a str,
    ) -> TextFuture<'a> {
        Box::pin(async move {
            let body = serde_json::json!({
                "kind": "text", "id": id, "phone": phone.as_str(), "text": text, "locale": locale,
            })
            .to_string();
            let ts = now_ms() / 1000;
            let res = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-live-timestamp", ts.to_string())
                .header("x-live-signature", Self::signature(&self.secret, ts, &body))
                .body(body)
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => SendOutcome::Sent,
                // Rate-limited or failing on its side: later.
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    SendOutcome::Retry(format!("SMS gateway: {}", r.status()))
                }
                Ok(r) => SendOutcome::Failed(format!("SMS gateway refused it: {}", r.status())),
                Err(e) => SendOutcome::Retry(format!("SMS gateway unreachable: {e}")),
            }
        })
    }
}

fn parse_phone(raw: &str) -> Result<Phone> {
    Ok(Phone::parse(raw).map_err(|e| AppError::bad_request(e.to_string()))?)
}

fn code_message(phone: &Phone, code: &str) -> String {
    format!("otp:v1:{}:{code}", phone.as_str())
}

/// Six digits, uniformly random.
fn new_code() -> Result<String> {
    loop {
        let n = u32::from_le_bytes(crypto::random_bytes::<4>()?);
        // Reject the top sliver so every code is equally likely.
        if n < u32::MAX - (u32::MAX % 1_000_000) {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// Sends a new code to a number (replacing an earlier one).
pub async fn send_code(
    st: &AppState,
    browser: &Browser,
    raw_phone: &str,
    locale: &str,
) -> Result<CodeSent> {
    let phone = parse_phone(raw_phone)?;
    st.limits
        .check(Action::PhoneCodePerNumber, phone.as_str())
        .await?;
    st.limits
        .check(Action::PhoneCodePerIp, browser.ip())
        .await?;
    let code = new_code()?;
    let hash = crypto::sign(&st.cookie_key, &code_message(&phone, &code));
    let now = now_ms();
    phones::store_code(&st.db, &phone, &hash, now + CODE_TTL_MS, now).await?;
    let locale = match locale {
        "zh-CN" | "en" | "it" => locale,
        _ => "zh-CN",
    };
    st.code_sender.send(&phone, &code, locale).await?;
    Ok(CodeSent {
        masked: phone.masked(),
        expires_in_s: CODE_TTL_MS / 1000,
        dev_code: st.code_sender.shows_code().then_some(code),
    })
}

/// Checks a code; on success the number is this shopper's (or signs them in as its owner).
pub async fn verify_code(
    st: &AppState,
    browser: &Browser,
    shopper: &identity::Shopper,
    raw_phone: &str,
    raw_code: &str,
) -> Result<PhoneVerified> {
    let phone = parse_phone(raw_phone)?;
    let code = raw_code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::bad_request("The code is the 6 digits we sent you.").into());
    }
    st.limits.check(Action::PhoneVerify, browser.ip()).await?;
    let message = code_message(&phone, code);
    let outcome = phones::check_code(
        &st.db,
        &phone,
        |hash| crypto::verify(&st.cookie_key, &message, hash),
        MAX_ATTEMPTS,
        now_ms(),
    )
    .await?;
    match outcome {
        CodeCheck::Matched => {}
        CodeCheck::Wrong { attempts_left } => {
            return Err(AppError::bad_request(format!(
                "That code is not right ({attempts_left} tries left)."
            ))
            .into())
        }
        CodeCheck::Locked => {
            return Err(
                AppError::Conflict("Too many wrong codes. Ask for a new code.".into()).into(),
            )
        }
        CodeCheck::NoValidCode => {
            return Err(AppError::Conflict(
                "This code has expired or was already used. Ask for a new code.".into(),
            )
            .into())
        }
    }
    let owner = phones::bind(&st.db, &phone, shopper.id, now_ms()).await?;
    let signed_in = owner != shopper.id;
    // A verified number counts for whoever invited its owner: cached facts are forgotten.
    if let Some(sale) = &st.sale {
        sale.forget_all_facts();
    }
    let me = if signed_in {
        // Orders and counters move to `owner`: the sales load again from the database.
        if let Some(sale) = &st.sale {
            sale.reload_all().await;
        }
        phones::merge_shopper(&st.db, shopper.id, owner).await?;
        if let Some(sale) = &st.sale {
            sale.reload_all().await;
        }
        identity::sign_in_as(st, browser, owner).await?.me()
    } else {
        shopper.me()
    };
    Ok(PhoneVerified {
        me,
        masked: phone.masked(),
        signed_in,
    })
}
