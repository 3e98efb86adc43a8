//! Where one element of a JSON array ends, found as its bytes come (strings, escapes and nested
//! brackets followed), so an array of events is read element by element, never whole.

/// How far an element's scan is.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Feeds the element's next `bytes`; `Some(n)`: it ends after their first `n` (a scalar
    /// before the `,` or `]` that follows it, an object or array with its closing bracket).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        for (at, byte) in bytes.iter().enumerate() {
            if self.in_string {
                match (self.escaped, byte) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth == 0 => return Some(at),
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(at + 1);
                    }
                }
                b',' if self.depth == 0 => return Some(at),
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_ends_at_its_closing_bracket_wherever_its_bytes_are_cut() {
        let text = br#"{"a":"x}\"]","b":[1,{"c":2}]},{"d":3}"#;
        for cut in 1..text.len() {
            let mut scan = Scan::default();
            let end = scan
                .feed(&text[..cut])
                .or_else(|| scan.feed(&text[cut..]).map(|end| end + cut));
            assert_eq!(end, Some(29), "cut at {cut}");
        }
        assert_eq!(Scan::default().feed(b"12, 3"), Some(2), "a scalar");
        assert_eq!(Scan::default().feed(b"true]"), Some(4));
    }
}
