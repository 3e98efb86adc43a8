//! The environment `compose.yaml` and `k8s/` give each service matches what the service reads:
//! no variable set that no code reads (a typo, or a setting that was renamed, fails silently in
//! production), and every variable a service cannot start without is set.
//!
//! What a service reads is found in its source: the variable names quoted in its own crate, and
//! those of the shared configuration (`plumbing`) its source builds, by type or module name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::helpers::root;

const SERVICES: [&str; 5] = ["auth", "ingest", "sink", "query", "edge"];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = read(&path);
                found.push((path, text));
            }
        }
    }
    found
}

/// Names that look like environment variables (`"UPPER_CASE"`), quoted in `text`. An escaped
/// quote (`\"`, once escaped backslashes are dropped) or a quote as a character (`'"'`) opens no
/// string, so neither is a place to split: either would pair every later quote the wrong way.
fn quoted_names(text: &str) -> BTreeSet<String> {
    let text = text
        .replace("\\\\", "")
        .replace("\\\"", "")
        .replace("'\"'", "");
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|quoted| {
            quoted.len() > 3
                && quoted.contains('_')
                && quoted.starts_with(|c: char| c.is_ascii_uppercase())
                && quoted
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The shared configuration: for each `impl <Type>` block of `plumbing` the variable names it
/// reads (keyed by the type), and for the rest of each module, its free functions (keyed
/// `<module>::`).
fn plumbing_parts() -> Vec<(String, BTreeSet<String>)> {
    let mut parts = Vec::new();
    for (path, text) in sources(&root().join("plumbing/src")) {
        let text = without_unit_tests(&text);
        let module = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut free = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("\nimpl") {
            free.push_str(&rest[..at]);
            let block = &rest[at..];
            let end = block_end(block);
            // `impl Type {`, `impl<T> Trait for Type {`: the type is the last name before `{`.
            let name = block[..block.find('{').unwrap_or(0)]
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .split('<')
                .next()
                .unwrap_or_default()
                .to_owned();
            parts.push((name, block[..end].to_owned()));
            rest = &block[end..];
        }
        free.push_str(rest);
        parts.push((format!("{module}::"), free));
    }
    // A part that uses another type of `plumbing` (telemetry's `init` builds an `OtlpConfig`)
    // reads what that type reads.
    parts
        .iter()
        .map(|(key, text)| {
            let mut names = quoted_names(text);
            for (other, other_text) in &parts {
                if other != key && !other.ends_with("::") && uses(text, other) {
                    names.extend(quoted_names(other_text));
                }
            }
            (key.clone(), names)
        })
        .collect()
}

/// Whether `text` uses the type `name` (not only defines it): `struct Name` and `enum Name` do
/// not count.
fn uses(text: &str, name: &str) -> bool {
    let mentions = text.matches(name).count();
    let definitions = text.matches(&format!("struct {name}")).count()
        + text.matches(&format!("enum {name}")).count();
    mentions > definitions
}

/// Where the block opened by the first `{` of `text` closes (the whole text when it does not).
fn block_end(text: &str) -> usize {
    let mut depth = 0_usize;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return at + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// What `service` reads: its own names, the shared parts its source names, and `RUST_LOG`
/// (read by the log filter through `tracing-subscriber`, without a literal).
fn read_by(service: &str, plumbing: &[(String, BTreeSet<String>)]) -> BTreeSet<String> {
    // What a file's unit tests quote is no setting of the service.
    let own: Vec<String> = sources(&root().join(service).join("src"))
        .into_iter()
        .map(|(_, text)| without_unit_tests(&text).to_owned())
        .collect();
    // File by file, so that a quote one file leaves open cannot shift the next file's.
    let mut names: BTreeSet<String> = own.iter().flat_map(|text| quoted_names(text)).collect();
    let own = own.concat();
    for (part, part_names) in plumbing {
        if !part.is_empty() && own.contains(part.as_str()) {
            names.extend(part_names.iter().cloned());
        }
    }
    names.insert("RUST_LOG".to_owned());
    names
}

/// A source file up to its `#[cfg(test)]` module.
fn without_unit_tests(text: &str) -> &str {
    text.find("\n#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// Variables `service` cannot start without: the names of a `ConfigError` whose problem says
/// "is required", with the alternatives the same sentence names.
fn required_by(service: &str) -> Vec<BTreeSet<String>> {
    let mut required = Vec::new();
    for (_, text) in sources(&root().join(service).join("src")) {
        for (at, _) in text.match_indices("is required") {
            let Some(name_at) = text[..at]
                .rfind("name:")
                .filter(|name_at| at - name_at < 200)
            else {
                continue;
            };
            let end = text[at..].find(')').map_or(text.len(), |end| at + end);
            let sentence = &text[name_at..end];
            let mut names = quoted_names(sentence);
            names.extend(
                sentence
                    .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .filter(|word| word.len() > 3 && word.contains('_'))
                    .map(str::to_owned),
            );
            if !names.is_empty() {
                required.push(names);
            }
        }
    }
    required
}

/// The variables compose gives each service: its `environment:` entries, with the anchors it
/// merges (`<<: *name` or `<<: [*a, *b]`) expanded.
fn compose_environments(compose: &str) -> BTreeMap<String, BTreeSet<String>> {
    // Anchored mappings: `name: &anchor` followed by deeper-indented `KEY: value` lines.
    let mut anchors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let lines: Vec<&str> = compose.lines().collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    let keys_below = |from: usize| -> (BTreeSet<String>, Vec<String>) {
        let depth = indent(lines[from]);
        let mut keys = BTreeSet::new();
        let mut merged = Vec::new();
        for line in &lines[from + 1..] {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if indent(line) <= depth {
                break;
            }
            if let Some(merge) = trimmed.strip_prefix("<<:") {
                merged.extend(
                    merge
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '*'))
                        .filter_map(|word| word.strip_prefix('*'))
                        .map(str::to_owned),
                );
            } else if let Some((key, _)) = trimmed.split_once(':') {
                if key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    keys.insert(key.to_owned());
                }
            }
        }
        (keys, merged)
    };
    for (at, line) in lines.iter().enumerate() {
        if let Some((_, anchor)) = line.trim().split_once(": &") {
            let (keys, _) = keys_below(at);
            anchors.insert(anchor.trim().to_owned(), keys);
        }
    }
    let mut environments = BTreeMap::new();
    let mut service = None;
    for (at, line) in lines.iter().enumerate() {
        if indent(line) == 2 && line.trim_end().ends_with(':') && !line.trim().starts_with('#') {
            service = Some(line.trim().trim_end_matches(':').to_owned());
        }
        if indent(line) == 0 {
            service = None;
        }
        let Some(name) = &service else { continue };
        if line.trim() == "environment:" {
            let (mut keys, merged) = keys_below(at);
            for anchor in merged {
                keys.extend(anchors.get(&anchor).cloned().unwrap_or_default());
            }
            environments.insert(name.clone(), keys);
        }
    }
    environments
}

/// The names of the `env:` list of a k8s container spec.
fn k8s_env_names(manifest: &str) -> BTreeSet<String> {
    manifest
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- name: "))
        .map(str::trim)
        .filter(|name| {
            name.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The keys of the ConfigMap's `data:` (and those an overlay adds with `path: /data/<KEY>`).
fn configmap_keys(config: &str, overlays: &[String]) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = config
        .split("\ndata:\n")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .take_while(|line| line.is_empty() || line.starts_with(' '))
        .filter(|line| line.starts_with("  ") && !line.trim_start().starts_with('#'))
        .filter_map(|line| line.trim().split_once(':').map(|(key, _)| key.to_owned()))
        .collect();
    for overlay in overlays {
        for line in overlay
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
        {
            if let Some(rest) = line.split("path: /data/").nth(1) {
                keys.extend(
                    rest.split(',')
                        .next()
                        .map(str::trim)
                        .filter(|key| key.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
                        .map(str::to_owned),
                );
            }
        }
    }
    keys
}

#[test]
fn every_variable_compose_sets_for_a_service_is_one_it_reads_and_none_it_needs_is_missing() {
    let plumbing = plumbing_parts();
    let environments = compose_environments(&read(&root().join("compose.yaml")));
    for service in SERVICES {
        let reads = read_by(service, &plumbing);
        let set = environments
            .get(service)
            .unwrap_or_else(|| panic!("compose gives {service} no environment"));
        let unread: Vec<_> = set.difference(&reads).collect();
        assert!(
            unread.is_empty(),
            "compose sets for {service} what it never reads: {unread:?}"
        );
        for alternatives in required_by(service) {
            assert!(
                alternatives.iter().any(|name| set.contains(name)),
                "{service} needs one of {alternatives:?}; compose sets none"
            );
        }
    }
}

#[test]
fn every_variable_k8s_sets_is_read_by_a_service_that_gets_it() {
    let plumbing = plumbing_parts();
    let reads: BTreeMap<&str, BTreeSet<String>> = SERVICES
        .iter()
        .map(|service| (*service, read_by(service, &plumbing)))
        .collect();
    let base = root().join("k8s/base");
    for service in SERVICES {
        let own = k8s_env_names(&read(&base.join(format!("{service}.yaml"))));
        let unread: Vec<_> = own.difference(&reads[service]).collect();
        assert!(
            unread.is_empty(),
            "k8s sets for {service} what it never reads: {unread:?}"
        );
        for alternatives in required_by(service) {
            assert!(
                alternatives.iter().any(|name| own.contains(name)),
                "{service} needs one of {alternatives:?}; its k8s manifest sets none"
            );
        }
    }
    // The shared ConfigMap reaches every service: each key must be read by at least one.
    let overlays: Vec<String> = ["dev", "prod"]
        .iter()
        .map(|overlay| read(&root().join(format!("k8s/overlays/{overlay}/kustomization.yaml"))))
        .collect();
    let keys = configmap_keys(&read(&base.join("config.yaml")), &overlays);
    assert!(
        keys.len() >= 10,
        "the ConfigMap's keys were found: {keys:?}"
    );
    let read_by_any: BTreeSet<&String> = reads.values().flatten().collect();
    let unread: Vec<_> = keys
        .iter()
        .filter(|key| !read_by_any.contains(key))
        .collect();
    assert!(
        unread.is_empty(),
        "the ConfigMap sets what no service reads: {unread:?}"
    );
}

#[test]
fn the_scan_finds_what_a_service_reads_and_would_catch_a_misspelt_variable() {
    let plumbing = plumbing_parts();
    let sink = read_by("sink", &plumbing);
    for name in [
        "SINK_BATCH_SIZE",
        "NATS_URL",
        "CLICKHOUSE_HOST",
        "SHUTDOWN_DELAY_MS",
        "LISTEN_HOST",
    ] {
        assert!(sink.contains(name), "sink reads {name}: {sink:?}");
    }
    assert!(!sink.contains("POSTGRES_HOST"), "sink has no PostgreSQL");
    let edge = read_by("edge", &plumbing);
    assert!(!edge.contains("CLICKHOUSE_HOST"), "edge has no ClickHouse");
    let required = required_by("auth");
    assert!(
        required
            .iter()
            .any(|names| names.contains("AUTH_SIGNING_KEYS")),
        "auth requires its signing keys: {required:?}"
    );
    let misspelt =
        compose_environments("services:\n  sink:\n    environment:\n      SINK_BATCH_SIZ: 10\n");
    assert!(!sink.contains("SINK_BATCH_SIZ") && misspelt["sink"].contains("SINK_BATCH_SIZ"));
}

/// The variables `docs/configuration.md` lists: the backquoted names in the first column of its
/// tables.
fn documented_variables() -> BTreeSet<String> {
    read(&root().join("docs/configuration.md"))
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|row| row.split(" | ").next())
        // After the row's opening "| `": names at even places, `, ` between them.
        .flat_map(|first| first.split('`').step_by(2).map(str::to_owned))
        .filter(|name| {
            name.len() > 3
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// Names a service quotes that are no variable of ours: the wire names of `contract` (streams,
/// buckets, headers) and what cargo sets at build time.
fn not_configuration(name: &str, wire_names: &BTreeSet<String>) -> bool {
    wire_names.contains(name) || name.starts_with("CARGO_")
}

#[test]
fn the_configuration_page_lists_every_variable_the_services_read_and_nothing_else() {
    let plumbing = plumbing_parts();
    let documented = documented_variables();
    assert!(
        documented.len() >= 40,
        "the page's variables were found: {documented:?}"
    );
    let wire_names: BTreeSet<String> = sources(&root().join("contract/src"))
        .iter()
        .flat_map(|(_, text)| quoted_names(text))
        .collect();
    let mut read_by_services = BTreeSet::new();
    for service in SERVICES {
        read_by_services.extend(read_by(service, &plumbing));
    }
    let undocumented: Vec<_> = read_by_services
        .iter()
        .filter(|name| !documented.contains(*name) && !not_configuration(name, &wire_names))
        .collect();
    assert!(
        undocumented.is_empty(),
        "services read these, docs/configuration.md does not list them: {undocumented:?}"
    );
    // `up` and the tests read the rest (ports of the local servers, where the tools are).
    let tools: BTreeSet<String> = ["xtask/src", "devstack/src"]
        .iter()
        .flat_map(|dir| sources(&root().join(dir)))
        .flat_map(|(_, text)| quoted_names(&text))
        .collect();
    let unread: Vec<_> = documented
        .iter()
        .filter(|name| !read_by_services.contains(*name) && !tools.contains(*name))
        .collect();
    assert!(
        unread.is_empty(),
        "docs/configuration.md lists what nothing reads: {unread:?}"
    );
}
