//! Ed25519 signing keys for access tokens. The keys file holds one base64url seed per line; the
//! last line signs new tokens, every line still verifies and is published in the JWKS, so a key
//! can be added (rotation) and an old one dropped once its tokens have expired.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::auth::{Jwk, Jwks};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest as _, Sha256};

/// The keys auth signs and verifies with.
pub struct SigningKeys {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: Jwks,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("signing_kid", &self.signing_kid)
            .field("kids", &self.verifying.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SigningKeys {
    /// Reads the keys file (see the module docs).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading signing keys from {}", path.display()))?;
        Self::from_lines(&text)
    }

    /// Parses the keys file's content.
    pub fn from_lines(text: &str) -> anyhow::Result<Self> {
        let seeds = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let bytes = URL_SAFE_NO_PAD
                    .decode(line)
                    .context("a signing key line is not base64url")?;
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| anyhow::anyhow!("a signing key is not 32 bytes"))
            })
            .collect::<anyhow::Result<Vec<[u8; 32]>>>()?;
        Self::from_seeds(&seeds)
    }

    /// SigningKeys from raw seeds; the last one signs.
    pub fn from_seeds(seeds: &[[u8; 32]]) -> anyhow::Result<Self> {
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        let mut signing = None;
        for seed in seeds {
            let key = SigningKey::from_bytes(seed);
            let public = key.verifying_key().to_bytes();
            let kid = kid(&public);
            let x = URL_SAFE_NO_PAD.encode(public);
            verifying.insert(
                kid.clone(),
                DecodingKey::from_ed_components(&x).context("public key")?,
            );
            jwks.push(Jwk {
                kty: "OKP".to_owned(),
                crv: "Ed25519".to_owned(),
                alg: "EdDSA".to_owned(),
                use_: "sig".to_owned(),
                kid: kid.clone(),
                x: x.clone(),
            });
            let der = key
                .to_pkcs8_der()
                .map_err(|err| anyhow::anyhow!("encoding a signing key: {err}"))?;
            signing = Some((kid, EncodingKey::from_ed_der(der.as_bytes())));
        }
        let (signing_kid, signing) = signing.context("no signing key configured")?;
        Ok(Self {
            signing_kid,
            signing,
            verifying,
            jwks: Jwks { keys: jwks },
        })
    }

    pub fn signing(&self) -> (&str, &EncodingKey) {
        (&self.signing_kid, &self.signing)
    }

    pub(crate) fn verifying(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }

    /// The body of `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

/// Appends a new key to the keys file (created, readable by its owner only, when missing) and
/// returns its key id. The new key signs from the next start; the older ones keep verifying.
pub fn add_to_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let line = generate_line()?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(file, "{line}")?;
    let keys = SigningKeys::load(path)?;
    Ok(keys.signing().0.to_owned())
}

/// A new random seed as a keys-file line.
pub fn generate_line() -> anyhow::Result<String> {
    let mut seed = [0_u8; 32];
    getrandom::fill(&mut seed).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
    Ok(URL_SAFE_NO_PAD.encode(seed))
}

/// Key id: the first 16 hex digits of the SHA-256 of the public key.
fn kid(public: &[u8]) -> String {
    Sha256::digest(public)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}
