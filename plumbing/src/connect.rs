//! Connecting to NATS as the user a URL names: the server refuses anonymous clients, and the
//! client library reads no credentials from a URL. Each user also gets an inbox prefix of its
//! own (`_INBOX_<user>`), so that `nats/authorization.conf` can let it read only its own replies.

/// Options that sign in as the user and password `url` names (`nats://user:password@host:port`:
/// the server refuses anonymous clients, and the client reads no credentials from a URL), and
/// the address to connect to.
pub fn connect_options(url: &str) -> (async_nats::ConnectOptions, String) {
    let options = async_nats::ConnectOptions::new();
    let Ok(mut parsed) = url::Url::parse(url) else {
        return (options, url.to_owned());
    };
    if parsed.username().is_empty() {
        return (options, url.to_owned());
    }
    let user = percent_decoded(parsed.username());
    let password = percent_decoded(parsed.password().unwrap_or_default());
    // Clearing what a parsed URL with a host holds cannot fail.
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    let inbox = format!("_INBOX_{user}");
    (
        options
            .user_and_password(user, password)
            .custom_inbox_prefix(inbox),
        parsed.to_string(),
    )
}

/// A client connected to `url` as the user it names ([`connect_options`]).
pub async fn connect(url: impl AsRef<str>) -> Result<async_nats::Client, async_nats::ConnectError> {
    let (options, address) = connect_options(url.as_ref());
    options.connect(address).await
}

/// `text` with its `%XX` escapes decoded (a URL's user and password are escaped).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_for_the_connect_options() {
        let (_, address) = connect_options("nats://ingest:p%40ss@nats:4222");
        assert_eq!(address, "nats://nats:4222");
        assert_eq!(percent_decoded("p%40ss%2Fword%"), "p@ss/word%");
        let (_, address) = connect_options("nats://127.0.0.1:4222");
        assert_eq!(address, "nats://127.0.0.1:4222");
    }
}
