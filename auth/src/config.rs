//! Auth's configuration: everything it reads from the environment, read once at start.

use std::path::PathBuf;

use plumbing::config::{ConfigError, HttpConfig, NatsConfig, PostgresConfig, Secret, var_or};
use plumbing::forwarded::TrustedProxies;

use crate::signing::{self, SigningKeys};
use crate::tokens::TokenSettings;

/// Where the token signing keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `AUTH_SIGNING_KEYS_FILE`: a file with one base64url Ed25519 seed per line.
    File(PathBuf),
    /// `AUTH_SIGNING_KEYS`: the same lines in a variable (newline or comma separated).
    Inline(Secret),
}

impl KeySource {
    /// The keys, read from the file or the variable.
    pub fn load(&self) -> anyhow::Result<SigningKeys> {
        match self {
            KeySource::File(path) => SigningKeys::load(path),
            KeySource::Inline(secret) => {
                SigningKeys::from_lines(&secret.expose().replace(',', "\n"))
            }
        }
    }
}

/// Everything auth reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener (`AUTH_PORT`, default 8002).
    pub http: HttpConfig,
    /// JetStream server holding the `AUTH` stream.
    pub nats: NatsConfig,
    /// Projections database.
    pub postgres: PostgresConfig,
    /// Token signing keys (`AUTH_SIGNING_KEYS_FILE` or `AUTH_SIGNING_KEYS`, one is required).
    pub keys: KeySource,
    /// `iss` and `aud` of access tokens, TTLs (`AUTH_ISSUER`, `AUTH_AUDIENCE`,
    /// `ACCESS_TOKEN_TTL_SECS` default 900, `REFRESH_TOKEN_TTL_SECS` default 30 days).
    pub tokens: TokenSettings,
    /// How long a command waits for its own event in the projection (`PROJECTION_TIMEOUT_MS`).
    pub projection_timeout_ms: u64,
    /// Mark the refresh cookie `Secure` (`SECURE_COOKIES`, default false; true behind TLS).
    pub secure_cookies: bool,
    /// The first admin (`ADMIN_EMAIL`, `ADMIN_PASSWORD`), created or promoted at start when no
    /// admin exists.
    pub first_admin: Option<(String, Secret)>,
    /// Brute-force limits on login.
    pub login_limits: crate::limits::LoginLimits,
    /// Peers trusted to name the client in `X-Forwarded-For` (`TRUSTED_PROXIES`, addresses or
    /// CIDR blocks, comma separated, default `127.0.0.1,::1`: an edge on the same host).
    pub trusted_proxies: TrustedProxies,
}

impl Config {
    /// Reads every variable, failing on the first one that is missing or does not parse.
    pub fn from_env() -> Result<Self, ConfigError> {
        let keys = match (
            var_or::<String>("AUTH_SIGNING_KEYS_FILE", String::new())?,
            var_or("AUTH_SIGNING_KEYS", Secret::default())?,
        ) {
            (file, _) if !file.is_empty() => KeySource::File(PathBuf::from(file)),
            (_, inline) if !inline.expose().is_empty() => KeySource::Inline(inline),
            _ => {
                return Err(ConfigError {
                    name: "AUTH_SIGNING_KEYS_FILE".to_owned(),
                    problem: "is required (or AUTH_SIGNING_KEYS); `cargo xtask up` generates one"
                        .to_owned(),
                });
            }
        };
        Ok(Self {
            http: HttpConfig::from_env("AUTH_PORT", 8002)?,
            nats: NatsConfig::from_env()?,
            postgres: PostgresConfig::from_env()?,
            keys,
            tokens: TokenSettings {
                issuer: var_or("AUTH_ISSUER", "event-analytics".to_owned())?,
                audience: var_or("AUTH_AUDIENCE", "event-analytics".to_owned())?,
                access_ttl_secs: var_or("ACCESS_TOKEN_TTL_SECS", 900)?,
                refresh_ttl_secs: var_or("REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
            },
            projection_timeout_ms: var_or("PROJECTION_TIMEOUT_MS", 5_000)?,
            secure_cookies: var_or("SECURE_COOKIES", false)?,
            first_admin: match (
                var_or("ADMIN_EMAIL", String::new())?,
                var_or("ADMIN_PASSWORD", Secret::default())?,
            ) {
                (email, _) if email.is_empty() => None,
                (_, password) if password.expose().is_empty() => {
                    return Err(ConfigError {
                        name: "ADMIN_PASSWORD".to_owned(),
                        problem: "is required when ADMIN_EMAIL is set".to_owned(),
                    });
                }
                (email, password) => Some((email, password)),
            },
            login_limits: crate::limits::LoginLimits {
                per_account: var_or("LOGIN_MAX_FAILURES_PER_ACCOUNT", 10)?,
                per_account_under_attack: var_or("LOGIN_MAX_FAILURES_PER_ACCOUNT_UNDER_ATTACK", 3)?,
                per_ip: var_or("LOGIN_MAX_FAILURES_PER_IP", 100)?,
                window_secs: var_or("LOGIN_FAILURE_WINDOW_SECS", 900)?,
            },
            trusted_proxies: var_or("TRUSTED_PROXIES", TrustedProxies::local())?,
        })
    }
}

impl Config {
    /// Defaults everywhere and a freshly generated signing key: for tests and tools.
    pub fn with_defaults(
        http: HttpConfig,
        nats: NatsConfig,
        postgres: PostgresConfig,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http,
            nats,
            postgres,
            keys: KeySource::Inline(Secret::new(signing::generate_line()?)),
            tokens: TokenSettings {
                issuer: "event-analytics".to_owned(),
                audience: "event-analytics".to_owned(),
                access_ttl_secs: 900,
                refresh_ttl_secs: 30 * 24 * 3600,
            },
            projection_timeout_ms: 5_000,
            secure_cookies: false,
            first_admin: None,
            login_limits: crate::limits::LoginLimits::default(),
            trusted_proxies: TrustedProxies::local(),
        })
    }
}
