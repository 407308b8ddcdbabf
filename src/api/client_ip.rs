//! The client's address (docs/CONFIG.md `trusted_proxies`): the TCP peer, unless the peer is a
//! configured trusted proxy; then the right-most address of `X-Forwarded-For` that is not
//! itself a trusted proxy (addresses to its left were written by the client and prove
//! nothing). Used for IP allow-lists, per-IP limits stay on the peer.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The client address of `req` given `trusted` proxies (`None`: no peer address, as in
/// in-process tests).
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return Some(peer);
    }
    // Several headers form one list, in order.
    let mut hops: Vec<&str> = Vec::new();
    for v in req.headers().get_all("X-Forwarded-For") {
        match v.to_str() {
            Ok(text) => hops.extend(text.split(',')),
            Err(_) => return Some(peer),
        }
    }
    let mut client = peer;
    for part in hops.iter().rev() {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return Some(ip),
            // A malformed hop: trust nothing to its left.
            Err(_) => return Some(client),
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: &[&str]) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(format!("{peer}:1000").parse().unwrap());
        for h in xff {
            r = r.append_header(("X-Forwarded-For", *h));
        }
        r.to_http_request()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxies: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        // No proxies configured: the header is ignored.
        assert_eq!(
            client_ip(&req("10.0.0.1", &["1.2.3.4"]), &[]),
            ip("10.0.0.1")
        );
        // A peer that is not a trusted proxy: ignored.
        assert_eq!(
            client_ip(&req("9.9.9.9", &["1.2.3.4"]), &proxies),
            ip("9.9.9.9")
        );
        // Behind a trusted proxy: the right-most untrusted hop.
        assert_eq!(
            client_ip(&req("10.0.0.1", &["6.6.6.6, 1.2.3.4"]), &proxies),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(&req("10.0.0.1", &["1.2.3.4, 10.0.0.7"]), &proxies),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(&req("10.0.0.1", &["5.5.5.5", "1.2.3.4"]), &proxies),
            ip("1.2.3.4"),
            "several headers are one list"
        );
        assert_eq!(
            client_ip(&req("10.0.0.1", &["junk, 10.0.0.9"]), &proxies),
            ip("10.0.0.9")
        );
        assert_eq!(client_ip(&req("10.0.0.1", &[]), &proxies), ip("10.0.0.1"));
    }
}
