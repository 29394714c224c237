//! Configuration: environment variables, optionally a TOML file named by `APP_CONFIG`, merged
//! by figment (`RUST_LOG` < file < environment) into one serde struct that refuses unknown
//! keys. Every setting has a documented default (README); a bad value stops start-up with a
//! message that names the setting as the environment spells it (the checks below are ours for
//! that reason). Secrets are never printed (`Debug` redacts them).

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
use serde::Deserialize;

#[derive(Clone)]
pub struct Config {
    /// `APP_BIND`: address to listen on. Default `127.0.0.1:3000`.
    pub bind: SocketAddr,
    /// `DATABASE_URL`: `sqlite:...` or `postgres://...`. Default `sqlite://data/app.db`.
    pub database_url: String,
    /// `APP_DIST_DIR`: the Trunk-built client. Default `dist`.
    pub dist_dir: PathBuf,
    /// `APP_PUBLIC_URL`: origin used in links we hand out. Default `http://{bind}`.
    pub public_url: String,
    /// `APP_FRAME_ANCESTORS`: CSP `frame-ancestors` sources, for embedding in webviews.
    /// Default `'self'`.
    pub frame_ancestors: String,
    /// `APP_DEMO_DATA`: load the demo session at start. Default `false`.
    pub demo_data: bool,
    /// `APP_LOG` (or `RUST_LOG`): tracing filter. Default `info,sqlx=warn`.
    pub log: String,
    /// `APP_SHUTDOWN_GRACE_SECS`: how long in-flight requests may take after SIGTERM. Default 10.
    pub shutdown_grace: Duration,
    /// `APP_COOKIE_SECRET`: key that signs shopper cookies (at least 32 characters). Default:
    /// a random key generated on first start and kept in the database.
    pub cookie_secret: Option<Secret>,
    /// `APP_RATE_LIMIT_SCALE`: multiplies every rate limit (load tests raise it). Default 1.
    pub rate_limit_scale: u32,
    /// `APP_PAYMENT_TIMEOUT_SECS`: how long an order waits for its payment before its units
    /// and discount go back. Default 900 (15 minutes).
    pub payment_timeout: Duration,
    /// `APP_UPLOAD_DIR`: where uploaded images are kept. Default `data/uploads`.
    pub upload_dir: PathBuf,
    /// `APP_MEDIA_BACKEND` (`embedded` or `external`) and its settings.
    pub media: shop_backend::media::MediaBackend,
    /// `APP_MEDIA_IP`: the address broadcasters reach our WebRTC port on. Default 127.0.0.1.
    pub media_ip: std::net::IpAddr,
    /// `APP_FFMPEG`: the ffmpeg binary. Default `ffmpeg`.
    pub ffmpeg: String,
    /// `APP_MEDIA_LADDER`: the renditions a broadcast is packaged into. Default
    /// `source,480p:1000k,240p:300k`.
    pub media_ladder: crate::media::ladder::Ladder,
    /// `APP_HLS_LIVE_SEGMENTS`: segments in each live playlist's sliding window (3 to 30).
    /// Default 6.
    pub hls_live_segments: usize,
    /// `APP_WHEP_MAX_VIEWERS`: WebRTC viewers this node takes at most (beyond, players fall back
    /// to HLS). Default 500; 0 turns WebRTC playback off.
    pub whep_max_viewers: usize,
    /// `APP_RESTREAM_ALLOW_PRIVATE`: restream destinations may be on loopback or private
    /// networks (tests, a relay on the LAN). Default `false`: refused.
    pub restream_allow_private: bool,
    /// `APP_NODE_BIND`: a second listen address of this node alone, for the other nodes (with
    /// `APP_REUSE_PORT` several nodes share `APP_BIND`, so it cannot name one of them).
    pub node_bind: Option<SocketAddr>,
    /// `APP_NODE_URL`: how the other nodes reach this node (it serves them the video it
    /// ingests). Default `http://{APP_NODE_BIND or APP_BIND}`.
    pub node_url: String,
    /// `APP_SMS_SENDER` (`log` or `webhook`) and its settings: how one-time codes for phone
    /// verification are delivered.
    pub sms: SmsSender,
    /// `REDIS_URL`: turns on distributed mode (several nodes share live rooms, counters and
    /// limits through Redis). Needs PostgreSQL. Default: none (one process).
    pub redis_url: Option<Secret>,
    /// `APP_TRUSTED_PROXIES`: addresses or CIDR ranges of load balancers whose
    /// `X-Forwarded-For` / `Forwarded` headers name the client. Default: none (the peer is
    /// the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `APP_METRICS_ALLOW`: addresses or CIDR ranges that may read `/metrics`. Default
    /// `127.0.0.1/32 ::1/128`.
    pub metrics_allow: Vec<ipnet::IpNet>,
    /// `APP_REUSE_PORT`: listen with `SO_REUSEPORT`, so several nodes on one machine share
    /// `APP_BIND` (the kernel spreads connections). Default `false`.
    pub reuse_port: bool,
    /// `APP_PAYMENT_PROVIDER` (`demo` or `wechat`) and WeChat Pay's `APP_WECHATPAY_*` settings.
    pub payment: PaymentSettings,
    /// `APP_WECHAT_APPSECRET` (with WeChat Pay): WeChat's web authorisation, for the openid
    /// that JSAPI payments inside WeChat need. Without it, shoppers inside WeChat get the QR
    /// code (press and hold to pay).
    pub wechat_oauth: Option<shop_backend::wechat::auth::WechatOAuthConfig>,
    /// `APP_WECHAT_APPID` (default: WeChat Pay's app id) with `APP_WECHAT_SECRET` (or
    /// `APP_WECHAT_APPSECRET`) or a fixed `APP_WECHAT_JSAPI_TICKET`: the JS-SDK's signature
    /// (`GET /api/wechat/jssdk`), for sharing cards and WeChat's address picker.
    pub wechat_jssdk: Option<shop_backend::wechat::jssdk::JsSdkConfig>,
    /// `APP_WECHAT_VERIFY_DIR`: the `MP_verify_*.txt` files WeChat asks a domain to serve at
    /// its root (JS-SDK and web-authorisation domains), served from here.
    pub wechat_verify_dir: Option<PathBuf>,
}

