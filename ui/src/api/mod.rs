//! The app's HTTP client: JSON calls to the API on the same origin (so the httpOnly refresh
//! cookie flows with them), and the sentences a person sees when a call fails.

use contract::ErrorBody;
use contract::auth::{
    LoginRequest, RegisterRequest, ResetPasswordRequest, TokenResponse, UserView,
};
use js_sys::futures::JsFuture;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{Headers, RequestCredentials, RequestInit, Response};

pub(crate) mod download;
pub(crate) mod public;
pub(crate) mod upload;

/// What the app shows when the API cannot be reached or fails on its side.
pub(crate) const UNAVAILABLE: &str = "The service is unavailable, try again";

/// Why a call did not give what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
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
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            ApiError::Refused { status, .. } => Some(*status),
            ApiError::Unreachable(_) => None,
        }
    }

    /// The API did not accept the credentials: the token, the refresh cookie or the password.
    pub(crate) fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }
}

/// What the person was doing when a call failed: one status means different things per form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    SignIn,
    Register,
    /// Loading or changing data on a page of the app.
    Work,
}

/// The sentence to show for `error`.
pub(crate) fn explain(error: &ApiError, action: Action) -> String {
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
        (401, Action::Work) => "Your session has ended, sign in again".to_owned(),
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
pub(crate) async fn login(request: &LoginRequest) -> Result<TokenResponse, ApiError> {
    decode(call("POST", "/api/auth/login", Some(to_json(request)?), None).await?)
}

/// `POST /api/auth/register`: the new account (not signed in yet).
pub(crate) async fn register(request: &RegisterRequest) -> Result<UserView, ApiError> {
    decode(call("POST", "/api/auth/register", Some(to_json(request)?), None).await?)
}

/// `POST /api/auth/password-reset`: a new password set with a reset link's token (no sign-in).
pub(crate) async fn reset_password(request: &ResetPasswordRequest) -> Result<(), ApiError> {
    let body = Some(to_json(request)?);
    expect_success(call("POST", "/api/auth/password-reset", body, None).await?)
}

/// `POST /api/auth/refresh` with the cookie: a fresh access token, the cookie rotated.
pub(crate) async fn refresh() -> Result<TokenResponse, ApiError> {
    decode(call("POST", "/api/auth/refresh", None, None).await?)
}

/// `POST /api/auth/logout`: ends the session and clears the cookie.
pub(crate) async fn logout() -> Result<(), ApiError> {
    expect_success(call("POST", "/api/auth/logout", None, None).await?)
}

/// `GET /api/auth/me`: the signed-in user as auth knows them now.
pub(crate) async fn me(token: &str) -> Result<UserView, ApiError> {
    decode(call("GET", "/api/auth/me", None, Some(token)).await?)
}

/// `GET path` with the access token (use [`with_query`] for parameters): the answer decoded.
pub(crate) async fn get<T: DeserializeOwned>(path: &str, token: &str) -> Result<T, ApiError> {
    decode(call("GET", path, None, Some(token)).await?)
}

/// `method path` with `body` as JSON and the access token: the answer decoded.
pub(crate) async fn send<B, T>(
    method: &str,
    path: &str,
    body: &B,
    token: &str,
) -> Result<T, ApiError>
where
    B: serde::Serialize + ?Sized,
    T: DeserializeOwned,
{
    decode(call(method, path, Some(to_json(body)?), Some(token)).await?)
}

/// `method path` with an optional JSON body and the access token, for calls whose answer holds
/// nothing to read (a 204, say).
pub(crate) async fn send_without_answer<B>(
    method: &str,
    path: &str,
    body: Option<&B>,
    token: &str,
) -> Result<(), ApiError>
where
    B: serde::Serialize + ?Sized,
{
    let body = body.map(to_json).transpose()?;
    expect_success(call(method, path, body, Some(token)).await?)
}

/// `POST path` with `body` as JSON and the access token, in a `keepalive` request: the browser
/// completes it even when the page is closed meanwhile. Nobody waits for the answer; this only
/// says whether the request could be started.
pub(crate) fn send_keepalive(
    path: &str,
    body: &(impl serde::Serialize + ?Sized),
    token: &str,
) -> Result<(), ApiError> {
    let window = web_sys::window().ok_or_else(|| ApiError::Unreachable("no window".to_owned()))?;
    let init = request_init(
        "POST",
        Some(to_json(body)?),
        Some(token),
        "application/json",
    )?;
    // web-sys has no setter for it yet.
    js_sys::Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE)
        .map_err(js_error)?;
    // The promise is dropped: the request goes on without anyone waiting.
    let _ = window.fetch_with_str_and_init(path, &init);
    Ok(())
}

