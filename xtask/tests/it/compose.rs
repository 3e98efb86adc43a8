//! `compose.yaml` keeps its promises without a Docker engine to start it: only edge published,
//! every image pinned, every service health-checked and started after what it needs healthy,
//! and every variable it reads offered in `.env.example`.

use std::collections::BTreeSet;

use crate::helpers::read;

/// The top-level entries under `services:` with the text of each.
fn services(compose: &str) -> Vec<(String, String)> {
    let body = compose
        .split("\nservices:\n")
        .nth(1)
        .and_then(|rest| rest.split("\nnetworks:\n").next())
        .expect("a services section");
    let mut found: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        let name = line
            .strip_prefix("  ")
            .filter(|rest| !rest.starts_with(' ') && rest.ends_with(':'))
            .map(|rest| rest.trim_end_matches(':').to_owned());
        match (name, found.last_mut()) {
            (Some(name), _) => found.push((name, String::new())),
            (None, Some((_, text))) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    found
}

#[test]
fn only_edge_is_published_and_every_service_waits_for_healthy_dependencies() {
    let compose = read("compose.yaml");
    let services = services(&compose);
    let names: Vec<&str> = services.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "nats",
            "postgres",
            "clickhouse",
            "auth",
            "ingest",
            "sink",
            "query",
            "edge"
        ]
    );
    for (name, text) in &services {
        assert!(text.contains("healthcheck:"), "{name} has no health check");
        assert_eq!(
            text.contains("ports:"),
            name == "edge",
            "{name}: only edge is published"
        );
        if ["auth", "ingest", "sink", "query", "edge"].contains(&name.as_str()) {
            assert!(text.contains("depends_on:"), "{name}");
            assert!(
                !text.contains("condition: service_started"),
                "{name} waits for healthy dependencies only"
            );
            assert!(
                text.contains(&format!("command: [\"{name}\"]")),
                "{name} runs its own binary"
            );
        }
    }
    for line in compose.lines().map(str::trim) {
        if let Some(image) = line.strip_prefix("image: ") {
            let tag = image.rsplit(':').next().unwrap_or_default();
            assert!(
                image.contains(':') && !tag.is_empty() && tag != "latest",
                "pinned image: {image}"
            );
        }
    }
}

#[test]
fn every_variable_compose_reads_is_offered_in_env_example() {
    let compose = read("compose.yaml");
    let example = read(".env.example");
    let offered: BTreeSet<&str> = example
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    let read_by_compose: BTreeSet<&str> = compose
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split([':', '}', '-']).next())
        .filter(|name| *name != "EVENT_ANALYTICS_VERSION")
        .collect();
    let missing: Vec<_> = read_by_compose.difference(&offered).collect();
    assert!(missing.is_empty(), "not in .env.example: {missing:?}");
    let unused: Vec<_> = offered.difference(&read_by_compose).collect();
    assert!(
        unused.is_empty(),
        "in .env.example but not read: {unused:?}"
    );
}

#[test]
fn the_image_runs_as_a_non_root_user_and_ships_the_web_app() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("\nUSER 10001:10001\n"), "non-root");
    assert!(dockerfile.contains("--mount=type=cache,target=/usr/local/cargo/registry"));
    assert!(dockerfile.contains("COPY --from=build /out/ui /srv/ui"));
    let ignored = read(".dockerignore");
    assert!(
        ignored.lines().any(|line| line == "target/"),
        "no build output in the context"
    );
}