/// Who takes the shoppers' money.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentSettings {
    /// Confirms every charge at once; no money moves (the quick start's default).
    Demo,
    /// WeChat Pay, API v3 (keys read from their files at start-up).
    Wechat(Box<shop_backend::buying::payment::wechat_pay::WechatPayConfig>),
}

impl std::fmt::Debug for Config {
    /// Every setting, with the database password and the secrets hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database_url", &redact_url(&self.database_url))
            .field("dist_dir", &self.dist_dir)
            .field("public_url", &self.public_url)
            .field("frame_ancestors", &self.frame_ancestors)
            .field("demo_data", &self.demo_data)
            .field("log", &self.log)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("cookie_secret", &self.cookie_secret)
            .field("rate_limit_scale", &self.rate_limit_scale)
            .field("payment_timeout", &self.payment_timeout)
            .field("upload_dir", &self.upload_dir)
            .field("media", &self.media)
            .field("media_ip", &self.media_ip)
            .field("ffmpeg", &self.ffmpeg)
            .field("media_ladder", &self.media_ladder.to_string())
            .field("hls_live_segments", &self.hls_live_segments)
            .field("whep_max_viewers", &self.whep_max_viewers)
            .field("restream_allow_private", &self.restream_allow_private)
            .field("node_bind", &self.node_bind)
            .field("node_url", &self.node_url)
            .field("sms", &self.sms)
            .field(
                "redis_url",
                &self.redis_url.as_ref().map(|u| redact_url(&u.0)),
            )
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics_allow", &self.metrics_allow)
            .field("reuse_port", &self.reuse_port)
            .field("payment", &self.payment)
            .field("wechat_oauth", &self.wechat_oauth)
            .finish()
    }
}

/// `http://{addr}`, with an unspecified address (`0.0.0.0`) read as loopback.
pub fn default_node_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// A database URL with its password hidden (logs, `Debug`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// How one-time codes reach shoppers.
#[derive(Debug, Clone, PartialEq)]
pub enum SmsSender {
    /// Development: the server log, and the page shows the code. `explicit` when named in the
    /// configuration (it is only the default while the public URL is plain http).
    Log { explicit: bool },
    /// A signed POST to the deployment's SMS gateway.
    Webhook { url: String, secret: Secret },
}

/// A secret setting: usable, never printed.
#[derive(Clone, PartialEq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("invalid value for {name}: {value:?} ({reason})")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("could not read config file {path}: {reason}")]
    File { path: String, reason: String },
}

