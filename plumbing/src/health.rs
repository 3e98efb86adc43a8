//! Liveness and readiness: named dependency checks, and the draining flag that turns readiness
//! to 503 as soon as shutdown starts.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use contract::health::{CheckStatus, Health as HealthBody, Status};

use crate::metrics::Metrics;

/// How long one dependency check may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of a check: `Err` carries the cause, which is logged, never sent to the client.
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

type CheckFn = Box<dyn Fn() -> CheckFuture + Send + Sync>;

/// A service's health: its name, its dependency checks and whether it is shutting down.
pub struct Health {
    service: &'static str,
    draining: AtomicBool,
    checks: Vec<(&'static str, CheckFn)>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("service", &self.service)
            .field("draining", &self.draining)
            .field(
                "checks",
                &self.checks.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Health {
    pub fn new(service: &'static str, metrics: Arc<Metrics>) -> Self {
        Self {
            service,
            draining: AtomicBool::new(false),
            checks: Vec::new(),
            metrics,
        }
    }

    /// Adds a dependency check that readiness runs on every call.
    pub fn with_check<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks
            .push((name, Box::new(move || Box::pin(check()) as CheckFuture)));
        self
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Marks the service as shutting down: readiness answers 503 from now on.
    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Liveness: the process answers.
    pub fn liveness(&self) -> HealthBody {
        HealthBody {
            service: self.service.to_owned(),
            status: Status::Ok,
            checks: BTreeMap::new(),
        }
    }

    /// Readiness: every dependency check passed and the service is not shutting down.
    pub async fn readiness(&self) -> HealthBody {
        let outcomes = futures_util::future::join_all(self.checks.iter().map(|(name, check)| {
            let fut = check();
            async move {
                let outcome = match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
                };
                (*name, outcome)
            }
        }))
        .await;

        let mut checks = BTreeMap::new();
        for (name, outcome) in outcomes {
            let up = outcome.is_ok();
            if let Err(cause) = outcome {
                tracing::warn!(dependency = name, cause = %cause, "readiness check failed");
            }
            self.metrics
                .dependency_up
                .get_or_create(&vec![("dependency", name.to_owned())])
                .set(i64::from(up));
            checks.insert(
                name.to_owned(),
                if up {
                    CheckStatus::Up
                } else {
                    CheckStatus::Down
                },
            );
        }
        let status = if self.is_draining() {
            Status::ShuttingDown
        } else if checks.values().all(|c| *c == CheckStatus::Up) {
            Status::Ok
        } else {
            Status::Unavailable
        };
        HealthBody {
            service: self.service.to_owned(),
            status,
            checks,
        }
    }
}
