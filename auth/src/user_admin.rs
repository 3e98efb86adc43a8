//! What an admin does to users: list them a page at a time, change a role, disable or enable,
//! and erase (the personal data removed from the stream itself). A user disabled or erased
//! loses their API keys at once; an erased user loses their memberships too.

use contract::auth::{AdminUserView, AuthEvent, Role, UpdateUserRequest, UserPage};
use contract::streams::AUTH_STREAM;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::last_admin::{check_removal, is_active_admin};
use crate::state::AppState;
use crate::users::{parse_role, plain_text};
use crate::{api_keys, email, members};

/// Users shown per page of `GET /api/admin/users`.
const PER_PAGE: u32 = 50;

#[derive(Debug, sqlx::FromRow)]
struct AdminUserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    disabled: bool,
    created_at: OffsetDateTime,
    last_login_at: Option<OffsetDateTime>,
    version: i64,
}

impl AdminUserRow {
    fn view(&self) -> Result<AdminUserView, ApiError> {
        Ok(AdminUserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: parse_role(&self.role)?,
            disabled: self.disabled,
            created_at: self.created_at,
            last_login_at: self.last_login_at,
        })
    }

    fn version(&self) -> u64 {
        u64::try_from(self.version).unwrap_or(0)
    }
}

/// Page `page` (from 1) of the users whose email or name contains `q`, oldest first.
pub(crate) async fn list(
    state: &AppState,
    page: Option<u32>,
    q: Option<String>,
) -> Result<UserPage, ApiError> {
    let page = page.unwrap_or(1).max(1);
    plain_text("q", q.as_deref().unwrap_or_default())?;
    let pattern = format!(
        "%{}%",
        q.unwrap_or_default()
            .trim()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows: Vec<AdminUserRow> = sqlx::query_as(
        "SELECT id, email, name, role, disabled, created_at, last_login_at, version FROM users
         WHERE email ILIKE $1 OR name ILIKE $1
         ORDER BY created_at, id LIMIT $2 OFFSET $3",
    )
    .bind(&pattern)
    .bind(i64::from(PER_PAGE))
    .bind(i64::from(page - 1) * i64::from(PER_PAGE))
    .fetch_all(&state.pool)
    .await?;
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email ILIKE $1 OR name ILIKE $1")
            .bind(&pattern)
            .fetch_one(&state.pool)
            .await?;
    Ok(UserPage {
        users: rows
            .iter()
            .map(AdminUserRow::view)
            .collect::<Result<_, _>>()?,
        page,
        per_page: PER_PAGE,
        total: u64::try_from(total).unwrap_or(0),
    })
}

async fn find(state: &AppState, id: Uuid) -> Result<AdminUserRow, ApiError> {
    sqlx::query_as(
        "SELECT id, email, name, role, disabled, created_at, last_login_at, version FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)
}

/// Applies the role and disabled flag of `request` to user `id`, as admin `by`; refused (409)
/// when it would leave no active admin.
pub(crate) async fn update(
    state: &AppState,
    id: Uuid,
    by: Option<Uuid>,
    request: UpdateUserRequest,
) -> Result<AdminUserView, ApiError> {
    if request.role == Some(Role::Analyst) {
        return Err(ApiError::BadRequest(
            "analyst is a role on a project: PUT /api/admin/projects/{id}/members/{user_id}"
                .to_owned(),
        ));
    }
    let mut user = find(state, id).await?;
    let removes_admin = is_active_admin(&user.role, user.disabled)
        && (request.role.is_some_and(|role| role != Role::Admin) || request.disabled == Some(true));
    let events = changes(&user, by, &request);
    if removes_admin {
        check_removal(state, id, by).await?;
    }
    for event in events {
        // Optimistic concurrency on the user: based on the version this request read (the
        // last-admin check relies on it for the first event).
        state
            .record(
                contract::auth::user_subject(id),
                &event,
                &Uuid::now_v7().to_string(),
                Some(user.version()),
            )
            .await?;
        user = find(state, id).await?;
    }
    if user.disabled {
        // Keys of a user disabled before keys were revoked with them are caught here too.
        api_keys::revoke_all(state, id, by).await?;
    }
    user.view()
}

/// The events that turn `user` into what `request` asks for (none for what it already is).
fn changes(user: &AdminUserRow, by: Option<Uuid>, request: &UpdateUserRequest) -> Vec<AuthEvent> {
    let (user_id, at) = (user.id, OffsetDateTime::now_utc());
    let mut events = Vec::new();
    if let Some(role) = request.role
        && role.as_str() != user.role
    {
        events.push(AuthEvent::RoleChanged {
            user_id,
            role,
            by,
            at,
        });
    }
    if let Some(disabled) = request.disabled
        && disabled != user.disabled
    {
        events.push(if disabled {
            AuthEvent::UserDisabled { user_id, by, at }
        } else {
            AuthEvent::UserEnabled { user_id, by, at }
        });
    }
    events
}

/// Erasure: the user is disabled, their keys revoked and their memberships ended (each by its
/// own event: query follows them, not the projection's cascade), the messages that carried
/// their personal data are erased from the stream, a tombstone is recorded, and the
/// projection forgets the user; a rebuild shows no trace.
///
/// Disabling comes first so that nothing of theirs can be made in between: a key created
/// concurrently finds its owner disabled and revokes itself (`api_keys::create`), and a
/// membership set concurrently is caught by the second sweep after the tombstone or, when it
/// lands later still, removes itself (`members::set`).
pub(crate) async fn erase(state: &AppState, id: Uuid, by: Option<Uuid>) -> Result<(), ApiError> {
    let user = find(state, id).await?;
    if !user.disabled {
        if is_active_admin(&user.role, user.disabled) {
            // Under the last-admin check: the erasure below deletes messages before its
            // tombstone and could not be undone by a lost race.
            check_removal(state, id, by).await?;
        }
        state
            .record(
                contract::auth::user_subject(id),
                &AuthEvent::UserDisabled {
                    user_id: id,
                    by,
                    at: OffsetDateTime::now_utc(),
                },
                &Uuid::now_v7().to_string(),
                Some(user.version()),
            )
            .await?;
    }
    api_keys::revoke_all(state, id, by).await?;
    // Before the tombstone too, so that an erasure cut short after it leaves no membership.
    members::remove_all(state, id, by).await?;
    delete_personal_messages(state, &user).await?;
    state
        .record(
            contract::auth::user_subject(id),
            &AuthEvent::UserErased {
                user_id: id,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &format!("erased-{id}"),
            None,
        )
        .await?;
    members::remove_all(state, id, by).await
}

/// Deletes from `AUTH` every message on the user's subject and on their email claim's.
async fn delete_personal_messages(state: &AppState, user: &AdminUserRow) -> Result<(), ApiError> {
    let stream = state
        .publisher
        .context()
        .get_stream(AUTH_STREAM)
        .await
        .map_err(ApiError::unavailable)?;
    for subject in [
        contract::auth::user_subject(user.id),
        contract::auth::email_subject(&email::hash(&user.email)),
    ] {
        let mut sequence = 0;
        while let Ok(message) = stream
            .direct_get_next_for_subject(subject.as_str(), Some(sequence + 1))
            .await
        {
            sequence = message.sequence;
            stream
                .delete_message(sequence)
                .await
                .map_err(ApiError::unavailable)?;
        }
    }
    Ok(())
}
