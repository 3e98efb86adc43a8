//! The Grafana dashboard asks only for metrics the services register.

use std::path::Path;

use crate::helpers::root;

fn sources(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    text
}

#[test]
fn every_metric_the_dashboard_queries_is_registered_by_its_service() {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("ops/grafana/event-analytics.json"))
            .expect("dashboard"),
    )
    .expect("valid JSON");
    let shared = sources(&root().join("plumbing/src"));
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for token in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                let Some((service, rest)) = token.split_once('_') else {
                    continue;
                };
                if !["auth", "ingest", "sink", "query", "edge"].contains(&service) {
                    continue;
                }
                let name = rest
                    .strip_suffix("_total")
                    .or_else(|| rest.strip_suffix("_bucket"))
                    .unwrap_or(rest);
                let own = sources(&root().join(service).join("src"));
                assert!(
                    own.contains(&format!("\"{name}\"")) || shared.contains(&format!("\"{name}\"")),
                    "{token} in {expr:?} is not registered by {service}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "{checked} metrics checked");
}
