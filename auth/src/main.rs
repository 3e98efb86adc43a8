//! The auth binary: serves auth, or with `keys add <file>` adds a signing key (key rotation).

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, action, file] = args.as_slice()
        && command == "keys"
        && action == "add"
    {
        let kid = auth::signing::add_to_file(std::path::Path::new(file))?;
        println!("added signing key {kid} to {file}; it signs new tokens after the next restart");
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("rebuild") && args.len() == 1 {
        return rebuild().await;
    }
    if let [command, seconds] = args.as_slice()
        && command == "bench-crypto"
    {
        let seconds: u64 = seconds.parse().context("bench-crypto <seconds>")?;
        let report = auth::bench::crypto(std::time::Duration::from_secs(seconds)).await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if !args.is_empty() {
        anyhow::bail!("usage: auth [keys add <keys-file> | rebuild | bench-crypto <seconds>]");
    }

    let _telemetry = plumbing::telemetry::init("auth");
    let config = auth::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.http.bind_addr())
        .await
        .with_context(|| format!("binding {}", config.http.bind_addr()))?;
    auth::run(config, listener, plumbing::shutdown::signal()).await
}

/// `auth rebuild`: truncates the projections and replays the `AUTH` stream into them.
async fn rebuild() -> anyhow::Result<()> {
    let nats = plumbing::config::NatsConfig::from_env()?;
    let postgres = plumbing::config::PostgresConfig::from_env()?;
    let client = plumbing::streams::connect(&nats.url)
        .await
        .with_context(|| format!("connecting to NATS at {nats:?}"))?;
    let js = async_nats::jetstream::new(client);
    let pool = auth::pool(&postgres);
    auth::MIGRATOR.run(&pool).await?;
    let applied =
        auth::rebuild::rebuild(&js, &pool, nats.replicas, auth::rebuild::print_progress).await?;
    eprintln!("\nrebuilt the projections from {applied} events");
    Ok(())
}
