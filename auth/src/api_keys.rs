//! API keys: a user's own read-only credentials for the query API. Each is a subject of its own
//! on the stream (`auth.apikey.<id>`): created expecting an empty subject, revoked expecting
//! the sequence it was read at. The key is in the creation's answer only; the stream and the
//! projection keep its SHA-256. Query follows these events and refuses a revoked key at once.
//! A user keeps at most [`MAX_LIVE_KEYS`], and a disabled or erased user none: a key created
//! while its owner was being disabled revokes itself.

use contract::auth::{
    API_KEY_SHOWN_CHARS, ApiKeyList, ApiKeyView, AuthEvent, CreateApiKeyRequest, CreatedApiKey,
    MAX_API_KEY_NAME_CHARS, api_key_subject,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::users::plain_text;
use crate::{members, tokens, users};

/// Keys a user may have that are not revoked (expired ones count until revoked: query holds
/// them all).
pub(crate) const MAX_LIVE_KEYS: i64 = 50;

/// One row of `api_keys`.
type Row = (
    Uuid,
    String,
    String,
    Option<Vec<Uuid>>,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
);

/// The columns of [`Row`].
macro_rules! select {
    () => {
        "SELECT id, name, prefix, project_ids, created_at, expires_at, last_used_at FROM api_keys"
    };
}

fn view(row: Row) -> ApiKeyView {
    let (id, name, prefix, project_ids, created_at, expires_at, last_used_at) = row;
    ApiKeyView {
        id,
        name,
        prefix,
        project_ids,
        created_at,
        expires_at,
        last_used_at,
    }
}

/// The keys of `owner` not revoked (expired ones too: their `expires_at` says so), newest
/// first.
pub(crate) async fn list(state: &AppState, owner: Uuid) -> Result<ApiKeyList, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select!(),
        " WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
    ))
    .bind(owner)
    .fetch_all(&state.pool)
    .await?;
    Ok(ApiKeyList {
        api_keys: rows.into_iter().map(view).collect(),
    })
}

/// A new key of `owner`: the key itself is in this answer only.
pub(crate) async fn create(
    state: &AppState,
    owner: Uuid,
    request: &CreateApiKeyRequest,
) -> Result<CreatedApiKey, ApiError> {
    let name = request.name.trim();
    let length = name.chars().count();
    if length == 0 || length > MAX_API_KEY_NAME_CHARS {
        return Err(ApiError::BadRequest(format!(
            "name must have 1 to {MAX_API_KEY_NAME_CHARS} characters"
        )));
    }
    plain_text("name", name)?;
    let at = OffsetDateTime::now_utc();
    if request.expires_at.is_some_and(|expires| expires <= at) {
        return Err(ApiError::BadRequest(
            "expires_at must be in the future".to_owned(),
        ));
    }
    let project_ids = checked_projects(state, owner, request.project_ids.as_deref()).await?;
    check_cap(state, owner).await?;
    let (key, key_hash) = tokens::new_api_key().map_err(ApiError::unavailable)?;
    let key_id = Uuid::now_v7();
    let created = AuthEvent::ApiKeyCreated {
        key_id,
        user_id: owner,
        name: name.to_owned(),
        prefix: key.chars().take(API_KEY_SHOWN_CHARS).collect(),
        key_hash,
        project_ids,
        expires_at: request.expires_at,
        at,
    };
    let sequence = state
        .publisher
        .publish(
            api_key_subject(key_id),
            &created,
            &key_id.to_string(),
            Some(0),
        )
        .await?;
    state.projected(sequence).await?;
    undo_if_owner_gone(state, owner, key_id, sequence).await?;
    let row: Option<Row> = sqlx::query_as(concat!(select!(), " WHERE id = $1"))
        .bind(key_id)
        .fetch_optional(&state.pool)
        .await?;
    let view = view(row.ok_or_else(|| {
        ApiError::Unavailable(format!("api key {key_id} was stored but not projected"))
    })?);
    Ok(CreatedApiKey { key, view })
}

/// Refuses a new key to an owner who has [`MAX_LIVE_KEYS`] already. Counted before the key is
/// published, as every check here is: keys created at once may all pass at 49 and leave a
/// user a few over the cap, never an unbounded number.
async fn check_cap(state: &AppState, owner: Uuid) -> Result<(), ApiError> {
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(owner)
    .fetch_one(&state.pool)
    .await?;
    if live >= MAX_LIVE_KEYS {
        return Err(ApiError::Conflict(format!(
            "a user has at most {MAX_LIVE_KEYS} API keys not revoked (expired ones count until \
             revoked): revoke one first"
        )));
    }
    Ok(())
}

