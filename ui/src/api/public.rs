//! Calls made without the access token: a shared link's page, whose visitor need not be signed
//! in, sends the link's password in a header instead.

use wasm_bindgen::JsCast as _;
use web_sys::Headers;

use super::{ApiError, decode, fetch, js_error, read_answer, request_init};

/// `GET path` without the access token, with `headers` besides: the answer decoded.
pub(crate) async fn get<T: serde::de::DeserializeOwned>(
    path: &str,
    headers: &[(&str, &str)],
) -> Result<T, ApiError> {
    let init = request_init("GET", None, None, "application/json")?;
    let sent: Headers = init.get_headers().dyn_into().map_err(js_error)?;
    for (name, value) in headers {
        sent.set(name, value).map_err(js_error)?;
    }
    let response = fetch(path, &init).await?;
    decode(read_answer(&response).await?)
}
