//! Reading SDK request bodies: gzip recognised by its magic bytes whatever the headers say,
//! `data=<base64>` form bodies, and size limits enforced while decompressing, so a gzip bomb
//! costs at most the limit in memory.

use std::io::Read as _;

use base64::Engine as _;

/// Largest body accepted on the wire.
pub const MAX_RAW_BYTES: usize = 1024 * 1024;
/// Largest body after decompression.
pub const MAX_DECODED_BYTES: usize = 20 * 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the body is larger than {0} bytes once decompressed")]
    TooLarge(usize),
    #[error("the body is not valid gzip")]
    BadGzip,
    #[error("the data field is not valid base64")]
    BadBase64,
}

/// The JSON text of an SDK body: ungzipped, and unwrapped from `data=<base64>` forms.
pub fn decode(raw: &[u8]) -> Result<Vec<u8>, BodyError> {
    let body = gunzip_if_gzip(raw)?;
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"data=")
        || (trimmed.contains(&b'=') && !trimmed.starts_with(b"{") && !trimmed.starts_with(b"["))
    {
        let data = url::form_urlencoded::parse(trimmed)
            .find(|(key, _)| key == "data")
            .map(|(_, value)| value.into_owned());
        if let Some(data) = data {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(data.trim()))
                .map_err(|_| BodyError::BadBase64)?;
            return gunzip_if_gzip(&decoded);
        }
    }
    Ok(body)
}

fn gunzip_if_gzip(raw: &[u8]) -> Result<Vec<u8>, BodyError> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    let mut reader = flate2::read::MultiGzDecoder::new(raw).take(MAX_DECODED_BYTES as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|_| BodyError::BadGzip)?;
    if out.len() > MAX_DECODED_BYTES {
        return Err(BodyError::TooLarge(MAX_DECODED_BYTES));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).expect("writes");
        encoder.finish().expect("finishes")
    }

    #[test]
    fn gzip_base64_and_plain_bodies_all_decode() {
        let json = br#"{"batch":[]}"#;
        assert_eq!(decode(json).expect("plain"), json);
        assert_eq!(decode(&gzip(json)).expect("gzip"), json);
        let form = format!(
            "data={}&compression=base64",
            base64::engine::general_purpose::STANDARD.encode(json)
        );
        assert_eq!(decode(form.as_bytes()).expect("form"), json);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![b'a'; MAX_DECODED_BYTES + 10]);
        assert!(bomb.len() < MAX_RAW_BYTES, "the bomb fits the wire limit");
        assert_eq!(decode(&bomb), Err(BodyError::TooLarge(MAX_DECODED_BYTES)));
    }
}
