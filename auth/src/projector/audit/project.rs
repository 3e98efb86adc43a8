//! The history lines of a project's own row (created, domains, quota, retention, write keys)
//! and of who may do what in it (members, invites).

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

use super::entry::{Entry, USER_PLACEHOLDER, lookup, plural};

/// How many characters of a write key a summary shows.
const KEY_CHARS: usize = 8;

/// The project's own row: created, domains, quota, retention, write keys.
pub(super) async fn project_entry(
    tx: &mut Transaction<'_, Postgres>,
    event: &AuthEvent,
) -> Result<Option<Entry>, sqlx::Error> {
    let entry = match event {
        AuthEvent::ProjectCreated {
            project_id,
            name,
            timezone,
            by,
            at,
        } => Entry::new(
            *project_id,
            *at,
            *by,
            format!("project {name} created (time zone {timezone})"),
        ),
        AuthEvent::ProjectDomainsSet {
            project_id,
            domains,
            by,
            at,
        } => Entry::new(*project_id, *at, *by, domains_summary(domains)),
        AuthEvent::ProjectQuotaSet {
            project_id,
            events_per_second,
            bytes_per_second,
            by,
            at,
        } => Entry::new(
            *project_id,
            *at,
            *by,
            format!(
                "intake quota set to {} and {}",
                rate(*events_per_second, "events"),
                rate(*bytes_per_second, "bytes")
            ),
        ),
        AuthEvent::ProjectRetentionSet {
            project_id,
            months,
            by,
            at,
        } => Entry::new(*project_id, *at, *by, retention_summary(*months)),
        AuthEvent::WriteKeyIssued {
            project_id,
            key,
            by,
            at,
            ..
        } => Entry::new(*project_id, *at, *by, format!("{} issued", shown_key(key))),
        AuthEvent::WriteKeyRevoked {
            project_id,
            key_id,
            by,
            at,
        } => {
            let key = lookup(tx, "SELECT key FROM write_keys WHERE id = $1", *key_id).await?;
            let key = key.map_or_else(|| "a write key".to_owned(), |k| shown_key(&k));
            Entry::new(*project_id, *at, *by, format!("{key} revoked"))
        }
        _ => return Ok(None),
    };
    Ok(Some(entry))
}

/// Who may do what: members and invites.
pub(super) async fn people_entry(
    tx: &mut Transaction<'_, Postgres>,
    event: &AuthEvent,
) -> Result<Option<Entry>, sqlx::Error> {
    let user = USER_PLACEHOLDER;
    let entry = match event {
        AuthEvent::MemberSet {
            project_id,
            user_id,
            role,
            by,
            at,
        } => Entry::new(
            *project_id,
            *at,
            *by,
            format!("{user} is {}", role.as_str()),
        )
        .about(*user_id),
        AuthEvent::MemberRemoved {
            project_id,
            user_id,
            by,
            at,
        } => Entry::new(
            *project_id,
            *at,
            *by,
            format!("{user} is no longer a member"),
        )
        .about(*user_id),
        AuthEvent::InviteCreated {
            project_id,
            email,
            role,
            by,
            at,
            ..
        } => Entry::new(
            *project_id,
            *at,
            Some(*by),
            format!("{email} invited as {}", role.as_str()),
        ),
        AuthEvent::InviteAccepted {
            project_id,
            invite_id,
            user_id,
            at,
        } => {
            let role = lookup(tx, "SELECT role FROM invites WHERE id = $1", *invite_id).await?;
            let summary = match role {
                Some(role) => format!("{user} accepted an invite as {role}"),
                None => format!("{user} accepted an invite"),
            };
            Entry::new(*project_id, *at, Some(*user_id), summary).about(*user_id)
        }
        AuthEvent::InviteRevoked {
            project_id,
            invite_id,
            by,
            at,
        } => {
            let email = lookup(tx, "SELECT email FROM invites WHERE id = $1", *invite_id).await?;
            let summary = match email {
                Some(email) => format!("invite of {email} withdrawn"),
                None => "an invite withdrawn".to_owned(),
            };
            Entry::new(*project_id, *at, Some(*by), summary)
        }
        _ => return Ok(None),
    };
    Ok(Some(entry))
}

fn domains_summary(domains: &[String]) -> String {
    if domains.is_empty() {
        "site domains cleared".to_owned()
    } else {
        format!("site domains set to {}", domains.join(", "))
    }
}

fn retention_summary(months: Option<u16>) -> String {
    match months {
        Some(months) => format!("retention set to {}", plural(usize::from(months), "month")),
        None => "retention set to the instance's default".to_owned(),
    }
}

/// A rate of the quota, or the default when the project sets none.
fn rate(value: Option<u64>, unit: &str) -> String {
    match value {
        Some(value) => format!("{value} {unit}/s"),
        None => format!("the default {unit}/s"),
    }
}

/// The first characters of a write key, enough to tell keys apart in a list.
fn shown_key(key: &str) -> String {
    format!(
        "write key {}…",
        key.chars().take(KEY_CHARS).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_shows_a_key_by_its_first_characters_and_months_in_words() {
        assert_eq!(shown_key("ea_AbCdEfGhIjKlMnOp"), "write key ea_AbCdE…");
        assert_eq!(retention_summary(Some(13)), "retention set to 13 months");
        assert_eq!(retention_summary(Some(1)), "retention set to 1 month");
        assert_eq!(rate(None, "bytes"), "the default bytes/s");
    }
}