/// (env var, key in the TOML file)
const SETTINGS: &[(&str, &str)] = &[
    ("APP_BIND", "bind"),
    ("DATABASE_URL", "database_url"),
    ("APP_DIST_DIR", "dist_dir"),
    ("APP_PUBLIC_URL", "public_url"),
    ("APP_FRAME_ANCESTORS", "frame_ancestors"),
    ("APP_DEMO_DATA", "demo_data"),
    ("APP_LOG", "log"),
    ("APP_SHUTDOWN_GRACE_SECS", "shutdown_grace_secs"),
    ("APP_COOKIE_SECRET", "cookie_secret"),
    ("APP_RATE_LIMIT_SCALE", "rate_limit_scale"),
    ("APP_PAYMENT_TIMEOUT_SECS", "payment_timeout_secs"),
    ("APP_UPLOAD_DIR", "upload_dir"),
    ("APP_MEDIA_BACKEND", "media_backend"),
    ("APP_MEDIA_DIR", "media_dir"),
    ("APP_MEDIA_IP", "media_ip"),
    ("APP_FFMPEG", "ffmpeg"),
    ("APP_MEDIA_LADDER", "media_ladder"),
    ("APP_HLS_LIVE_SEGMENTS", "hls_live_segments"),
    ("APP_WHEP_MAX_VIEWERS", "whep_max_viewers"),
    ("APP_RESTREAM_ALLOW_PRIVATE", "restream_allow_private"),
    ("APP_NODE_BIND", "node_bind"),
    ("APP_NODE_URL", "node_url"),
    ("APP_MEDIA_WHIP_URL", "media_whip_url"),
    ("APP_MEDIA_HLS_URL", "media_hls_url"),
    ("APP_MEDIA_WHEP_URL", "media_whep_url"),
    ("APP_SMS_SENDER", "sms_sender"),
    ("APP_SMS_WEBHOOK_URL", "sms_webhook_url"),
    ("APP_SMS_WEBHOOK_SECRET", "sms_webhook_secret"),
    ("REDIS_URL", "redis_url"),
    ("APP_TRUSTED_PROXIES", "trusted_proxies"),
    ("APP_METRICS_ALLOW", "metrics_allow"),
    ("APP_REUSE_PORT", "reuse_port"),
    ("APP_PAYMENT_PROVIDER", "payment_provider"),
    ("APP_WECHATPAY_MCHID", "wechatpay_mchid"),
    ("APP_WECHATPAY_APPID", "wechatpay_appid"),
    ("APP_WECHATPAY_SERIAL_NO", "wechatpay_serial_no"),
    (
        "APP_WECHATPAY_PRIVATE_KEY_FILE",
        "wechatpay_private_key_file",
    ),
    (
        "APP_WECHATPAY_PLATFORM_KEY_FILE",
        "wechatpay_platform_key_file",
    ),
    ("APP_WECHATPAY_PLATFORM_SERIAL", "wechatpay_platform_serial"),
    ("APP_WECHATPAY_APIV3_KEY", "wechatpay_apiv3_key"),
    ("APP_WECHATPAY_NOTIFY_URL", "wechatpay_notify_url"),
    ("APP_WECHATPAY_API_BASE", "wechatpay_api_base"),
    ("APP_WECHAT_APPSECRET", "wechat_appsecret"),
    ("APP_WECHAT_OAUTH_URL", "wechat_oauth_url"),
    ("APP_WECHAT_API_BASE", "wechat_api_base"),
    ("APP_WECHAT_APPID", "wechat_appid"),
    ("APP_WECHAT_SECRET", "wechat_secret"),
    ("APP_WECHAT_JSAPI_TICKET", "wechat_jsapi_ticket"),
    ("APP_WECHAT_VERIFY_DIR", "wechat_verify_dir"),
];

/// A setting as the file or the environment gives it: text, a number or a boolean (all read
/// as text, then checked by `from_values`).
#[derive(Debug, Clone)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Every key the file (and, with `APP_` in front, the environment) may set: an unknown key
/// fails to deserialise, naming itself.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct RawConfig(HashMap<Key, Scalar>);

/// A known setting name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key(&'static str);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        let name = String::deserialize(d)?;
        SETTINGS
            .iter()
            .find(|(_, k)| *k == name)
            .map(|(_, k)| Key(k))
            .ok_or_else(|| {
                let known: Vec<&str> = SETTINGS.iter().map(|(_, k)| *k).collect();
                serde::de::Error::custom(format!(
                    "unknown setting {name:?}; known: {}",
                    known.join(", ")
                ))
            })
    }
}

impl Config {
    /// Reads the process environment (and `APP_CONFIG`, if set).
    pub fn from_env() -> Result<Config, ConfigError> {
        let file = std::env::var("APP_CONFIG").ok();
        let known: Vec<&'static str> = SETTINGS
            .iter()
            .filter(|(env, _)| env.starts_with("APP_"))
            .map(|(_, k)| *k)
            .collect();
        let rust_log = Figment::from(Env::raw().only(&["RUST_LOG"]).map(|_| "log".into()));
        let env = Figment::new()
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .merge(Env::raw().only(&["REDIS_URL"]).map(|_| "redis_url".into()))
            .merge(Env::prefixed("APP_").filter(move |k| known.iter().any(|n| k == *n)));
        Config::load(rust_log, file.as_deref(), env)
    }

