//! Creating and updating the streams and consumers of a set of definitions, waiting on an
//! upgrade for the history to copy a stream before it turns to interest retention.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};

use crate::streams::definitions::Definitions;

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
        // A stream is never moved to fewer servers than it is on: a service started without
        // `NATS_STREAM_REPLICAS` on a cluster must not take its streams down to one.
        let mut config = config.clone();
        if let Some(existing) = existing_stream(js, &config.name).await? {
            config.num_replicas = config.num_replicas.max(existing.config.num_replicas);
        }
        let config = &config;
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

/// Moves the stream `name` (a bucket's `KV_<bucket>` or `OBJ_<bucket>`) to `replicas` servers
/// when it is on fewer; never to fewer. A bucket opened rather than created keeps the replicas
/// it was made with, so one made before a cluster's `NATS_STREAM_REPLICAS` was set would stay
/// on one server: whoever opens it calls this. A failure is logged, the bucket still usable.
pub async fn raise_replicas(js: &jetstream::Context, name: &str, replicas: usize) {
    let raised = async {
        let Some(info) = existing_stream(js, name).await? else {
            return anyhow::Ok(());
        };
        if info.config.num_replicas < replicas {
            let mut config = info.config;
            config.num_replicas = replicas;
            js.update_stream(config).await?;
            tracing::info!(stream = name, replicas, "bucket moved to more servers");
        }
        Ok(())
    };
    if let Err(err) = raised.await {
        tracing::warn!(
            stream = name,
            replicas,
            error = format!("{err:#}"),
            "bucket not moved to more servers"
        );
    }
}
