//! The admin API: users (list, role, disable, erase), projects and their write keys, and the
//! first-admin bootstrap; and the project list analysts pick from.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use contract::auth::{
    AdminUserView, AuthEvent, CreateProjectRequest, CreatedProject, ProjectDomains, ProjectList,
    ProjectQuota, ProjectSummaries, ProjectSummary, ProjectView, Role, SetDomainsRequest,
    UpdateUserRequest, UserPage, WriteKeyView,
};
use contract::streams::AUTH_STREAM;
use plumbing::error::{JsonBody, PathParams, QueryParams};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{ApiError, AppState, bearer_claims, parse_role, plain_text, register_user};
use crate::email;
use crate::last_admin::{check_removal, is_active_admin};

/// Users shown per page of `GET /api/admin/users`.
const PER_PAGE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users))
        .route(
            "/api/admin/users/{id}",
            patch(update_user).delete(erase_user),
        )
        .route(
            "/api/admin/projects",
            post(create_project).get(list_projects),
        )
        .route("/api/admin/projects/{id}/keys", post(issue_key))
        .route("/api/admin/projects/{id}/domains", put(set_domains))
        .route(
            "/api/admin/projects/{id}/quota",
            put(crate::quota::set_quota),
        )
        .route("/api/admin/projects/{id}/keys/{key_id}", delete(revoke_key))
        .route("/api/auth/projects", get(list_project_summaries))
}

/// The calling admin's id.
pub(crate) async fn admin(state: &AppState, headers: &HeaderMap) -> Result<Uuid, ApiError> {
    caller_with(state, headers, Role::Admin).await
}

/// The caller's id when their role includes `required`. The role is read from the projection,
/// not only from the token, so a demoted or disabled user loses access at once rather than when
/// the token expires.
async fn caller_with(
    state: &AppState,
    headers: &HeaderMap,
    required: Role,
) -> Result<Uuid, ApiError> {
    let claims = bearer_claims(state, headers)?;
    let row: Option<(String, bool)> =
        sqlx::query_as("SELECT role, disabled FROM users WHERE id = $1")
            .bind(claims.sub)
            .fetch_optional(&state.pool)
            .await?;
    match row {
        Some((role, false)) if parse_role(&role)?.includes(required) => Ok(claims.sub),
        Some((_, true)) => Err(ApiError::Disabled),
        Some(_) => Err(ApiError::Forbidden(format!(
            "this needs the {} role",
            required.as_str()
        ))),
        None => Err(ApiError::Unauthorized),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    q: Option<String>,
}

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
}

#[utoipa::path(
    get, path = "/api/admin/users", tag = "admin", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of users, newest first", body = UserPage),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn list_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<UserPage>, ApiError> {
    admin(&state, &headers).await?;
    let page = query.page.unwrap_or(1).max(1);
    plain_text("q", query.q.as_deref().unwrap_or_default())?;
    let pattern = format!(
        "%{}%",
        query
            .q
            .unwrap_or_default()
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
    Ok(Json(UserPage {
        users: rows
            .iter()
            .map(AdminUserRow::view)
            .collect::<Result<_, _>>()?,
        page,
        per_page: PER_PAGE,
        total: u64::try_from(total).unwrap_or(0),
    }))
}

async fn find_user(state: &AppState, id: Uuid) -> Result<AdminUserRow, ApiError> {
    sqlx::query_as(
        "SELECT id, email, name, role, disabled, created_at, last_login_at, version FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)
}

#[utoipa::path(
    patch, path = "/api/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "the user as changed", body = AdminUserView),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "no such user or project", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently, or it would leave no admin", body = contract::ErrorBody),
        (status = 413, description = "the body is too large", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn update_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(id): PathParams<Uuid>,
    JsonBody(request): JsonBody<UpdateUserRequest>,
) -> Result<Json<AdminUserView>, ApiError> {
    let by = Some(admin(&state, &headers).await?);
    let mut user = find_user(&state, id).await?;
    let at = OffsetDateTime::now_utc();
    let mut events = Vec::new();
    let removes_admin = is_active_admin(&user.role, user.disabled)
        && (request.role.is_some_and(|role| role != Role::Admin) || request.disabled == Some(true));
    if let Some(role) = request.role
        && role.as_str() != user.role
    {
        events.push(AuthEvent::RoleChanged {
            user_id: id,
            role,
            by,
            at,
        });
    }
    if let Some(disabled) = request.disabled
        && disabled != user.disabled
    {
        if disabled {
            events.push(AuthEvent::UserDisabled {
                user_id: id,
                by,
                at,
            });
        } else {
            events.push(AuthEvent::UserEnabled {
                user_id: id,
                by,
                at,
            });
        }
    }
    if removes_admin {
        check_removal(&state, id, by).await?;
    }
    for event in events {
        // Optimistic concurrency on the user: based on the version this request read (the
        // last-admin check relies on it for the first event).
        let sequence = state
            .publisher
            .publish(
                contract::auth::user_subject(id),
                &event,
                &Uuid::now_v7().to_string(),
                Some(u64::try_from(user.version).unwrap_or(0)),
            )
            .await?;
        state.projected(sequence).await?;
        user = find_user(&state, id).await?;
    }
    Ok(Json(user.view()?))
}