/// Revokes the key just created (at `sequence`) when its owner was disabled or erased in the
/// meantime, and refuses as for a disabled account. Disabling or erasing revokes the keys the
/// projection holds at that moment; a key whose creation is projected after the account was
/// disabled finds it so here, since the projection applies events in stream order, so no key
/// of a disabled account survives.
async fn undo_if_owner_gone(
    state: &AppState,
    owner: Uuid,
    key_id: Uuid,
    sequence: u64,
) -> Result<(), ApiError> {
    match users::by_id(state, owner).await? {
        Some(user) if !user.disabled => Ok(()),
        // Erased (gone) or disabled: erasure disables first, so either is a disabled account.
        _ => {
            revoke_one(state, owner, key_id, None, sequence).await?;
            Err(ApiError::Disabled)
        }
    }
}

/// The projects a key of `owner` is limited to, checked: an enabled owner, a list that is not
/// empty, each project one they may read (duplicates dropped, the order kept).
async fn checked_projects(
    state: &AppState,
    owner: Uuid,
    project_ids: Option<&[Uuid]>,
) -> Result<Option<Vec<Uuid>>, ApiError> {
    match users::by_id(state, owner).await? {
        None => return Err(ApiError::Unauthorized),
        Some(user) if user.disabled => return Err(ApiError::Disabled),
        Some(_) => {}
    }
    let Some(project_ids) = project_ids else {
        return Ok(None);
    };
    if project_ids.is_empty() {
        return Err(ApiError::BadRequest(
            "project_ids must list at least one project (leave it out for all of yours)".to_owned(),
        ));
    }
    let mut unique: Vec<Uuid> = Vec::with_capacity(project_ids.len());
    for id in project_ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    let readable = members::member_of_among(state, owner, &unique).await?;
    if let Some(unknown) = unique.iter().find(|id| !readable.contains(id)) {
        return Err(ApiError::NotFoundBecause(format!(
            "no such project {unknown} among yours (a key reads only projects you are a member of)"
        )));
    }
    Ok(Some(unique))
}

/// Revokes `owner`'s key `key_id`: 404 when it is not theirs; a key already revoked stays so.
pub(crate) async fn revoke(state: &AppState, owner: Uuid, key_id: Uuid) -> Result<(), ApiError> {
    let row: Option<(Option<OffsetDateTime>, i64)> =
        sqlx::query_as("SELECT revoked_at, version FROM api_keys WHERE id = $1 AND user_id = $2")
            .bind(key_id)
            .bind(owner)
            .fetch_optional(&state.pool)
            .await?;
    match row {
        None => Err(ApiError::NotFound),
        Some((Some(_), _)) => Ok(()),
        Some((None, version)) => {
            let version = u64::try_from(version).unwrap_or(0);
            revoke_one(state, owner, key_id, Some(owner), version).await
        }
    }
}

/// Revokes every live key of `user_id`, as `by` (their account disabled or erased).
pub(crate) async fn revoke_all(
    state: &AppState,
    user_id: Uuid,
    by: Option<Uuid>,
) -> Result<(), ApiError> {
    let live: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT id, version FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_all(&state.pool)
    .await?;
    for (key_id, version) in live {
        let version = u64::try_from(version).unwrap_or(0);
        revoke_one(state, user_id, key_id, by, version).await?;
    }
    Ok(())
}

/// Publishes the revocation of a live key read at `version`. Two revocations at once both
/// succeed: the one that loses the race finds the key revoked (or gone with its owner).
async fn revoke_one(
    state: &AppState,
    user_id: Uuid,
    key_id: Uuid,
    by: Option<Uuid>,
    version: u64,
) -> Result<(), ApiError> {
    let revoked = state
        .record(
            api_key_subject(key_id),
            &AuthEvent::ApiKeyRevoked {
                key_id,
                user_id,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await;
    match revoked {
        Err(ApiError::Conflict(_)) => {
            let gone: Option<bool> =
                sqlx::query_scalar("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1")
                    .bind(key_id)
                    .fetch_optional(&state.pool)
                    .await?;
            if gone.unwrap_or(true) {
                Ok(())
            } else {
                revoked
            }
        }
        other => other,
    }
}
