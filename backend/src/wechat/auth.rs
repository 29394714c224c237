//! WeChat's silent web authorisation (`snsapi_base`): inside WeChat, a page sends the shopper
//! to WeChat's authorize URL and WeChat sends them straight back with a `code`, which the
//! server exchanges (with the app secret) for the shopper's openid. WeChat Pay's JSAPI
//! payment is made out to that openid. (open.weixin.qq.com's "网页授权" documentation.)

use crate::error::Result;
use serde_json::Value;

use crate::error::AppError;

#[derive(Clone, PartialEq)]
pub struct WechatOAuthConfig {
    pub appid: String,
    pub secret: String,
    /// `https://open.weixin.qq.com/connect/oauth2/authorize`
    pub authorize_url: String,
    /// `https://api.weixin.qq.com`
    pub api_base: String,
}

impl std::fmt::Debug for WechatOAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatOAuthConfig")
            .field("appid", &self.appid)
            .field("authorize_url", &self.authorize_url)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

pub struct WechatOAuth {
    cfg: WechatOAuthConfig,
    client: reqwest::Client,
}

impl WechatOAuth {
    pub fn new(cfg: WechatOAuthConfig) -> WechatOAuth {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        WechatOAuth { cfg, client }
    }

    /// Where to send the shopper: WeChat comes back to `redirect_uri?code=...&state=...`.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> String {
        format!(
            "{}?appid={}&redirect_uri={}&response_type=code&scope=snsapi_base&state={}#wechat_redirect",
            self.cfg.authorize_url,
            crate::domain::text::percent_encode(&self.cfg.appid),
            crate::domain::text::percent_encode(redirect_uri),
            crate::domain::text::percent_encode(state)
        )
    }

    /// The openid behind a `code` WeChat handed back (each code works once, for 5 minutes).
    pub async fn openid(&self, code: &str) -> Result<String> {
        let url = format!(
            "{}/sns/oauth2/access_token?appid={}&secret={}&code={}&grant_type=authorization_code",
            self.cfg.api_base.trim_end_matches('/'),
            crate::domain::text::percent_encode(&self.cfg.appid),
            crate::domain::text::percent_encode(&self.cfg.secret),
            crate::domain::text::percent_encode(code)
        );
        let res = self.client.get(&url).send().await.map_err(|e| {
            tracing::warn!(error = %e.without_url(), "WeChat authorisation: the API could not be reached");
            AppError::Network("WeChat could not be reached".into())
        })?;
        let unreadable = |_| AppError::Network("WeChat answered something unreadable".into());
        let body = res.bytes().await.map_err(|e| unreadable(e.to_string()))?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| unreadable(e.to_string()))?;
        match v["openid"].as_str() {
            Some(openid) if !openid.is_empty() && openid.len() <= 128 => Ok(openid.to_string()),
            _ => {
                tracing::warn!(errcode = %v["errcode"], errmsg = %v["errmsg"], "WeChat authorisation refused the code");
                Err(AppError::Forbidden("WeChat did not confirm who you are".into()).into())
            }
        }
    }
}

/// A path on this site to come back to (never another site: `//host` or `\\` are refused).
pub fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 512
        && next.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        next
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path("/s/12?x=1"), "/s/12?x=1");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil",
            "",
            "s/12",
            "/a b",
        ] {
            assert_eq!(local_path(bad), "/", "{bad}");
        }
    }

    #[test]
    fn the_authorize_url_is_the_documented_one() {
        let o = WechatOAuth::new(WechatOAuthConfig {
            appid: "wx8888888888888888".into(),
            secret: "s".into(),
            authorize_url: "https://open.weixin.qq.com/connect/oauth2/authorize".into(),
            api_base: "https://api.weixin.qq.com".into(),
        });
        assert_eq!(
            o.authorize_url("https://shop.example.com/wechat/auth/callback", "abc"),
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx8888888888888888&redirect_uri=https%3A%2F%2Fshop.example.com%2Fwechat%2Fauth%2Fcallback&response_type=code&scope=snsapi_base&state=abc#wechat_redirect"
        );
    }
}
