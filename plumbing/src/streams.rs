//! JetStream provisioning from the definitions in `nats/`: the same JSON files that
//! `nats stream add --config` and `nats consumer add --config` accept. Creating is idempotent;
//! a changed definition updates the stream or consumer in place.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer, stream};

pub use crate::connect::{connect, connect_options};
use crate::startup::Done;

/// Stream definitions bundled from `nats/streams/`, in the order they are provisioned: the
/// history before `EVENTS`, so that on an upgrade from a limits-retention `EVENTS` the history
/// takes its copy of what is stored before `EVENTS` turns to interest retention and lets go of
/// what the sink has acked.
const STREAM_FILES: &[(&str, &str)] = &[
    (
        "EVENTS_HISTORY.json",
        include_str!("../../nats/streams/EVENTS_HISTORY.json"),
    ),
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
    /// Streams only created when missing, never updated: a service reads them, another owns
    /// them (and only the owner's NATS user may change them).
    pub create_only: Vec<String>,
}

/// The services that provision streams, each as its own NATS user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Auth,
    Ingest,
    Sink,
    Query,
}

impl Service {
    /// The streams the service creates or updates (with their consumers), and those it only
    /// makes sure exist. `nats/authorization.conf` lets each user change only what it owns.
    fn streams(self) -> (&'static [&'static str], &'static [&'static str]) {
        use contract::streams::{
            AUTH_STREAM, EVENTS_DLQ_STREAM, EVENTS_HISTORY_STREAM, EVENTS_STREAM,
        };
        match self {
            Service::Auth => (&[AUTH_STREAM], &[]),
            // Ingest publishes to EVENTS, which must hold the sink's consumer before the first
            // event (interest retention); it follows the projects on AUTH.
            Service::Ingest => (&[EVENTS_HISTORY_STREAM, EVENTS_STREAM], &[AUTH_STREAM]),
            Service::Sink => (
                &[EVENTS_HISTORY_STREAM, EVENTS_STREAM, EVENTS_DLQ_STREAM],
                &[],
            ),
            Service::Query => (&[], &[AUTH_STREAM]),
        }
    }
}

impl Definitions {
    /// The definitions compiled in from `nats/`, with every stream's replica count taken from
    /// `NATS_STREAM_REPLICAS` when it is set (3 on a three-node JetStream cluster; the files say
    /// 1, for one server) and the event log's budgets from [`EventBudgets::from_env`]. Every
    /// service provisions, so every service must see the same values.
    pub fn bundled() -> anyhow::Result<Self> {
        let mut definitions = Self::from_files()?;
        let replicas: usize = crate::config::var_or("NATS_STREAM_REPLICAS", 0)?;
        if replicas > 0 {
            definitions.set_replicas(replicas);
        }
        definitions.set_budgets(&EventBudgets::from_env()?);
        Ok(definitions)
    }

    /// The budgets of the unstored backlog (`EVENTS`) and of the history (`EVENTS_HISTORY`)
    /// that are set; the others keep the files' values.
    pub fn set_budgets(&mut self, budgets: &EventBudgets) {
        if let Some(events) = self.stream_mut(contract::streams::EVENTS_STREAM) {
            set_limit(&mut events.max_bytes, budgets.backlog_max_bytes);
            set_limit(&mut events.max_messages, budgets.backlog_max_messages);
        }
        if let Some(history) = self.stream_mut(contract::streams::EVENTS_HISTORY_STREAM) {
            set_limit(&mut history.max_bytes, budgets.history_max_bytes);
            set_limit(&mut history.max_messages, budgets.history_max_messages);
            if let Some(secs) = budgets.history_max_age_secs {
                history.max_age = Duration::from_secs(secs);
            }
        }
    }

    /// Every stream kept on `replicas` servers (consumers follow their stream).
    pub fn set_replicas(&mut self, replicas: usize) {
        for stream in &mut self.streams {
            stream.num_replicas = replicas;
        }
    }

