//! `DELETE /api/admin/projects/{project_id}/persons/{distinct_id}` and
//! `GET /api/admin/projects/{project_id}/persons/{distinct_id}/export` (instance admins): a
//! tracked person's erasure and the export of their data, GDPR's rights to erasure and of
//! access. Edge sends these two paths to query, the rest of `/api/admin/` to auth.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::erasure::{ErasureAccepted, PersonExport};
use contract::persons::Erasure;
use plumbing::error::{PathParams, QueryParams};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{given, refuse};
use crate::access::{Who, may_manage, may_read};
use crate::error::{AdminErrors, Error};
use crate::events::parse_cursor;
use crate::export::ExportRequest;
use crate::extract::Caller;
use crate::params;
use crate::state::AppState;

/// The longest distinct id a path may name.
const MAX_DISTINCT_ID_CHARS: usize = 1_000;

/// The person a path names: a distinct id of a project.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PersonOfProject {
    /// The project
    #[param(value_type = Uuid)]
    project_id: String,
    /// Any distinct id of the person (URL-encoded)
    distinct_id: String,
}

impl PersonOfProject {
    /// The project (which must exist, and which the caller must manage: an instance admin or
    /// the project's admin; else 403 for its other members, 404 for anyone else) and the id,
    /// checked.
    fn check(self, state: &AppState, caller: &Who) -> Result<(Uuid, String), Error> {
        let project = Uuid::parse_str(&self.project_id)
            .map_err(|_| Error::Invalid("project_id is not a UUID".to_owned()))?;
        if self.distinct_id.is_empty() || self.distinct_id.chars().count() > MAX_DISTINCT_ID_CHARS {
            return Err(Error::Invalid(format!(
                "distinct_id must have 1 to {MAX_DISTINCT_ID_CHARS} characters"
            )));
        }
        if !state.projects.has_project(project) || !may_read(&state.projects, caller, project) {
            return Err(Error::NotFound("no such project".to_owned()));
        }
        if !may_manage(&state.projects, caller, project) {
            return Err(Error::Forbidden(
                "this needs the admin role on the project".to_owned(),
            ));
        }
        Ok((project, self.distinct_id))
    }
}

/// Which page of the export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportParams {
    /// Events per page (default 1000)
    #[param(value_type = Option<u32>, nullable = false, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page (empty: the first page)
    #[param(nullable = false)]
    cursor: Option<String>,
}

/// `DELETE /api/admin/projects/{project_id}/persons/{distinct_id}`: erases the person the id
/// belongs to, with every id merged into it, everywhere: their rows in ClickHouse, their
/// messages on every stream, and whatever of theirs still arrives. 202 once the erasure is on
/// the stream; the admin status lists it until it is done.
#[utoipa::path(
    delete,
    path = "/api/admin/projects/{project_id}/persons/{distinct_id}",
    tag = "admin",
    security(("bearer" = [])),
    params(PersonOfProject),
    responses(
        (status = 202, description = "the erasure is on the stream and runs in the background", body = ErasureAccepted),
        AdminErrors,
    )
)]
pub(crate) async fn erase(
    State(state): State<AppState>,
    PathParams(path): PathParams<PersonOfProject>,
    Caller(claims): Caller,
) -> Response {
    let (project, distinct_id) = match path.check(&state, &claims) {
        Ok(checked) => checked,
        Err(err) => return err.into_response(),
    };
    let erasure = Erasure {
        erasure_id: Uuid::now_v7(),
        project_id: project,
        distinct_id,
        requested_by: claims.user,
        requested_at: time::OffsetDateTime::now_utc(),
    };
    if let Err(err) = crate::erasure::request(&state.nats, &erasure).await {
        return err.into_response();
    }
    tracing::info!(
        erasure_id = %erasure.erasure_id,
        project_id = %project,
        by = %claims.user,
        "erasure of a person asked for"
    );
    let accepted = ErasureAccepted {
        erasure_id: erasure.erasure_id,
        project_id: project,
        distinct_id: erasure.distinct_id,
        requested_at: erasure.requested_at.format(&Rfc3339).unwrap_or_default(),
        status: "pending".to_owned(),
    };
    (StatusCode::ACCEPTED, Json(accepted)).into_response()
}

/// `GET /api/admin/projects/{project_id}/persons/{distinct_id}/export?limit=&cursor=`:
/// everything stored about the person the id belongs to: their ids, properties and events
/// (oldest first, every event whatever its time, bots' included), a page at a time.
#[utoipa::path(
    get,
    path = "/api/admin/projects/{project_id}/persons/{distinct_id}/export",
    tag = "admin",
    security(("bearer" = [])),
    params(PersonOfProject, ExportParams),
    responses(
        (status = 200, description = "a page of the person's data", body = PersonExport),
        AdminErrors,
        crate::error::QueryTimeout,
    )
)]
pub(crate) async fn export(
    State(state): State<AppState>,
    PathParams(path): PathParams<PersonOfProject>,
    Caller(caller): Caller,
    QueryParams(asked): QueryParams<ExportParams>,
) -> Response {
    let exported = async {
        let (project, distinct_id) = path.check(&state, &caller)?;
        let request = ExportRequest {
            project,
            distinct_id,
            limit: params::limit(asked.limit.as_deref(), 1_000)?,
            cursor: given(asked.cursor)
                .map(|cursor| parse_cursor(&cursor))
                .transpose()?,
        };
        crate::export::export(&state.store, request).await
    };
    match exported.await {
        Ok(page) => {
            state.count("ok");
            Json(page).into_response()
        }
        Err(err) => refuse(&state, err),
    }
}
