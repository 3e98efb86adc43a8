//! Project members: who may read or manage which project. Each member is a subject of its own
//! on the stream (`auth.project.<project>.member.<user>`), published expecting the last
//! sequence read there, so two admins changing one member at once cannot both win, and
//! changing a member never conflicts with the project's own changes. Every check reads the
//! projection, so a change applies at the caller's next request. An erased user keeps no
//! membership on the stream either, where query reads them.

use contract::auth::{AuthEvent, MemberView, ProjectMembers, ProjectRole, member_subject};
use contract::streams::AUTH_STREAM;
use futures_util::TryStreamExt as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::users;

/// How often ending a membership that changed meanwhile reads it again before answering 409.
const ATTEMPTS: usize = 10;

/// What the caller may do on `project_id`: `admin` for an instance admin, else their member
/// role; `None` when they may not see it (not a member, or no such project: the same answer,
/// so that nobody learns which projects exist). A disabled caller is refused outright.
pub(crate) async fn role_on(
    state: &AppState,
    caller: Uuid,
    project_id: Uuid,
) -> Result<Option<ProjectRole>, ApiError> {
    let row: Option<(String, bool, Option<String>, bool)> = sqlx::query_as(
        "SELECT u.role, u.disabled, m.role,
                EXISTS (SELECT 1 FROM projects WHERE id = $2)
         FROM users u
         LEFT JOIN project_members m ON m.user_id = u.id AND m.project_id = $2
         WHERE u.id = $1",
    )
    .bind(caller)
    .bind(project_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some((global, disabled, member, exists)) = row else {
        return Err(ApiError::Unauthorized);
    };
    if disabled {
        return Err(ApiError::Disabled);
    }
    if !exists {
        return Ok(None);
    }
    if global == "admin" {
        return Ok(Some(ProjectRole::Admin));
    }
    Ok(member.and_then(|role| role.parse().ok()))
}

/// Which of `project_ids` the caller is a member of (any role; an instance admin too only of
/// those they joined), in one query: the projects an API key of theirs may read.
pub(crate) async fn member_of_among(
    state: &AppState,
    caller: Uuid,
    project_ids: &[Uuid],
) -> Result<Vec<Uuid>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT p.id FROM projects p WHERE p.id = ANY($2) AND EXISTS (
           SELECT 1 FROM project_members m
           WHERE m.project_id = p.id AND m.user_id = $1 AND m.role IS NOT NULL)",
    )
    .bind(caller)
    .bind(project_ids)
    .fetch_all(&state.pool)
    .await?)
}

/// Refuses unless the caller's role on `project_id` includes `required`: 404 when they may not
/// see the project at all, 403 when they may but not this.
pub(crate) async fn require(
    state: &AppState,
    caller: Uuid,
    project_id: Uuid,
    required: ProjectRole,
) -> Result<ProjectRole, ApiError> {
    match role_on(state, caller, project_id).await? {
        None => Err(ApiError::NotFound),
        Some(role) if role.includes(required) => Ok(role),
        Some(_) => Err(ApiError::Forbidden(format!(
            "this needs the {} role on the project",
            required.as_str()
        ))),
    }
}

/// The members of `project_id`, by email.
pub(crate) async fn list(state: &AppState, project_id: Uuid) -> Result<ProjectMembers, ApiError> {
    let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT u.id, u.email, u.name, m.role FROM project_members m
         JOIN users u ON u.id = m.user_id
         WHERE m.project_id = $1 AND m.role IS NOT NULL ORDER BY u.email, u.id",
    )
    .bind(project_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(ProjectMembers {
        members: rows
            .into_iter()
            .filter_map(|(user_id, email, name, role)| {
                Some(MemberView {
                    user_id,
                    email,
                    name,
                    role: role.parse().ok()?,
                })
            })
            .collect(),
    })
}

