//! The WeChat JS-SDK's `wx.config` signature (JS-SDK documentation, appendix 1): the server
//! holds the official account's `jsapi_ticket` and signs the page's URL with it, so a page
//! inside WeChat may share its invite as a card (`updateAppMessageShareData`,
//! `updateTimelineShareData`) and fill a delivery address from WeChat (`openAddress`).
//!
//! The ticket comes from WeChat's API with an `access_token` (both live 7,200 s): fetched
//! when first needed, refreshed five minutes early, one refresh at a time; with several nodes
//! it is kept in Redis so every node signs with the same ticket and one node refreshes it
//! (a lock). A deployment whose tickets another service refreshes sets a fixed ticket.

use crate::error::{Error, OptionExt, Result};
use std::{sync::Arc, time::Duration};

use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::{
    domain::text::percent_encode, error::AppError, live::backplane::RedisBackplane,
    model::JsSdkSignature,
};

/// Refresh this long before WeChat's expiry.
const EARLY: Duration = Duration::from_secs(300);
const TICKET_KEY: &str = "wechat:jsapi_ticket";
const LOCK_KEY: &str = "wechat:jsapi_ticket:lock";

#[derive(Clone, PartialEq)]
pub struct JsSdkConfig {
    /// The official account (公众号/服务号) whose JS-SDK domain lists this site.
    pub appid: String,
    pub secret: Option<String>,
    /// A ticket kept fresh by someone else (and for tests): used as is.
    pub fixed_ticket: Option<String>,
    /// `https://api.weixin.qq.com`
    pub api_base: String,
}

