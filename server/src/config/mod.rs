//! Configuration: environment variables, optionally a TOML file named by `APP_CONFIG`, merged
//! by figment (`RUST_LOG` < file < environment) into nested sections (`sections.rs`: `server`,
//! `database`, `media`, `sms`, `payment`, `wechatpay`, `wechat`), each a `#[derive(Deserialize)]`
//! table that refuses unknown keys and is checked by its `TryFrom`. The environment keeps its
//! flat names (`APP_BIND`, `APP_WECHATPAY_MCHID`): [`SETTINGS`] maps each to its section and
//! key. Every setting has a documented default (README); a bad value stops start-up with a
//! message that names the setting as the environment spells it. Secrets are never printed
//! (`Debug` redacts them).

mod sections;

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::Deserialize;

use sections::RawConfig;
pub use sections::{
    DatabaseSettings, MediaConfig, PaymentSettings, PushSettings, ServerSettings, SmsSender,
    WechatSettings,
};

/// Every setting, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub media: MediaConfig,
    /// `APP_SMS_SENDER` (`log` or `webhook`) and its settings: how one-time codes for phone
    /// verification are delivered.
    pub sms: SmsSender,
    /// `APP_SMS_REMINDERS_PER_SEC`: reminder texts a second per node.
    pub sms_reminders_per_sec: u32,
    /// `APP_VAPID_*`, `APP_PUSH_ALLOW_PRIVATE`: Web Push for reminders.
    pub push: PushSettings,
    /// `APP_PAYMENT_PROVIDER` (`demo` or `wechat`) and WeChat Pay's `APP_WECHATPAY_*` settings.
    pub payment: PaymentSettings,
    /// `APP_PAYMENT_TIMEOUT_SECS`: how long an order waits for its payment before its units
    /// and discount go back. Default 900 (15 minutes).
    pub payment_timeout: Duration,
    pub wechat: WechatSettings,
}

