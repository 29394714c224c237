//! Host names and addresses as people type them in URLs, in one spelling: the authority part
//! of an embedding site's origin (`embed`) and of a restream ingest URL (`restream`).

use std::net::Ipv6Addr;

/// A URL's authority, `host[:port]`, in one spelling: the host in lower case, either a DNS name
/// (dot-separated labels of letters, digits and inner hyphens, at most 253 characters) or an
/// IPv4 address, or an IPv6 address in brackets (returned without them); the port 1 to 65535,
/// digits only. `None` for anything else: user names, wildcards, empty labels, a bad port.
pub fn parse_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets.
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let host = host.to_ascii_lowercase();
    let host = if let Some(v6) = host.strip_prefix('[') {
        let v6 = v6.strip_suffix(']')?;
        v6.parse::<Ipv6Addr>().ok()?;
        v6.to_string()
    } else {
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            return None;
        }
        host
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n > 0 && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()))?,
        ),
    };
    Some((host, port))
}

/// A host as it is written in a URL: an IPv6 address in brackets.
pub fn url_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_have_one_spelling() {
        let p = |s: &str| parse_authority(s);
        assert_eq!(
            p("Shop.Example.COM"),
            Some(("shop.example.com".into(), None))
        );
        assert_eq!(
            p("live.example.com:1935"),
            Some(("live.example.com".into(), Some(1935)))
        );
        assert_eq!(p("127.0.0.1:80"), Some(("127.0.0.1".into(), Some(80))));
        assert_eq!(p("[::1]:8443"), Some(("::1".into(), Some(8443))));
        assert_eq!(p("[FD00::1]"), Some(("fd00::1".into(), None)));
        for bad in [
            "",
            ":80",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "*.example.com",
            "example.com:",
            "example.com:0",
            "example.com:65536",
            "example.com:+80",
            "[::1",
            "[zz::1]",
            "::1",
            "例子.cn",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
        assert_eq!(url_host("::1"), "[::1]");
        assert_eq!(url_host("example.com"), "example.com");
    }
}