impl std::fmt::Debug for JsSdkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsSdkConfig")
            .field("appid", &self.appid)
            .field("api_base", &self.api_base)
            .field("fixed_ticket", &self.fixed_ticket.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether `url` is a page of this site: its origin is the public URL's, or the one the
/// request came to (`Host`). Anything else would make us a signing service for other sites.
pub fn is_page_of(url: &str, host: &str, public_url: &str) -> bool {
    let origin_of = |u: &str| -> Option<String> {
        let (scheme, rest) = u.split_once("://")?;
        let authority = rest.split(['/', '?']).next()?;
        (matches!(scheme, "http" | "https") && !authority.is_empty() && !authority.contains('@'))
            .then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
    };
    let Some(origin) = origin_of(url) else {
        return false;
    };
    origin_of(public_url).is_some_and(|o| o == origin)
        || (!host.is_empty()
            && (origin == format!("https://{}", host.to_ascii_lowercase())
                || origin == format!("http://{}", host.to_ascii_lowercase())))
}

/// `sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…")` in lower-case hex, over the URL
/// without its fragment: what `wx.config`'s `signature` must be.
pub fn signature(ticket: &str, nonce: &str, timestamp: i64, url: &str) -> String {
    let url = url.split('#').next().unwrap_or("");
    let text = format!("jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}");
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct JsSdk {
    cfg: JsSdkConfig,
    client: reqwest::Client,
    /// This node's copy: (ticket, when to refresh it). The lock is the one refresh in flight.
    cached: tokio::sync::Mutex<Option<(String, std::time::Instant)>>,
    redis: Option<Arc<RedisBackplane>>,
}

impl JsSdk {
    pub fn new(cfg: JsSdkConfig, redis: Option<Arc<RedisBackplane>>) -> JsSdk {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        JsSdk {
            cfg,
            client,
            cached: tokio::sync::Mutex::new(None),
            redis,
        }
    }

    /// `wx.config`'s parameters for a page at `url` (the caller checked it is one of ours).
    pub async fn sign(&self, url: &str, now_s: i64) -> Result<JsSdkSignature> {
        let ticket = self.ticket().await?;
        let nonce: String = crate::crypto::random_bytes::<8>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(JsSdkSignature {
            app_id: self.cfg.appid.clone(),
            timestamp: now_s,
            signature: signature(&ticket, &nonce, now_s, url),
            nonce_str: nonce,
        })
    }

    async fn ticket(&self) -> Result<String> {
        if let Some(t) = &self.cfg.fixed_ticket {
            return Ok(t.clone());
        }
        let mut cached = self.cached.lock().await;
        if let Some((t, until)) = cached.as_ref() {
            if std::time::Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let (ticket, ttl) = match &self.redis {
            Some(bp) => self.shared_ticket(bp).await?,
            None => self.fetch_ticket().await?,
        };
        let fresh_for = ttl.saturating_sub(EARLY).max(Duration::from_secs(30));
        *cached = Some((ticket.clone(), std::time::Instant::now() + fresh_for));
        Ok(ticket)
    }

    /// Several nodes: the ticket in Redis, or this node fetches it under a lock while the
    /// others wait for it.
    async fn shared_ticket(&self, bp: &RedisBackplane) -> Result<(String, Duration)> {
        for _ in 0..50 {
            if let Some((t, ttl)) = bp.get_with_ttl(TICKET_KEY).await? {
                if ttl > EARLY {
                    return Ok((t, ttl));
                }
            }
            if bp.try_lock(LOCK_KEY, Duration::from_secs(15)).await? {
                let fetched = self.fetch_ticket().await;
                if let Ok((t, ttl)) = &fetched {
                    bp.set_with_ttl(TICKET_KEY, t, *ttl).await?;
                }
                bp.unlock(LOCK_KEY).await?;
                return fetched;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(AppError::Unavailable.into())
    }

    /// `cgi-bin/token`, then `cgi-bin/ticket/getticket?type=jsapi`.
    async fn fetch_ticket(&self) -> Result<(String, Duration)> {
        let base = self.cfg.api_base.trim_end_matches('/');
        let secret =
            (self.cfg.secret.as_deref()).or_fault("the WeChat app secret is not configured")?;
        let token = self
            .get_json(&format!(
                "{base}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                percent_encode(&self.cfg.appid),
                percent_encode(secret)
            ))
            .await?;
        let access_token = token["access_token"].as_str().ok_or_else(|| {
            tracing::warn!(errcode = %token["errcode"], errmsg = %token["errmsg"], "WeChat access_token refused");
            AppError::Unavailable
        })?;
        let ticket = self
            .get_json(&format!(
                "{base}/cgi-bin/ticket/getticket?access_token={}&type=jsapi",
                percent_encode(access_token)
            ))
            .await?;
        match (
            ticket["errcode"].as_i64().unwrap_or(0),
            ticket["ticket"].as_str(),
        ) {
            (0, Some(t)) => {
                let secs = ticket["expires_in"].as_u64().unwrap_or(7200).min(7200);
                Ok((t.to_string(), Duration::from_secs(secs)))
            }
            _ => {
                tracing::warn!(errcode = %ticket["errcode"], errmsg = %ticket["errmsg"], "WeChat jsapi_ticket refused");
                Err(AppError::Unavailable.into())
            }
        }
    }

    async fn get_json(&self, url: &str) -> Result<Value> {
        let res = (self.client.get(url).send().await)
            .map_err(|e| Error::unavailable("the WeChat API (unreachable)", e))?;
        let body = (res.bytes().await)
            .map_err(|e| Error::unavailable("the WeChat API (answer cut short)", e))?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::unavailable("the WeChat API (answer undecodable)", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the JS-SDK documentation's appendix 1 (JS-SDK使用权限签名算法).
    #[test]
    fn the_signature_is_the_documented_one() {
        let ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";
        assert_eq!(
            signature(
                ticket,
                "Wm3WZYTPz0wzccnW",
                1414587457,
                "http://mp.weixin.qq.com?params=value"
            ),
            "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
        );
        // The fragment is not signed.
        assert!(is_page_of(
            "https://shop.example.com/s/1?x=1",
            "",
            "https://shop.example.com"
        ));
        assert!(is_page_of(
            "http://127.0.0.1:3108/s/1",
            "127.0.0.1:3108",
            "https://other.example"
        ));
        for other in [
            "https://evil.example/s/1",
            "https://shop.example.com@evil.example/",
            "javascript:alert(1)",
            "//shop.example.com/",
        ] {
            assert!(
                !is_page_of(other, "shop.example.com", "https://shop.example.com"),
                "{other}"
            );
        }
        assert_eq!(
            signature(
                ticket,
                "Wm3WZYTPz0wzccnW",
                1414587457,
                "http://mp.weixin.qq.com?params=value#/s/1"
            ),
            "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
        );
    }
}
