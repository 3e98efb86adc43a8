//! JetStream provisioning from the definitions in `nats/`: the same JSON files that
//! `nats stream add --config` and `nats consumer add --config` accept. Creating is idempotent;
//! a changed definition updates the stream or consumer in place.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer, stream};

use crate::startup::Done;

/// Stream definitions bundled from `nats/streams/`.
const STREAM_FILES: &[(&str, &str)] = &[
    (
        "EVENTS.json",
        include_str!("../../nats/streams/EVENTS.json"),
    ),
    (
        "EVENTS_DLQ.json",
        include_str!("../../nats/streams/EVENTS_DLQ.json"),
    ),
    ("AUTH.json", include_str!("../../nats/streams/AUTH.json")),
];

/// Consumer definitions bundled from `nats/consumers/<stream>/`, with their stream.
const CONSUMER_FILES: &[(&str, &str, &str)] = &[
    (
        "EVENTS",
        "sink-clickhouse.json",
        include_str!("../../nats/consumers/EVENTS/sink-clickhouse.json"),
    ),
    (
        "AUTH",
        "auth-projector.json",
        include_str!("../../nats/consumers/AUTH/auth-projector.json"),
    ),
];

/// A durable pull consumer and the stream it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerDefinition {
    pub stream: String,
    pub config: consumer::pull::Config,
}

/// Every stream and durable consumer the product uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Definitions {
    pub streams: Vec<stream::Config>,
    pub consumers: Vec<ConsumerDefinition>,
}

impl Definitions {
    /// The definitions compiled in from `nats/`, with every stream's replica count taken from
    /// `NATS_STREAM_REPLICAS` when it is set (3 on a three-node JetStream cluster; the files say
    /// 1, for one server).
    pub fn bundled() -> anyhow::Result<Self> {
        let mut definitions = Self::from_files()?;
        let replicas: usize = crate::config::var_or("NATS_STREAM_REPLICAS", 0)?;
        if replicas > 0 {
            definitions.set_replicas(replicas);
        }
        Ok(definitions)
    }

    /// Every stream kept on `replicas` servers (consumers follow their stream).
    pub fn set_replicas(&mut self, replicas: usize) {
        for stream in &mut self.streams {
            stream.num_replicas = replicas;
        }
    }

    fn from_files() -> anyhow::Result<Self> {
        let streams = STREAM_FILES
            .iter()
            .map(|(file, json)| {
                serde_json::from_str(json).with_context(|| format!("nats/streams/{file}"))
            })
            .collect::<anyhow::Result<Vec<stream::Config>>>()?;
        let consumers = CONSUMER_FILES
            .iter()
            .map(|(stream, file, json)| {
                let config = serde_json::from_str(json)
                    .with_context(|| format!("nats/consumers/{stream}/{file}"))?;
                Ok(ConsumerDefinition {
                    stream: (*stream).to_owned(),
                    config,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { streams, consumers })
    }

    /// The stream definition named `name`.
    pub fn stream_mut(&mut self, name: &str) -> Option<&mut stream::Config> {
        self.streams.iter_mut().find(|s| s.name == name)
    }
}

/// Creates every stream and consumer, or updates it when its definition changed. Running it
/// twice leaves the same configuration and no error.
pub async fn provision(js: &jetstream::Context, definitions: &Definitions) -> anyhow::Result<()> {
    for config in &definitions.streams {
        js.create_or_update_stream(config.clone())
            .await
            .with_context(|| format!("provisioning stream {}", config.name))?;
    }
    for definition in &definitions.consumers {
        let name = definition
            .config
            .durable_name
            .as_deref()
            .unwrap_or("<unnamed>");
        // The server's create action is "create or update" for a durable consumer, so a
        // changed definition updates it and an unchanged one is a no-op.
        js.create_consumer_on_stream(definition.config.clone(), definition.stream.as_str())
            .await
            .with_context(|| format!("provisioning consumer {name} on {}", definition.stream))?;
    }
    tracing::info!(
        streams = definitions.streams.len(),
        consumers = definitions.consumers.len(),
        "jetstream provisioned"
    );
    Ok(())
}

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
        let client = async_nats::ConnectOptions::new()
            .name(service)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .connect(url)
            .await
            .with_context(|| format!("connecting to NATS at {url}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_keeps_every_stream_on_as_many_servers_as_asked() {
        let mut definitions = Definitions::from_files().expect("definitions");
        assert!(definitions.streams.iter().all(|s| s.num_replicas == 1));
        definitions.set_replicas(3);
        assert!(definitions.streams.iter().all(|s| s.num_replicas == 3));
    }

    #[test]
    fn bundled_definitions_parse_and_name_the_contract() {
        let defs = Definitions::bundled().expect("bundled definitions parse");
        let names: Vec<_> = defs.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                contract::streams::EVENTS_STREAM,
                contract::streams::EVENTS_DLQ_STREAM,
                contract::streams::AUTH_STREAM
            ]
        );
        let consumers: Vec<_> = defs
            .consumers
            .iter()
            .map(|c| (c.stream.as_str(), c.config.durable_name.as_deref()))
            .collect();
        assert_eq!(
            consumers,
            [
                ("EVENTS", Some(contract::streams::SINK_CONSUMER)),
                ("AUTH", Some(contract::streams::AUTH_PROJECTOR_CONSUMER))
            ]
        );
        let sink = &defs.consumers[0].config;
        assert_eq!(sink.ack_policy, consumer::AckPolicy::Explicit);
        assert!(sink.max_deliver > 0 && sink.max_ack_pending > 0);
    }
}
