//! The client address as events keep it: never whole.

use std::net::IpAddr;

/// The client address with its last octet (IPv4) or last 80 bits (IPv6) zeroed.
pub(crate) fn anonymise(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            std::net::Ipv4Addr::new(a, b, c, 0).to_string()
        }
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            for segment in &mut segments[3..] {
                *segment = 0;
            }
            std::net::Ipv6Addr::from(segments).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_anonymised() {
        assert_eq!(
            anonymise("203.0.113.77".parse().expect("ip")),
            "203.0.113.0"
        );
        assert_eq!(
            anonymise("2001:db8:85a3:1234:5678:8a2e:370:7334".parse().expect("ip")),
            "2001:db8:85a3::"
        );
    }
}