/// Erasure: the messages that carried the user's personal data are erased from the stream, a
/// tombstone is recorded, and the projection forgets the user; a rebuild shows no trace.
#[utoipa::path(
    delete, path = "/api/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses(
        (status = 204, description = "the user is deleted and their personal data erased"),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "no such user or project", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently, or it would leave no admin", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn erase_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(id): PathParams<Uuid>,
) -> Result<StatusCode, ApiError> {
    let by = Some(admin(&state, &headers).await?);
    let user = find_user(&state, id).await?;
    if is_active_admin(&user.role, user.disabled) {
        // An active admin is disabled first, under the last-admin check: the erasure below
        // deletes messages before its tombstone and could not be undone by a lost race.
        check_removal(&state, id, by).await?;
        let sequence = state
            .publisher
            .publish(
                contract::auth::user_subject(id),
                &AuthEvent::UserDisabled {
                    user_id: id,
                    by,
                    at: OffsetDateTime::now_utc(),
                },
                &Uuid::now_v7().to_string(),
                Some(u64::try_from(user.version).unwrap_or(0)),
            )
            .await?;
        state.projected(sequence).await?;
    }
    let stream = state
        .publisher
        .context()
        .get_stream(AUTH_STREAM)
        .await
        .map_err(|err| ApiError::Unavailable(err.to_string()))?;
    for subject in [
        contract::auth::user_subject(id),
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
                .map_err(|err| ApiError::Unavailable(err.to_string()))?;
        }
    }
    let sequence = state
        .publisher
        .publish(
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
    state.projected(sequence).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new write key: `ea_` and 32 random bytes, base64url.
fn new_write_key() -> Result<String, ApiError> {
    let mut bytes = [0_u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("no randomness: {err}")))?;
    Ok(format!(
        "ea_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// IANA-style zone names: `UTC`, `Europe/Paris`, `America/Argentina/Buenos_Aires`, `Etc/GMT+3`.
fn is_timezone_name(name: &str) -> bool {
    name == "UTC"
        || (name.len() <= 64
            && name.contains('/')
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
            }))
}

#[utoipa::path(
    post, path = "/api/admin/projects", tag = "admin", security(("bearer" = [])),
    request_body = CreateProjectRequest,
    responses(
        (status = 201, description = "the project and its first write key", body = CreatedProject),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently, or it would leave no admin", body = contract::ErrorBody),
        (status = 413, description = "the body is too large", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn create_project(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateProjectRequest>,
) -> Result<Response, ApiError> {
    let by = Some(admin(&state, &headers).await?);
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 100 characters".to_owned(),
        ));
    }
    plain_text("name", &name)?;
    let timezone = request.timezone.unwrap_or_else(|| "UTC".to_owned());
    if !is_timezone_name(&timezone) {
        return Err(ApiError::BadRequest(format!(
            "{timezone:?} is not a time zone name like Europe/Paris"
        )));
    }
    let project_id = Uuid::now_v7();
    let at = OffsetDateTime::now_utc();
    let subject = contract::auth::project_subject(project_id);
    let created = state
        .publisher
        .publish(
            subject.clone(),
            &AuthEvent::ProjectCreated {
                project_id,
                name: name.clone(),
                timezone: timezone.clone(),
                by,
                at,
            },
            &format!("project-{project_id}"),
            Some(0),
        )
        .await?;
    let write_key = new_write_key()?;
    let sequence = state
        .publisher
        .publish(
            subject,
            &AuthEvent::WriteKeyIssued {
                project_id,
                key_id: Uuid::now_v7(),
                key: write_key.clone(),
                at,
            },
            &format!("project-key-{project_id}"),
            Some(created),
        )
        .await?;
    state.projected(sequence).await?;
    let body = CreatedProject {
        id: project_id,
        name,
        timezone,
        write_key,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, sqlx::FromRow)]
