//! The configuration's sections: what figment reads (`Raw*`, every key optional, unknown keys
//! refused), and what each becomes once checked (`TryFrom`), with errors that name the setting
//! as the environment spells it.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;

use super::{
    default_node_url, invalid, parse_bool, parse_nets, redact_url, ConfigError, Scalar, Secret,
};

/// The whole file (or environment), one table per section.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub server: RawServer,
    pub database: RawDatabase,
    pub media: RawMedia,
    pub sms: RawSms,
    pub push: RawPush,
    pub payment: RawPayment,
    pub wechatpay: RawWechatPay,
    pub wechat: RawWechat,
}

/// A setting's text, trimmed; `None` when absent.
fn text(v: &Option<Scalar>) -> Option<String> {
    v.as_ref().map(|s| s.0.trim().to_string())
}

/// A setting's text when present and not empty.
fn nonempty(v: &Option<Scalar>) -> Option<String> {
    text(v).filter(|s| !s.is_empty())
}

/// A whole number in `range`, or `default` when absent.
fn number<T>(
    v: &Option<Scalar>,
    default: &str,
    name: &'static str,
    range: std::ops::RangeInclusive<T>,
    expected: &str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd,
{
    let raw = text(v).unwrap_or_else(|| default.into());
    raw.parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| invalid(name, &raw, expected))
}

/// `true`/`false` (also 1/0, yes/no, on/off), or `false` when absent.
fn flag(v: &Option<Scalar>, name: &'static str) -> Result<bool, ConfigError> {
    let raw = text(v).unwrap_or_else(|| "false".into());
    parse_bool(&raw).ok_or_else(|| invalid(name, &raw, "expected true or false"))
}

// ---- server ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawServer {
    pub bind: Option<Scalar>,
    pub public_url: Option<Scalar>,
    pub dist_dir: Option<Scalar>,
    pub frame_ancestors: Option<Scalar>,
    pub demo_data: Option<Scalar>,
    pub log: Option<Scalar>,
    pub shutdown_grace_secs: Option<Scalar>,
    pub upload_dir: Option<Scalar>,
    pub cookie_secret: Option<Scalar>,
    pub rate_limit_scale: Option<Scalar>,
    pub node_bind: Option<Scalar>,
    pub node_url: Option<Scalar>,
    pub trusted_proxies: Option<Scalar>,
    pub metrics_allow: Option<Scalar>,
    pub reuse_port: Option<Scalar>,
}

/// This node: where it listens, how it is reached, what it serves.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `APP_BIND`: address to listen on. Default `127.0.0.1:3000`.
    pub bind: SocketAddr,
    /// `APP_PUBLIC_URL`: origin used in links we hand out. Default `http://{bind}`.
    pub public_url: String,
    /// `APP_DIST_DIR`: the Trunk-built client. Default `dist`.
    pub dist_dir: PathBuf,
    /// `APP_FRAME_ANCESTORS`: CSP `frame-ancestors` sources, for embedding in webviews.
    /// Default `'self'`.
    pub frame_ancestors: String,
    /// `APP_DEMO_DATA`: load the demo session at start. Default `false`.
    pub demo_data: bool,
    /// `APP_LOG` (or `RUST_LOG`): tracing filter. Default `info,sqlx=warn`.
    pub log: String,
    /// `APP_SHUTDOWN_GRACE_SECS`: how long in-flight requests may take after SIGTERM. Default 10.
    pub shutdown_grace: Duration,
    /// `APP_UPLOAD_DIR`: where uploaded images are kept. Default `data/uploads`.
    pub upload_dir: PathBuf,
    /// `APP_COOKIE_SECRET`: key that signs shopper cookies (at least 32 characters). Default:
    /// a random key generated on first start and kept in the database.
    pub cookie_secret: Option<Secret>,
    /// `APP_RATE_LIMIT_SCALE`: multiplies every rate limit (load tests raise it). Default 1.
    pub rate_limit_scale: u32,
    /// `APP_NODE_BIND`: a second listen address of this node alone, for the other nodes (with
    /// `APP_REUSE_PORT` several nodes share `APP_BIND`, so it cannot name one of them).
    pub node_bind: Option<SocketAddr>,
    /// `APP_NODE_URL`: how the other nodes reach this node (it serves them the video it
    /// ingests). Default `http://{APP_NODE_BIND or APP_BIND}`.
    pub node_url: String,
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
}

