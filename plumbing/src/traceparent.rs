//! The W3C `traceparent` header's parts, read by the per-request span and by the telemetry that
//! continues a caller's trace.

/// The parts of a W3C `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traceparent<'a> {
    /// 32 lowercase hex digits.
    pub trace_id: &'a str,
    /// The caller's span: 16 lowercase hex digits.
    pub parent_id: &'a str,
    /// 2 hex digits; `01` is sampled.
    pub flags: &'a str,
}

/// The parts of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero).
pub fn parse(text: &str) -> Option<Traceparent<'_>> {
    let mut parts = text.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && part.bytes().any(|b| b != b'0')
    };
    (parts.next().is_none()
        && version == "00"
        && hex(trace, 32)
        && hex(parent, 16)
        && flags.len() == 2
        && flags.bytes().all(|b| b.is_ascii_hexdigit()))
    .then_some(Traceparent {
        trace_id: trace,
        parent_id: parent,
        flags,
    })
}
