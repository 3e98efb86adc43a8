//! Reading SDK request bodies within bounds. Gzip is recognised by its magic bytes whatever the
//! headers say, `data=<base64>` form bodies are unwrapped, and sizes are enforced while
//! decompressing, so a gzip bomb costs at most the limit in memory. The JSON text is then read
//! within the read budget of the `json` module, whose limits are declared here with the others.

use std::io::Read as _;

use base64::Engine as _;

/// Largest body accepted on the wire; edge holds bodies to the same limit.
pub(crate) const MAX_RAW_BYTES: usize = contract::event::MAX_REQUEST_BYTES;
/// Largest body after decompression.
pub(crate) const MAX_DECODED_BYTES: usize = contract::event::MAX_DECODED_REQUEST_BYTES;
/// Most events in one request.
pub(crate) const MAX_EVENTS: usize = 1000;
/// Largest single event, as JSON.
pub(crate) const MAX_EVENT_BYTES: usize = 32 * 1024;
/// What the events of one request may take once read, as the JSON read budget estimates it.
/// Real SDK batches take a few hundred KiB; this bounds what a hostile body can make ingest
/// build to less than the decoded body itself.
pub(crate) const MAX_READ_BYTES: usize = 16 * 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum BodyError {
    #[error("the body is larger than {0} bytes once decompressed")]
    TooLarge(usize),
    #[error("the body is not valid gzip")]
    BadGzip,
    #[error("the data field is not valid base64")]
    BadBase64,
    #[error("at most {MAX_EVENTS} events per request")]
    TooManyEvents,
    #[error("the events of one request may take at most {MAX_READ_BYTES} bytes once read")]
    TooMuchData,
    #[error("an event must be at most {MAX_EVENT_BYTES} bytes")]
    EventTooLarge,
    #[error("{0}")]
    Invalid(String),
}

/// The JSON text of an SDK body, ungzipped and unwrapped from `data=<base64>` forms, with the
/// limit `max_bytes` at every step: routes that take one small event refuse a larger body
/// before it is inflated.
pub(crate) fn decode_within(raw: &[u8], max_bytes: usize) -> Result<Vec<u8>, BodyError> {
    let body = gunzip_if_gzip(raw, max_bytes)?;
    let trimmed = body.trim_ascii_start();
    let is_form = trimmed.starts_with(b"data=")
        || (trimmed.contains(&b'=') && !trimmed.starts_with(b"{") && !trimmed.starts_with(b"["));
    if !is_form {
        return Ok(body);
    }
    let Some(data) = url::form_urlencoded::parse(trimmed)
        .find(|(key, _)| key == "data")
        .map(|(_, value)| value.into_owned())
    else {
        return Ok(body);
    };
    // Each copy is dropped as soon as the next one exists, so a form inside a gzip body costs
    // about twice the limit at most, not four times.
    drop(body);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(data.trim()))
        .map_err(|_| BodyError::BadBase64)?;
    drop(data);
    gunzip_if_gzip(&decoded, max_bytes)
}

fn gunzip_if_gzip(raw: &[u8], max_bytes: usize) -> Result<Vec<u8>, BodyError> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        if raw.len() > max_bytes {
            return Err(BodyError::TooLarge(max_bytes));
        }
        return Ok(raw.to_vec());
    }
    // The size the gzip trailer announces (for a single member) is the first capacity: an honest
    // body is inflated into one buffer of its size, without the copies and the doubled
    // capacity of a growing one.
    let announced = raw
        .last_chunk::<4>()
        .map_or(0, |size| u32::from_le_bytes(*size) as usize)
        .min(max_bytes);
    let mut out = Vec::with_capacity(announced + 1);
    inflate(raw, announced + 1, &mut out)?;
    if out.len() <= announced {
        return Ok(out);
    }
    // The last trailer understated the size (several members, each trailer counting its own; a
    // trailer that lies about its member is found out as invalid gzip): the size is counted
    // first, without keeping the text, then the body is inflated once more into a buffer of
    // exactly that size. A bomb costs its size once, not the 1.5 to 2 times of a
    // buffer that doubles as it grows.
    drop(out);
    let size = std::io::copy(
        &mut flate2::read::MultiGzDecoder::new(raw).take(max_bytes as u64 + 1),
        &mut std::io::sink(),
    )
    .map_err(|_| BodyError::BadGzip)?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(BodyError::TooLarge(max_bytes));
    }
    let mut out = Vec::with_capacity(size);
    inflate(raw, size, &mut out)?;
    Ok(out)
}

/// Inflates at most `limit` bytes of the gzip body `raw` into `out`.
fn inflate(raw: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), BodyError> {
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit as u64)
        .read_to_end(out)
        .map(|_| ())
        .map_err(|_| BodyError::BadGzip)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// The JSON text of a body of at most [`MAX_DECODED_BYTES`], as the batch routes read it.
    fn decode(raw: &[u8]) -> Result<Vec<u8>, BodyError> {
        decode_within(raw, MAX_DECODED_BYTES)
    }

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
        let gzipped_form = format!(
            "data={}",
            base64::engine::general_purpose::STANDARD.encode(gzip(json))
        );
        assert_eq!(decode(&gzip(gzipped_form.as_bytes())).expect("form"), json);
    }

    #[test]
    fn several_gzip_members_decode_whole_and_a_false_size_trailer_is_refused() {
        let mut members = gzip(br#"{"batch":["#);
        members.extend_from_slice(&gzip(br#"{"event":"a"}]}"#));
        assert_eq!(
            decode(&members).expect("members"),
            br#"{"batch":[{"event":"a"}]}"#
        );
        // A trailer that lies about its member is invalid gzip, whether it says less or more.
        let mut forged = gzip(&[b' '; 5000]);
        let trailer = forged.len() - 4;
        for size in [7_u32, u32::MAX] {
            forged[trailer..].copy_from_slice(&size.to_le_bytes());
            assert_eq!(decode(&forged), Err(BodyError::BadGzip));
        }
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![b'a'; MAX_DECODED_BYTES + 10]);
        assert!(bomb.len() < MAX_RAW_BYTES, "the bomb fits the wire limit");
        assert_eq!(decode(&bomb), Err(BodyError::TooLarge(MAX_DECODED_BYTES)));
        assert_eq!(
            decode_within(&gzip(&[b' '; 40_000]), 32_768),
            Err(BodyError::TooLarge(32_768))
        );
    }
}
