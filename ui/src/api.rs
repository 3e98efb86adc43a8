//! The app's HTTP client: JSON calls to the API on the same origin (so the httpOnly refresh
//! cookie flows with them), and the sentences a person sees when a call fails.

use contract::ErrorBody;
use contract::auth::{LoginRequest, RegisterRequest, TokenResponse, UserView};
use js_sys::futures::JsFuture;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{Headers, RequestCredentials, RequestInit, Response};

/// What the app shows when the API cannot be reached or fails on its side.
pub const UNAVAILABLE: &str = "The service is unavailable, try again";

/// Why a call did not give what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The API answered with an error status and (usually) the shared error body.
    Refused {
        status: u16,
        code: String,
        message: String,
        /// `Retry-After` of a 429, in seconds.
        retry_after_secs: Option<u64>,
    },
    /// No answer, or one that is not what the API describes.
    Unreachable(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Refused { status, .. } => Some(*status),
            ApiError::Unreachable(_) => None,
        }
    }

    /// The API did not accept the credentials: the token, the refresh cookie or the password.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }
}

/// What the person was doing when a call failed: one status means different things per form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    Register,
}

/// The sentence to show for `error`.
pub fn explain(error: &ApiError, action: Action) -> String {
    let ApiError::Refused {
        status,
        code,
        message,
        retry_after_secs,
    } = error
    else {
        return UNAVAILABLE.to_owned();
    };
    match (*status, action) {
        (500.., _) => UNAVAILABLE.to_owned(),
        (429, _) => match retry_after_secs {
            Some(1) => "Too many attempts, try again in 1 second".to_owned(),
            Some(seconds) => format!("Too many attempts, try again in {seconds} seconds"),
            None => "Too many attempts, wait a minute and try again".to_owned(),
        },
        (401, Action::SignIn) => "Wrong email or password".to_owned(),
        (409, Action::Register) => "This email is already registered".to_owned(),
        (403, _) if code == "account_disabled" => "This account is disabled".to_owned(),
        _ if message.is_empty() => format!("The request failed ({status})"),
        // The API's messages are written for people (e.g. "password must be 10 to 128
        // characters"); they only need a capital letter here.
        _ => capitalise(message),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `POST /api/auth/login`: an access token, and the refresh cookie set by the answer.
pub async fn login(request: &LoginRequest) -> Result<TokenResponse, ApiError> {
    decode(call("POST", "/api/auth/login", Some(to_json(request)?), None).await?)
}

/// `POST /api/auth/register`: the new account (not signed in yet).
pub async fn register(request: &RegisterRequest) -> Result<UserView, ApiError> {
    decode(call("POST", "/api/auth/register", Some(to_json(request)?), None).await?)
}

/// `POST /api/auth/refresh` with the cookie: a fresh access token, the cookie rotated.
pub async fn refresh() -> Result<TokenResponse, ApiError> {
    decode(call("POST", "/api/auth/refresh", None, None).await?)
}

/// `POST /api/auth/logout`: ends the session and clears the cookie.
pub async fn logout() -> Result<(), ApiError> {
    let answer = call("POST", "/api/auth/logout", None, None).await?;
    if answer.is_success() {
        Ok(())
    } else {
        Err(answer.into_error())
    }
}

/// `GET /api/auth/me`: the signed-in user as auth knows them now.
pub async fn me(token: &str) -> Result<UserView, ApiError> {
    decode(call("GET", "/api/auth/me", None, Some(token)).await?)
}

/// An answer as it came: status, `Retry-After` and body text.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn into_error(self) -> ApiError {
        // A proxy in between may answer without our error body; the status still tells.
        let detail = serde_json::from_str::<ErrorBody>(&self.body)
            .map(|body| body.error)
            .ok();
        let (code, message) = detail
            .map(|detail| (detail.code, detail.message))
            .unwrap_or_default();
        ApiError::Refused {
            status: self.status,
            code,
            message,
            retry_after_secs: self.retry_after.and_then(|value| value.trim().parse().ok()),
        }
    }
}

fn decode<T: DeserializeOwned>(answer: Answer) -> Result<T, ApiError> {
    if !answer.is_success() {
        return Err(answer.into_error());
    }
    serde_json::from_str(&answer.body)
        .map_err(|err| ApiError::Unreachable(format!("unexpected answer: {err}")))
}

fn to_json(body: &impl serde::Serialize) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|err| ApiError::Unreachable(err.to_string()))
}

/// One `fetch` on the same origin, credentials included, so the refresh cookie is sent and
/// the cookies the answer sets are kept.
async fn call(
    method: &str,
    path: &str,
    body: Option<String>,
    token: Option<&str>,
) -> Result<Answer, ApiError> {
    let window = web_sys::window().ok_or_else(|| ApiError::Unreachable("no window".to_owned()))?;
    let headers = Headers::new().map_err(js_error)?;
    headers
        .set("accept", "application/json")
        .map_err(js_error)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some(body) = body {
        headers
            .set("content-type", "application/json")
            .map_err(js_error)?;
        init.set_body(&JsValue::from_str(&body));
    }
    if let Some(token) = token {
        headers
            .set("authorization", &format!("Bearer {token}"))
            .map_err(js_error)?;
    }
    init.set_headers(&headers);
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    Ok(Answer {
        status: response.status(),
        retry_after: response.headers().get("retry-after").ok().flatten(),
        body: text.as_string().unwrap_or_default(),
    })
}

/// A failed fetch: the network, not the API, said no.
fn js_error(value: JsValue) -> ApiError {
    ApiError::Unreachable(value.as_string().unwrap_or_else(|| format!("{value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<&str>, body: &str) -> ApiError {
        Answer {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.to_owned(),
        }
        .into_error()
    }

    #[test]
    fn each_refusal_reads_as_a_sentence_for_its_form() {
        let wrong = answer(
            401,
            None,
            r#"{"error":{"code":"invalid_credentials","message":"invalid email or password"}}"#,
        );
        assert_eq!(explain(&wrong, Action::SignIn), "Wrong email or password");

        let taken = answer(
            409,
            None,
            r#"{"error":{"code":"conflict","message":"this email is already registered"}}"#,
        );
        assert_eq!(
            explain(&taken, Action::Register),
            "This email is already registered"
        );

        let limited = answer(
            429,
            Some("42"),
            r#"{"error":{"code":"rate_limited","message":"too many requests"}}"#,
        );
        assert_eq!(
            explain(&limited, Action::SignIn),
            "Too many attempts, try again in 42 seconds"
        );

        let short = answer(
            400,
            None,
            r#"{"error":{"code":"bad_request","message":"password must be 10 to 128 characters"}}"#,
        );
        assert_eq!(
            explain(&short, Action::Register),
            "Password must be 10 to 128 characters"
        );
    }

    #[test]
    fn a_server_failure_or_no_answer_says_the_service_is_unavailable() {
        for error in [
            answer(
                503,
                None,
                r#"{"error":{"code":"unavailable","message":"x"}}"#,
            ),
            answer(502, None, "<html>bad gateway</html>"),
            ApiError::Unreachable("TypeError: Failed to fetch".to_owned()),
        ] {
            assert_eq!(explain(&error, Action::SignIn), UNAVAILABLE, "{error:?}");
        }
    }

    #[test]
    fn an_answer_without_the_error_body_keeps_its_status() {
        let error = answer(418, Some("soon"), "not json");
        assert_eq!(
            error,
            ApiError::Refused {
                status: 418,
                code: String::new(),
                message: String::new(),
                retry_after_secs: None,
            }
        );
        assert_eq!(explain(&error, Action::SignIn), "The request failed (418)");
    }
}
