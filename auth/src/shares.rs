//! Shared links to a dashboard. Each is a subject of its own on the stream
//! (`auth.project.<project>.share.<id>`): created with a random token kept only as its hash
//! (and a password, when asked for, as its argon2id hash), and revoked. Query serves the shared
//! page from these events; a dashboard deleted takes its links with it.

use contract::auth::{
    AuthEvent, CreateShareRequest, CreatedShare, MAX_EMBED_ORIGINS, SHARE_PASSWORD_HEADER,
    ShareList, ShareView, share_subject,
};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{dashboards, passwords, tokens};

/// Accepted share password lengths, in characters.
const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=200;

/// Links a dashboard may have that are not revoked.
pub(crate) const MAX_LIVE_SHARES: i64 = 20;

/// Share passwords hashed at once: argon2id takes 19 MiB and a core's worth of time each, and
/// any analyst may ask for one, so the rest wait their turn.
static HASHING: Semaphore = Semaphore::const_new(2);

/// How many of the token's characters are shown in lists.
const SHOWN_CHARS: usize = 8;

/// One row of `shares`, with its creator's email.
type Row = (
    Uuid,
    Uuid,
    String,
    bool,
    Vec<String>,
    Option<String>,
    OffsetDateTime,
);

/// The columns of [`Row`].
macro_rules! select {
    () => {
        "SELECT s.id, s.dashboard_id, s.prefix, s.password_hash IS NOT NULL, s.embed_origins,
           u.email, s.created_at FROM shares s LEFT JOIN users u ON u.id = s.created_by"
    };
}

fn view(row: Row) -> ShareView {
    let (id, dashboard_id, prefix, has_password, embed_origins, created_by, created_at) = row;
    ShareView {
        id,
        dashboard_id,
        prefix,
        has_password,
        embed_origins,
        created_by: created_by.unwrap_or_default(),
        created_at,
    }
}

/// The live links of the dashboard `dashboard_id` of `project_id`, newest first; 404 when
/// there is no such dashboard.
pub(crate) async fn list(
    state: &AppState,
    project_id: Uuid,
    dashboard_id: Uuid,
) -> Result<ShareList, ApiError> {
    dashboards::find(state, project_id, dashboard_id).await?;
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select!(),
        " WHERE s.project_id = $1 AND s.dashboard_id = $2 AND s.revoked_at IS NULL
          ORDER BY s.created_at DESC, s.id DESC"
    ))
    .bind(project_id)
    .bind(dashboard_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(ShareList {
        shares: rows.into_iter().map(view).collect(),
    })
}

