//! Who the client is when a request came through a proxy: `X-Forwarded-For` and
//! `X-Forwarded-Proto` count only when the peer is a trusted proxy (`TRUSTED_PROXIES`, addresses
//! or CIDR blocks, comma separated).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// One trusted address or block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    network: IpAddr,
    prefix: u8,
}

impl Block {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The peers allowed to speak for the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    /// Nobody: the socket's peer is the client (the default of a public door).
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// This machine (`127.0.0.1`, `::1`): a service behind an edge on the same host.
    pub fn local() -> Self {
        Self(vec![
            Block {
                network: std::net::Ipv4Addr::LOCALHOST.into(),
                prefix: 32,
            },
            Block {
                network: std::net::Ipv6Addr::LOCALHOST.into(),
                prefix: 128,
            },
        ])
    }

    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0.iter().any(|block| block.contains(peer))
    }

    /// The client: the peer, or, when the peer is trusted, the nearest address in
    /// `X-Forwarded-For` that is not itself a trusted proxy (read from the right, the end the
    /// proxies appended to; what the client wrote on the left is never believed past that).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip.to_canonical();
                    if !self.trusts(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }

    /// Whether the client reached the first proxy over TLS: `X-Forwarded-Proto: https` from a
    /// trusted peer.
    pub fn is_https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.trusts(peer)
            && headers
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(',').next())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }
}

/// Why a `TRUSTED_PROXIES` entry was refused.
#[derive(Debug)]
pub struct BadBlock(String);

impl fmt::Display for BadBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is neither an IP address nor a CIDR block (10.0.0.0/8)",
            self.0
        )
    }
}

impl FromStr for TrustedProxies {
    type Err = BadBlock;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut blocks = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || BadBlock(part.to_owned());
            let (address, prefix) = part.split_once('/').unwrap_or((part, ""));
            let network: IpAddr = address.parse().map_err(|_| bad())?;
            let max = if network.is_ipv4() { 32 } else { 128 };
            let prefix = if prefix.is_empty() {
                max
            } else {
                prefix.parse::<u8>().map_err(|_| bad())?
            };
            if prefix > max {
                return Err(bad());
            }
            blocks.push(Block { network, prefix });
        }
        Ok(Self(blocks))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().expect("valid");
        let headers = forwarded("198.51.100.7, 203.0.113.9, 10.1.2.3");
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), &headers),
            ip("203.0.113.9"),
            "trusted hops on the right are skipped, the client's own claim on the left is not believed"
        );
        assert_eq!(
            trusted.client_ip(ip("203.0.113.50"), &headers),
            ip("203.0.113.50"),
            "an untrusted peer names itself"
        );
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
        assert_eq!(
            trusted.client_ip(ip("::ffff:127.0.0.1"), &forwarded("203.0.113.9")),
            ip("203.0.113.9"),
            "an IPv4 peer on a dual-stack socket"
        );
        assert_eq!(
            TrustedProxies::none().client_ip(ip("127.0.0.1"), &headers),
            ip("127.0.0.1")
        );
        assert!(TrustedProxies::local().trusts(ip("::1")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.example".parse::<TrustedProxies>().is_err());
        assert_eq!(
            "".parse::<TrustedProxies>().ok(),
            Some(TrustedProxies::none())
        );
    }

    #[test]
    fn https_only_when_a_trusted_proxy_says_so() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let local = TrustedProxies::local();
        assert!(local.is_https(ip("127.0.0.1"), &headers));
        assert!(!local.is_https(ip("203.0.113.9"), &headers));
        assert!(!local.is_https(ip("127.0.0.1"), &HeaderMap::new()));
    }
}
