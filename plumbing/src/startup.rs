//! Start-up steps that depend on a server which may not be up yet (provisioning, migrations):
//! they retry in the background while the service already answers `/healthz`, and readiness
//! reports them until they are done.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether a background start-up step has completed.
#[derive(Debug, Clone, Default)]
pub struct Done(Arc<AtomicBool>);

impl Done {
    pub fn is_done(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// A readiness check that fails with `pending` until the step is done.
    pub fn readiness_check(
        &self,
        pending: &'static str,
    ) -> impl Fn() -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
        let done = self.clone();
        move || {
            std::future::ready(if done.is_done() {
                Ok(())
            } else {
                Err(pending.to_owned())
            })
        }
    }
}

/// Runs `step` until it succeeds, with capped exponential backoff, in a background task.
pub fn spawn_until_ok<F, Fut>(what: &'static str, mut step: F) -> Done
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let done = Done::default();
    let flag = done.clone();
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(200);
        loop {
            match step().await {
                Ok(()) => {
                    tracing::info!(step = what, "start-up step done");
                    flag.0.store(true, Ordering::SeqCst);
                    return;
                }
                Err(err) => {
                    tracing::warn!(
                        step = what,
                        error = format!("{err:#}"),
                        "start-up step failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    done
}
