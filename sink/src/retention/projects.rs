//! A project's own retention: its admins keep N months of its events (auth writes N to the
//! `PROJECT_RETENTION` key-value bucket, key the project id), and `sink retention` deletes that
//! project's older events and sessions. A delete of some rows of a month is a mutation (the
//! month's partition holds other projects' rows too), tagged and waited for as an erasure's
//! are; once the rows are gone, every day of the project counts one more change, so cached
//! figures are computed again.

use anyhow::Context as _;
use async_nats::jetstream;
use futures_util::StreamExt as _;
use time::Date;
use uuid::Uuid;

use crate::erasure::mutations::storage_of;
use crate::erasure::tables::Tables;
use crate::schema::Layout;
use crate::schema::event_days::BUMP_DAYS;

/// Each project's own retention in months, from the bucket; none when the bucket does not exist
/// (no project ever set one). A key that is not a project id, or a value not a number of
/// months, is skipped with a warning.
pub async fn read(js: &jetstream::Context) -> anyhow::Result<Vec<(Uuid, u16)>> {
    let store = match js.get_key_value(contract::auth::RETENTION_BUCKET).await {
        Ok(store) => store,
        Err(err) if err.kind() == jetstream::context::KeyValueErrorKind::GetBucket => {
            return Ok(Vec::new());
        }
        Err(err) => return Err(err).context("opening the projects' retention bucket"),
    };
    let mut keys = store
        .keys()
        .await
        .context("listing the projects' retention")?;
    let mut found = Vec::new();
    while let Some(key) = keys.next().await {
        let key = key.context("listing the projects' retention")?;
        let value = store
            .get(&key)
            .await
            .context("reading a project's retention")?;
        let months = value
            .as_deref()
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(|text| text.trim().parse::<u16>().ok())
            .filter(|months| *months > 0);
        match (Uuid::parse_str(&key), months) {
            (Ok(project), Some(months)) => found.push((project, months)),
            _ => tracing::warn!(key, "a project retention entry that is not one, skipped"),
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// The first day kept when `months` months are kept on `today`: the same day of the month
/// `months` earlier (the month's last day when it is shorter).
pub fn first_day_kept(today: Date, months: u16) -> Date {
    let index = today.year() * 12 + i32::from(u8::from(today.month())) - 1 - i32::from(months);
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    let month = u8::try_from(month)
        .ok()
        .and_then(|month| time::Month::try_from(month).ok())
        .unwrap_or(time::Month::January);
    let day = today.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(today)
}

/// Applies every project's own retention on `today`: the projects whose older rows went, with
/// the first day each keeps. `clickhouse` is a client on the events database.
pub async fn apply_all(
    js: &jetstream::Context,
    clickhouse: &clickhouse::Client,
    layout: &Layout,
    today: Date,
) -> anyhow::Result<Vec<(Uuid, Date)>> {
    let tables = Tables {
        clickhouse: clickhouse.clone(),
        layout: layout.clone(),
    };
    let mut deleted = Vec::new();
    for (project, months) in read(js).await? {
        let first_kept = first_day_kept(today, months);
        if apply(&tables, project, first_kept).await? {
            deleted.push((project, first_kept));
        }
    }
    Ok(deleted)
}

/// Deletes the events, engagements and sessions of `project` before `first_kept`, if it has
/// any, waits for the deletes, then moves every day's counter of the project; true when it
/// deleted.
async fn apply(tables: &Tables, project: Uuid, first_kept: Date) -> anyhow::Result<bool> {
    let first = first_kept.to_string();
    let older: u64 = tables
        .clickhouse
        .query("SELECT count() FROM events WHERE project_id = ? AND date < toDate(?)")
        .bind(project.to_string())
        .bind(first.as_str())
        .fetch_one()
        .await
        .with_context(|| format!("counting the events of {project} before {first}"))?;
    if older == 0 {
        return Ok(false);
    }
    let mut mutations = Vec::new();
    // Sessions first: a run cut short leaves no session whose events are gone for good.
    let kept = [
        ("sessions", "day"),
        ("engagement", "date"),
        ("events", "date"),
    ];
    for (table, column) in kept {
        let sql = format!(
            "ALTER TABLE {} DELETE WHERE project_id = ? AND {column} < toDate(?) AND ? != ''",
            storage_of(&tables.layout, table)
        );
        let values = vec![project.to_string(), first.clone()];
        let mutation = tables
            .mutate(table, &sql, values)
            .await
            .with_context(|| format!("deleting the {table} of {project} before {first}"))?;
        mutations.push(mutation);
    }
    tables.wait_for(&mutations).await?;
    tables
        .clickhouse
        .query(&tables.layout.fill(BUMP_DAYS))
        .bind(project.to_string())
        .execute()
        .await
        .with_context(|| format!("counting the change of {project}'s days"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(year: i32, month: u8, day: u8) -> Date {
        let month = time::Month::try_from(month).expect("month");
        Date::from_calendar_date(year, month, day).expect("date")
    }

    #[test]
    fn months_kept_end_on_the_same_day_or_the_last_of_a_shorter_month() {
        assert_eq!(first_day_kept(day(2026, 12, 6), 1), day(2026, 11, 6));
        assert_eq!(first_day_kept(day(2026, 12, 6), 12), day(2025, 12, 6));
        assert_eq!(first_day_kept(day(2026, 3, 31), 1), day(2026, 2, 28));
        assert_eq!(first_day_kept(day(2026, 1, 15), 13), day(2024, 12, 15));
        assert_eq!(first_day_kept(day(2028, 3, 30), 1), day(2028, 2, 29));
    }
}