impl TryFrom<RawServer> for ServerSettings {
    type Error = ConfigError;

    fn try_from(r: RawServer) -> Result<Self, ConfigError> {
        let bind_raw = text(&r.bind).unwrap_or_else(|| "127.0.0.1:3000".into());
        let bind: SocketAddr = bind_raw.parse().map_err(|_| {
            invalid(
                "APP_BIND",
                &bind_raw,
                "expected host:port, e.g. 127.0.0.1:3000",
            )
        })?;
        let public_url = text(&r.public_url).unwrap_or_else(|| format!("http://{bind}"));
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
        let frame_ancestors = text(&r.frame_ancestors).unwrap_or_else(|| "'self'".into());
        if frame_ancestors.is_empty() || frame_ancestors.contains([';', ',', '\n', '\r']) {
            return Err(invalid(
                "APP_FRAME_ANCESTORS",
                &frame_ancestors,
                "expected space-separated CSP sources, e.g. 'self' https://*.example.com",
            ));
        }
        let grace: u64 = number(
            &r.shutdown_grace_secs,
            "10",
            "APP_SHUTDOWN_GRACE_SECS",
            0..=3600,
            "expected whole seconds between 0 and 3600",
        )?;
        let cookie_secret = nonempty(&r.cookie_secret).map(Secret);
        if cookie_secret.as_ref().is_some_and(|s| s.0.len() < 32) {
            return Err(invalid(
                "APP_COOKIE_SECRET",
                "(hidden)",
                "must be at least 32 characters",
            ));
        }
        let node_bind = match nonempty(&r.node_bind) {
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "APP_NODE_BIND",
                    &raw,
                    "expected host:port, e.g. 10.0.0.11:3100",
                )
            })?),
            None => None,
        };
        let node_url = match nonempty(&r.node_url) {
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
        Ok(ServerSettings {
            bind,
            public_url,
            dist_dir: PathBuf::from(text(&r.dist_dir).unwrap_or_else(|| "dist".into())),
            frame_ancestors,
            demo_data: flag(&r.demo_data, "APP_DEMO_DATA")?,
            log: text(&r.log).unwrap_or_else(|| "info,sqlx=warn".into()),
            shutdown_grace: Duration::from_secs(grace),
            upload_dir: PathBuf::from(text(&r.upload_dir).unwrap_or_else(|| "data/uploads".into())),
            cookie_secret,
            rate_limit_scale: number(
                &r.rate_limit_scale,
                "1",
                "APP_RATE_LIMIT_SCALE",
                1..=1_000_000,
                "expected a whole number from 1 to 1000000",
            )?,
            node_bind,
            node_url,
            trusted_proxies: parse_nets(
                "APP_TRUSTED_PROXIES",
                &text(&r.trusted_proxies).unwrap_or_default(),
            )?,
            metrics_allow: parse_nets(
                "APP_METRICS_ALLOW",
                &text(&r.metrics_allow).unwrap_or_else(|| "127.0.0.1/32 ::1/128".into()),
            )?,
            reuse_port: flag(&r.reuse_port, "APP_REUSE_PORT")?,
        })
    }
}

// ---- database ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDatabase {
    pub url: Option<Scalar>,
    pub redis_url: Option<Scalar>,
}

/// Where the data lives, and whether this node shares its rooms with others.
#[derive(Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: `sqlite:...` or `postgres://...`. Default `sqlite://data/app.db`.
    pub url: String,
    /// `REDIS_URL`: turns on distributed mode (several nodes share live rooms, counters and
    /// limits through Redis). Needs PostgreSQL. Default: none (one process).
    pub redis_url: Option<Secret>,
}

impl std::fmt::Debug for DatabaseSettings {
    /// The passwords hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field(
                "redis_url",
                &self.redis_url.as_ref().map(|u| redact_url(&u.0)),
            )
            .finish()
    }
}

impl TryFrom<RawDatabase> for DatabaseSettings {
    type Error = ConfigError;

