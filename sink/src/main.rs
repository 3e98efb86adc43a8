//! The sink binary: configuration from the environment, then [`sink::run`]; or an operator
//! command on the dead letters:
//!
//! ```text
//! sink dlq list [<project id>]      what is in EVENTS_DLQ, and why
//! sink dlq redrive [<project id>]   send it back to EVENTS (after fixing the cause)
//! sink retention <days>             drop the months of events older than that, and each
//!                                   project's older than its own retention
//! sink replay [<project id>|all] [<since, RFC 3339>]
//!                                   rebuild events in ClickHouse from the EVENTS_HISTORY stream
//! sink rebuild-persons              rebuild person_ids from the identity links on PERSONS
//! ```

use anyhow::Context as _;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dlq") => return dlq(&args[1..]).await,
        Some("retention") => return retention(&args[1..]).await,
        Some("replay") => return replay(&args[1..]).await,
        Some("rebuild-persons") => return rebuild_persons().await,
        _ => {}
    }
    let _telemetry = plumbing::telemetry::init("sink");
    let config = sink::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.http.bind_addr())
        .await
        .with_context(|| format!("binding {}", config.http.bind_addr()))?;
    sink::run(config, listener, plumbing::shutdown::signal()).await
}

async fn dlq(args: &[String]) -> anyhow::Result<()> {
    let project = args
        .get(1)
        .map(|id| uuid::Uuid::parse_str(id).with_context(|| format!("{id:?} is not a project id")))
        .transpose()?;
    let nats = plumbing::config::NatsConfig::from_env()?;
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(&nats.url)
            .await
            .with_context(|| format!("connecting to {nats:?}"))?,
    );
    match args.first().map(String::as_str) {
        Some("list") => {
            let letters = sink::dlq::list(&js, project).await?;
            for letter in &letters {
                println!(
                    "{}\t{}\t{}\t{}",
                    letter.sequence,
                    letter.original_subject,
                    letter.event_id.as_deref().unwrap_or("-"),
                    letter.error
                );
            }
            eprintln!("{} dead letters", letters.len());
            Ok(())
        }
        Some("redrive") => {
            let done = sink::dlq::redrive(&js, project, &mut std::io::stderr()).await?;
            eprintln!(
                "{} events back on EVENTS; {} dead letters kept (not events)",
                done.redriven, done.kept
            );
            Ok(())
        }
        _ => anyhow::bail!("usage: sink dlq list [<project id>] | sink dlq redrive [<project id>]"),
    }
}

async fn retention(args: &[String]) -> anyhow::Result<()> {
    let days: u16 = args
        .first()
        .and_then(|days| days.parse().ok())
        .context("usage: sink retention <days to keep>")?;
    let clickhouse = plumbing::config::ClickHouseConfig::from_env()?;
    let today = u16::try_from(time::OffsetDateTime::now_utc().unix_timestamp() / 86_400)
        .context("the date is past 2149")?;
    let layout = sink::schema::Layout::of(&clickhouse)?;
    let dropped = sink::retention::drop_older_than_in(
        &plumbing::clickhouse::server_client(&clickhouse),
        &layout,
        days,
        today,
    )
    .await?;
    eprintln!(
        "dropped {} monthly partitions of {}.{}{}: {}",
        dropped.len(),
        clickhouse.database,
        layout.storage_table(),
        layout.on_cluster(),
        dropped.join(", ")
    );
    // Then each project that keeps fewer months, as its admins set (read from NATS).
    let nats = plumbing::config::NatsConfig::from_env()?;
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(&nats.url)
            .await
            .with_context(|| format!("connecting to {nats:?}"))?,
    );
    let today = time::OffsetDateTime::now_utc().date();
    let client = plumbing::clickhouse::client(&clickhouse);
    for (project, first_kept) in
        sink::retention::projects::apply_all(&js, &client, &layout, today).await?
    {
        eprintln!("deleted the events of project {project} before {first_kept}");
    }
    Ok(())
}

async fn replay(args: &[String]) -> anyhow::Result<()> {
    let project = match args.first().map(String::as_str) {
        None | Some("all") => None,
        Some(id) => {
            Some(uuid::Uuid::parse_str(id).with_context(|| format!("{id:?} is not a project id"))?)
        }
    };
    let since = args
        .get(1)
        .map(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .with_context(|| format!("{text:?} is not an RFC 3339 time"))
        })
        .transpose()?;
    let nats = plumbing::config::NatsConfig::from_env()?;
    let clickhouse = plumbing::config::ClickHouseConfig::from_env()?;
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(&nats.url)
            .await
            .with_context(|| format!("connecting to {nats:?}"))?,
    );
    let done = sink::replay::replay(
        &js,
        nats.replicas,
        &sink::clickhouse_client(&clickhouse),
        project,
        since,
        &mut std::io::stderr(),
    )
    .await?;
    eprintln!(
        "read {} messages: {} events inserted, {} already stored, {} not events, {} of erased \
         persons (deleted from the history)",
        done.read, done.inserted, done.already_stored, done.unreadable, done.erased
    );
    Ok(())
}

async fn rebuild_persons() -> anyhow::Result<()> {
    let nats = plumbing::config::NatsConfig::from_env()?;
    let clickhouse = plumbing::config::ClickHouseConfig::from_env()?;
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(&nats.url)
            .await
            .with_context(|| format!("connecting to {nats:?}"))?,
    );
    eprintln!(
        "pausing the projection, emptying person_ids in {} seconds",
        sink::persons::GRACE.as_secs()
    );
    sink::persons::rebuild_persons(
        &js,
        &plumbing::clickhouse::server_client(&clickhouse),
        &sink::schema::Layout::of(&clickhouse)?,
        sink::persons::GRACE,
    )
    .await?;
    eprintln!("person_ids is empty; the running sinks apply every link again from the first");
    Ok(())
}
