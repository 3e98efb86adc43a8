//! The ClickHouse client, configured the one way every service needs it.

use crate::config::ClickHouseConfig;

/// A client for `config`'s server and database. Row-type validation is off because ClickHouse
/// 18.16 cannot answer in `RowBinaryWithNamesAndTypes`.
pub fn client(config: &ClickHouseConfig) -> clickhouse::Client {
    server_client(config).with_database(&config.database)
}

/// A client for the server without a database selected, for creating the database itself.
pub fn server_client(config: &ClickHouseConfig) -> clickhouse::Client {
    clickhouse::Client::default()
        .with_url(config.url())
        .with_user(&config.user)
        .with_password(config.password.expose())
        .with_validation(false)
}

/// [`ping`], then (when given) whether a start-up step such as the schema is done, in the
/// shape [`crate::health::Health::with_check`] takes.
pub fn readiness_check(
    client: clickhouse::Client,
    schema: Option<crate::startup::Done>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
+ Send
+ Sync
+ 'static {
    move || {
        let client = client.clone();
        let schema = schema.clone();
        Box::pin(async move {
            ping(&client).await?;
            match schema {
                Some(done) if !done.is_done() => Err("schema not applied yet".to_owned()),
                _ => Ok(()),
            }
        })
    }
}

/// Readiness check: the server answers `SELECT 1`.
pub async fn ping(client: &clickhouse::Client) -> Result<(), String> {
    client
        .query("SELECT 1")
        .fetch_one::<u8>()
        .await
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// The number in `Code: N` of a ClickHouse exception text: `Code: 159. DB::Exception…` from
/// current versions, `Code: 159, e.displayText() = …` from 18.16.
pub fn exception_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + "Code: ".len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

/// `?, ?, …`, `n` bind marks, for an `IN (…)` list whose values are bound one by one.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
