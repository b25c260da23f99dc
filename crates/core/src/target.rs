//! Callback targets (SPEC §5): which URLs a status report may be sent to. A URL is read the way
//! the HTTP client will read it (the WHATWG URL parser of the `url` crate), so that every spelling
//! of an address — `2130706433`, `127.1`, `0x7f000001`, `127.0.0.1.`, `[::ffff:127.0.0.1]` — is
//! seen as the address it is, and checked. Names are checked again after resolution, by the sender.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Parses an http(s) URL without userinfo; the seeds' URLs without a scheme mean `https://`.
pub fn parse(u: &str) -> Result<Url, &'static str> {
    let u = u.trim();
    if u.is_empty() || u.len() > 1024 || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an http(s) URL of at most 1024 characters");
    }
    let full = if u.contains("://") {
        u.to_string()
    } else {
        format!("https://{u}")
    };
    let url = Url::parse(&full).map_err(|_| "must be an http(s) URL")?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err("must be an http(s) URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password");
    }
    match url.host() {
        None => Err("must name a host"),
        Some(Host::Domain("")) => Err("must name a host"),
        Some(_) => Ok(url),
    }
}

/// Why a report may not go to `url` when private targets are not allowed: the address its host
/// spells is not a public unicast one, or the name is `localhost`. `None`: allowed (a name is
/// checked again once resolved).
pub fn refusal(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Ipv4(ip) => forbidden(IpAddr::V4(ip)).map(|why| format!("{ip} is {why}")),
        Host::Ipv6(ip) => forbidden(IpAddr::V6(ip)).map(|why| format!("{ip} is {why}")),
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "localhost" || d.ends_with(".localhost")).then(|| format!("{d} is loopback"))
        }
    }
}

/// Checks a callback URL given at intake or to the admin API (`field` names it in the refusal):
/// http(s), no user information, and — unless private targets are allowed — no address inside
/// the operator's network in any spelling.
pub fn check_callback(field: &str, u: &str, allow_private: bool) -> Result<(), crate::ApiError> {
    let url = parse(u).map_err(|e| crate::ApiError::field(field, e))?;
    if !allow_private && let Some(why) = refusal(&url) {
        return Err(crate::ApiError::field(
            field,
            format_args!("must not point at a private address: {why}"),
        ));
    }
    Ok(())
}

/// The key one target's concurrency is counted by: host and port, without user information.
pub fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or("").to_ascii_lowercase(),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Why an address may not be called back: anything but public unicast — loopback, private,
/// link-local (with the cloud metadata address), carrier-grade NAT (Alibaba Cloud's metadata),
/// unique-local, "this network", benchmarking, reserved, multicast, broadcast — and IPv6 forms
/// that carry an IPv4 address (mapped, compatible, NAT64, 6to4) when that address is one of them.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local or metadata"
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        "carrier-grade NAT or metadata"
    } else if o[0] == 0 {
        "\"this network\""
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        "reserved for protocol assignments"
    } else if o[0] == 198 && (o[1] == 18 || o[1] == 19) {
        "reserved for benchmarking"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast() || o[0] >= 240 {
        "reserved or broadcast"
    } else {
        return None;
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    // ::ffff:a.b.c.d (mapped) is the IPv4 address; ::a.b.c.d (compatible) is deprecated.
    if s[..6] == [0, 0, 0, 0, 0, 0xffff] {
        return forbidden_v4(embedded(s[6], s[7]));
    }
    if s[..6] == [0; 6] {
        return Some("IPv4-compatible (deprecated)");
    }
    // 64:ff9b::/96 (NAT64) carries an IPv4 address; 64:ff9b:1::/48 is for local use.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return Some("local-use NAT64");
    }
    // 2002::/16 (6to4) carries an IPv4 address in its next 32 bits.
    if s[0] == 0x2002 {
        return forbidden_v4(embedded(s[1], s[2]));
    }
    Some(if (s[0] & 0xfe00) == 0xfc00 {
        "unique-local"
    } else if (s[0] & 0xffc0) == 0xfe80 {
        "link-local"
    } else if (s[0] & 0xffc0) == 0xfec0 {
        "site-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if s[0] == 0x100 && s[1..4] == [0, 0, 0] {
        "discard-only"
    } else if s[0] == 0x2001 && s[1] == 0 {
        "Teredo"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_loopback_is_refused() {
        for u in [
            "http://2130706433:8080/",
            "http://127.1:8080/",
            "http://0x7f000001:8080/",
            "http://0177.0.0.1/",
            "http://127.0.0.1./",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
            "http://0/",
            "http://localhost:9/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.100.100.200/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://198.18.0.1/",
            "http://%31%32%37.0.0.1/",
            "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
            "http://0177.0.0.01/",
        ] {
            let url = parse(u).unwrap_or_else(|e| panic!("{u}: {e}"));
            assert!(refusal(&url).is_some(), "{u} → {url}");
        }
        for u in [
            "https://merchant.example/notify",
            "http://8.8.8.8/",
            "http://[2001:db8::1]/",
            "http://[64:ff9b::808:808]/",
            "merchant.example/cb",
        ] {
            let url = parse(u).unwrap();
            assert!(refusal(&url).is_none(), "{u}");
        }
    }

    #[test]
    fn urls_that_are_not_targets() {
        for u in [
            "http://x@127.0.0.1/",
            "http://user:pw@merchant.example/",
            "ftp://merchant.example/",
            "javascript:alert(1)",
            "http://",
            "http:// merchant.example/",
            "",
        ] {
            assert!(parse(u).is_err(), "{u}");
        }
        assert_eq!(
            host_key(&parse("https://Merchant.Example/a").unwrap()),
            "merchant.example:443"
        );
    }
}