/// The member's version (the stream sequence of their latest event; 0 when they never were
/// one), their role if they are one, and the user's email and name; 404 when there is no such
/// user.
async fn member_state(
    state: &AppState,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<(u64, Option<String>, String, String), ApiError> {
    let row: Option<(String, String, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT u.email, u.name, m.version, m.role FROM users u
         LEFT JOIN project_members m ON m.user_id = u.id AND m.project_id = $2
         WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(project_id)
    .fetch_optional(&state.pool)
    .await?;
    let (email, name, version, role) = row.ok_or(ApiError::NotFound)?;
    let version = version.map_or(0, |version| u64::try_from(version).unwrap_or(0));
    Ok((version, role, email, name))
}

/// Makes `user_id` a member of `project_id` with `role` (or changes their role). A user erased
/// meanwhile is a 404, and the membership is ended again: see [`remove_all`].
pub(crate) async fn set(
    state: &AppState,
    by: Option<Uuid>,
    project_id: Uuid,
    user_id: Uuid,
    role: ProjectRole,
) -> Result<MemberView, ApiError> {
    let (version, _, email, name) = member_state(state, project_id, user_id).await?;
    let event = AuthEvent::MemberSet {
        project_id,
        user_id,
        role,
        by,
        at: OffsetDateTime::now_utc(),
    };
    let subject = member_subject(project_id, user_id);
    let sequence = state
        .publisher
        .publish(subject, &event, &Uuid::now_v7().to_string(), Some(version))
        .await?;
    state.projected(sequence).await?;
    if users::by_id(state, user_id).await?.is_none() {
        // The erasure's last sweep read the stream before this event was stored, or it would
        // have ended it. A conflict means a later event on this member, which is a removal or
        // a set that checks for itself.
        match end(state, project_id, user_id, None, sequence).await {
            Ok(()) | Err(ApiError::Conflict(_)) => {}
            Err(err) => return Err(err),
        }
        return Err(ApiError::NotFound);
    }
    Ok(MemberView {
        user_id,
        email,
        name,
        role,
    })
}

/// Records the end of `user_id`'s membership of `project_id`, expecting the member's last
/// event at `expected`.
async fn end(
    state: &AppState,
    project_id: Uuid,
    user_id: Uuid,
    by: Option<Uuid>,
    expected: u64,
) -> Result<(), ApiError> {
    let event = AuthEvent::MemberRemoved {
        project_id,
        user_id,
        by,
        at: OffsetDateTime::now_utc(),
    };
    let subject = member_subject(project_id, user_id);
    state
        .record(subject, &event, &Uuid::now_v7().to_string(), Some(expected))
        .await
}

/// Ends every membership of `user_id` (being erased), as `by`. Read from the stream, not the
/// projection: once the user's tombstone is projected their rows are gone from it (a cascade),
/// while query, which follows the stream, would still count them a member. Each member subject
/// of theirs whose last event sets a role gets a `MemberRemoved` expecting that event.
pub(crate) async fn remove_all(
    state: &AppState,
    user_id: Uuid,
    by: Option<Uuid>,
) -> Result<(), ApiError> {
    let stream = state
        .publisher
        .context()
        .get_stream(AUTH_STREAM)
        .await
        .map_err(ApiError::unavailable)?;
    // `member_subject` with any project.
    let filter = format!("auth.project.*.member.{user_id}");
    let subjects: Vec<String> = stream
        .info_with_subjects(&filter)
        .await
        .map_err(ApiError::unavailable)?
        .map_ok(|(subject, _)| subject)
        .try_collect()
        .await
        .map_err(ApiError::unavailable)?;
    for subject in subjects {
        let mut ended = false;
        for _ in 0..ATTEMPTS {
            let last = stream
                .get_last_raw_message_by_subject(&subject)
                .await
                .map_err(ApiError::unavailable)?;
            let Ok(AuthEvent::MemberSet { project_id, .. }) = serde_json::from_slice(&last.payload)
            else {
                ended = true;
                break;
            };
            match end(state, project_id, user_id, by, last.sequence).await {
                Ok(()) => {
                    ended = true;
                    break;
                }
                Err(ApiError::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }
        if !ended {
            return Err(ApiError::Conflict(
                "memberships changed concurrently, try again".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Ends `user_id`'s membership of `project_id`; 404 when they are not a member.
pub(crate) async fn remove(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<(), ApiError> {
    let (version, role, _, _) = member_state(state, project_id, user_id).await?;
    if role.is_none() {
        return Err(ApiError::NotFound);
    }
    end(state, project_id, user_id, Some(by), version).await
}
