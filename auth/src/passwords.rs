//! Password hashing: argon2id at the OWASP parameters (m = 19456 KiB, t = 2, p = 1), PHC strings,
//! always off the async runtime.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

/// Accepted password lengths, in characters.
pub(crate) const LENGTH: std::ops::RangeInclusive<usize> = 10..=128;

fn argon2() -> Argon2<'static> {
    // The OWASP parameters are valid, so `Params::new` cannot fail on them.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password`, with a fresh random salt.
pub(crate) async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing a password: {err}"))
    })
    .await?
}

/// Whether `password` matches `phc`. A malformed stored hash counts as no match.
pub(crate) async fn verify(password: String, phc: String) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || {
        argon2()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await?)
}

/// Verifies against a fixed hash, so an unknown email costs the same time as a wrong password.
pub(crate) async fn verify_dummy(password: String) -> anyhow::Result<()> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = match DUMMY.get() {
        Some(phc) => phc.clone(),
        None => {
            let phc = hash("dummy password for unknown accounts".to_owned()).await?;
            DUMMY.get_or_init(|| phc).clone()
        }
    };
    verify(password, phc).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_at_owasp_parameters_and_verifies() {
        let phc = hash("correct horse battery".to_owned())
            .await
            .expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify("correct horse battery".to_owned(), phc.clone())
                .await
                .expect("runs")
        );
        assert!(
            !verify("wrong horse battery".to_owned(), phc)
                .await
                .expect("runs")
        );
    }
}
