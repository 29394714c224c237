//! Restreaming: the places a host's broadcast is also pushed to (YouTube, Bilibili, Douyin,
//! any RTMP(S) ingest). A destination is an ingest URL and a stream key, parsed here once:
//!
//! - The URL is `rtmp://` or `rtmps://`, a host (name, IPv4 or `[IPv6]`), an optional port
//!   and the application path (`/live2`, `/app`); no user name, query or fragment, no
//!   whitespace or control character, at most [`MAX_URL_CHARS`]. It is kept in one spelling
//!   (scheme and host lower case, no trailing slash); the key is pushed as its last segment.
//! - The key is 1 to [`MAX_KEY_CHARS`] printable ASCII characters without spaces (platform
//!   keys carry `-`, `_`, `?`, `&`, `=`). Only its [`masked`](StreamKey::masked) form is ever
//!   shown: `••••` and its last 4 characters when it has at least 12.
//! - Private addresses ([`is_public_ip`]) are refused unless the deployment allows them: a
//!   host must not make the server push into its own network.
//!
//! A destination's state, as the studio shows it ([`shown_state`]): off (disabled), waiting
//! (enabled, nothing being pushed), connecting, live or failing. The ingest node writes the
//! last three and refreshes them while it pushes; one not refreshed for [`STATE_STALE_MS`]
//! belonged to a push that has gone (its node stopped) and reads as waiting.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
};

use serde::{Deserialize, Serialize};

/// Where a restream destination stands (`domain::restream::shown_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestreamState {
    /// Disabled by the host.
    Off,
    /// Enabled; nothing is being pushed to it (no broadcast on).
    Waiting,
    Connecting,
    Live,
    /// The push failed and is being retried; the reason says why.
    Failing,
}

/// Destinations per host.
pub const MAX_DESTINATIONS: usize = 5;
pub const MAX_NAME_CHARS: usize = 40;
pub const MAX_URL_CHARS: usize = 300;
pub const MAX_KEY_CHARS: usize = 300;
/// A pushed destination's state is refreshed this often while it lasts ...
pub const STATE_REFRESH_MS: i64 = 10_000;
/// ... and read as gone (waiting) when older than this.
pub const STATE_STALE_MS: i64 = 30_000;

/// The characters a masked key starts with.
pub const MASK: &str = "••••";

/// A destination's name as the host typed it: one line, 1 to 40 characters.
pub fn parse_name(raw: &str) -> Result<String, String> {
    super::text::clean_line(raw, MAX_NAME_CHARS)
        .map_err(|_| format!("Give the destination a name of 1 to {MAX_NAME_CHARS} characters."))
}

/// An RTMP(S) ingest URL in its one spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestUrl {
    tls: bool,
    /// Lower case; an IPv6 address without its brackets.
    host: String,
    port: Option<u16>,
    /// Starts with `/`, no trailing `/`.
    path: String,
}

impl IngestUrl {
    pub fn parse(input: &str) -> Result<IngestUrl, String> {
        let s = input.trim();
        if s.chars().count() > MAX_URL_CHARS {
            return Err(format!(
                "The server URL can be at most {MAX_URL_CHARS} characters."
            ));
        }
        let bad = || {
            format!(
                "\"{}\" is not an RTMP server URL like rtmp://live.example.com/app",
                s.chars()
                    .filter(|c| !c.is_control())
                    .take(80)
                    .collect::<String>()
            )
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "rtmp" => false,
            "rtmps" => true,
            _ => return Err("The server URL starts with rtmp:// or rtmps://.".into()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let path = path.trim_end_matches('/');
        let path_ok = |c: char| c.is_ascii_alphanumeric() || "-._~/%=+,:".contains(c);
        if path.is_empty() || !path.chars().all(path_ok) || path.contains("//") {
            return Err(bad());
        }
        let (host, port) = super::net::parse_authority(authority).ok_or_else(bad)?;
        Ok(IngestUrl {
            tls,
            host,
            port,
            path: path.to_string(),
        })
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host name or address (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port connected to: the URL's, else RTMP's 1935 or RTMPS's 443.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls { 443 } else { 1935 })
    }

    /// The application path (`/live2`): starts with `/`, no trailing `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The host as an address when the URL names one, and `localhost` names as loopback.
    pub fn literal_ip(&self) -> Option<IpAddr> {
        if self.host == "localhost" || self.host.ends_with(".localhost") {
            return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        self.host.parse().ok()
    }

    /// Where the broadcast goes: this URL with the key as its last path segment.
    pub fn with_key(&self, key: &StreamKey) -> String {
        format!("{self}/{}", key.0)
    }
}

impl fmt::Display for IngestUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rtmps" } else { "rtmp" };
        let host = super::net::url_host(&self.host);
        match self.port {
            Some(p) => write!(f, "{scheme}://{host}:{p}{}", self.path),
            None => write!(f, "{scheme}://{host}{}", self.path),
        }
    }
}

/// A stream key: a secret. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamKey(String);

impl fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamKey({})", self.masked())
    }
}

