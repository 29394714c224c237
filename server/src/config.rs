//! Configuration: environment variables, optionally a TOML file named by `APP_CONFIG`.
//! Environment wins over the file; every setting has a documented default (README); a bad
//! value stops start-up with a message that names the setting.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

#[derive(Debug, Clone)]
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
    pub cookie_secret: Option<String>,
    /// `APP_RATE_LIMIT_SCALE`: multiplies every rate limit (load tests raise it). Default 1.
    pub rate_limit_scale: u32,
    /// `APP_UPLOAD_DIR`: where uploaded images are kept. Default `data/uploads`.
    pub upload_dir: PathBuf,
    /// `APP_MEDIA_BACKEND` (`embedded` or `external`) and its settings.
    pub media: app::backend::media::MediaBackend,
    /// `APP_MEDIA_IP`: the address broadcasters reach our WebRTC port on. Default 127.0.0.1.
    pub media_ip: std::net::IpAddr,
    /// `APP_FFMPEG`: the ffmpeg binary. Default `ffmpeg`.
    pub ffmpeg: String,
    /// `APP_SMS_SENDER` (`log` or `webhook`) and its settings: how one-time codes for phone
    /// verification are delivered.
    pub sms: SmsSender,
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
    ("APP_UPLOAD_DIR", "upload_dir"),
    ("APP_MEDIA_BACKEND", "media_backend"),
    ("APP_MEDIA_DIR", "media_dir"),
    ("APP_MEDIA_IP", "media_ip"),
    ("APP_FFMPEG", "ffmpeg"),
    ("APP_MEDIA_WHIP_URL", "media_whip_url"),
    ("APP_MEDIA_HLS_URL", "media_hls_url"),
    ("APP_MEDIA_WHEP_URL", "media_whep_url"),
    ("APP_SMS_SENDER", "sms_sender"),
    ("APP_SMS_WEBHOOK_URL", "sms_webhook_url"),
    ("APP_SMS_WEBHOOK_SECRET", "sms_webhook_secret"),
];

impl Config {
    /// Reads the process environment (and `APP_CONFIG`, if set).
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut values = match std::env::var("APP_CONFIG") {
            Ok(path) => read_toml_file(&path)?,
            Err(_) => HashMap::new(),
        };
        for (env, key) in SETTINGS {
            if let Ok(v) = std::env::var(env) {
                values.insert((*key).to_string(), v);
            }
        }
        if !values.contains_key("log") {
            if let Ok(v) = std::env::var("RUST_LOG") {
                values.insert("log".into(), v);
            }
        }
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

        let cookie_secret = get("cookie_secret").filter(|s| !s.is_empty());
        if let Some(secret) = &cookie_secret {
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
            "embedded" => app::backend::media::MediaBackend::Embedded {
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
                app::backend::media::MediaBackend::External {
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

        Ok(Config {
            sms,
            media,
            media_ip,
            ffmpeg,
            upload_dir,
            cookie_secret,
            rate_limit_scale,
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

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn read_toml_file(path: &str) -> Result<HashMap<String, String>, ConfigError> {
    let file_err = |reason: String| ConfigError::File {
        path: path.to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_err(e.to_string()))?;
    let known: Vec<&str> = SETTINGS.iter().map(|(_, k)| *k).collect();
    let mut out = HashMap::new();
    for (key, value) in table {
        if !known.contains(&key.as_str()) {
            return Err(file_err(format!(
                "unknown setting {key:?}; known: {}",
                known.join(", ")
            )));
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(file_err(format!(
                    "{key} must be a string, number or boolean, not {}",
                    other.type_str()
                )))
            }
        };
        out.insert(key, value);
    }
    Ok(out)
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
            ("media_backend", "cdn", "APP_MEDIA_BACKEND"),
            ("media_ip", "localhost", "APP_MEDIA_IP"),
        ] {
            let err = cfg(&[(key, value)]).expect_err(key);
            assert!(err.to_string().contains(name), "{err} should name {name}");
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
        assert!(matches!(c.sms, SmsSender::Webhook { .. }));
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
        let values = read_toml_file(good.to_str().expect("utf8")).expect("parses");
        let c = Config::from_values(&values).expect("valid");
        assert_eq!(c.bind.port(), 8080);
        assert!(c.demo_data);
        assert_eq!(c.shutdown_grace, Duration::from_secs(3));

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "bnid = \"x\"\n").expect("write");
        let err = read_toml_file(bad.to_str().expect("utf8")).expect_err("unknown key");
        assert!(err.to_string().contains("bnid"));
    }
}
