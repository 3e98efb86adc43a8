//! The stream and consumer definitions bundled from `nats/`, narrowed to what one service
//! provisions, with the replica count and the event log's budgets from the environment.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{consumer, stream};

/// Stream definitions bundled from `nats/streams/`, in the order they are provisioned: the
/// history before `EVENTS`, so that on an upgrade from a limits-retention `EVENTS` the history
/// takes its copy of what is stored before `EVENTS` turns to interest retention and lets go of
/// what the sink has acked.
const STREAM_FILES: &[(&str, &str)] = &[
    (
        "EVENTS_HISTORY.json",
        include_str!("../../../nats/streams/EVENTS_HISTORY.json"),
    ),
    (
        "EVENTS.json",
        include_str!("../../../nats/streams/EVENTS.json"),
    ),
    (
        "EVENTS_DLQ.json",
        include_str!("../../../nats/streams/EVENTS_DLQ.json"),
    ),
    ("AUTH.json", include_str!("../../../nats/streams/AUTH.json")),
    (
        "PERSONS.json",
        include_str!("../../../nats/streams/PERSONS.json"),
    ),
];

/// Consumer definitions bundled from `nats/consumers/<stream>/`, with their stream.
const CONSUMER_FILES: &[(&str, &str, &str)] = &[
    (
        "EVENTS",
        "sink-clickhouse.json",
        include_str!("../../../nats/consumers/EVENTS/sink-clickhouse.json"),
    ),
    (
        "AUTH",
        "auth-projector.json",
        include_str!("../../../nats/consumers/AUTH/auth-projector.json"),
    ),
    (
        "PERSONS",
        "sink-persons.json",
        include_str!("../../../nats/consumers/PERSONS/sink-persons.json"),
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
            AUTH_STREAM, EVENTS_DLQ_STREAM, EVENTS_HISTORY_STREAM, EVENTS_STREAM, PERSONS_STREAM,
        };
        match self {
            Service::Auth => (&[AUTH_STREAM], &[]),
            // Ingest publishes to EVENTS, which must hold the sink's consumer before the first
            // event (interest retention), and the identity links to PERSONS; it follows the
            // projects on AUTH.
            Service::Ingest => (
                &[EVENTS_HISTORY_STREAM, EVENTS_STREAM, PERSONS_STREAM],
                &[AUTH_STREAM],
            ),
            Service::Sink => (
                &[
                    EVENTS_HISTORY_STREAM,
                    EVENTS_STREAM,
                    EVENTS_DLQ_STREAM,
                    PERSONS_STREAM,
                ],
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
    pub(crate) fn set_replicas(&mut self, replicas: usize) {
        for stream in &mut self.streams {
            stream.num_replicas = replicas;
        }
    }

    /// [`Self::bundled`] with every stream on `replicas` servers (the service's
    /// [`crate::config::NatsConfig::replicas`]), narrowed to what `service` provisions: the
    /// streams it owns with their consumers, and the streams it only needs to exist.
    pub fn for_service(service: Service, replicas: usize) -> anyhow::Result<Self> {
        let (owned, needed) = service.streams();
        let mut definitions = Self::bundled()?;
        definitions.set_replicas(replicas.max(1));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_keeps_every_stream_on_as_many_servers_as_asked() {
        let mut definitions = Definitions::from_files().expect("definitions");
        assert!(definitions.streams.iter().all(|s| s.num_replicas == 1));
        definitions.set_replicas(3);
        assert!(definitions.streams.iter().all(|s| s.num_replicas == 3));
        // A service's own definitions follow its configuration, whatever its environment.
        let sink = Definitions::for_service(Service::Sink, 3).expect("sink's definitions");
        assert!(!sink.streams.is_empty());
        assert!(sink.streams.iter().all(|s| s.num_replicas == 3));
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
                contract::streams::AUTH_STREAM,
                contract::streams::PERSONS_STREAM
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
                ("AUTH", Some(contract::streams::AUTH_PROJECTOR_CONSUMER)),
                ("PERSONS", Some(contract::streams::PERSONS_CONSUMER))
            ]
        );
        let sink = &defs.consumers[0].config;
        assert_eq!(sink.ack_policy, consumer::AckPolicy::Explicit);
        assert!(sink.max_deliver > 0 && sink.max_ack_pending > 0);
        // Links and erasures are applied one at a time, in stream order, whatever the number of
        // sinks.
        let persons = &defs.consumers[2].config;
        assert_eq!(persons.max_ack_pending, 1);
        assert_eq!(persons.filter_subject, "persons.>");
        let stream = &defs.streams[4];
        assert_eq!(
            (stream.retention, stream.max_age),
            (stream::RetentionPolicy::Limits, Duration::ZERO),
            "links are kept forever"
        );
    }
}
