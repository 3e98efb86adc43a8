//! Host and path of the page URLs events carry, read the way the URL parser reads them.

/// Host and path of a URL; empty when it does not parse.
pub(crate) fn split_url(text: &str) -> (String, String) {
    if text.is_empty() {
        return (String::new(), String::new());
    }
    if let Some((host, path)) = plain_url(text) {
        return (host.to_owned(), path.to_owned());
    }
    match url::Url::parse(text) {
        Ok(url) => (
            url.host_str().unwrap_or_default().to_owned(),
            url.path().to_owned(),
        ),
        Err(_) => (String::new(), String::new()),
    }
}

/// Host and path of an `http(s)://host/path?query#fragment` URL that the URL parser would give
/// back as they are written (most page URLs), without parsing it: a lowercase ASCII host name
/// without port or user, whose last label starts with a letter (so it is no IPv4 address), not
/// punycode; a path of characters that are neither percent-encoded nor resolved (no `.` or `..`
/// segment). `None` for anything else, which the URL parser reads.
fn plain_url(text: &str) -> Option<(&str, &str)> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))?;
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    if !text.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return None;
    }
    let (host, path) = rest[..end].split_at(rest[..end].find('/').unwrap_or(end));
    let plain_host = !host.contains("xn--")
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && host
            .rsplit('.')
            .next()
            .is_some_and(|last| last.starts_with(|c: char| c.is_ascii_lowercase()));
    let plain_path = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b))
        && !path.split('/').any(|segment| {
            segment == "."
                || segment == ".."
                || segment
                    .as_bytes()
                    .windows(3)
                    .any(|w| w[0] == b'%' && w[1] == b'2' && w[2] | 0x20 == b'e')
        });
    if !plain_host || !plain_path {
        return None;
    }
    Some((host, if path.is_empty() { "/" } else { path }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_split_as_the_url_parser_splits_them() {
        let parsed = |text: &str| match url::Url::parse(text) {
            Ok(url) => (
                url.host_str().unwrap_or_default().to_owned(),
                url.path().to_owned(),
            ),
            Err(_) => (String::new(), String::new()),
        };
        let schemes = ["https://", "http://", "HTTP://", "https:/", "ftp://", ""];
        let hosts = [
            "shop.example",
            "Shop.example",
            "a.b.c",
            "localhost",
            "127.0.0.1",
            "0x7f.1",
            "1.2.3",
            "a.b1",
            "a.1b",
            "a.0x1",
            "shop.example.",
            "a..b",
            "xn--bcher-kva.example",
            "bücher.example",
            "user:pw@shop.example",
            "shop.example:8443",
            "shop.example:99999",
            "-x-.example",
            "shop_example.com",
            "exa%41mple.com",
            "[::1]",
            "",
        ];
        let paths = [
            "",
            "/",
            "/products/42",
            "/a/./b",
            "/a/../b",
            "/a/..",
            "/a/.",
            "/a%2e/b",
            "/%2E%2E/b",
            "/a b",
            "/a\\b",
            "/a|b^c[d]",
            "/a\"b<c>",
            "/a`{b}",
            "/%zz/%41",
            "/p;x=1/q",
            "/~user/!$&'()*+,;=:@",
            "/é",
            "/tab\there",
            "//double",
        ];
        let tails = ["", "?q=1", "#f", "?q=a b#f", "?x=/../"];
        for scheme in schemes {
            for host in hosts {
                for path in paths {
                    for tail in tails {
                        let text = format!("{scheme}{host}{path}{tail}");
                        assert_eq!(split_url(&text), parsed(&text), "{text}");
                    }
                }
            }
        }
        assert!(plain_url("https://shop.example/products/42?x=1").is_some());
    }
}
