//! What a handler takes from a request besides its body: the [`Client`] that sent it, and the
//! signed-in [`User`] of `POST /api/events`, verified as axum's JWT example verifies its
//! `Claims`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse as _, Response};
use contract::auth::{Claims, Role};

use crate::enrich::ip::anonymise;
use crate::state::AppState;

/// Who sent a request: the client's address (the socket's peer, or whom a trusted proxy, the
/// edge, names) and the request's headers.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) ip: IpAddr,
    pub(crate) headers: HeaderMap,
}

impl Client {
    /// The client's address as events keep it.
    pub(crate) fn anonymised_ip(&self) -> String {
        anonymise(self.ip)
    }

    /// The request's `User-Agent`, empty when it has none.
    pub(crate) fn user_agent(&self) -> &str {
        self.headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

impl FromRequestParts<Arc<AppState>> for Client {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| rejection.into_response())?;
        Ok(Client {
            ip: state.trusted_proxies.client_ip(peer.ip(), &parts.headers),
            headers: parts.headers.clone(),
        })
    }
}

/// A dashboard user with a valid bearer token. Without one the request is answered 401, and
/// 503 when auth's keys cannot be fetched, before its body is read.
#[derive(Debug)]
pub(crate) struct User(pub(crate) Claims);

impl FromRequestParts<Arc<AppState>> for User {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        plumbing::jwt::authorize(&parts.headers, &state.tokens, Role::User)
            .await
            .map(User)
    }
}
