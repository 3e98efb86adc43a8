//! Access tokens (EdDSA JWTs with `kid`), and the opaque secrets: refresh tokens (and the
//! tokens of invites and shared links, made the same way), write keys and API keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::auth::{Claims, Role};
use jsonwebtoken::{Algorithm, Header};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::signing::SigningKeys;

/// Who issues tokens and for whom, and for how long.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
}

use plumbing::jwt::TokenError;

/// A signed access token for `user_id` with `role`.
pub fn issue_access(
    keys: &SigningKeys,
    settings: &TokenSettings,
    user_id: Uuid,
    role: Role,
) -> anyhow::Result<String> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        sub: user_id,
        role,
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        exp: now + i64::try_from(settings.access_ttl_secs)?,
        nbf: now,
        iat: now,
        jti: Uuid::now_v7(),
    };
    let (kid, key) = keys.signing();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    Ok(jsonwebtoken::encode(&header, &claims, key)?)
}

/// Verifies signature (EdDSA only, key by `kid`), issuer, audience, `exp` and `nbf`, and that
/// every claim is present with its type.
pub(crate) fn verify_access(
    keys: &SigningKeys,
    settings: &TokenSettings,
    token: &str,
) -> Result<Claims, TokenError> {
    let kid = plumbing::jwt::eddsa_kid(token)?;
    let key = keys.verifying(&kid).ok_or(TokenError::UnknownKey)?;
    let audience = plumbing::jwt::Audience {
        issuer: settings.issuer.clone(),
        audience: settings.audience.clone(),
    };
    plumbing::jwt::verify(token, key, &audience)
}

/// A new refresh token (or invite or shared link token) and the hash that is stored in its
/// place.
pub(crate) fn new_refresh_token() -> anyhow::Result<(String, String)> {
    let token = URL_SAFE_NO_PAD.encode(random_32()?);
    let hash = secret_hash(&token);
    Ok((token, hash))
}

/// A new API key (`eak_` and 32 random bytes, base64url) and the hash that is stored in its
/// place.
pub(crate) fn new_api_key() -> anyhow::Result<(String, String)> {
    let key = format!(
        "{}{}",
        contract::auth::API_KEY_PREFIX,
        URL_SAFE_NO_PAD.encode(random_32()?)
    );
    let hash = secret_hash(&key);
    Ok((key, hash))
}

fn random_32() -> anyhow::Result<[u8; 32]> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
    Ok(bytes)
}

/// SHA-256 (hex) of a secret kept only as its hash: a refresh token, an invite's or a shared
/// link's token, an API key.
pub(crate) fn secret_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new write key: `ea_` and 24 random bytes, base64url.
pub(crate) fn new_write_key() -> anyhow::Result<String> {
    let mut bytes = [0_u8; 24];
    getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
    Ok(format!("ea_{}", URL_SAFE_NO_PAD.encode(bytes)))
}
