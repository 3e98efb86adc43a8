//! Files sent as they are: the request's body is the browser's `File`, which the browser
//! streams from disk (nothing of it is read into the app), and the answer is JSON.

use serde::de::DeserializeOwned;

use super::{ApiError, decode, fetch, read_answer, request_init};

/// `POST path` with `file` as the raw body and the access token: the answer decoded.
pub(crate) async fn file<T: DeserializeOwned>(
    path: &str,
    file: &web_sys::File,
    token: &str,
) -> Result<T, ApiError> {
    let init = request_init("POST", None, Some(token), "application/json")?;
    init.set_body(file);
    let response = fetch(path, &init).await?;
    decode(read_answer(&response).await?)
}
