//! `/api/shared/{token}`: what a shared link shows to whoever has it, signed in or not: its
//! dashboard (name and tiles) and each tile's own query, run as a caller who may read that
//! project only through those tiles. Nothing else of the API takes the link's token. A link
//! revoked, or whose dashboard was deleted, answers 404; one with a password asks for it (401)
//! on every call without it (header `x-share-password`).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use contract::auth::{Role, SHARE_PASSWORD_HEADER, SharedDashboard, SharedTile};
use plumbing::error::PathParams;
use plumbing::projects::SharedLink;
use uuid::Uuid;

use crate::access::{Via, Who};
use crate::error::{Error, QueryTimeout};
use crate::state::AppState;

/// The live link of `token` once its password (if any) was given.
async fn unlock(state: &AppState, token: &str, headers: &HeaderMap) -> Result<SharedLink, Error> {
    // Links are revoked on the stream: with no current view of it, none is shown.
    if !state.projects.is_following() {
        return Err(Error::Unavailable(
            "the projects' stream is not followed right now".to_owned(),
        ));
    }
    let link = state.projects.shared(token).ok_or_else(|| {
        Error::NotFound("this shared link does not exist or was revoked".to_owned())
    })?;
    let given = headers
        .get(SHARE_PASSWORD_HEADER)
        .and_then(|value| value.to_str().ok());
    // Edge sets the client's address (and drops whatever the client sent).
    let client = headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("direct");
    state.unlocked.check(&link, given, client).await?;
    Ok(link)
}

#[utoipa::path(
    get,
    path = "/api/shared/{token}",
    tag = "shared",
    params(
        ("token" = String, Path, description = "the shared link's token"),
        ("x-share-password" = Option<String>, Header, description = "the link's password, when it has one"),
    ),
    responses(
        (status = 200, description = "the shared dashboard and its tiles", body = SharedDashboard),
        (status = 401, description = "the link's password is needed (code `share_password`)", body = contract::ErrorBody),
        (status = 404, description = "no such link, or revoked", body = contract::ErrorBody),
        (status = 429, description = "too many password attempts on this link: retry after `Retry-After` seconds", body = contract::ErrorBody),
    )
)]
pub(crate) async fn dashboard(
    State(state): State<AppState>,
    PathParams(token): PathParams<String>,
    headers: HeaderMap,
) -> Result<Json<SharedDashboard>, Error> {
    let link = unlock(&state, &token, &headers).await?;
    let tiles = link
        .insight_ids
        .iter()
        .filter_map(|id| {
            let insight = state.projects.insight(*id)?;
            Some(SharedTile {
                insight_id: *id,
                name: insight.name,
                kind: insight.kind,
                query: insight.query,
            })
        })
        .collect();
    Ok(Json(SharedDashboard {
        name: link.name,
        timezone: state
            .projects
            .timezone(link.project_id)
            .unwrap_or_else(|| "UTC".to_owned()),
        tiles,
    }))
}

/// `GET /api/shared/{token}/embedding`: the origins whose pages may show the link in an iframe.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Embedding {
    pub(crate) embed_origins: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/api/shared/{token}/embedding",
    tag = "shared",
    params(("token" = String, Path, description = "the shared link's token")),
    responses(
        (status = 200, description = "the origins that may frame the shared page (edge sets its `frame-ancestors` from them); no password needed", body = Embedding),
        (status = 404, description = "no such link, or revoked", body = contract::ErrorBody),
    )
)]
pub(crate) async fn embedding(
    State(state): State<AppState>,
    PathParams(token): PathParams<String>,
) -> Result<Json<Embedding>, Error> {
    let link = state.projects.shared(&token).ok_or_else(|| {
        Error::NotFound("this shared link does not exist or was revoked".to_owned())
    })?;
    Ok(Json(Embedding {
        embed_origins: link.embed_origins,
    }))
}

#[utoipa::path(
    get,
    path = "/api/shared/{token}/insights/{insight_id}",
    tag = "shared",
    params(
        ("token" = String, Path, description = "the shared link's token"),
        ("insight_id" = Uuid, Path, description = "one of the dashboard's tiles"),
        ("x-share-password" = Option<String>, Header, description = "the link's password, when it has one"),
    ),
    responses(
        (status = 200, description = "what the tile's analysis route answers now", body = serde_json::Value),
        (status = 400, description = "the insight id is not a UUID", body = contract::ErrorBody),
        (status = 401, description = "the link's password is needed (code `share_password`)", body = contract::ErrorBody),
        (status = 404, description = "no such link, or revoked, or not one of its tiles", body = contract::ErrorBody),
        (status = 429, description = "too many password attempts on this link: retry after `Retry-After` seconds", body = contract::ErrorBody),
        QueryTimeout,
    )
)]
pub(crate) async fn tile(
    State(state): State<AppState>,
    PathParams((token, insight_id)): PathParams<(String, Uuid)>,
    headers: HeaderMap,
) -> Response {
    let link = match unlock(&state, &token, &headers).await {
        Ok(link) => link,
        Err(err) => return err.into_response(),
    };
    let insight = link
        .insight_ids
        .contains(&insight_id)
        .then(|| state.projects.insight(insight_id))
        .flatten();
    let Some(insight) = insight else {
        return Error::NotFound("no such tile on this dashboard".to_owned()).into_response();
    };
    let visitor = Who {
        user: Uuid::nil(),
        role: Role::User,
        via: Via::Share {
            project: link.project_id,
        },
        expires: i64::MAX,
    };
    super::insights::run(&state, visitor, &insight).await
}