    /// [`Self::bundled`], narrowed to what `service` provisions: the streams it owns with their
    /// consumers, and the streams it only needs to exist.
    pub fn for_service(service: Service) -> anyhow::Result<Self> {
        let (owned, needed) = service.streams();
        let mut definitions = Self::bundled()?;
        definitions.streams.retain(|stream| {
            owned.contains(&stream.name.as_str()) || needed.contains(&stream.name.as_str())
        });
        definitions
            .consumers
            .retain(|consumer| owned.contains(&consumer.stream.as_str()));
        definitions.create_only = needed.iter().map(|name| (*name).to_owned()).collect();
        Ok(definitions)
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
        Ok(Self {
            streams,
            consumers,
            create_only: Vec::new(),
        })
    }

    /// The stream definition named `name`.
    pub fn stream_mut(&mut self, name: &str) -> Option<&mut stream::Config> {
        self.streams.iter_mut().find(|s| s.name == name)
    }
}

/// What the event log may hold, from the environment; `None` keeps the value of `nats/streams/`.
///
/// The backlog budget is what protects acceptance: `EVENTS` holds only what the sink has not
/// stored yet (interest retention), and ingest answers 503 once it is full. The history budget
/// is what operators can replay: `EVENTS_HISTORY` drops its oldest messages past it and never
/// refuses, so history kept never stops intake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventBudgets {
    /// `EVENTS_BACKLOG_MAX_BYTES`: bytes of unstored events (the file says 4 GiB).
    pub backlog_max_bytes: Option<i64>,
    /// `EVENTS_BACKLOG_MAX_MESSAGES`: unstored events (the file says unlimited).
    pub backlog_max_messages: Option<i64>,
    /// `EVENTS_HISTORY_MAX_BYTES`: bytes of history kept for replay (the file says 10 GiB).
    pub history_max_bytes: Option<i64>,
    /// `EVENTS_HISTORY_MAX_MESSAGES`: events of history kept (the file says unlimited).
    pub history_max_messages: Option<i64>,
    /// `EVENTS_HISTORY_MAX_AGE_SECS`: how long history is kept (the file says 30 days).
    pub history_max_age_secs: Option<u64>,
}

impl EventBudgets {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        use crate::config::var_opt;
        Ok(Self {
            backlog_max_bytes: var_opt("EVENTS_BACKLOG_MAX_BYTES")?,
            backlog_max_messages: var_opt("EVENTS_BACKLOG_MAX_MESSAGES")?,
            history_max_bytes: var_opt("EVENTS_HISTORY_MAX_BYTES")?,
            history_max_messages: var_opt("EVENTS_HISTORY_MAX_MESSAGES")?,
            history_max_age_secs: var_opt("EVENTS_HISTORY_MAX_AGE_SECS")?,
        })
    }
}

fn set_limit(limit: &mut i64, budget: Option<i64>) {
    if let Some(budget) = budget {
        *limit = budget;
    }
}

/// Creates every stream and consumer, or updates it when its definition changed. Running it
/// twice leaves the same configuration and no error.
pub async fn provision(js: &jetstream::Context, definitions: &Definitions) -> anyhow::Result<()> {
    for config in &definitions.streams {
        if definitions.create_only.contains(&config.name) {
            if existing_stream(js, &config.name).await?.is_none() {
                js.create_stream(config.clone())
                    .await
                    .with_context(|| format!("creating stream {}", config.name))?;
            }
            continue;
        }
        copied_before_interest(js, definitions, config).await?;
        js.create_or_update_stream(config.clone())
            .await
            .with_context(|| format!("provisioning stream {}", config.name))?;
        // A stream's consumers right after it: an interest-retention stream keeps a message
        // only for the consumers it has when the message arrives.
        let consumers = definitions
            .consumers
            .iter()
            .filter(|definition| definition.stream == config.name);
        for definition in consumers {
            let name = definition
                .config
                .durable_name
                .as_deref()
                .unwrap_or("<unnamed>");
            // The server's create action is "create or update" for a durable consumer, so a
            // changed definition updates it and an unchanged one is a no-op.
            js.create_consumer_on_stream(definition.config.clone(), definition.stream.as_str())
                .await
                .with_context(|| {
                    format!("provisioning consumer {name} on {}", definition.stream)
                })?;
        }
    }
    tracing::info!(
        streams = definitions.streams.len(),
        consumers = definitions.consumers.len(),
        "jetstream provisioned"
    );
    Ok(())
}