    fn try_from(r: RawDatabase) -> Result<Self, ConfigError> {
        let url = text(&r.url).unwrap_or_else(|| "sqlite://data/app.db".into());
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                &url,
                "must start with sqlite: or postgres://",
            ));
        }
        let redis_url = nonempty(&r.redis_url);
        if let Some(redis) = &redis_url {
            if !(redis.starts_with("redis://")
                || redis.starts_with("rediss://")
                || redis.starts_with("redis+unix://")
                || redis.starts_with("unix://"))
            {
                return Err(invalid(
                    "REDIS_URL",
                    &redact_url(redis),
                    "expected redis://host:port[/db] (or rediss://, unix://)",
                ));
            }
            if url.starts_with("sqlite:") {
                return Err(invalid(
                    "REDIS_URL",
                    &redact_url(redis),
                    "distributed mode needs PostgreSQL: set DATABASE_URL to postgres://... \
                     (several nodes cannot share one SQLite file), or unset REDIS_URL",
                ));
            }
        }
        Ok(DatabaseSettings {
            url,
            redis_url: redis_url.map(Secret),
        })
    }
}

// ---- media ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMedia {
    pub backend: Option<Scalar>,
    pub dir: Option<Scalar>,
    pub ip: Option<Scalar>,
    pub ffmpeg: Option<Scalar>,
    pub ladder: Option<Scalar>,
    pub hls_live_segments: Option<Scalar>,
    pub whep_max_viewers: Option<Scalar>,
    pub restream_allow_private: Option<Scalar>,
    pub whip_url: Option<Scalar>,
    pub hls_url: Option<Scalar>,
    pub whep_url: Option<Scalar>,
}

/// Live video: where it is published and played, how it is packaged.
#[derive(Clone)]
pub struct MediaConfig {
    /// `APP_MEDIA_BACKEND` (`embedded` or `external`) and its settings.
    pub backend: shop_backend::media::MediaBackend,
    /// `APP_MEDIA_IP`: the address broadcasters reach our WebRTC port on. Default 127.0.0.1.
    pub ip: std::net::IpAddr,
    /// `APP_FFMPEG`: the ffmpeg binary. Default `ffmpeg`.
    pub ffmpeg: String,
    /// `APP_MEDIA_LADDER`: the renditions a broadcast is packaged into. Default
    /// `source,480p:1000k,240p:300k`.
    pub ladder: crate::media::ladder::Ladder,
    /// `APP_HLS_LIVE_SEGMENTS`: segments in each live playlist's sliding window (3 to 30).
    /// Default 6.
    pub hls_live_segments: usize,
    /// `APP_WHEP_MAX_VIEWERS`: WebRTC viewers this node takes at most (beyond, players fall back
    /// to HLS). Default 500; 0 turns WebRTC playback off.
    pub whep_max_viewers: usize,
    /// `APP_RESTREAM_ALLOW_PRIVATE`: restream destinations may be on loopback or private
    /// networks (tests, a relay on the LAN). Default `false`: refused.
    pub restream_allow_private: bool,
}

impl std::fmt::Debug for MediaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaConfig")
            .field("backend", &self.backend)
            .field("ip", &self.ip)
            .field("ffmpeg", &self.ffmpeg)
            .field("ladder", &self.ladder.to_string())
            .field("hls_live_segments", &self.hls_live_segments)
            .field("whep_max_viewers", &self.whep_max_viewers)
            .field("restream_allow_private", &self.restream_allow_private)
            .finish()
    }
}

impl TryFrom<RawMedia> for MediaConfig {
    type Error = ConfigError;

