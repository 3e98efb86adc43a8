//! Projects: creation (with a first write key), the lists admins and analysts see (with each
//! project's quota and retention), site domains, and the version every change to a project is
//! based on.

use contract::auth::{
    AuthEvent, CreateProjectRequest, CreatedProject, ProjectList, ProjectQuota, ProjectSummary,
    ProjectView, WriteKeyView,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens;
use crate::users::plain_text;

/// Creates a project and its first write key, as admin `by`.
pub(crate) async fn create(
    state: &AppState,
    by: Uuid,
    request: CreateProjectRequest,
) -> Result<CreatedProject, ApiError> {
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
                by: Some(by),
                at,
            },
            &format!("project-{project_id}"),
            Some(0),
        )
        .await?;
    let write_key = tokens::new_write_key()?;
    state
        .record(
            subject,
            &AuthEvent::WriteKeyIssued {
                project_id,
                key_id: Uuid::now_v7(),
                key: write_key.clone(),
                by: Some(by),
                at,
            },
            &format!("project-key-{project_id}"),
            Some(created),
        )
        .await?;
    Ok(CreatedProject {
        id: project_id,
        name,
        timezone,
        write_key,
    })
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

#[derive(Debug, sqlx::FromRow)]
struct ProjectRow {
    id: Uuid,
    name: String,
    timezone: String,
    created_at: OffsetDateTime,
    domains: Vec<String>,
    events_per_second: Option<i64>,
    bytes_per_second: Option<i64>,
    retention_months: Option<i32>,
}

/// Every project with its live write keys, oldest first.
pub(crate) async fn list(state: &AppState) -> Result<ProjectList, ApiError> {
    list_of(state, None).await
}

/// The project `project_id` with its live write keys; 404 when there is none.
pub(crate) async fn one(state: &AppState, project_id: Uuid) -> Result<ProjectView, ApiError> {
    list_of(state, Some(project_id))
        .await?
        .projects
        .pop()
        .ok_or(ApiError::NotFound)
}

/// Every project, or only `only`, with its live write keys, oldest first.
async fn list_of(state: &AppState, only: Option<Uuid>) -> Result<ProjectList, ApiError> {
    let projects: Vec<ProjectRow> = sqlx::query_as(
        "SELECT id, name, timezone, created_at, domains, events_per_second, bytes_per_second,
           retention_months
         FROM projects WHERE $1::uuid IS NULL OR id = $1 ORDER BY created_at, id",
    )
    .bind(only)
    .fetch_all(&state.pool)
    .await?;
    let keys: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT project_id, id, key FROM write_keys
         WHERE revoked_at IS NULL AND ($1::uuid IS NULL OR project_id = $1)
         ORDER BY created_at, id",
    )
    .bind(only)
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
            retention_months: p.retention_months.and_then(|v| u16::try_from(v).ok()),
        })
        .collect();
    Ok(ProjectList { projects: views })
}

/// The projects `caller` may read, with their role on each: every project for an instance
/// admin, else those they are a member of; the built-in one first, then by name.
pub(crate) async fn summaries(
    state: &AppState,
    caller: Uuid,
) -> Result<Vec<ProjectSummary>, ApiError> {
    let projects: Vec<(Uuid, String, String, Option<String>)> = sqlx::query_as(
        "SELECT p.id, p.name, p.timezone,
                CASE WHEN u.role = 'admin' THEN 'admin' ELSE m.role END
         FROM projects p
         JOIN users u ON u.id = $2 AND NOT u.disabled
         LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = u.id
         ORDER BY p.id <> $1, p.name, p.id",
    )
    .bind(contract::BUILTIN_PROJECT_ID)
    .bind(caller)
    .fetch_all(&state.pool)
    .await?;
    Ok(projects
        .into_iter()
        .filter_map(|(id, name, timezone, role)| {
            Some(ProjectSummary {
                id,
                name,
                timezone,
                role: role?.parse().ok()?,
            })
        })
        .collect())
}

/// The project's version: the stream sequence of its latest event, which a change expects.
pub(crate) async fn version(state: &AppState, id: Uuid) -> Result<u64, ApiError> {
    let version: Option<i64> = sqlx::query_scalar("SELECT version FROM projects WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    version
        .map(|v| u64::try_from(v).unwrap_or(0))
        .ok_or(ApiError::NotFound)
}

/// Sets the domains Plausible's script may name for the project; returns them normalised.
pub(crate) async fn set_domains(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    requested: &[String],
) -> Result<Vec<String>, ApiError> {
    let version = version(state, project_id).await?;
    let mut domains = Vec::new();
    for domain in requested {
        let normalised = normalise_domain(domain).ok_or_else(|| {
            ApiError::BadRequest(format!("domains: {domain:?} is not a domain name"))
        })?;
        if !domains.contains(&normalised) {
            domains.push(normalised);
        }
    }
    // A domain names one project: another project's admin may not take it (its Plausible
    // events would go to them).
    let taken: Option<String> = sqlx::query_scalar(
        "SELECT d FROM projects, unnest(domains) AS d WHERE id <> $1 AND d = ANY($2) LIMIT 1",
    )
    .bind(project_id)
    .bind(&domains)
    .fetch_optional(&state.pool)
    .await?;
    if let Some(domain) = taken {
        return Err(ApiError::Conflict(format!(
            "domains: {domain} belongs to another project"
        )));
    }
    state
        .record(
            contract::auth::project_subject(project_id),
            &AuthEvent::ProjectDomainsSet {
                project_id,
                domains: domains.clone(),
                by: Some(by),
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await?;
    Ok(domains)
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