    /// `base` (lowest), then the TOML file at `file`, then `env` (highest).
    fn load(base: Figment, file: Option<&str>, env: Figment) -> Result<Config, ConfigError> {
        let mut fig = base;
        if let Some(path) = file {
            // figment reads a missing file as empty: a named file must exist.
            std::fs::metadata(path).map_err(|e| ConfigError::File {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
            fig = fig.merge(Toml::file(path));
        }
        let raw: RawConfig = fig.merge(env).extract().map_err(|e| ConfigError::File {
            path: file.unwrap_or("(environment)").to_string(),
            reason: e.to_string(),
        })?;
        let values = raw
            .0
            .into_iter()
            .map(|(k, v)| (k.0.to_string(), v.0))
            .collect();
        Config::from_values(&values)
    }

    /// Builds a config from `key -> value` (keys as in the TOML file).
    pub fn from_values(values: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let get = |key: &str| values.get(key).map(|s| s.trim().to_string());
        let bind_raw = get("bind").unwrap_or_else(|| "127.0.0.1:3000".into());
        let bind: SocketAddr = bind_raw.parse().map_err(|_| {
            invalid(
                "APP_BIND",
                &bind_raw,
                "expected host:port, e.g. 127.0.0.1:3000",
            )
        })?;

        let database_url = get("database_url").unwrap_or_else(|| "sqlite://data/app.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                &database_url,
                "must start with sqlite: or postgres://",
            ));
        }

        let dist_dir = PathBuf::from(get("dist_dir").unwrap_or_else(|| "dist".into()));

        let public_url = get("public_url").unwrap_or_else(|| format!("http://{bind}"));
        let public_url = public_url.trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://"))
            || public_url.contains(char::is_whitespace)
        {
            return Err(invalid(
                "APP_PUBLIC_URL",
                &public_url,
                "expected an http(s) origin, e.g. https://live.example.com",
            ));
        }

        let frame_ancestors = get("frame_ancestors").unwrap_or_else(|| "'self'".into());
        if frame_ancestors.is_empty() || frame_ancestors.contains([';', ',', '\n', '\r']) {
            return Err(invalid(
                "APP_FRAME_ANCESTORS",
                &frame_ancestors,
                "expected space-separated CSP sources, e.g. 'self' https://*.example.com",
            ));
        }

        let demo_raw = get("demo_data").unwrap_or_else(|| "false".into());
        let demo_data = parse_bool(&demo_raw)
            .ok_or_else(|| invalid("APP_DEMO_DATA", &demo_raw, "expected true or false"))?;

        let log = get("log").unwrap_or_else(|| "info,sqlx=warn".into());

        let grace_raw = get("shutdown_grace_secs").unwrap_or_else(|| "10".into());
        let grace: u64 = grace_raw
            .parse()
            .ok()
            .filter(|s| *s <= 3600)
            .ok_or_else(|| {
                invalid(
                    "APP_SHUTDOWN_GRACE_SECS",
                    &grace_raw,
                    "expected whole seconds between 0 and 3600",
                )
            })?;

        let timeout_raw = get("payment_timeout_secs").unwrap_or_else(|| "900".into());
        let payment_timeout: u64 = timeout_raw
            .parse()
            .ok()
            .filter(|s| (1..=7 * 86_400).contains(s))
            .ok_or_else(|| {
                invalid(
                    "APP_PAYMENT_TIMEOUT_SECS",
                    &timeout_raw,
                    "expected whole seconds from 1 to 604800",
                )
            })?;

        let cookie_secret = get("cookie_secret").filter(|s| !s.is_empty()).map(Secret);
        if let Some(Secret(secret)) = &cookie_secret {
            if secret.len() < 32 {
                return Err(invalid(
                    "APP_COOKIE_SECRET",
                    "(hidden)",
                    "must be at least 32 characters",
                ));
            }
        }

        let scale_raw = get("rate_limit_scale").unwrap_or_else(|| "1".into());
        let rate_limit_scale: u32 = scale_raw
            .parse()
            .ok()
            .filter(|s| (1..=1_000_000).contains(s))
            .ok_or_else(|| {
                invalid(
                    "APP_RATE_LIMIT_SCALE",
                    &scale_raw,
                    "expected a whole number from 1 to 1000000",
                )
            })?;

        let upload_dir = PathBuf::from(get("upload_dir").unwrap_or_else(|| "data/uploads".into()));

        let media = match get("media_backend").as_deref().unwrap_or("embedded") {
            "embedded" => shop_backend::media::MediaBackend::Embedded {
                media_dir: PathBuf::from(get("media_dir").unwrap_or_else(|| "data/media".into())),
            },
            "external" => {
                let need = |key: &str, name: &'static str| {
                    get(key).filter(|v| v.contains("{session}")).ok_or_else(|| {
                        invalid(
                            name,
                            &get(key).unwrap_or_default(),
                            "required with APP_MEDIA_BACKEND=external; a URL containing {session}",
                        )
                    })
                };
                shop_backend::media::MediaBackend::External {
                    whip_template: need("media_whip_url", "APP_MEDIA_WHIP_URL")?,
                    hls_template: need("media_hls_url", "APP_MEDIA_HLS_URL")?,
                    whep_template: get("media_whep_url"),
                }
            }
            other => {
                return Err(invalid(
                    "APP_MEDIA_BACKEND",
                    other,
                    "expected embedded or external",
                ))
            }
        };
        let ip_raw = get("media_ip").unwrap_or_else(|| "127.0.0.1".into());
        let media_ip = ip_raw
            .parse()
            .map_err(|_| invalid("APP_MEDIA_IP", &ip_raw, "expected an IP address"))?;
        let ffmpeg = get("ffmpeg").unwrap_or_else(|| "ffmpeg".into());
        let media_ladder = match get("media_ladder").filter(|v| !v.is_empty()) {
            Some(raw) => raw
                .parse()
                .map_err(|e: crate::media::ladder::LadderError| {
                    invalid(
                        "APP_MEDIA_LADDER",
                        &raw,
                        &format!("{e}; expected e.g. source,720p:2500k,480p:1000k,240p:400k"),
                    )
                })?,
            None => crate::media::ladder::Ladder::default(),
        };
        let window_raw = get("hls_live_segments").unwrap_or_else(|| "6".into());
        let hls_live_segments: usize = window_raw
            .parse()
            .ok()
            .filter(|n| (3..=30).contains(n))
            .ok_or_else(|| {
                invalid(
                    "APP_HLS_LIVE_SEGMENTS",
                    &window_raw,
                    "expected a whole number from 3 to 30",
                )
            })?;
        let whep_raw = get("whep_max_viewers").unwrap_or_else(|| "500".into());
        let whep_max_viewers: usize =
            whep_raw
                .parse()
                .ok()
                .filter(|n| *n <= 100_000)
                .ok_or_else(|| {
                    invalid(
                        "APP_WHEP_MAX_VIEWERS",
                        &whep_raw,
                        "expected a whole number from 0 to 100000",
                    )
                })?;
        let restream_raw = get("restream_allow_private").unwrap_or_else(|| "false".into());
        let restream_allow_private = parse_bool(&restream_raw).ok_or_else(|| {
            invalid(
                "APP_RESTREAM_ALLOW_PRIVATE",
                &restream_raw,
                "expected true or false",
            )
        })?;
        let node_bind = match get("node_bind").filter(|v| !v.is_empty()) {
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "APP_NODE_BIND",
                    &raw,
                    "expected host:port, e.g. 10.0.0.11:3100",
                )
            })?),
            None => None,
        };
        let node_url = match get("node_url").filter(|v| !v.is_empty()) {
            Some(url) => {
                let url = url.trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://"))
                    || url.contains(char::is_whitespace)
                {
                    return Err(invalid(
                        "APP_NODE_URL",
                        &url,
                        "expected an http(s) URL, e.g. http://10.0.0.11:3000",
                    ));
                }
                url
            }
            None => default_node_url(node_bind.unwrap_or(bind)),
        };

        let https = public_url.starts_with("https://");
        let sms = match get("sms_sender").filter(|v| !v.is_empty()).as_deref() {
            // Codes written to a log are only acceptable where nobody real signs in.
            None if https => {
                return Err(invalid(
                    "APP_SMS_SENDER",
                    "",
                    "required when APP_PUBLIC_URL is https: webhook (with APP_SMS_WEBHOOK_URL and APP_SMS_WEBHOOK_SECRET), or log for a test deployment",
                ))
            }
            None => SmsSender::Log { explicit: false },
            Some("log") => SmsSender::Log { explicit: true },
            Some("webhook") => {
                let url = get("sms_webhook_url").unwrap_or_default();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(invalid(
                        "APP_SMS_WEBHOOK_URL",
                        &url,
                        "required with APP_SMS_SENDER=webhook: the SMS gateway's http(s) URL",
                    ));
                }
                let secret = get("sms_webhook_secret").unwrap_or_default();
                if secret.len() < 16 {
                    return Err(invalid(
                        "APP_SMS_WEBHOOK_SECRET",
                        "(hidden)",
                        "required with APP_SMS_SENDER=webhook: at least 16 characters",
                    ));
                }
                SmsSender::Webhook {
                    url,
                    secret: Secret(secret),
                }
            }
            Some(other) => {
                return Err(invalid(
                    "APP_SMS_SENDER",
                    other,
                    "expected log or webhook",
                ))
            }
        };

        let redis_url = get("redis_url").filter(|s| !s.is_empty());
        if let Some(url) = &redis_url {
            if !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("redis+unix://")
                || url.starts_with("unix://"))
            {
                return Err(invalid(
                    "REDIS_URL",
                    &redact_url(url),
                    "expected redis://host:port[/db] (or rediss://, unix://)",
                ));
            }
            if database_url.starts_with("sqlite:") {
                return Err(invalid(
                    "REDIS_URL",
                    &redact_url(url),
                    "distributed mode needs PostgreSQL: set DATABASE_URL to postgres://... \
                     (several nodes cannot share one SQLite file), or unset REDIS_URL",
                ));
            }
        }
        let redis_url = redis_url.map(Secret);

        let trusted_proxies = parse_nets(
            "APP_TRUSTED_PROXIES",
            &get("trusted_proxies").unwrap_or_default(),
        )?;
        let metrics_allow = parse_nets(
            "APP_METRICS_ALLOW",
            &get("metrics_allow").unwrap_or_else(|| "127.0.0.1/32 ::1/128".into()),
        )?;
        let reuse_raw = get("reuse_port").unwrap_or_else(|| "false".into());
        let reuse_port = parse_bool(&reuse_raw)
            .ok_or_else(|| invalid("APP_REUSE_PORT", &reuse_raw, "expected true or false"))?;
        let payment = payment_settings(&get, &public_url)?;
        let wechat_oauth = match (&payment, get("wechat_appsecret").filter(|v| !v.is_empty())) {
            (PaymentSettings::Wechat(w), Some(secret)) => {
                Some(shop_backend::wechat::auth::WechatOAuthConfig {
                    appid: w.appid.clone(),
                    secret,
                    authorize_url: get("wechat_oauth_url")
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| {
                            "https://open.weixin.qq.com/connect/oauth2/authorize".into()
                        }),
                    api_base: get("wechat_api_base")
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| "https://api.weixin.qq.com".into()),
                })
            }
            (PaymentSettings::Demo, Some(_)) => {
                return Err(invalid(
                    "APP_WECHAT_APPSECRET",
                    "(hidden)",
                    "only with APP_PAYMENT_PROVIDER=wechat",
                ))
            }
            _ => None,
        };

        let nonempty = |k: &str| get(k).filter(|v| !v.is_empty());
        let jssdk_appid = nonempty("wechat_appid").or_else(|| match &payment {
            PaymentSettings::Wechat(w) => Some(w.appid.clone()),
            PaymentSettings::Demo => None,
        });
        let jssdk_secret = nonempty("wechat_secret").or_else(|| nonempty("wechat_appsecret"));
        let jssdk_ticket = nonempty("wechat_jsapi_ticket");
        let wechat_jssdk = match (jssdk_appid, jssdk_secret, jssdk_ticket) {
            (Some(appid), secret, ticket) if secret.is_some() || ticket.is_some() => {
                Some(shop_backend::wechat::jssdk::JsSdkConfig {
                    appid,
                    secret,
                    fixed_ticket: ticket,
                    api_base: nonempty("wechat_api_base")
                        .unwrap_or_else(|| "https://api.weixin.qq.com".into()),
                })
            }
            (Some(_), None, None) if nonempty("wechat_appid").is_some() => {
                return Err(invalid(
                    "APP_WECHAT_APPID",
                    "(set)",
                    "needs APP_WECHAT_SECRET or APP_WECHAT_JSAPI_TICKET",
                ))
            }
            (None, ..)
                if nonempty("wechat_secret").is_some()
                    || nonempty("wechat_jsapi_ticket").is_some() =>
            {
                return Err(invalid(
                    "APP_WECHAT_SECRET",
                    "(hidden)",
                    "needs APP_WECHAT_APPID (or WeChat Pay's app id)",
                ))
            }
            _ => None,
        };

        let wechat_verify_dir = get("wechat_verify_dir")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);

        Ok(Config {
            payment,
            wechat_oauth,
            wechat_jssdk,
            wechat_verify_dir,
            redis_url,
            trusted_proxies,
            metrics_allow,
            reuse_port,
            sms,
            media,
            media_ip,
            ffmpeg,
            media_ladder,
            hls_live_segments,
            whep_max_viewers,
            restream_allow_private,
            node_bind,
            node_url,
            upload_dir,
            cookie_secret,
            rate_limit_scale,
            payment_timeout: Duration::from_secs(payment_timeout),
            bind,
            database_url,
            dist_dir,
            public_url,
            frame_ancestors,
            demo_data,
            log,
            shutdown_grace: Duration::from_secs(grace),
        })
    }
}

