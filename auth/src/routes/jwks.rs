//! `/.well-known/jwks.json`: the public keys that verify auth's access tokens.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use contract::auth::Jwks;

use crate::state::AppState;

#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "the keys access tokens are signed with", body = Jwks))
)]
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.keys.jwks().clone()),
    )
        .into_response()
}
