//! Who the client is, by address: the TCP peer, unless the peer is a reverse proxy named in
//! `LATCHKEY_TRUSTED_PROXIES`; then the nearest address in `X-Forwarded-For` that is not one
//! of those proxies. Anything a client writes into the header itself sits further left and is
//! never reached, so no one can choose their own address (and with it a fresh rate limit).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted_proxies.iter().any(|proxy| proxy.contains(address));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    // Several headers are one list, in order (RFC 9110 5.3); the nearest hop is last.
    let hops = headers.get_all("x-forwarded-for").iter().flat_map(|value| value.to_str().unwrap_or("").split(','));
    for hop in hops.rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(address) => {
                client = address.to_canonical();
                if !is_trusted(&client) {
                    return client;
                }
            }
            // Garbage from a proxy we trust: believe no further, keep the last address known.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(forwarded_for: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded_for {
            headers.append("x-forwarded-for", HeaderValue::from_static(value));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn proxies(cidrs: &[&str]) -> Vec<IpNet> {
        cidrs.iter().map(|cidr| cidr.parse().expect("a CIDR")).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let address = client_address(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &[]);
        assert_eq!(address, ip("203.0.113.9"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_cannot_name_another_client() {
        let address = client_address(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &proxies(&["10.0.0.0/8"]));
        assert_eq!(address, ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        // The client wrote 1.2.3.4 itself; its proxy appended what it saw, then the load balancer.
        let forwarded = headers(&["1.2.3.4, 198.51.100.7", "10.0.0.2"]);
        let address = client_address(ip("10.0.0.1"), &forwarded, &proxies(&["10.0.0.0/8"]));
        assert_eq!(address, ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_proxy_without_the_header_is_itself_the_client() {
        assert_eq!(client_address(ip("10.0.0.1"), &headers(&[]), &proxies(&["10.0.0.0/8"])), ip("10.0.0.1"));
    }

    #[test]
    fn garbage_in_the_header_stops_the_walk_at_the_last_known_address() {
        let forwarded = headers(&["198.51.100.7, not-an-address, 10.0.0.3"]);
        let address = client_address(ip("10.0.0.1"), &forwarded, &proxies(&["10.0.0.0/8"]));
        assert_eq!(address, ip("10.0.0.3"));
    }

    #[test]
    fn ipv4_mapped_ipv6_peers_count_as_ipv4() {
        let address = client_address(ip("::ffff:10.0.0.1"), &headers(&["198.51.100.7"]), &proxies(&["10.0.0.0/8"]));
        assert_eq!(address, ip("198.51.100.7"));
    }
}
