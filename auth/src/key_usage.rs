//! When each API key was last used. Query publishes `usage.apikey.<key_id>` (core NATS, outside
//! any stream, at most once a minute per key) with the time as RFC 3339; auth writes it to
//! `api_keys.last_used_at`. This column alone is not from the stream: a rebuild of the
//! projections empties it until each key's next use.

use std::time::Duration;

use futures_util::StreamExt as _;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Every key's usage notices.
const USAGE_SUBJECTS: &str = "usage.apikey.*";

/// Follows the usage notices in the background, subscribing again whenever the subscription
/// ends.
pub(crate) fn spawn(client: async_nats::Client, pool: PgPool) {
    tokio::spawn(async move {
        loop {
            match client.subscribe(USAGE_SUBJECTS).await {
                Ok(mut notices) => {
                    while let Some(notice) = notices.next().await {
                        record(&pool, notice.subject.as_str(), &notice.payload).await;
                    }
                }
                Err(err) => tracing::warn!(error = %err, "api key usage: cannot subscribe"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// Records one notice; one that does not parse is logged and dropped, and a lost write costs
/// only a last-use time that is a little old.
async fn record(pool: &PgPool, subject: &str, payload: &[u8]) {
    let Some((key_id, used_at)) = parse(subject, payload) else {
        tracing::debug!(subject, "api key usage: unreadable notice dropped");
        return;
    };
    let written = sqlx::query(
        "UPDATE api_keys SET last_used_at = greatest(last_used_at, date_trunc('minute', $2))
         WHERE id = $1",
    )
    .bind(key_id)
    .bind(used_at)
    .execute(pool)
    .await;
    if let Err(err) = written {
        tracing::warn!(%key_id, error = %err, "api key usage not recorded");
    }
}

/// The key named by the subject's last token and the time in the payload.
fn parse(subject: &str, payload: &[u8]) -> Option<(Uuid, OffsetDateTime)> {
    let key_id = subject.rsplit('.').next()?.parse().ok()?;
    let text = std::str::from_utf8(payload).ok()?;
    let used_at = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    Some((key_id, used_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_its_key_and_time_and_anything_else_is_dropped() {
        let key = Uuid::now_v7();
        let subject = contract::auth::api_key_usage_subject(key);
        let parsed = parse(&subject, b"2026-12-06T10:15:30Z").expect("parses");
        assert_eq!(parsed.0, key);
        assert_eq!(parsed.1.unix_timestamp(), 1_796_552_130);
        assert!(parse(&subject, b"yesterday").is_none());
        assert!(parse("usage.apikey.nope", b"2026-12-06T10:15:30Z").is_none());
    }
}