/// How long provisioning waits for a history to copy a stream before turning it to interest
/// retention; past it provisioning fails (and is retried) rather than drop history.
const COPY_DEADLINE: Duration = Duration::from_secs(120);

/// On an upgrade, a stream that turns from limits to interest retention drops at once every
/// message its consumers acked. The streams that source it (the history) must first hold a copy
/// of everything it stores: this waits until they copied as many messages as it holds. A stream
/// that does not exist yet, or is not changing retention, needs no wait.
async fn copied_before_interest(
    js: &jetstream::Context,
    definitions: &Definitions,
    config: &stream::Config,
) -> anyhow::Result<()> {
    if config.retention != stream::RetentionPolicy::Interest {
        return Ok(());
    }
    let Some(info) = existing_stream(js, &config.name).await? else {
        return Ok(());
    };
    if info.config.retention != stream::RetentionPolicy::Limits {
        return Ok(());
    }
    let held = info.state.messages;
    let copies = definitions.streams.iter().filter(|copy| {
        copy.sources
            .iter()
            .flatten()
            .any(|source| source.name == config.name)
    });
    for copy in copies {
        let deadline = tokio::time::Instant::now() + COPY_DEADLINE;
        loop {
            let copied = existing_stream(js, &copy.name)
                .await?
                .map_or(0, |info| info.state.last_sequence);
            if copied >= held {
                break;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{} has copied {copied} of the {held} messages of {}: not turning it to interest \
                 retention yet",
                copy.name,
                config.name
            );
            tracing::info!(
                stream = %config.name,
                copy = %copy.name,
                copied,
                held,
                "waiting for the history to copy the stream before its retention changes"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// The stream's information, `None` when it does not exist.
async fn existing_stream(
    js: &jetstream::Context,
    name: &str,
) -> anyhow::Result<Option<stream::Info>> {
    match js.get_stream(name).await {
        Ok(mut stream) => Ok(Some(stream.info().await?.clone())),
        Err(err) => match err.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(err)
                if err.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                Ok(None)
            }
            _ => Err(err.into()),
        },
    }
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
    fn budgets_set_the_backlog_and_the_history_and_leave_the_rest() {
        let mut definitions = Definitions::from_files().expect("definitions");
        let before = definitions.clone();
        definitions.set_budgets(&EventBudgets::default());
        assert_eq!(definitions, before, "no budget given changes nothing");
        definitions.set_budgets(&EventBudgets {
            backlog_max_bytes: Some(1 << 20),
            backlog_max_messages: Some(100),
            history_max_messages: Some(300),
            history_max_age_secs: Some(3600),
            ..EventBudgets::default()
        });
        let events = definitions.stream_mut("EVENTS").expect("EVENTS").clone();
        assert_eq!((events.max_bytes, events.max_messages), (1 << 20, 100));
        let history = definitions.stream_mut("EVENTS_HISTORY").expect("history");
        assert_eq!(history.max_messages, 300);
        assert_eq!(history.max_age, Duration::from_secs(3600));
        assert_eq!(history.max_bytes, 10 << 30, "the file's value is kept");
    }

    #[test]
    fn bundled_definitions_parse_and_name_the_contract() {
        let defs = Definitions::bundled().expect("bundled definitions parse");
        let names: Vec<_> = defs.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                contract::streams::EVENTS_HISTORY_STREAM,
                contract::streams::EVENTS_STREAM,
                contract::streams::EVENTS_DLQ_STREAM,
                contract::streams::AUTH_STREAM
            ]
        );
        let events = &defs.streams[1];
        assert_eq!(events.retention, stream::RetentionPolicy::Interest);
        assert_eq!(events.discard, stream::DiscardPolicy::New);
        let history = &defs.streams[0];
        assert_eq!(history.retention, stream::RetentionPolicy::Limits);
        assert_eq!(history.discard, stream::DiscardPolicy::Old);
        let sources: Vec<_> = history.sources.iter().flatten().map(|s| &s.name).collect();
        assert_eq!(sources, [contract::streams::EVENTS_STREAM]);
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