    fn try_from(r: RawMedia) -> Result<Self, ConfigError> {
        use shop_backend::media::MediaBackend;
        let backend = match text(&r.backend).as_deref().unwrap_or("embedded") {
            "embedded" => MediaBackend::Embedded {
                media_dir: PathBuf::from(text(&r.dir).unwrap_or_else(|| "data/media".into())),
            },
            "external" => {
                let need = |v: &Option<Scalar>, name: &'static str| {
                    text(v).filter(|v| v.contains("{session}")).ok_or_else(|| {
                        invalid(
                            name,
                            &text(v).unwrap_or_default(),
                            "required with APP_MEDIA_BACKEND=external; a URL containing {session}",
                        )
                    })
                };
                MediaBackend::External {
                    whip_template: need(&r.whip_url, "APP_MEDIA_WHIP_URL")?,
                    hls_template: need(&r.hls_url, "APP_MEDIA_HLS_URL")?,
                    whep_template: text(&r.whep_url),
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
        let ip_raw = text(&r.ip).unwrap_or_else(|| "127.0.0.1".into());
        let ip = ip_raw
            .parse()
            .map_err(|_| invalid("APP_MEDIA_IP", &ip_raw, "expected an IP address"))?;
        let ladder = match nonempty(&r.ladder) {
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
        Ok(MediaConfig {
            backend,
            ip,
            ffmpeg: text(&r.ffmpeg).unwrap_or_else(|| "ffmpeg".into()),
            ladder,
            hls_live_segments: number(
                &r.hls_live_segments,
                "6",
                "APP_HLS_LIVE_SEGMENTS",
                3..=30,
                "expected a whole number from 3 to 30",
            )?,
            whep_max_viewers: number(
                &r.whep_max_viewers,
                "500",
                "APP_WHEP_MAX_VIEWERS",
                0..=100_000,
                "expected a whole number from 0 to 100000",
            )?,
            restream_allow_private: flag(&r.restream_allow_private, "APP_RESTREAM_ALLOW_PRIVATE")?,
        })
    }
}

// ---- push ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPush {
    pub vapid_private_key: Option<Scalar>,
    pub vapid_subject: Option<Scalar>,
    pub allow_private: Option<Scalar>,
}

/// Web Push for reminders (issue 31).
#[derive(Clone)]
pub struct PushSettings {
    /// `APP_VAPID_PRIVATE_KEY`: the VAPID private key, base64url of the 32-byte P-256 scalar.
    /// Default: one generated on first start and kept in the database (every node reads it).
    pub vapid_private_key: Option<Secret>,
    /// `APP_VAPID_SUBJECT`: the contact push services see (`mailto:` or `https:`). Default
    /// `mailto:ops@{public host}`.
    pub vapid_subject: String,
    /// `APP_PUSH_ALLOW_PRIVATE`: push endpoints may be plain http or on private addresses (a
    /// local push service in tests); otherwise only https to public addresses.
    pub allow_private: bool,
}

impl std::fmt::Debug for PushSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSettings")
            .field(
                "vapid_private_key",
                &self.vapid_private_key.as_ref().map(|_| "(hidden)"),
            )
            .field("vapid_subject", &self.vapid_subject)
            .field("allow_private", &self.allow_private)
            .finish()
    }
}

impl RawPush {
    pub fn settings(&self, public_url: &str) -> Result<PushSettings, ConfigError> {
        let host = public_url.split("://").nth(1).unwrap_or("localhost");
        let host = host.split(['/', ':']).next().unwrap_or("localhost");
        let subject = text(&self.vapid_subject).unwrap_or_else(|| format!("mailto:ops@{host}"));
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(invalid(
                "APP_VAPID_SUBJECT",
                &subject,
                "expected a mailto: or https: contact",
            ));
        }
        Ok(PushSettings {
            vapid_private_key: nonempty(&self.vapid_private_key).map(Secret),
            vapid_subject: subject,
            allow_private: flag(&self.allow_private, "APP_PUSH_ALLOW_PRIVATE")?,
        })
    }
}

// ---- sms ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSms {
    pub sender: Option<Scalar>,
    pub webhook_url: Option<Scalar>,
    pub webhook_secret: Option<Scalar>,
    pub reminders_per_sec: Option<Scalar>,
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

impl RawSms {
    /// `APP_SMS_REMINDERS_PER_SEC`: reminder texts one node sends a second at most (the
    /// gateway's quota, shared out between nodes). Default 200.
    pub fn reminders_per_sec(&self) -> Result<u32, ConfigError> {
        number(
            &self.reminders_per_sec,
            "200",
            "APP_SMS_REMINDERS_PER_SEC",
            1..=1_000_000,
            "expected a whole number from 1 to 1000000",
        )
    }

