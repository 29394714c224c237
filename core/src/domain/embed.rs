//! Embedding a live room in another site: the sites (origins) a host allows, and the message
//! envelope the room and the host page exchange through `postMessage` (`public/embed.js` is
//! the host page's side, `pages::embed` the room's).

use std::fmt;

/// How many sites one host may list (each becomes a `frame-ancestors` source).
pub const MAX_ORIGINS: usize = 20;

/// The envelope's version: every message carries `{"ls": ENVELOPE_VERSION, ...}`; anything
/// else is not ours and is ignored.
pub const ENVELOPE_VERSION: u32 = 1;

/// Events the room posts to the host page.
pub const EVENTS: &[&str] = &[
    "ready",
    "state",
    "productPresented",
    "viewers",
    "addToCart",
    "reserveRequested",
    "resize",
];

/// Commands the host page may send the room.
pub const COMMANDS: &[&str] = &["play", "pause", "mute", "unmute", "setLocale"];

/// A web origin a host allows to embed its rooms: `scheme://host[:port]`, `http` or `https`,
/// host in lower case, no default port, nothing after it. The one spelling of an origin, so
/// that `frame-ancestors`, the stored list and `MessageEvent.origin` compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EmbedOrigin(String);

impl EmbedOrigin {
    /// Parses what a host typed (`https://shop.example.com`, `https://shop.example.com/`,
    /// `HTTP://Shop.Example.com:8080`). Refuses paths, queries, user names, wildcards and any
    /// character that could end a CSP source.
    pub fn parse(input: &str) -> Result<EmbedOrigin, String> {
        let s = input.trim();
        let bad = || {
            format!(
                "\"{}\" is not a site address like https://shop.example.com",
                s.chars().take(80).collect::<String>()
            )
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err("A site address starts with https:// (or http://).".into());
        }
        // One trailing slash is what browsers show; anything else after the host is a path.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', '*', ' ', ';', ',', '\'', '"']) {
            return Err(bad());
        }
        let (host, port) = super::net::parse_authority(rest).ok_or_else(bad)?;
        let host = super::net::url_host(&host);
        let default = if scheme == "https" { 443 } else { 80 };
        let port = port.filter(|p| *p != default);
        Ok(EmbedOrigin(match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmbedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `frame-ancestors` sources for a room whose host allows `origins`: the site itself and
/// each listed origin (already in their one spelling, so nothing can be injected).
pub fn frame_ancestors(origins: &[EmbedOrigin]) -> String {
    let mut out = String::from("'self'");
    for o in origins {
        out.push(' ');
        out.push_str(o.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        EmbedOrigin::parse(s).expect(s).to_string()
    }

    #[test]
    fn one_spelling_per_origin() {
        assert_eq!(ok("https://shop.example.com"), "https://shop.example.com");
        assert_eq!(
            ok("  HTTPS://Shop.Example.COM/ "),
            "https://shop.example.com"
        );
        assert_eq!(
            ok("https://shop.example.com:443"),
            "https://shop.example.com"
        );
        assert_eq!(ok("http://localhost:80"), "http://localhost");
        assert_eq!(ok("http://localhost:3107"), "http://localhost:3107");
        assert_eq!(ok("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(ok("https://[::1]:8443"), "https://[::1]:8443");
        assert_eq!(ok("https://xn--fiqs8s.cn"), "https://xn--fiqs8s.cn");
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for bad in [
            "",
            "shop.example.com",
            "ftp://shop.example.com",
            "javascript://x",
            "https://",
            "https://shop.example.com/path",
            "https://shop.example.com?x=1",
            "https://shop.example.com#top",
            "https://user@shop.example.com",
            "https://*.example.com",
            "https://shop.example.com:0",
            "https://shop.example.com:65536",
            "https://shop.example.com:+80",
            "https://shop..example.com",
            "https://-shop.example.com",
            "https://shop.example.com; script-src *",
            "https://shop.example.com 'unsafe-inline'",
            "https://shop.example.com,https://evil.example",
            "https://[zz::1]",
            "https://exa mple.com",
            "https://例子.cn",
        ] {
            assert!(
                EmbedOrigin::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn frame_ancestors_lists_self_then_the_sites() {
        let list = vec![
            ok_origin("https://a.example"),
            ok_origin("http://localhost:3107"),
        ];
        assert_eq!(
            frame_ancestors(&list),
            "'self' https://a.example http://localhost:3107"
        );
        assert_eq!(frame_ancestors(&[]), "'self'");
    }

    fn ok_origin(s: &str) -> EmbedOrigin {
        EmbedOrigin::parse(s).unwrap()
    }
}
