//! Email normalisation: the key under which an email is unique.

use sha2::{Digest as _, Sha256};

pub use contract::auth::normalise_email as normalise;

/// SHA-256 (hex) of the normalised email: the subject token of its claim on the stream.
pub fn hash(email: &str) -> String {
    Sha256::digest(normalise(email).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A plausible address: one `@` with something on both sides, no spaces, at most 254 bytes.
pub(crate) fn is_plausible(email: &str) -> bool {
    let email = normalise(email);
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_width_and_spaces_do_not_make_a_new_email() {
        assert_eq!(normalise("  Alice@Example.COM "), "alice@example.com");
        // Fullwidth "Ａ" (U+FF21) folds to "a" under NFKC.
        assert_eq!(hash("\u{FF21}lice@example.com"), hash("alice@example.com"));
        assert_ne!(hash("alice@example.com"), hash("alice2@example.com"));
    }

    #[test]
    fn implausible_addresses_are_refused() {
        assert!(is_plausible("a@b.co"));
        assert!(!is_plausible("no-at-sign"));
        assert!(!is_plausible("@example.com"));
        assert!(!is_plausible("a b@example.com"));
        assert!(
            !is_plausible("a\0b@example.com"),
            "PostgreSQL text cannot hold NUL"
        );
        assert!(!is_plausible("a@localhost"));
    }
}