/// The checks that span sections: codes by log only over plain http, WeChat Pay's
/// notification URL under the public URL, WeChat's authorisation only with WeChat Pay.
impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Config, ConfigError> {
        let server = ServerSettings::try_from(raw.server)?;
        let database = DatabaseSettings::try_from(raw.database)?;
        let media = MediaConfig::try_from(raw.media)?;
        let payment_timeout = raw.payment.timeout()?;
        let sms = raw.sms.sender(server.public_url.starts_with("https://"))?;
        let sms_reminders_per_sec = raw.sms.reminders_per_sec()?;
        let push = raw.push.settings(&server.public_url)?;
        let payment = raw.payment.provider(&raw.wechatpay, &server.public_url)?;
        let wechat = raw.wechat.settings(&payment)?;
        Ok(Config {
            server,
            database,
            media,
            sms,
            sms_reminders_per_sec,
            push,
            payment,
            payment_timeout,
            wechat,
        })
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

/// Each setting: its environment variable and its place in the file (`section.key`).
pub const SETTINGS: &[(&str, &str)] = &[
    ("APP_BIND", "server.bind"),
    ("APP_PUBLIC_URL", "server.public_url"),
    ("APP_DIST_DIR", "server.dist_dir"),
    ("APP_FRAME_ANCESTORS", "server.frame_ancestors"),
    ("APP_DEMO_DATA", "server.demo_data"),
    ("APP_LOG", "server.log"),
    ("APP_SHUTDOWN_GRACE_SECS", "server.shutdown_grace_secs"),
    ("APP_UPLOAD_DIR", "server.upload_dir"),
    ("APP_COOKIE_SECRET", "server.cookie_secret"),
    ("APP_RATE_LIMIT_SCALE", "server.rate_limit_scale"),
    ("APP_NODE_BIND", "server.node_bind"),
    ("APP_NODE_URL", "server.node_url"),
    ("APP_TRUSTED_PROXIES", "server.trusted_proxies"),
    ("APP_METRICS_ALLOW", "server.metrics_allow"),
    ("APP_REUSE_PORT", "server.reuse_port"),
    ("DATABASE_URL", "database.url"),
    ("REDIS_URL", "database.redis_url"),
    ("APP_MEDIA_BACKEND", "media.backend"),
    ("APP_MEDIA_DIR", "media.dir"),
    ("APP_MEDIA_IP", "media.ip"),
    ("APP_FFMPEG", "media.ffmpeg"),
    ("APP_MEDIA_LADDER", "media.ladder"),
    ("APP_HLS_LIVE_SEGMENTS", "media.hls_live_segments"),
    ("APP_WHEP_MAX_VIEWERS", "media.whep_max_viewers"),
    ("APP_RESTREAM_ALLOW_PRIVATE", "media.restream_allow_private"),
    ("APP_MEDIA_WHIP_URL", "media.whip_url"),
    ("APP_MEDIA_HLS_URL", "media.hls_url"),
    ("APP_MEDIA_WHEP_URL", "media.whep_url"),
    ("APP_SMS_SENDER", "sms.sender"),
    ("APP_SMS_WEBHOOK_URL", "sms.webhook_url"),
    ("APP_SMS_WEBHOOK_SECRET", "sms.webhook_secret"),
    ("APP_SMS_REMINDERS_PER_SEC", "sms.reminders_per_sec"),
    ("APP_VAPID_PRIVATE_KEY", "push.vapid_private_key"),
    ("APP_VAPID_SUBJECT", "push.vapid_subject"),
    ("APP_PUSH_ALLOW_PRIVATE", "push.allow_private"),
    ("APP_PAYMENT_PROVIDER", "payment.provider"),
    ("APP_PAYMENT_TIMEOUT_SECS", "payment.timeout_secs"),
    ("APP_WECHATPAY_MCHID", "wechatpay.mchid"),
    ("APP_WECHATPAY_APPID", "wechatpay.appid"),
    ("APP_WECHATPAY_SERIAL_NO", "wechatpay.serial_no"),
    (
        "APP_WECHATPAY_PRIVATE_KEY_FILE",
        "wechatpay.private_key_file",
    ),
    (
        "APP_WECHATPAY_PLATFORM_KEY_FILE",
        "wechatpay.platform_key_file",
    ),
    ("APP_WECHATPAY_PLATFORM_SERIAL", "wechatpay.platform_serial"),
    ("APP_WECHATPAY_APIV3_KEY", "wechatpay.apiv3_key"),
    ("APP_WECHATPAY_NOTIFY_URL", "wechatpay.notify_url"),
    ("APP_WECHATPAY_API_BASE", "wechatpay.api_base"),
    ("APP_WECHAT_APPSECRET", "wechat.appsecret"),
    ("APP_WECHAT_OAUTH_URL", "wechat.oauth_url"),
    ("APP_WECHAT_API_BASE", "wechat.api_base"),
    ("APP_WECHAT_APPID", "wechat.appid"),
    ("APP_WECHAT_SECRET", "wechat.secret"),
    ("APP_WECHAT_JSAPI_TICKET", "wechat.jsapi_ticket"),
    ("APP_WECHAT_VERIFY_DIR", "wechat.verify_dir"),
];

/// A setting's place in the file, by its environment variable.
fn path_of(env: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(env))
        .map(|(_, path)| *path)
}

/// A setting as the file or the environment gives it: text, a number or a boolean (all read
/// as text, then checked by `from_values`).
#[derive(Debug, Clone)]
pub struct Scalar(String);

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

impl Config {
    /// Reads the process environment (and `APP_CONFIG`, if set).
    pub fn from_env() -> Result<Config, ConfigError> {
        let file = std::env::var("APP_CONFIG").ok();
        let rust_log = Figment::from(
            Env::raw()
                .only(&["RUST_LOG"])
                .map(|_| "server.log".into())
                .split("."),
        );
        let env = Figment::from(
            Env::raw()
                .filter_map(|k| path_of(k.as_str()).map(Into::into))
                .split("."),
        );
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
        Config::try_from(raw)
    }