impl StreamKey {
    pub fn parse(raw: &str) -> Result<StreamKey, String> {
        let key = raw.trim();
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(format!(
                "Paste the stream key the platform gave you (1 to {MAX_KEY_CHARS} characters)."
            ));
        }
        // Printable ASCII, no space: nothing that could end the URL or start an ffmpeg option.
        if !key.bytes().all(|b| b.is_ascii_graphic()) || key.contains(['/', '#', '"', '\\']) {
            return Err("A stream key has no spaces, slashes or characters outside ASCII.".into());
        }
        Ok(StreamKey(key.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What may be shown of the key: its last 4 characters, only when it has at least 12.
    pub fn hint(&self) -> String {
        let n = self.0.chars().count();
        if n >= 12 {
            self.0.chars().skip(n - 4).collect()
        } else {
            String::new()
        }
    }

    /// `••••` followed by the [`hint`](Self::hint).
    pub fn masked(&self) -> String {
        masked(&self.hint())
    }
}

/// The masked form of a key whose stored hint is `hint`.
pub fn masked(hint: &str) -> String {
    format!("{MASK}{hint}")
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, unique
/// local), link-local, shared (CGNAT), documentation, benchmarking, multicast, reserved or
/// unspecified, and for IPv6 not an IPv4 address in disguise (mapped, NAT64) that is one of those.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let o = v6.octets();
                return is_public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                // IPv4-compatible (deprecated) ::a.b.c.d
                || s[..6] == [0; 6]
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 198 && (b == 18 || b == 19))) // benchmarking
}

/// Why a destination is refused or a push fails, when the reason is ours (ffmpeg's own are
/// shown as it says them). Each is an `errors` text, so the studio shows it translated.
pub const PRIVATE_ADDRESS: &str =
    "This server is on a private network: restreams go to public platforms only.";
pub const NOT_RESOLVED: &str = "The server's name could not be found.";
pub const NOT_TAKEN: &str = "The server stopped taking the stream.";
pub const FFMPEG_FAILED: &str = "The restream could not start on this server (ffmpeg).";
pub const KEY_UNREADABLE: &str =
    "The stream key can no longer be read (the server's secret changed): delete this destination and add it again.";

