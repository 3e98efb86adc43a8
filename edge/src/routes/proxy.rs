//! The routes of the routing table: each request checked against its route (method, body
//! size, token, rates) before it leaves edge, then forwarded to its service, or answered by edge
//! itself for the system status.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::any;

use crate::body_limit;
use crate::error::Error;
use crate::forward::forward;
use crate::state::{AppState, Limiters};
use contract::auth::{API_KEY_PREFIX, Role};

use crate::table::{Access, Limit, MAX_CREDENTIALS_BYTES, PathMatch, ROUTES, Route, Upstream};

/// The routes of [`ROUTES`], each checked and forwarded to its upstream, and a JSON 404 for
/// every other `/api/` path.
pub(crate) fn router() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for route in ROUTES {
        let handler = any(
            move |State(state): State<Arc<AppState>>,
                  ConnectInfo(peer): ConnectInfo<SocketAddr>,
                  request: Request| async move { pass(&state, route, peer, request).await },
        );
        router = match route.path {
            PathMatch::Exact(path) | PathMatch::Template(path) => router.route(path, handler),
            PathMatch::Prefix(prefix) => router.route(&format!("{prefix}{{*rest}}"), handler),
        };
    }
    router.route("/api/{*rest}", any(|| async { Error::NotFound }))
}

/// Checks `request` against its route, then forwards it.
async fn pass(state: &AppState, route: &Route, peer: SocketAddr, request: Request) -> Response {
    let client = state
        .trusted_proxies
        .client_ip(peer.ip(), request.headers());
    let https = state.trusted_proxies.is_https(peer.ip(), request.headers());
    let request = match check(state, route, client, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let mut response = match state.proxy.base(route.upstream) {
        Some(base) => forward(&state.proxy, route, base, client, https, request).await,
        None => super::status::serve(state, request.headers()).await,
    };
    if https {
        secure_for_tls(response.headers_mut());
    }
    response
}

/// What edge checks before a request leaves it, in order: the method, the size the body says
/// it has, the token, the rates.
async fn check(
    state: &AppState,
    route: &Route,
    client: IpAddr,
    request: Request,
) -> Result<Request, Response> {
    if !route.methods.contains(request.method()) {
        let allow = route
            .methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::MethodNotAllowed { allow }.into_response());
    }
    let limit = route.body_limit(request.method());
    if body_limit::announced_over(request.headers(), limit) {
        body_limit::drain(request.into_body());
        return Err(Error::BodyTooLarge { limit }.into_response());
    }
    let user = match route.access {
        Access::Public => None,
        // Query checks an API key itself (it follows them on the stream) on its analytics
        // routes; edge counts each key on its own budget and its client address on theirs, so
        // made-up keys buy no budget of their own.
        Access::Token(Role::User) if takes_api_keys(route) => match api_key(request.headers()) {
            Some(key) => {
                let address = format!("address {client}");
                if let Err(wait) = state.limiters.per_user.check(&address) {
                    return Err(Error::RateLimited {
                        wait,
                        what: "requests",
                    }
                    .into_response());
                }
                Some(format!("key {key}"))
            }
            None => Some(user_of(state, request.headers(), Role::User).await?),
        },
        Access::Token(role) => Some(user_of(state, request.headers(), role).await?),
    };
    count(&state.limiters, route.limit, client, user, request).await
}

/// The subject of the request's valid token whose role includes `role`, or the refusal.
async fn user_of(state: &AppState, headers: &HeaderMap, role: Role) -> Result<String, Response> {
    let claims = plumbing::jwt::authorize(headers, &state.tokens, role).await?;
    Ok(claims.sub.to_string())
}

/// Whether `route` takes an API key: query's analytics (`/api/query/*`), nothing else.
fn takes_api_keys(route: &Route) -> bool {
    route.upstream == Upstream::Query && matches!(route.path, PathMatch::Prefix("/api/query/"))
}

/// Characters of an API key after its prefix: 32 random bytes, base64url without padding.
const API_KEY_SECRET_CHARS: usize = 43;

/// The API key the request carries as its bearer token, if it has an API key's shape.
fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| {
            token.strip_prefix(API_KEY_PREFIX).is_some_and(|secret| {
                secret.len() == API_KEY_SECRET_CHARS
                    && secret
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
        })
}

/// Counts `request` against the limiters of `limit`; a login or registration is read whole to
/// find the account it names.
async fn count(
    limiters: &Limiters,
    limit: Limit,
    client: IpAddr,
    user: Option<String>,
    request: Request,
) -> Result<Request, Response> {
    let refused = |wait, what| Error::RateLimited { wait, what }.into_response();
    if matches!(limit, Limit::Client | Limit::Credentials) {
        limiters
            .credentials_per_client
            .check(&client.to_string())
            .map_err(|wait| refused(wait, "attempts from this address"))?;
    }
    match limit {
        Limit::Unlimited | Limit::Client => Ok(request),
        Limit::User => {
            let key = user.unwrap_or_else(|| format!("address {client}"));
            limiters
                .per_user
                .check(&key)
                .map_err(|wait| refused(wait, "requests"))?;
            Ok(request)
        }
        Limit::Credentials => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_CREDENTIALS_BYTES).await else {
                return Err(Error::CredentialsTooLarge.into_response());
            };
            // Counted per account and address together: a budget shared by every address
            // would let anyone keep it empty and lock the owner out. Guesses from many
            // addresses are auth's to slow down (see `auth::limits`).
            if let Some(account) = account_of(&bytes) {
                limiters
                    .credentials_per_account
                    .check(&format!("{account} {client}"))
                    .map_err(|wait| refused(wait, "attempts for this account from this address"))?;
            }
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
    }
}

/// The account a login or registration body names: its `email`, normalised as auth keys
/// accounts, so no spelling of one address gets a budget of its own.
fn account_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        email: String,
    }
    serde_json::from_slice::<Named>(body)
        .ok()
        .map(|named| contract::auth::normalise_email(&named.email))
}

/// Over TLS: HSTS, and every cookie `Secure`.
fn secure_for_tls(headers: &mut HeaderMap) {
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|cookie| match cookie.to_str() {
            Ok(text) if !text.to_ascii_lowercase().contains("; secure") => {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| cookie.clone())
            }
            _ => cookie.clone(),
        })
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_turn_secure_over_tls() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("refresh_token=x; HttpOnly; SameSite=Strict; Path=/api/auth"),
        );
        headers.append(header::SET_COOKIE, HeaderValue::from_static("a=b; Secure"));
        secure_for_tls(&mut headers);
        let cookies: Vec<_> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        assert_eq!(
            cookies,
            [
                "refresh_token=x; HttpOnly; SameSite=Strict; Path=/api/auth; Secure",
                "a=b; Secure"
            ]
        );
        assert!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
        assert_eq!(
            account_of(br#"{"email":" Ann@Example.com ","password":"x"}"#).as_deref(),
            Some("ann@example.com")
        );
    }
}