    /// Builds a config from environment variables given as a map (`APP_BIND` -> value): the
    /// tests' way in, through the same sections and checks.
    pub fn from_values(values: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let mut fig = Figment::new();
        for (name, value) in values {
            let path = path_of(name).ok_or_else(|| ConfigError::File {
                path: "(values)".into(),
                reason: format!("unknown setting {name}"),
            })?;
            fig = fig.merge(Serialized::default(path, value));
        }
        Config::load(Figment::new(), None, fig)
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
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database.url, "sqlite://data/app.db");
        assert_eq!(c.server.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.server.frame_ancestors, "'self'");
        assert!(!c.server.demo_data);
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(10));
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (key, value, name) in [
            ("APP_BIND", "localhost", "APP_BIND"),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
            ("APP_PUBLIC_URL", "example.com", "APP_PUBLIC_URL"),
            (
                "APP_FRAME_ANCESTORS",
                "'self'; script-src *",
                "APP_FRAME_ANCESTORS",
            ),
            ("APP_DEMO_DATA", "maybe", "APP_DEMO_DATA"),
            ("APP_SHUTDOWN_GRACE_SECS", "-1", "APP_SHUTDOWN_GRACE_SECS"),
            ("APP_COOKIE_SECRET", "short", "APP_COOKIE_SECRET"),
            ("APP_RATE_LIMIT_SCALE", "0", "APP_RATE_LIMIT_SCALE"),
            ("APP_PAYMENT_TIMEOUT_SECS", "0", "APP_PAYMENT_TIMEOUT_SECS"),
            ("APP_MEDIA_BACKEND", "cdn", "APP_MEDIA_BACKEND"),
            ("APP_MEDIA_IP", "localhost", "APP_MEDIA_IP"),
        ] {
            let err = cfg(&[(key, value)]).expect_err(key);
            assert!(err.to_string().contains(name), "{err} should name {name}");
        }
    }

    #[test]
    fn wechat_pay_settings_are_checked_at_start_and_never_printed() {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        assert_eq!(cfg(&[]).expect("default").payment, PaymentSettings::Demo);
        let err = cfg(&[("APP_PAYMENT_PROVIDER", "paypal")]).expect_err("unknown");
        assert!(err.to_string().contains("APP_PAYMENT_PROVIDER"), "{err}");
        let err = cfg(&[("APP_PAYMENT_PROVIDER", "wechat")]).expect_err("nothing set");
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
                ("APP_PUBLIC_URL", "http://shop.example.com".into()),
                ("APP_PAYMENT_PROVIDER", "wechat".into()),
                ("APP_WECHATPAY_MCHID", "1900000109".into()),
                ("APP_WECHATPAY_APPID", "wx8888888888888888".into()),
                (
                    "APP_WECHATPAY_SERIAL_NO",
                    "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
                ),
                ("APP_WECHATPAY_PRIVATE_KEY_FILE", private.clone()),
                ("APP_WECHATPAY_PLATFORM_KEY_FILE", public.clone()),
                (
                    "APP_WECHATPAY_PLATFORM_SERIAL",
                    "PUB_KEY_ID_0114232134912410000000000000".into(),
                ),
                (
                    "APP_WECHATPAY_APIV3_KEY",
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
                "APP_WECHATPAY_PRIVATE_KEY_FILE",
                "/nonexistent/key.pem",
                "APP_WECHATPAY_PRIVATE_KEY_FILE",
            ),
            (
                "APP_WECHATPAY_PLATFORM_SERIAL",
                "",
                "APP_WECHATPAY_PLATFORM_SERIAL",
            ),
            ("APP_WECHATPAY_APIV3_KEY", "too-short", "APP_WECHATPAY_"),
            (
                "APP_WECHATPAY_PLATFORM_KEY_FILE",
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
        let err = cfg(&[("APP_PUBLIC_URL", "https://live.example.com")]).expect_err("https");
        assert!(err.to_string().contains("APP_SMS_SENDER"), "{err}");
        let c = cfg(&[
            ("APP_PUBLIC_URL", "https://live.example.com"),
            ("APP_SMS_SENDER", "log"),
        ])
        .expect("log named explicitly");
        assert_eq!(c.sms, SmsSender::Log { explicit: true });
        let err = cfg(&[("APP_SMS_SENDER", "webhook")]).expect_err("url missing");
        assert!(err.to_string().contains("APP_SMS_WEBHOOK_URL"), "{err}");
        let err = cfg(&[
            ("APP_SMS_SENDER", "webhook"),
            ("APP_SMS_WEBHOOK_URL", "https://sms.example.com/send"),
        ])
        .expect_err("secret missing");
        assert!(err.to_string().contains("APP_SMS_WEBHOOK_SECRET"), "{err}");
        let c = cfg(&[
            ("APP_PUBLIC_URL", "https://live.example.com"),
            ("APP_SMS_SENDER", "webhook"),
            ("APP_SMS_WEBHOOK_URL", "https://sms.example.com/send"),
            ("APP_SMS_WEBHOOK_SECRET", "a-secret-of-some-length"),
        ])
        .expect("webhook");
        assert!(!format!("{c:?}").contains("a-secret-of-some-length"));
        let with_secrets = cfg(&[
            ("DATABASE_URL", "postgres://app:hunter2-password@db/app"),
            (
                "APP_COOKIE_SECRET",
                "0123456789abcdef0123456789abcdef-cookie",
            ),
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
            ("DATABASE_URL", pg),
            ("REDIS_URL", "redis://:sekret@cache:6379/0"),
        ])
        .expect("redis with postgres");
        assert!(c.database.redis_url.is_some());
        assert!(!format!("{c:?}").contains("sekret"));
        // SQLite + Redis: several nodes cannot share one file.
        let err = cfg(&[("REDIS_URL", "redis://cache:6379")]).expect_err("sqlite + redis");
        assert!(err.to_string().contains("REDIS_URL") && err.to_string().contains("PostgreSQL"));
        let err = cfg(&[("DATABASE_URL", pg), ("REDIS_URL", "http://cache")]).expect_err("scheme");
        assert!(err.to_string().contains("REDIS_URL"), "{err}");
        // Proxies and metrics readers: addresses or ranges; loopback reads metrics by default.
        let c = cfg(&[("APP_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ::1")]).expect("nets");
        assert_eq!(c.server.trusted_proxies.len(), 3);
        assert!(c.server.trusted_proxies[1]
            .contains(&"192.168.1.7".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(c.server.metrics_allow.len(), 2);
        assert!(!c.server.reuse_port);
        assert!(!c.media.restream_allow_private);
        for (key, name) in [
            ("APP_TRUSTED_PROXIES", "APP_TRUSTED_PROXIES"),
            ("APP_METRICS_ALLOW", "APP_METRICS_ALLOW"),
            ("APP_REUSE_PORT", "APP_REUSE_PORT"),
            ("APP_RESTREAM_ALLOW_PRIVATE", "APP_RESTREAM_ALLOW_PRIVATE"),
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
            "[server]\nbind = \"0.0.0.0:8080\"\ndemo_data = true\nshutdown_grace_secs = 3\n",
        )
        .expect("write");
        let c = Config::load(Figment::new(), good.to_str(), Figment::new()).expect("valid");
        assert_eq!(c.server.bind.port(), 8080);
        assert!(c.server.demo_data);
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(3));

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[server]\nbnid = \"x\"\n").expect("write");
        let err =
            Config::load(Figment::new(), bad.to_str(), Figment::new()).expect_err("unknown key");
        assert!(err.to_string().contains("bnid"), "{err}");
        // The environment wins over the file; a missing file is an error.
        let env = Figment::from(figment::providers::Serialized::default(
            "server.bind",
            "127.0.0.1:9999",
        ));
        let c = Config::load(Figment::new(), good.to_str(), env).expect("valid");
        assert_eq!(c.server.bind.port(), 9999);
        assert!(Config::load(Figment::new(), Some("/nonexistent.toml"), Figment::new()).is_err());
    }

    #[test]
    fn the_environment_keeps_its_flat_names_and_wins_over_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "app.toml",
                "[server]\nbind = \"127.0.0.1:7000\"\ndemo_data = true\n",
            )?;
            jail.set_env("APP_CONFIG", "app.toml");
            jail.set_env("APP_BIND", "127.0.0.1:7001");
            jail.set_env("DATABASE_URL", "postgres://app:pw@db/app");
            jail.set_env("REDIS_URL", "redis://cache:6379");
            jail.set_env("APP_MEDIA_LADDER", "source,240p:300k");
            jail.set_env("RUST_LOG", "debug");
            // Not ours: ignored, not refused.
            jail.set_env("APP_SOMETHING_ELSE", "x");
            let c = Config::from_env().expect("valid");
            assert_eq!(c.server.bind.port(), 7001);
            assert!(c.server.demo_data);
            assert_eq!(c.database.url, "postgres://app:pw@db/app");
            assert!(c.database.redis_url.is_some());
            assert_eq!(c.media.ladder.to_string(), "source,240p:300k");
            assert_eq!(c.server.log, "debug");
            jail.set_env("APP_LOG", "warn");
            jail.set_env("APP_HLS_LIVE_SEGMENTS", "99");
            let err = Config::from_env().expect_err("out of range");
            assert!(err.to_string().contains("APP_HLS_LIVE_SEGMENTS"), "{err}");
            Ok(())
        });
    }
}