struct ProjectRow {
    id: Uuid,
    name: String,
    timezone: String,
    created_at: OffsetDateTime,
    domains: Vec<String>,
    events_per_second: Option<i64>,
    bytes_per_second: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/admin/projects", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "every project with its live keys", body = ProjectList),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn list_projects(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ProjectList>, ApiError> {
    admin(&state, &headers).await?;
    let projects: Vec<ProjectRow> = sqlx::query_as(
        "SELECT id, name, timezone, created_at, domains, events_per_second, bytes_per_second
         FROM projects ORDER BY created_at, id",
    )
    .fetch_all(&state.pool)
    .await?;
    let keys: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT project_id, id, key FROM write_keys WHERE revoked_at IS NULL ORDER BY created_at, id",
    )
    .fetch_all(&state.pool)
    .await?;
    let views: Vec<ProjectView> = projects
        .into_iter()
        .map(|p| ProjectView {
            keys: keys
                .iter()
                .filter(|(project, _, _)| *project == p.id)
                .map(|(_, id, key)| WriteKeyView {
                    id: *id,
                    key: key.clone(),
                })
                .collect(),
            id: p.id,
            name: p.name,
            timezone: p.timezone,
            created_at: p.created_at,
            domains: p.domains,
            quota: ProjectQuota {
                events_per_second: p.events_per_second.and_then(|v| u64::try_from(v).ok()),
                bytes_per_second: p.bytes_per_second.and_then(|v| u64::try_from(v).ok()),
            },
        })
        .collect();
    Ok(Json(ProjectList { projects: views }))
}

#[utoipa::path(
    get, path = "/api/auth/projects", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "every project, the built-in one first, then by name", body = ProjectSummaries),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an analyst or admin, or the account is disabled", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn list_project_summaries(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ProjectSummaries>, ApiError> {
    caller_with(&state, &headers, Role::Analyst).await?;
    let projects: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, name, timezone FROM projects ORDER BY id <> $1, name, id")
            .bind(contract::BUILTIN_PROJECT_ID)
            .fetch_all(&state.pool)
            .await?;
    Ok(Json(ProjectSummaries {
        projects: projects
            .into_iter()
            .map(|(id, name, timezone)| ProjectSummary { id, name, timezone })
            .collect(),
    }))
}

