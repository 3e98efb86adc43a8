//! Answers saved as files: a CSV table the browser downloads.

use js_sys::futures::JsFuture;
use wasm_bindgen::JsCast as _;

use super::{ApiError, fetch, js_error, read_answer, request_init};

/// `method path` (with a JSON `body` when given) as a file the browser saves as `file_name`:
/// the answer is read whole, then handed to the browser's download through an object URL,
/// since a link alone could not carry the access token.
pub(crate) async fn file(
    method: &str,
    path: &str,
    body: Option<String>,
    token: &str,
    file_name: &str,
) -> Result<(), ApiError> {
    let init = request_init(method, body, Some(token), "text/csv")?;
    let response = fetch(path, &init).await?;
    if !response.ok() {
        return Err(read_answer(&response).await?.into_error());
    }
    let blob: web_sys::Blob = JsFuture::from(response.blob().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or_else(|| ApiError::Unreachable("no document".to_owned()))?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(js_error)?
        .dyn_into()
        .map_err(|element| js_error(element.into()))?;
    link.set_href(&url);
    link.set_download(file_name);
    link.click();
    web_sys::Url::revoke_object_url(&url).map_err(js_error)
}