/// The state the studio shows for a destination: `stored` is what the ingest node wrote last
/// (`connecting`, `live` or `failing`) and when.
pub fn shown_state(enabled: bool, stored: Option<(&str, i64)>, now_ms: i64) -> RestreamState {
    if !enabled {
        return RestreamState::Off;
    }
    match stored {
        Some((state, at)) if now_ms - at <= STATE_STALE_MS => match state {
            "connecting" => RestreamState::Connecting,
            "live" => RestreamState::Live,
            "failing" => RestreamState::Failing,
            _ => RestreamState::Waiting,
        },
        _ => RestreamState::Waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> String {
        IngestUrl::parse(s).expect(s).to_string()
    }

    #[test]
    fn ingest_urls_have_one_spelling() {
        assert_eq!(
            url(" RTMP://A.RTMP.YouTube.com/live2/ "),
            "rtmp://a.rtmp.youtube.com/live2"
        );
        assert_eq!(
            url("rtmps://live-api-s.facebook.com:443/rtmp/"),
            "rtmps://live-api-s.facebook.com:443/rtmp"
        );
        assert_eq!(
            url("rtmp://127.0.0.1:1935/live"),
            "rtmp://127.0.0.1:1935/live"
        );
        assert_eq!(url("rtmp://[::1]:1935/a/b"), "rtmp://[::1]:1935/a/b");
        let u = IngestUrl::parse("rtmps://ingest.example.com/app").unwrap();
        assert!(u.is_tls());
        assert_eq!((u.host(), u.port()), ("ingest.example.com", 443));
        assert_eq!(IngestUrl::parse("rtmp://x.cn/a").unwrap().port(), 1935);
        let key = StreamKey::parse("abcd-efgh-ijkl-mnop").unwrap();
        assert_eq!(
            u.with_key(&key),
            "rtmps://ingest.example.com/app/abcd-efgh-ijkl-mnop"
        );
    }

    #[test]
    fn refuses_what_is_not_an_ingest_url() {
        let long = format!("rtmp://example.com/{}", "a".repeat(MAX_URL_CHARS));
        for bad in [
            "",
            "example.com/live",
            "http://example.com/live",
            "srt://example.com/live",
            "rtmp://",
            "rtmp://example.com",
            "rtmp://example.com/",
            "rtmp://user:pass@example.com/live",
            "rtmp://example.com/live?x=1",
            "rtmp://example.com/live#x",
            "rtmp://example.com/li ve",
            "rtmp://example.com/live\n-i",
            "rtmp://exa_mple.com/live",
            "rtmp://-example.com/live",
            "rtmp://example.com:0/live",
            "rtmp://example.com:99999/live",
            "rtmp://example.com:/live",
            "rtmp://[::1/live",
            "rtmp://[zz::1]/live",
            "rtmp://example.com//live",
            "rtmp://例子.cn/live",
            long.as_str(),
        ] {
            assert!(IngestUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn keys_are_checked_and_only_shown_masked() {
        let key = StreamKey::parse(" FB-1234567890-0-AbCdEf?s_bl=1&s_psm=1 ").unwrap();
        assert_eq!(key.expose(), "FB-1234567890-0-AbCdEf?s_bl=1&s_psm=1");
        assert_eq!(key.masked(), "••••sm=1");
        assert!(!format!("{key:?}").contains("AbCdEf"));
        // A short key shows nothing of itself.
        assert_eq!(StreamKey::parse("abc12345").unwrap().masked(), "••••");
        for bad in [
            "",
            "   ",
            "has space",
            "a/b",
            "tab\tkey",
            "nul\0",
            "ключ",
            &"k".repeat(MAX_KEY_CHARS + 1),
        ] {
            assert!(StreamKey::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_are_one_line_of_bounded_length() {
        assert_eq!(
            parse_name("  YouTube\u{202E} main\n").unwrap(),
            "YouTube main"
        );
        assert!(parse_name(" \u{200F} ").is_err());
        assert!(parse_name(&"n".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn private_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public_ip(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "203.0.114.1", "2400:3200::1", "::ffff:1.1.1.1"] {
            assert!(is_public_ip(public.parse().unwrap()), "{public}");
        }
        let local = IngestUrl::parse("rtmp://localhost/live").unwrap();
        assert_eq!(local.literal_ip(), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let named = IngestUrl::parse("rtmp://live.example.com/live").unwrap();
        assert_eq!(named.literal_ip(), None);
    }

    #[test]
    fn our_reasons_are_translated() {
        for reason in [
            PRIVATE_ADDRESS,
            NOT_RESOLVED,
            NOT_TAKEN,
            FFMPEG_FAILED,
            KEY_UNREADABLE,
        ] {
            assert!(
                crate::i18n::translate_message(crate::i18n::Locale::ZhCn, reason).is_some(),
                "{reason}"
            );
        }
    }

    #[test]
    fn states_go_stale_when_not_refreshed() {
        let now = 1_000_000;
        assert_eq!(
            shown_state(false, Some(("live", now)), now),
            RestreamState::Off
        );
        assert_eq!(shown_state(true, None, now), RestreamState::Waiting);
        assert_eq!(
            shown_state(true, Some(("live", now - 1_000)), now),
            RestreamState::Live
        );
        assert_eq!(
            shown_state(true, Some(("failing", now)), now),
            RestreamState::Failing
        );
        assert_eq!(
            shown_state(true, Some(("live", now - STATE_STALE_MS - 1)), now),
            RestreamState::Waiting
        );
    }
}
