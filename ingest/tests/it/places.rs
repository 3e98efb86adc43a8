//! The GeoIP database `up` and the tests install (DB-IP's IP to City Lite from npm, its IPv4
//! and IPv6 data in two files of the flat ip-location-db layout) as ingest reads it.

use std::net::IpAddr;

#[test]
fn the_installed_database_locates_ipv4_and_ipv6_addresses_and_not_private_ones() {
    let files = devstack::install::geoip_db().expect("the GeoIP database is installed");
    assert_eq!(files.len(), 2, "{files:?}");
    let geoip = ingest::GeoIp::open(&files).expect("opens");
    for address in ["8.8.8.8", "::ffff:8.8.8.8"] {
        let place = geoip
            .locate(address.parse::<IpAddr>().expect("ip"))
            .unwrap_or_else(|| panic!("{address} is somewhere"));
        assert_eq!(place.country, "US", "{address}: {place:?}");
        assert!(
            !place.region.is_empty() && !place.city.is_empty(),
            "{address}: {place:?}"
        );
    }
    // From the IPv6 file (where DB-IP puts Google's resolver varies by month).
    let v6 = geoip
        .locate("2001:4860:4860::8888".parse().expect("ip"))
        .expect("an IPv6 address is somewhere");
    assert!(
        v6.country.len() == 2 && v6.country.chars().all(|c| c.is_ascii_uppercase()),
        "{v6:?}"
    );
    for private in ["127.0.0.1", "10.1.2.3", "::1"] {
        assert_eq!(
            geoip.locate(private.parse().expect("ip")),
            None,
            "{private}"
        );
    }
}
