//! A service's NATS connection, which provisions its streams in the background and reports
//! readiness once they exist.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;

use crate::startup::Done;
use crate::streams::definitions::Definitions;
use crate::streams::provision::provision;

/// A NATS connection plus the state of provisioning, shared by a service's tasks.
#[derive(Debug, Clone)]
pub struct JetStream {
    pub client: async_nats::Client,
    pub context: jetstream::Context,
    provisioned: Done,
}

impl JetStream {
    /// Connects in the background (the service starts and reports "not ready" while NATS is
    /// unreachable) and provisions `definitions` as soon as the server answers, retrying.
    pub async fn start(url: &str, service: &str, definitions: Definitions) -> anyhow::Result<Self> {
        let (options, address) = crate::connect::connect_options(url);
        let client = options
            .name(service)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .connect(address)
            .await
            .with_context(|| {
                format!(
                    "connecting to NATS at {}",
                    crate::config::without_password(url)
                )
            })?;
        let context = jetstream::new(client.clone());
        let provisioned = crate::startup::spawn_until_ok("jetstream provisioning", {
            let context = context.clone();
            move || {
                let context = context.clone();
                let definitions = definitions.clone();
                async move { provision(&context, &definitions).await }
            }
        });
        Ok(Self {
            client,
            context,
            provisioned,
        })
    }

    /// [`Self::check`] in the shape [`crate::health::Health::with_check`] takes.
    pub fn readiness_check(
        &self,
    ) -> impl Fn() -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
        let this = self.clone();
        move || std::future::ready(this.check())
    }

    /// Whether the streams and consumers were provisioned since the service started.
    pub fn is_provisioned(&self) -> bool {
        self.provisioned.is_done()
    }

    /// Readiness check: connected, and the streams and consumers exist.
    pub fn check(&self) -> Result<(), String> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected if self.provisioned.is_done() => Ok(()),
            async_nats::connection::State::Connected => {
                Err("streams not provisioned yet".to_owned())
            }
            state => Err(format!("nats connection is {state:?}")),
        }
    }
}
