//! The state every handler shares, built in one place from the configuration.

use std::sync::Arc;
use std::time::Duration;

use contract::auth::AuthEvent;
use plumbing::forwarded::TrustedProxies;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use sqlx::PgPool;

use crate::error::ApiError;
use crate::limits::{Failures, LoginLimits};
use crate::projector::Projection;
use crate::signing::SigningKeys;
use crate::store::Publisher;
use crate::tokens::TokenSettings;

/// Login attempts by result: the `logins_total` counter.
pub(crate) type LoginCounter = Family<Vec<(&'static str, String)>, Counter>;

/// Shared state of the handlers and of the start-up tasks.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) publisher: Publisher,
    pub(crate) pool: PgPool,
    pub(crate) projection: Projection,
    pub(crate) keys: Arc<SigningKeys>,
    pub(crate) tokens: TokenSettings,
    /// How long a command waits for its event to be projected before answering 503.
    pub(crate) projection_timeout: Duration,
    /// Whether the refresh cookie is marked `Secure` (served over TLS).
    pub(crate) secure_cookies: bool,
    pub(crate) logins: LoginCounter,
    /// Failed-login counters, opened on first use.
    failures: Arc<tokio::sync::OnceCell<Failures>>,
    login_limits: LoginLimits,
    /// Servers the failed-login bucket is kept on when created here.
    replicas: usize,
    /// Peers whose `X-Forwarded-For` names the client (edge).
    pub(crate) trusted_proxies: TrustedProxies,
}

impl AppState {
    /// The state of a running auth: `keys` loaded, the projector started on `pool`.
    pub(crate) fn new(
        config: &crate::config::Config,
        keys: SigningKeys,
        publisher: Publisher,
        pool: PgPool,
        projection: Projection,
        logins: LoginCounter,
    ) -> Self {
        Self {
            publisher,
            pool,
            projection,
            keys: Arc::new(keys),
            tokens: config.tokens.clone(),
            projection_timeout: Duration::from_millis(config.projection_timeout_ms),
            secure_cookies: config.secure_cookies,
            logins,
            failures: Arc::default(),
            login_limits: config.login_limits.clone(),
            replicas: config.nats.replicas,
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    /// The failed-login counters (a key-value bucket, opened on first use).
    pub(crate) async fn failures(&self) -> Result<&Failures, ApiError> {
        self.failures
            .get_or_try_init(|| {
                Failures::open(
                    self.publisher.context(),
                    self.login_limits.clone(),
                    self.replicas,
                )
            })
            .await
            .map_err(|err| ApiError::Unavailable(format!("{err:#}")))
    }

    /// Answers only once the projection holds the event (read-your-writes).
    pub(crate) async fn projected(&self, sequence: u64) -> Result<(), ApiError> {
        if self
            .projection
            .wait_for(sequence, self.projection_timeout)
            .await
        {
            Ok(())
        } else {
            Err(ApiError::Unavailable(format!(
                "projection did not reach sequence {sequence} in {:?}",
                self.projection_timeout
            )))
        }
    }

    /// Publishes `event` (see [`Publisher::publish`]) and answers once the projection holds it:
    /// a command's answer shows its own write.
    pub(crate) async fn record(
        &self,
        subject: String,
        event: &AuthEvent,
        message_id: &str,
        expected: Option<u64>,
    ) -> Result<(), ApiError> {
        let sequence = self
            .publisher
            .publish(subject, event, message_id, expected)
            .await?;
        self.projected(sequence).await
    }

    /// Counts a login attempt by result (`success`, `failure`, `locked`).
    pub(crate) fn count_login(&self, result: &str) {
        self.logins
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }
}
