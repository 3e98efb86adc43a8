//! Invites to a project. Each is a subject of its own on the stream
//! (`auth.project.<project>.invite.<id>`): created with a random token kept only as its hash,
//! withdrawn, or used once: its acceptance expects the sequence the invite was read at, so two
//! uses of one link cannot both succeed. Whoever accepts must be signed in with the invited
//! email; they become a member with the invite's role (a higher role they hold stays).

use contract::auth::{
    AcceptedInvite, AuthEvent, CreateInviteRequest, CreatedInvite, INVITE_DAYS, InviteList,
    InviteView, MAX_INVITE_DAYS, ProjectRole, invite_subject,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{email, members, tokens};

/// One row of `invites` with its inviter's email.
type Row = (
    Uuid,
    Uuid,
    String,
    String,
    OffsetDateTime,
    OffsetDateTime,
    Option<String>,
    i64,
);

/// The columns of [`Row`].
macro_rules! select {
    () => {
        "SELECT i.id, i.project_id, i.email, i.role, i.created_at, i.expires_at, u.email,
           i.version FROM invites i LEFT JOIN users u ON u.id = i.created_by"
    };
}

fn view(row: Row) -> Option<(InviteView, u64)> {
    let (id, project_id, email, role, created_at, expires_at, created_by, version) = row;
    Some((
        InviteView {
            id,
            project_id,
            email,
            role: role.parse().ok()?,
            created_at,
            expires_at,
            created_by: created_by.unwrap_or_default(),
        },
        u64::try_from(version).unwrap_or(0),
    ))
}

/// The pending invites of `project_id` that have not expired, newest first.
pub(crate) async fn list(state: &AppState, project_id: Uuid) -> Result<InviteList, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select!(),
        " WHERE i.project_id = $1 AND i.state = 'pending' AND i.expires_at > now()
         ORDER BY i.created_at DESC, i.id"
    ))
    .bind(project_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(InviteList {
        invites: rows.into_iter().filter_map(view).map(|(v, _)| v).collect(),
    })
}

/// A new invite of `request.email` to `project_id`, by `by`: the token is in the answer only.
pub(crate) async fn create(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    request: &CreateInviteRequest,
) -> Result<CreatedInvite, ApiError> {
    if !email::is_plausible(&request.email) {
        return Err(ApiError::BadRequest(
            "email is not an email address".to_owned(),
        ));
    }
    let days = request.expires_in_days.unwrap_or(INVITE_DAYS);
    if !(1..=MAX_INVITE_DAYS).contains(&days) {
        return Err(ApiError::BadRequest(format!(
            "expires_in_days must be 1 to {MAX_INVITE_DAYS}"
        )));
    }
    let (token, token_hash) =
        tokens::new_refresh_token().map_err(|err| ApiError::Unavailable(err.to_string()))?;
    let invite_id = Uuid::now_v7();
    let now = OffsetDateTime::now_utc();
    state
        .record(
            invite_subject(project_id, invite_id),
            &AuthEvent::InviteCreated {
                project_id,
                invite_id,
                email: email::normalise(&request.email),
                role: request.role,
                token_hash,
                expires_at: now + Duration::days(i64::from(days)),
                by,
                at: now,
            },
            &invite_id.to_string(),
            Some(0),
        )
        .await?;
    let (invite, _) = find(state, project_id, invite_id).await?;
    Ok(CreatedInvite {
        invite,
        link: format!("/invite/{token}"),
        token,
    })
}

/// The pending invite `invite_id` of `project_id` and its version; 404 when there is none.
async fn find(
    state: &AppState,
    project_id: Uuid,
    invite_id: Uuid,
) -> Result<(InviteView, u64), ApiError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        select!(),
        " WHERE i.project_id = $1 AND i.id = $2 AND i.state = 'pending'"
    ))
    .bind(project_id)
    .bind(invite_id)
    .fetch_optional(&state.pool)
    .await?;
    row.and_then(view).ok_or(ApiError::NotFound)
}

/// The invite withdrawn; 404 when it is not pending.
pub(crate) async fn revoke(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    invite_id: Uuid,
) -> Result<(), ApiError> {
    let (_, version) = find(state, project_id, invite_id).await?;
    state
        .record(
            invite_subject(project_id, invite_id),
            &AuthEvent::InviteRevoked {
                project_id,
                invite_id,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await
}

/// `caller` uses the invite whose link holds `token`: they become a member of its project.
pub(crate) async fn accept(
    state: &AppState,
    caller: Uuid,
    token: &str,
) -> Result<AcceptedInvite, ApiError> {
    let gone = || ApiError::NotFoundBecause("this invite link is no longer valid".to_owned());
    let row: Option<(Uuid, Uuid, String, String, i64, String)> = sqlx::query_as(
        "SELECT i.id, i.project_id, i.email, i.role, i.version, p.name
         FROM invites i JOIN projects p ON p.id = i.project_id
         WHERE i.token_hash = $1 AND i.state = 'pending' AND i.expires_at > now()",
    )
    .bind(tokens::secret_hash(token.trim()))
    .fetch_optional(&state.pool)
    .await?;
    let (invite_id, project_id, invited, role, version, project_name) = row.ok_or_else(gone)?;
    let role: ProjectRole = role.parse().map_err(|_| gone())?;
    let own: Option<(String, bool)> =
        sqlx::query_as("SELECT email, disabled FROM users WHERE id = $1")
            .bind(caller)
            .fetch_optional(&state.pool)
            .await?;
    match own {
        None => return Err(ApiError::Unauthorized),
        Some((_, true)) => return Err(ApiError::Disabled),
        Some((own, false)) if email::normalise(&own) != invited => {
            return Err(ApiError::Forbidden(
                "this invite is for another email address".to_owned(),
            ));
        }
        Some(_) => {}
    }
    // The membership first: an acceptance that then fails leaves the invite pending for the
    // same person to use again, where the other order could spend the link and grant nothing.
    let held = members::role_on(state, caller, project_id).await?;
    let role = match held {
        Some(held) if held.includes(role) => held,
        _ => {
            members::set(state, None, project_id, caller, role).await?;
            role
        }
    };
    state
        .record(
            invite_subject(project_id, invite_id),
            &AuthEvent::InviteAccepted {
                project_id,
                invite_id,
                user_id: caller,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(u64::try_from(version).unwrap_or(0)),
        )
        .await
        .map_err(|err| match err {
            ApiError::Conflict(_) => gone(),
            other => other,
        })?;
    Ok(AcceptedInvite {
        project_id,
        project_name,
        role,
    })
}