pub(crate) async fn project_version(state: &AppState, id: Uuid) -> Result<u64, ApiError> {
    let version: Option<i64> = sqlx::query_scalar("SELECT version FROM projects WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    version
        .map(|v| u64::try_from(v).unwrap_or(0))
        .ok_or(ApiError::NotFound)
}

/// A site domain as Plausible's script sends it: a lower-case host name.
fn normalise_domain(domain: &str) -> Option<String> {
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    let valid = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    valid.then_some(domain)
}

#[utoipa::path(
    put, path = "/api/admin/projects/{id}/domains", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = SetDomainsRequest,
    responses(
        (status = 200, description = "the domains Plausible's script may name for this project", body = ProjectDomains),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "no such user or project", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently, or it would leave no admin", body = contract::ErrorBody),
        (status = 413, description = "the body is too large", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn set_domains(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(request): JsonBody<SetDomainsRequest>,
) -> Result<Json<ProjectDomains>, ApiError> {
    admin(&state, &headers).await?;
    let version = project_version(&state, project_id).await?;
    let mut domains = Vec::new();
    for domain in &request.domains {
        let normalised = normalise_domain(domain).ok_or_else(|| {
            ApiError::BadRequest(format!("domains: {domain:?} is not a domain name"))
        })?;
        if !domains.contains(&normalised) {
            domains.push(normalised);
        }
    }
    let sequence = state
        .publisher
        .publish(
            contract::auth::project_subject(project_id),
            &AuthEvent::ProjectDomainsSet {
                project_id,
                domains: domains.clone(),
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await?;
    state.projected(sequence).await?;
    Ok(Json(ProjectDomains {
        id: project_id,
        domains,
    }))
}

#[utoipa::path(
    post, path = "/api/admin/projects/{id}/keys", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 201, description = "a new write key", body = WriteKeyView),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "no such user or project", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently, or it would leave no admin", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn issue_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(project_id): PathParams<Uuid>,
) -> Result<Response, ApiError> {
    admin(&state, &headers).await?;
    let version = project_version(&state, project_id).await?;
    let key_id = Uuid::now_v7();
    let key = new_write_key()?;
    let sequence = state
        .publisher
        .publish(
            contract::auth::project_subject(project_id),
            &AuthEvent::WriteKeyIssued {
                project_id,
                key_id,
                key: key.clone(),
                at: OffsetDateTime::now_utc(),
            },
            &format!("key-{key_id}"),
            Some(version),
        )
        .await?;
    state.projected(sequence).await?;
    Ok((StatusCode::CREATED, Json(WriteKeyView { id: key_id, key })).into_response())
}

#[utoipa::path(
    delete, path = "/api/admin/projects/{id}/keys/{key_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("key_id" = Uuid, Path, description = "write key id")),
    responses(
        (status = 204, description = "the key no longer accepts events (also when it was already revoked)"),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "no such user or project", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently, or it would leave no admin", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((project_id, key_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    admin(&state, &headers).await?;
    let version = project_version(&state, project_id).await?;
    let live: Option<bool> = sqlx::query_scalar(
        "SELECT revoked_at IS NULL FROM write_keys WHERE id = $1 AND project_id = $2",
    )
    .bind(key_id)
    .bind(project_id)
    .fetch_optional(&state.pool)
    .await?;
    match live {
        None => return Err(ApiError::NotFound),
        Some(false) => return Ok(StatusCode::NO_CONTENT),
        Some(true) => {}
    }
    let sequence = state
        .publisher
        .publish(
            contract::auth::project_subject(project_id),
            &AuthEvent::WriteKeyRevoked {
                project_id,
                key_id,
                at: OffsetDateTime::now_utc(),
            },
            &format!("revoke-key-{key_id}"),
            Some(version),
        )
        .await?;
    state.projected(sequence).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes `email` an admin at start when no admin exists: registers it, or promotes the
/// existing account. Idempotent across restarts and replicas.
pub async fn bootstrap_admin(state: &AppState, email: &str, password: &str) -> anyhow::Result<()> {
    let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin'")
        .fetch_one(&state.pool)
        .await?;
    if admins > 0 {
        return Ok(());
    }
    let existing: Option<(Uuid, i64)> =
        sqlx::query_as("SELECT id, version FROM users WHERE email_hash = $1")
            .bind(email::hash(email))
            .fetch_optional(&state.pool)
            .await?;
    match existing {
        Some((user_id, version)) => {
            let sequence = state
                .publisher
                .publish(
                    contract::auth::user_subject(user_id),
                    &AuthEvent::RoleChanged {
                        user_id,
                        role: Role::Admin,
                        by: None,
                        at: OffsetDateTime::now_utc(),
                    },
                    &format!("bootstrap-admin-{user_id}"),
                    Some(u64::try_from(version).unwrap_or(0)),
                )
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))?;
            anyhow::ensure!(
                state.projected(sequence).await.is_ok(),
                "projection did not catch up"
            );
        }
        None => {
            register_user(state, email, password.to_owned(), "Admin", Role::Admin)
                .await
                .map_err(|err| anyhow::anyhow!("registering the first admin: {err}"))?;
        }
    }
    tracing::info!("first admin ready");
    Ok(())
}

/// Creates the built-in project (the product's own dashboard traffic) unless it exists. The
/// claim is the first message on its subject, so concurrent replicas create it once.
pub async fn ensure_builtin_project(state: &AppState) -> anyhow::Result<()> {
    let project_id = contract::BUILTIN_PROJECT_ID;
    let created = state
        .publisher
        .publish(
            contract::auth::project_subject(project_id),
            &AuthEvent::ProjectCreated {
                project_id,
                name: "Event Analytics dashboard".to_owned(),
                timezone: "UTC".to_owned(),
                by: None,
                at: OffsetDateTime::now_utc(),
            },
            "project-builtin",
            Some(0),
        )
        .await;
    match created {
        Ok(sequence) => {
            anyhow::ensure!(
                state.projected(sequence).await.is_ok(),
                "projection did not catch up"
            );
            tracing::info!("built-in project created");
            Ok(())
        }
        Err(crate::store::PublishError::Conflict) => Ok(()),
        Err(err) => Err(anyhow::anyhow!("{err}")),
    }
}
