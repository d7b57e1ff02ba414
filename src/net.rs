//! The client's address: the TCP peer, or, behind a trusted proxy (`--trusted-proxy`), the
//! address that proxy reports in `X-Forwarded-For`. Per-address limits (registrations, new
//! support visitors) and the access log all take it from [`client_ip`].
//!
//! The rule is nginx's `realip` with `real_ip_recursive on`: when the peer is not a trusted
//! proxy, the client is the peer and the header is ignored. Otherwise the `X-Forwarded-For`
//! entries (all such headers in order, comma-separated, trimmed) are walked from the right,
//! skipping trusted proxies; the first untrusted entry is the client. An entry that is not an
//! IP address ends the walk at the last trusted hop reached (garbage is never trusted); when
//! every entry is trusted, the leftmost is the client. With no trusted proxy configured the
//! header is never read.

use actix_web::HttpRequest;
pub use ipnet::IpNet;
use std::net::IpAddr;

/// Parses one `--trusted-proxy` value: a CIDR block (`10.0.0.0/8`, `::1/128`) or a bare
/// address, which means that address alone (`/32` or `/128`). Surrounding spaces are ignored,
/// so a comma-separated environment variable may have spaces after its commas.
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if s.contains('/') {
        s.parse::<IpNet>().map_err(|_| {
            format!("{s:?} is not a CIDR block (expected e.g. 10.0.0.0/8, 127.0.0.1/32, ::1/128)")
        })
    } else {
        s.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
            format!(
                "{s:?} is not an IP address or CIDR block (expected e.g. 10.0.0.0/8, \
                 127.0.0.1/32, ::1/128)"
            )
        })
    }
}

/// The client address of `req` under the rule of this module, given the trusted proxies;
/// `None` only when the peer address is unknown.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if trusted.is_empty() {
        return Some(peer.to_canonical());
    }
    // A value that is not text counts as one unparsable entry, which ends the walk there.
    let entries: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .flat_map(|v| match v.to_str() {
            Ok(s) => s.split(',').collect::<Vec<_>>(),
            Err(_) => vec![""],
        })
        .collect();
    Some(resolve(peer, &entries, trusted))
}

/// The rule itself, on the peer and the `X-Forwarded-For` entries in header order.
/// IPv4-mapped IPv6 addresses (a dual-stack listener's view of IPv4 peers) count as the IPv4
/// address they carry, both when matched against `trusted` and in the answer.
fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    for entry in forwarded_for.iter().rev() {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            return client;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|s| parse_trusted_proxy(s).unwrap())
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_and_bare_addresses_parse() {
        assert_eq!(
            parse_trusted_proxy("10.0.0.0/8").unwrap(),
            "10.0.0.0/8".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_trusted_proxy(" 127.0.0.1 ").unwrap(),
            "127.0.0.1/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_trusted_proxy("::1").unwrap(),
            "::1/128".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_trusted_proxy("fd00::/8").unwrap(),
            "fd00::/8".parse::<IpNet>().unwrap()
        );
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "localhost",
            "10.0.0.0/",
            "/8",
            "1.2.3.4:80",
        ] {
            let err = parse_trusted_proxy(bad).unwrap_err();
            assert!(err.contains("CIDR"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_the_header_says() {
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("203.0.113.9"), &["1.2.3.4"], &t),
            ip("203.0.113.9")
        );
        assert_eq!(resolve(ip("203.0.113.9"), &[], &t), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_peer_passes_on_the_rightmost_untrusted_entry() {
        let t = nets(&["10.0.0.0/8", "192.168.1.1"]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &["198.51.100.7"], &t),
            ip("198.51.100.7")
        );
        // Hops through further trusted proxies are skipped; what the client itself wrote at
        // the left is not believed.
        assert_eq!(
            resolve(
                ip("10.0.0.1"),
                &["6.6.6.6", " 198.51.100.7", "192.168.1.1 ", "10.1.2.3"],
                &t
            ),
            ip("198.51.100.7")
        );
        // No header at all: the proxy itself is the client.
        assert_eq!(resolve(ip("10.0.0.1"), &[], &t), ip("10.0.0.1"));
    }

    #[test]
    fn every_entry_trusted_gives_the_leftmost() {
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &["10.9.9.9", "10.8.8.8"], &t),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(resolve(ip("10.0.0.1"), &["unknown"], &t), ip("10.0.0.1"));
        assert_eq!(
            resolve(ip("10.0.0.1"), &["1.2.3.4", "bogus", "10.2.2.2"], &t),
            ip("10.2.2.2")
        );
        // Empty entries and addresses with ports are not addresses either.
        assert_eq!(
            resolve(ip("10.0.0.1"), &["1.2.3.4", ""], &t),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &["1.2.3.4:5678"], &t),
            ip("10.0.0.1")
        );
        // Garbage left of the client does not matter.
        assert_eq!(
            resolve(ip("10.0.0.1"), &["bogus", "1.2.3.4"], &t),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn ipv6_proxies_and_clients() {
        let t = nets(&["::1/128", "fd00::/8"]);
        assert_eq!(
            resolve(ip("::1"), &["2001:db8::5", "fd12::1"], &t),
            ip("2001:db8::5")
        );
        assert_eq!(
            resolve(ip("::1"), &["198.51.100.7"], &t),
            ip("198.51.100.7")
        );
        // An IPv4 peer seen through a dual-stack listener matches an IPv4 block.
        let t4 = nets(&["127.0.0.1"]);
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), &["2001:db8::5"], &t4),
            ip("2001:db8::5")
        );
        assert_eq!(
            resolve(ip("::ffff:203.0.113.9"), &["1.1.1.1"], &t4),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_request_headers_are_read_only_behind_a_trusted_proxy() {
        let req = || {
            TestRequest::default()
                .peer_addr("127.0.0.1:4000".parse().unwrap())
                .append_header(("X-Forwarded-For", "6.6.6.6, 198.51.100.7"))
                .append_header(("X-Forwarded-For", "127.0.0.1"))
                .to_http_request()
        };
        // No proxy configured: the header is ignored.
        assert_eq!(client_ip(&req(), &[]), Some(ip("127.0.0.1")));
        // Another proxy configured: the peer is not one, so the header is ignored.
        assert_eq!(
            client_ip(&req(), &nets(&["10.0.0.0/8"])),
            Some(ip("127.0.0.1"))
        );
        // Both headers read, in order, from the right.
        assert_eq!(
            client_ip(&req(), &nets(&["127.0.0.1/32"])),
            Some(ip("198.51.100.7"))
        );
        // A value that is not text is garbage.
        let bytes = TestRequest::default()
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .append_header(("X-Forwarded-For", "198.51.100.7"))
            .append_header((
                "X-Forwarded-For",
                actix_web::http::header::HeaderValue::from_bytes(b"\xff").unwrap(),
            ))
            .to_http_request();
        assert_eq!(
            client_ip(&bytes, &nets(&["127.0.0.1/32"])),
            Some(ip("127.0.0.1"))
        );
        // No peer address: no client address.
        let none = TestRequest::default().to_http_request();
        assert_eq!(client_ip(&none, &nets(&["127.0.0.1/32"])), None);
    }
}