    /// The sender; over `https` one must be named (codes written to a log are only
    /// acceptable where nobody real signs in).
    pub fn sender(&self, https: bool) -> Result<SmsSender, ConfigError> {
        match nonempty(&self.sender).as_deref() {
            None if https => Err(invalid(
                "APP_SMS_SENDER",
                "",
                "required when APP_PUBLIC_URL is https: webhook (with APP_SMS_WEBHOOK_URL and APP_SMS_WEBHOOK_SECRET), or log for a test deployment",
            )),
            None => Ok(SmsSender::Log { explicit: false }),
            Some("log") => Ok(SmsSender::Log { explicit: true }),
            Some("webhook") => {
                let url = text(&self.webhook_url).unwrap_or_default();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(invalid(
                        "APP_SMS_WEBHOOK_URL",
                        &url,
                        "required with APP_SMS_SENDER=webhook: the SMS gateway's http(s) URL",
                    ));
                }
                let secret = text(&self.webhook_secret).unwrap_or_default();
                if secret.len() < 16 {
                    return Err(invalid(
                        "APP_SMS_WEBHOOK_SECRET",
                        "(hidden)",
                        "required with APP_SMS_SENDER=webhook: at least 16 characters",
                    ));
                }
                Ok(SmsSender::Webhook {
                    url,
                    secret: Secret(secret),
                })
            }
            Some(other) => Err(invalid(
                "APP_SMS_SENDER",
                other,
                "expected log or webhook",
            )),
        }
    }
}

// ---- payment ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPayment {
    pub provider: Option<Scalar>,
    pub timeout_secs: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawWechatPay {
    pub mchid: Option<Scalar>,
    pub appid: Option<Scalar>,
    pub serial_no: Option<Scalar>,
    pub private_key_file: Option<Scalar>,
    pub platform_key_file: Option<Scalar>,
    pub platform_serial: Option<Scalar>,
    pub apiv3_key: Option<Scalar>,
    pub notify_url: Option<Scalar>,
    pub api_base: Option<Scalar>,
}

/// Who takes the shoppers' money.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentSettings {
    /// Confirms every charge at once; no money moves (the quick start's default).
    Demo,
    /// WeChat Pay, API v3 (keys read from their files at start-up).
    Wechat(Box<shop_backend::buying::payment::wechat_pay::WechatPayConfig>),
}

impl RawPayment {
    /// `APP_PAYMENT_TIMEOUT_SECS`: how long an order waits for its payment before its units
    /// and discount go back. Default 900 (15 minutes).
    pub fn timeout(&self) -> Result<Duration, ConfigError> {
        number(
            &self.timeout_secs,
            "900",
            "APP_PAYMENT_TIMEOUT_SECS",
            1..=7 * 86_400,
            "expected whole seconds from 1 to 604800",
        )
        .map(Duration::from_secs)
    }