/// `GET path` as a server-sent event stream with the access token, cancelled by `signal`: the
/// reader of its body, or the API's refusal explained like any other.
pub(crate) async fn open_stream(
    path: &str,
    token: &str,
    signal: Option<&web_sys::AbortSignal>,
) -> Result<web_sys::ReadableStreamDefaultReader, ApiError> {
    let init = request_init("GET", None, Some(token), "text/event-stream")?;
    init.set_signal(signal);
    let response = fetch(path, &init).await?;
    if !response.ok() {
        return Err(read_answer(&response).await?.into_error());
    }
    let body = response
        .body()
        .ok_or_else(|| ApiError::Unreachable("an answer without a stream".to_owned()))?;
    body.get_reader()
        .dyn_into::<web_sys::ReadableStreamDefaultReader>()
        .map_err(|object| js_error(object.into()))
}

/// `path` with `pairs` as its query string, each name and value percent-encoded; pairs with an
/// empty value are left out.
pub(crate) fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{}={}", encode_component(name), encode_component(value)))
        .collect::<Vec<_>>()
        .join("&");
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// Percent-encodes everything but the characters `encodeURIComponent` keeps.
pub(crate) fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Undoes percent-encoding (and `+` for a space, as forms write it); invalid escapes stay as
/// they are.
pub(crate) fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                // `from_str_radix` would also take a sign (`%+5`): two hex digits or nothing.
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The name and value pairs of a query string (with or without its `?`), both decoded.
pub(crate) fn query_pairs(search: &str) -> Vec<(String, String)> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
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

fn expect_success(answer: Answer) -> Result<(), ApiError> {
    if answer.is_success() {
        Ok(())
    } else {
        Err(answer.into_error())
    }
}

fn decode<T: DeserializeOwned>(answer: Answer) -> Result<T, ApiError> {
    if !answer.is_success() {
        return Err(answer.into_error());
    }
    serde_json::from_str(&answer.body)
        .map_err(|err| ApiError::Unreachable(format!("unexpected answer: {err}")))
}

fn to_json(body: &(impl serde::Serialize + ?Sized)) -> Result<String, ApiError> {
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
    let init = request_init(method, body, token, "application/json")?;
    let response = fetch(path, &init).await?;
    read_answer(&response).await
}

/// A request on the same origin (credentials included, so the refresh cookie is sent and the
/// cookies an answer sets are kept), with a JSON `body` and the access `token` when given.
fn request_init(
    method: &str,
    body: Option<String>,
    token: Option<&str>,
    accept: &str,
) -> Result<RequestInit, ApiError> {
    let headers = Headers::new().map_err(js_error)?;
    headers.set("accept", accept).map_err(js_error)?;
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
    Ok(init)
}

async fn fetch(path: &str, init: &RequestInit) -> Result<Response, ApiError> {
    let window = web_sys::window().ok_or_else(|| ApiError::Unreachable("no window".to_owned()))?;
    JsFuture::from(window.fetch_with_str_and_init(path, init))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)
}

/// The whole answer: status, `Retry-After` and body text.
async fn read_answer(response: &Response) -> Result<Answer, ApiError> {
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
    fn components_decode_like_the_browser_encodes_them() {
        assert_eq!(decode_component("a%20b+c%C3%A9%2"), "a b cé%2");
        assert_eq!(decode_component("%zz"), "%zz");
        assert_eq!(decode_component("%+5"), "% 5", "a sign is no hex digit");
        let text = "[{\"key\":\"path\",\"value\":\"/a b?c=d&e\"}]";
        assert_eq!(decode_component(&encode_component(text)), text);
        assert_eq!(
            query_pairs("?tab=users&q=ada%20l&flag"),
            [
                ("tab".to_owned(), "users".to_owned()),
                ("q".to_owned(), "ada l".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn query_strings_are_encoded_and_skip_empty_values() {
        assert_eq!(
            with_query(
                "/api/query/top",
                &[
                    ("field", "path"),
                    ("filters", r#"[{"a":"b c"}]"#),
                    ("to", "")
                ]
            ),
            "/api/query/top?field=path&filters=%5B%7B%22a%22%3A%22b%20c%22%7D%5D"
        );
        assert_eq!(with_query("/x", &[("to", "")]), "/x");
        assert_eq!(encode_component("é&="), "%C3%A9%26%3D");
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