/// A new link to the dashboard, by `by`: the token is in this answer only.
pub(crate) async fn create(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    dashboard_id: Uuid,
    request: CreateShareRequest,
) -> Result<CreatedShare, ApiError> {
    dashboards::find(state, project_id, dashboard_id).await?;
    let embed_origins = checked_origins(&request.embed_origins)?;
    if let Some(password) = &request.password {
        check_password(password)?;
    }
    check_cap(state, dashboard_id).await?;
    let password_hash = match request.password {
        None => None,
        Some(password) => {
            let _permit = HASHING.acquire().await.map_err(ApiError::unavailable)?;
            Some(passwords::hash(password).await?)
        }
    };
    let (token, token_hash) = tokens::new_refresh_token().map_err(ApiError::unavailable)?;
    let share_id = Uuid::now_v7();
    state
        .record(
            share_subject(project_id, share_id),
            &AuthEvent::ShareCreated {
                project_id,
                share_id,
                dashboard_id,
                prefix: token.chars().take(SHOWN_CHARS).collect(),
                token_hash,
                password_hash,
                embed_origins,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &share_id.to_string(),
            Some(0),
        )
        .await?;
    let row: Option<Row> = sqlx::query_as(concat!(select!(), " WHERE s.id = $1"))
        .bind(share_id)
        .fetch_optional(&state.pool)
        .await?;
    // Not projected: the dashboard was deleted between the check and the link.
    let share = view(row.ok_or(ApiError::NotFound)?);
    Ok(CreatedShare {
        share,
        link: format!("/shared/{token}"),
        token,
    })
}

/// The link revoked; 404 when the dashboard has no such link, a link already revoked stays so.
pub(crate) async fn revoke(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    dashboard_id: Uuid,
    share_id: Uuid,
) -> Result<(), ApiError> {
    let row: Option<(Option<OffsetDateTime>, i64)> = sqlx::query_as(
        "SELECT revoked_at, version FROM shares
         WHERE id = $1 AND project_id = $2 AND dashboard_id = $3",
    )
    .bind(share_id)
    .bind(project_id)
    .bind(dashboard_id)
    .fetch_optional(&state.pool)
    .await?;
    let version = match row {
        None => return Err(ApiError::NotFound),
        Some((Some(_), _)) => return Ok(()),
        Some((None, version)) => version,
    };
    state
        .record(
            share_subject(project_id, share_id),
            &AuthEvent::ShareRevoked {
                project_id,
                share_id,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(u64::try_from(version).unwrap_or(0)),
        )
        .await
}

/// A password query can read from the `x-share-password` header, where it arrives as ASCII
/// text: 8 to 200 printable ASCII characters (space to tilde).
fn check_password(password: &str) -> Result<(), ApiError> {
    let printable = password.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if !printable || !PASSWORD_CHARS.contains(&password.len()) {
        return Err(ApiError::BadRequest(format!(
            "password must have {} to {} printable ASCII characters (letters, digits, \
             punctuation, spaces): it is sent in the {SHARE_PASSWORD_HEADER} header",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )));
    }
    Ok(())
}

/// Refuses a new link to a dashboard that has [`MAX_LIVE_SHARES`] already. Counted before the
/// link is published, as every check here is: links created at once may pass together at the
/// cap and leave it a few over, never unbounded.
async fn check_cap(state: &AppState, dashboard_id: Uuid) -> Result<(), ApiError> {
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM shares WHERE dashboard_id = $1 AND revoked_at IS NULL",
    )
    .bind(dashboard_id)
    .fetch_one(&state.pool)
    .await?;
    if live >= MAX_LIVE_SHARES {
        return Err(ApiError::Conflict(format!(
            "a dashboard has at most {MAX_LIVE_SHARES} shared links not revoked: revoke one first"
        )));
    }
    Ok(())
}

/// At most `MAX_EMBED_ORIGINS` origins, each normalised, duplicates dropped.
fn checked_origins(origins: &[String]) -> Result<Vec<String>, ApiError> {
    if origins.len() > MAX_EMBED_ORIGINS {
        return Err(ApiError::BadRequest(format!(
            "embed_origins lists at most {MAX_EMBED_ORIGINS} origins"
        )));
    }
    let mut checked: Vec<String> = Vec::with_capacity(origins.len());
    for origin in origins {
        let origin = checked_origin(origin)?;
        if !checked.contains(&origin) {
            checked.push(origin);
        }
    }
    Ok(checked)
}

/// A bare origin, `https://host[:port]` or `http://…`, as a CSP `frame-ancestors` source:
/// lower case, no default port, no trailing slash. Anything more (a path, a query, a user, a
/// wildcard) or less is refused, since it ends up in a header.
fn checked_origin(text: &str) -> Result<String, ApiError> {
    let refused = || {
        ApiError::BadRequest(format!(
            "{text:?} is not an origin like https://blog.example.com (a scheme, a host and an \
             optional port)"
        ))
    };
    let trimmed = text.trim();
    let bare = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if !bare.is_ascii()
        || bare
            .chars()
            .any(|c| c.is_whitespace() || c == '*' || c == '\\')
    {
        return Err(refused());
    }
    let url = url::Url::parse(bare).map_err(|_| refused())?;
    let host_ok = match url.host() {
        Some(url::Host::Domain(host)) => host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }),
        Some(url::Host::Ipv4(_)) => true,
        Some(url::Host::Ipv6(_)) | None => false,
    };
    let bare_url = matches!(url.scheme(), "http" | "https")
        && bare.contains("://")
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if !host_ok || !bare_url {
        return Err(refused());
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_password_is_printable_ascii_of_8_to_200_characters() {
        for good in ["open sesame", "~!@#$%^&*()_+ ", &"p".repeat(200)] {
            assert!(check_password(good).is_ok(), "{good}");
        }
        for bad in [
            "short",
            &"p".repeat(201),
            "mot de passé",
            "tab\tinside",
            "line\nbreak!",
            "delete\u{7f}char",
            "ünïcödé-only",
        ] {
            assert!(check_password(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bare_origin_is_kept_normalised_and_anything_more_is_refused() {
        for (given, kept) in [
            ("https://Blog.Example.com/", "https://blog.example.com"),
            ("http://localhost:8080", "http://localhost:8080"),
            ("https://example.com:443", "https://example.com"),
            (" https://10.0.0.1:9000 ", "https://10.0.0.1:9000"),
        ] {
            assert_eq!(checked_origin(given).expect(given), kept);
        }
        for refused in [
            "https://*.example.com",
            "https://example.com/page",
            "https://example.com?x=1",
            "https://user@example.com",
            "ftp://example.com",
            "example.com",
            "https:example.com",
            "https://exa mple.com",
            "https://[::1]",
            "https://ex_ample.com",
            "https://example.com#top",
            "https://bücher.example",
            "",
        ] {
            assert!(checked_origin(refused).is_err(), "{refused}");
        }
        let eleven: Vec<String> = (0..11).map(|i| format!("https://s{i}.example")).collect();
        assert!(checked_origins(&eleven).is_err());
        let twice = [
            "https://a.example".to_owned(),
            "https://A.example/".to_owned(),
        ];
        assert_eq!(
            checked_origins(&twice).expect("valid"),
            vec!["https://a.example".to_owned()]
        );
    }
}