    /// `APP_PAYMENT_PROVIDER` and, for `wechat`, every `APP_WECHATPAY_*` setting, checked now
    /// (the key files are read and parsed: a wrong key stops the start, not the first
    /// payment). The notification URL defaults to one under `public_url`.
    pub fn provider(
        &self,
        w: &RawWechatPay,
        public_url: &str,
    ) -> Result<PaymentSettings, ConfigError> {
        use shop_backend::buying::payment::wechat_pay::{WechatPay, WechatPayConfig};
        match nonempty(&self.provider).as_deref() {
            None | Some("demo") => Ok(PaymentSettings::Demo),
            Some("wechat") => {
                let required = |v: &Option<Scalar>, name: &'static str| {
                    nonempty(v).ok_or_else(|| {
                        invalid(name, "", "required with APP_PAYMENT_PROVIDER=wechat")
                    })
                };
                let file =
                    |v: &Option<Scalar>, name: &'static str| -> Result<String, ConfigError> {
                        let path = required(v, name)?;
                        std::fs::read_to_string(&path)
                            .map_err(|e| invalid(name, &path, &format!("could not read it: {e}")))
                    };
                let cfg = WechatPayConfig {
                    mchid: required(&w.mchid, "APP_WECHATPAY_MCHID")?,
                    appid: required(&w.appid, "APP_WECHATPAY_APPID")?,
                    serial_no: required(&w.serial_no, "APP_WECHATPAY_SERIAL_NO")?,
                    private_key_pem: file(&w.private_key_file, "APP_WECHATPAY_PRIVATE_KEY_FILE")?,
                    platform_key_pem: file(
                        &w.platform_key_file,
                        "APP_WECHATPAY_PLATFORM_KEY_FILE",
                    )?,
                    platform_serial: required(&w.platform_serial, "APP_WECHATPAY_PLATFORM_SERIAL")?,
                    api_v3_key: required(&w.apiv3_key, "APP_WECHATPAY_APIV3_KEY")?,
                    notify_url: nonempty(&w.notify_url).unwrap_or_else(|| {
                        format!(
                            "{}/payments/wechat/notify",
                            public_url.trim_end_matches('/')
                        )
                    }),
                    base_url: nonempty(&w.api_base)
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
}

// ---- wechat ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawWechat {
    pub appsecret: Option<Scalar>,
    pub oauth_url: Option<Scalar>,
    pub api_base: Option<Scalar>,
    pub appid: Option<Scalar>,
    pub secret: Option<Scalar>,
    pub jsapi_ticket: Option<Scalar>,
    pub verify_dir: Option<Scalar>,
}

/// WeChat itself (beside its payments): web authorisation, the JS-SDK, domain verification.
#[derive(Debug, Clone, Default)]
pub struct WechatSettings {
    /// `APP_WECHAT_APPSECRET` (with WeChat Pay): WeChat's web authorisation, for the openid
    /// that JSAPI payments inside WeChat need. Without it, shoppers inside WeChat get the QR
    /// code (press and hold to pay).
    pub oauth: Option<shop_backend::wechat::auth::WechatOAuthConfig>,
    /// `APP_WECHAT_APPID` (default: WeChat Pay's app id) with `APP_WECHAT_SECRET` (or
    /// `APP_WECHAT_APPSECRET`) or a fixed `APP_WECHAT_JSAPI_TICKET`: the JS-SDK's signature
    /// (`GET /api/wechat/jssdk`), for sharing cards and WeChat's address picker.
    pub jssdk: Option<shop_backend::wechat::jssdk::JsSdkConfig>,
    /// `APP_WECHAT_VERIFY_DIR`: the `MP_verify_*.txt` files WeChat asks a domain to serve at
    /// its root (JS-SDK and web-authorisation domains), served from here.
    pub verify_dir: Option<PathBuf>,
}

impl RawWechat {
    /// WeChat's settings, given who takes payments (web authorisation needs WeChat Pay; the
    /// JS-SDK's app id defaults to WeChat Pay's).
    pub fn settings(&self, payment: &PaymentSettings) -> Result<WechatSettings, ConfigError> {
        let api_base =
            || nonempty(&self.api_base).unwrap_or_else(|| "https://api.weixin.qq.com".into());
        let oauth = match (payment, nonempty(&self.appsecret)) {
            (PaymentSettings::Wechat(w), Some(secret)) => {
                Some(shop_backend::wechat::auth::WechatOAuthConfig {
                    appid: w.appid.clone(),
                    secret,
                    authorize_url: nonempty(&self.oauth_url).unwrap_or_else(|| {
                        "https://open.weixin.qq.com/connect/oauth2/authorize".into()
                    }),
                    api_base: api_base(),
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
        let appid = nonempty(&self.appid).or_else(|| match payment {
            PaymentSettings::Wechat(w) => Some(w.appid.clone()),
            PaymentSettings::Demo => None,
        });
        let secret = nonempty(&self.secret).or_else(|| nonempty(&self.appsecret));
        let ticket = nonempty(&self.jsapi_ticket);
        let jssdk = match (appid, secret, ticket) {
            (Some(appid), secret, ticket) if secret.is_some() || ticket.is_some() => {
                Some(shop_backend::wechat::jssdk::JsSdkConfig {
                    appid,
                    secret,
                    fixed_ticket: ticket,
                    api_base: api_base(),
                })
            }
            (Some(_), None, None) if nonempty(&self.appid).is_some() => {
                return Err(invalid(
                    "APP_WECHAT_APPID",
                    "(set)",
                    "needs APP_WECHAT_SECRET or APP_WECHAT_JSAPI_TICKET",
                ))
            }
            (None, ..)
                if nonempty(&self.secret).is_some() || nonempty(&self.jsapi_ticket).is_some() =>
            {
                return Err(invalid(
                    "APP_WECHAT_SECRET",
                    "(hidden)",
                    "needs APP_WECHAT_APPID (or WeChat Pay's app id)",
                ))
            }
            _ => None,
        };
        Ok(WechatSettings {
            oauth,
            jssdk,
            verify_dir: nonempty(&self.verify_dir).map(PathBuf::from),
        })
    }
}