/// `APP_PAYMENT_PROVIDER` and, for `wechat`, every `APP_WECHATPAY_*` setting, checked now
/// (the key files are read and parsed: a wrong key stops the start, not the first payment).
fn payment_settings(
    get: &impl Fn(&str) -> Option<String>,
    public_url: &str,
) -> Result<PaymentSettings, ConfigError> {
    use shop_backend::buying::payment::wechat_pay::{WechatPay, WechatPayConfig};
    match get("payment_provider").filter(|v| !v.is_empty()).as_deref() {
        None | Some("demo") => Ok(PaymentSettings::Demo),
        Some("wechat") => {
            let required = |key: &str, name: &'static str| {
                get(key)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| invalid(name, "", "required with APP_PAYMENT_PROVIDER=wechat"))
            };
            let file = |key: &str, name: &'static str| -> Result<String, ConfigError> {
                let path = required(key, name)?;
                std::fs::read_to_string(&path)
                    .map_err(|e| invalid(name, &path, &format!("could not read it: {e}")))
            };
            let cfg = WechatPayConfig {
                mchid: required("wechatpay_mchid", "APP_WECHATPAY_MCHID")?,
                appid: required("wechatpay_appid", "APP_WECHATPAY_APPID")?,
                serial_no: required("wechatpay_serial_no", "APP_WECHATPAY_SERIAL_NO")?,
                private_key_pem: file(
                    "wechatpay_private_key_file",
                    "APP_WECHATPAY_PRIVATE_KEY_FILE",
                )?,
                platform_key_pem: file(
                    "wechatpay_platform_key_file",
                    "APP_WECHATPAY_PLATFORM_KEY_FILE",
                )?,
                platform_serial: required(
                    "wechatpay_platform_serial",
                    "APP_WECHATPAY_PLATFORM_SERIAL",
                )?,
                api_v3_key: required("wechatpay_apiv3_key", "APP_WECHATPAY_APIV3_KEY")?,
                notify_url: get("wechatpay_notify_url")
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| {
                        format!(
                            "{}/payments/wechat/notify",
                            public_url.trim_end_matches('/')
                        )
                    }),
                base_url: get("wechatpay_api_base")
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| "https://api.mch.weixin.qq.com".into()),
            };
            WechatPay::new(cfg.clone())
                .map_err(|e| invalid("APP_WECHATPAY_*", "(hidden)", &e.to_string()))?;
            Ok(PaymentSettings::Wechat(Box::new(cfg)))
        }
        Some(other) => Err(invalid(
            "APP_PAYMENT_PROVIDER",
            other,
            "expected demo or wechat",
        )),
    }
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Addresses or CIDR ranges separated by commas or spaces (`10.0.0.0/8, 192.168.1.7`).
fn parse_nets(name: &'static str, raw: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    raw.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    invalid(
                        name,
                        item,
                        "expected IP addresses or CIDR ranges, e.g. 10.0.0.0/8 192.168.1.7",
                    )
                })
        })
        .collect()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_values(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = cfg(&[]).expect("defaults are valid");
        assert_eq!(c.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://data/app.db");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.frame_ancestors, "'self'");
        assert!(!c.demo_data);
        assert_eq!(c.shutdown_grace, Duration::from_secs(10));
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (key, value, name) in [
            ("bind", "localhost", "APP_BIND"),
            ("database_url", "mysql://x", "DATABASE_URL"),
            ("public_url", "example.com", "APP_PUBLIC_URL"),
            (
                "frame_ancestors",
                "'self'; script-src *",
                "APP_FRAME_ANCESTORS",
            ),
            ("demo_data", "maybe", "APP_DEMO_DATA"),
            ("shutdown_grace_secs", "-1", "APP_SHUTDOWN_GRACE_SECS"),
            ("cookie_secret", "short", "APP_COOKIE_SECRET"),
            ("rate_limit_scale", "0", "APP_RATE_LIMIT_SCALE"),
            ("payment_timeout_secs", "0", "APP_PAYMENT_TIMEOUT_SECS"),
            ("media_backend", "cdn", "APP_MEDIA_BACKEND"),
            ("media_ip", "localhost", "APP_MEDIA_IP"),
        ] {
            let err = cfg(&[(key, value)]).expect_err(key);
            assert!(err.to_string().contains(name), "{err} should name {name}");
        }
    }

    #[test]
    fn wechat_pay_settings_are_checked_at_start_and_never_printed() {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        assert_eq!(cfg(&[]).expect("default").payment, PaymentSettings::Demo);
        let err = cfg(&[("payment_provider", "paypal")]).expect_err("unknown");
        assert!(err.to_string().contains("APP_PAYMENT_PROVIDER"), "{err}");
        let err = cfg(&[("payment_provider", "wechat")]).expect_err("nothing set");
        assert!(err.to_string().contains("APP_WECHATPAY_MCHID"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let mut rng = rsa::rand_core::OsRng;
        let merchant = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("key");
        let platform = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("key");
        let private = dir.path().join("apiclient_key.pem");
        let public = dir.path().join("platform.pem");
        let private_pem = merchant.to_pkcs8_pem(LineEnding::LF).unwrap();
        std::fs::write(&private, private_pem.as_bytes()).unwrap();
        std::fs::write(
            &public,
            platform
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
        )
        .unwrap();
        let (private, public) = (private.display().to_string(), public.display().to_string());
        let all = |over: &[(&'static str, &str)]| {
            let mut v: Vec<(&str, String)> = vec![
                ("public_url", "http://shop.example.com".into()),
                ("payment_provider", "wechat".into()),
                ("wechatpay_mchid", "1900000109".into()),
                ("wechatpay_appid", "wx8888888888888888".into()),
                (
                    "wechatpay_serial_no",
                    "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
                ),
                ("wechatpay_private_key_file", private.clone()),
                ("wechatpay_platform_key_file", public.clone()),
                (
                    "wechatpay_platform_serial",
                    "PUB_KEY_ID_0114232134912410000000000000".into(),
                ),
                (
                    "wechatpay_apiv3_key",
                    "0123456789abcdefghijklmnopqrstuv".into(),
                ),
            ];
            for (k, val) in over {
                v.retain(|(key, _)| key != k);
                v.push((k, val.to_string()));
            }
            let refs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
            cfg(&refs)
        };
        let c = all(&[]).expect("valid");
        let PaymentSettings::Wechat(w) = &c.payment else {
            panic!("wechat")
        };
        assert_eq!(
            w.notify_url,
            "http://shop.example.com/payments/wechat/notify"
        );
        assert_eq!(w.base_url, "https://api.mch.weixin.qq.com");
        let printed = format!("{c:?}");
        assert!(
            !printed.contains("0123456789abcdefghijklmnopqrstuv"),
            "{printed}"
        );
        assert!(!printed.contains("PRIVATE KEY"), "{printed}");
        for (key, value, name) in [
            (
                "wechatpay_private_key_file",
                "/nonexistent/key.pem",
                "APP_WECHATPAY_PRIVATE_KEY_FILE",
            ),
            (
                "wechatpay_platform_serial",
                "",
                "APP_WECHATPAY_PLATFORM_SERIAL",
            ),
            ("wechatpay_apiv3_key", "too-short", "APP_WECHATPAY_"),
            (
                "wechatpay_platform_key_file",
                private.as_str(),
                "APP_WECHATPAY_",
            ),
        ] {
            let err = all(&[(key, value)]).expect_err(key);
            assert!(err.to_string().contains(name), "{key}: {err}");
            assert!(!err.to_string().contains("BEGIN"), "{err}");
        }
    }

    #[test]
    fn sms_sender_is_required_over_https_and_secrets_are_not_printed() {
        let c = cfg(&[]).expect("http default");
        assert_eq!(c.sms, SmsSender::Log { explicit: false });
        let err = cfg(&[("public_url", "https://live.example.com")]).expect_err("https");
        assert!(err.to_string().contains("APP_SMS_SENDER"), "{err}");
        let c = cfg(&[
            ("public_url", "https://live.example.com"),
            ("sms_sender", "log"),
        ])
        .expect("log named explicitly");
        assert_eq!(c.sms, SmsSender::Log { explicit: true });
        let err = cfg(&[("sms_sender", "webhook")]).expect_err("url missing");
        assert!(err.to_string().contains("APP_SMS_WEBHOOK_URL"), "{err}");
        let err = cfg(&[
            ("sms_sender", "webhook"),
            ("sms_webhook_url", "https://sms.example.com/send"),
        ])
        .expect_err("secret missing");
        assert!(err.to_string().contains("APP_SMS_WEBHOOK_SECRET"), "{err}");
        let c = cfg(&[
            ("public_url", "https://live.example.com"),
            ("sms_sender", "webhook"),
            ("sms_webhook_url", "https://sms.example.com/send"),
            ("sms_webhook_secret", "a-secret-of-some-length"),
        ])
        .expect("webhook");
        assert!(!format!("{c:?}").contains("a-secret-of-some-length"));
        let with_secrets = cfg(&[
            ("database_url", "postgres://app:hunter2-password@db/app"),
            ("cookie_secret", "0123456789abcdef0123456789abcdef-cookie"),
        ])
        .expect("valid");
        let printed = format!("{with_secrets:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("-cookie"),
            "{printed}"
        );
        assert!(matches!(c.sms, SmsSender::Webhook { .. }));
    }

    #[test]
    fn distributed_mode_needs_postgres_and_reads_addresses() {
        let pg = "postgres://app:pw@db/app";
        let c = cfg(&[
            ("database_url", pg),
            ("redis_url", "redis://:sekret@cache:6379/0"),
        ])
        .expect("redis with postgres");
        assert!(c.redis_url.is_some());
        assert!(!format!("{c:?}").contains("sekret"));
        // SQLite + Redis: several nodes cannot share one file.
        let err = cfg(&[("redis_url", "redis://cache:6379")]).expect_err("sqlite + redis");
        assert!(err.to_string().contains("REDIS_URL") && err.to_string().contains("PostgreSQL"));
        let err = cfg(&[("database_url", pg), ("redis_url", "http://cache")]).expect_err("scheme");
        assert!(err.to_string().contains("REDIS_URL"), "{err}");
        // Proxies and metrics readers: addresses or ranges; loopback reads metrics by default.
        let c = cfg(&[("trusted_proxies", "10.0.0.0/8, 192.168.1.7 ::1")]).expect("nets");
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[1].contains(&"192.168.1.7".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(c.metrics_allow.len(), 2);
        assert!(!c.reuse_port);
        assert!(!c.restream_allow_private);
        for (key, name) in [
            ("trusted_proxies", "APP_TRUSTED_PROXIES"),
            ("metrics_allow", "APP_METRICS_ALLOW"),
            ("reuse_port", "APP_REUSE_PORT"),
            ("restream_allow_private", "APP_RESTREAM_ALLOW_PRIVATE"),
        ] {
            let err = cfg(&[(key, "10.0.0.0/33")]).expect_err(key);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn toml_file_is_read_and_unknown_keys_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "bind = \"0.0.0.0:8080\"\ndemo_data = true\nshutdown_grace_secs = 3\n",
        )
        .expect("write");
        let c = Config::load(Figment::new(), good.to_str(), Figment::new()).expect("valid");
        assert_eq!(c.bind.port(), 8080);
        assert!(c.demo_data);
        assert_eq!(c.shutdown_grace, Duration::from_secs(3));

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "bnid = \"x\"\n").expect("write");
        let err =
            Config::load(Figment::new(), bad.to_str(), Figment::new()).expect_err("unknown key");
        assert!(err.to_string().contains("bnid"), "{err}");
        // The environment wins over the file; a missing file is an error.
        let env = Figment::from(figment::providers::Serialized::default(
            "bind",
            "127.0.0.1:9999",
        ));
        let c = Config::load(Figment::new(), good.to_str(), env).expect("valid");
        assert_eq!(c.bind.port(), 9999);
        assert!(Config::load(Figment::new(), Some("/nonexistent.toml"), Figment::new()).is_err());
    }
}
