//! The operations files are what the programs reading them accept, checked with those programs'
//! own schemas (no Docker engine, cluster or network here): the compose files against the
//! Compose specification, the workflows against GitHub's workflow schema, every Kubernetes object
//! in strict mode against the API of one Kubernetes release, and both kustomize overlays
//! rendered. Each check also sees a broken copy rejected, so a validator that looks at nothing
//! cannot pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::Context as _;

use devstack::install::{Need, Tools};
use devstack::test::TempDir;

use crate::helpers::root;

/// The Kubernetes release the manifests are checked against. kubernetes-validate ships the
/// schemas of each release it knows, so nothing is fetched; a release older than the newest
/// keeps the manifests off APIs that clusters in use do not have yet.
const KUBERNETES_VERSION: &str = "1.30.0";

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The validators, installed once for every test of this binary: tests run in parallel, and two
/// pip installs into one venv would trip over each other.
fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        devstack::install::ensure(&[
            Need::CheckJsonschema,
            Need::KubernetesValidate,
            Need::Kustomize,
        ])
        .expect("the validators are installed")
    })
}

/// Runs `command`: whether it succeeded, and everything it printed.
fn outcome(mut command: Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("running {command:?}: {err}"));
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

fn check_jsonschema(builtin_schema: &str, files: &[PathBuf]) -> (bool, String) {
    let tool = tools().check_jsonschema.as_ref().expect("check-jsonschema");
    let mut command = Command::new(tool);
    command
        .args(["--builtin-schema", builtin_schema])
        .args(files);
    outcome(command)
}

/// Strict: a field the API does not have is an error, not something the cluster drops quietly.
fn kubernetes_validate(files: &[PathBuf]) -> (bool, String) {
    let tool = tools()
        .kubernetes_validate
        .as_ref()
        .expect("kubernetes-validate");
    let mut command = Command::new(tool);
    command
        .args([
            "--strict",
            "--quiet",
            "--kubernetes-version",
            KUBERNETES_VERSION,
        ])
        .args(files);
    outcome(command)
}

/// `text` with `addition` written after the first `anchor`, which must be there.
fn broken(text: &str, anchor: &str, addition: &str) -> String {
    assert!(text.contains(anchor), "no {anchor:?} to break");
    text.replacen(anchor, &format!("{anchor}{addition}"), 1)
}

/// The YAML files under `dir`, at any depth, sorted.
fn yaml_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(yaml_files(&path)?);
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A copy of `k8s/` that renders as it would on a developer's machine: the dev overlay reads
/// its secrets from the git-ignored `secrets.env`, made from the example next to it.
fn k8s_copy(dir: &TempDir) -> anyhow::Result<PathBuf> {
    let k8s = dir.path().join("k8s");
    copy_tree(&root().join("k8s"), &k8s)?;
    let dev = k8s.join("overlays/dev");
    std::fs::copy(dev.join("secrets.env.example"), dev.join("secrets.env"))?;
    Ok(k8s)
}

fn render(overlay: &Path) -> (bool, String) {
    let kustomize = tools().kustomize.as_ref().expect("kustomize");
    let output = kustomize
        .build(overlay)
        .output()
        .unwrap_or_else(|err| panic!("rendering {}: {err}", overlay.display()));
    let printed = if output.status.success() {
        String::from_utf8_lossy(&output.stdout).into_owned()
    } else {
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    (output.status.success(), printed)
}

/// `(kind, name)` of each object in a rendered stream (block style, as kustomize prints it).
fn objects(rendered: &str) -> Vec<(String, String)> {
    rendered
        .split("\n---\n")
        .map(|document| {
            let kind = document
                .lines()
                .find_map(|line| line.strip_prefix("kind: "))
                .unwrap_or_default();
            let name = document
                .split("\nmetadata:\n")
                .nth(1)
                .unwrap_or_default()
                .lines()
                .take_while(|line| line.starts_with(' '))
                .find_map(|line| line.strip_prefix("  name: "))
                .unwrap_or_default();
            (kind.to_owned(), name.to_owned())
        })
        .collect()
}

/// `(kind, name)` of each patch target in a kustomization (flow style, `name` optional).
fn patch_targets(kustomization: &str) -> Vec<(String, Option<String>)> {
    kustomization
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- target: {"))
        .map(|target| {
            let field = |key: &str| {
                target
                    .trim_end_matches('}')
                    .split(',')
                    .find_map(|pair| pair.trim().strip_prefix(key))
                    .map(|value| value.trim().to_owned())
            };
            (
                field("kind:").expect("a patch target names its kind"),
                field("name:"),
            )
        })
        .collect()
}

#[test]
fn the_compose_files_follow_the_compose_specification() -> anyhow::Result<()> {
    let files = [
        root().join("compose.yaml"),
        root().join("compose.debug.yaml"),
    ];
    let (valid, report) = check_jsonschema("vendor.compose-spec", &files);
    assert!(valid, "{report}");

    let dir = TempDir::new("compose")?;
    let copy = dir.path().join("compose.yaml");
    let text = read(&root().join("compose.yaml"))?;
    std::fs::write(
        &copy,
        broken(
            &text,
            "\nservices:\n",
            "  broken:\n    image: [not, a, string]\n",
        ),
    )?;
    let (valid, report) = check_jsonschema("vendor.compose-spec", &[copy]);
    assert!(!valid && report.contains("services.broken"), "{report}");
    Ok(())
}

#[test]
fn the_github_workflows_follow_the_workflow_schema() -> anyhow::Result<()> {
    let workflows = yaml_files(&root().join(".github/workflows"))?;
    assert!(workflows.len() >= 2, "{workflows:?}");
    let (valid, report) = check_jsonschema("vendor.github-workflows", &workflows);
    assert!(valid, "{report}");

    let dir = TempDir::new("workflow")?;
    let copy = dir.path().join("ci.yml");
    let text = read(&root().join(".github/workflows/ci.yml"))?;
    // A job without `runs-on`.
    std::fs::write(
        &copy,
        broken(&text, "\njobs:\n", "  broken:\n    steps: []\n"),
    )?;
    let (valid, report) = check_jsonschema("vendor.github-workflows", &[copy]);
    assert!(!valid && report.contains("jobs.broken"), "{report}");
    Ok(())
}

#[test]
fn every_kubernetes_manifest_is_valid_in_strict_mode() -> anyhow::Result<()> {
    // The kustomizations are kustomize's input, not objects for the API.
    let manifests: Vec<PathBuf> = yaml_files(&root().join("k8s"))?
        .into_iter()
        .filter(|path| !path.ends_with("kustomization.yaml"))
        .collect();
    assert!(manifests.len() >= 12, "{manifests:?}");
    let (valid, report) = kubernetes_validate(&manifests);
    assert!(valid, "{report}");
    // kubernetes-validate only warns about an object it has no schema for, and passes it.
    assert!(!report.contains("WARN"), "{report}");

    // A misspelled field, which a non-strict check (and a cluster) would drop without a word.
    let dir = TempDir::new("k8s-manifest")?;
    let copy = dir.path().join("edge.yaml");
    let text = read(&root().join("k8s/base/edge.yaml"))?;
    std::fs::write(&copy, broken(&text, "\nspec:\n", "  replica: 2\n"))?;
    let (valid, report) = kubernetes_validate(&[copy]);
    assert!(
        !valid && report.contains("'replica' was unexpected"),
        "{report}"
    );
    Ok(())
}

#[test]
fn both_overlays_render_into_valid_objects_and_every_patch_finds_its_target() -> anyhow::Result<()>
{
    let dir = TempDir::new("k8s-overlays")?;
    let k8s = k8s_copy(&dir)?;
    for (overlay, namespace) in [("dev", "event-analytics-dev"), ("prod", "event-analytics")] {
        let (rendered, output) = render(&k8s.join("overlays").join(overlay));
        assert!(rendered, "{overlay}: {output}");
        let file = dir.path().join(format!("{overlay}.yaml"));
        std::fs::write(&file, &output)?;
        let (valid, report) = kubernetes_validate(&[file]);
        assert!(valid && !report.contains("WARN"), "{overlay}: {report}");

        let objects = objects(&output);
        assert!(objects.len() >= 30, "{overlay}: {objects:?}");
        assert!(
            output.contains(&format!("\n  namespace: {namespace}\n")),
            "{overlay} puts its objects in {namespace}"
        );
        // kustomize drops a patch whose target matches nothing without a word.
        let kustomization = read(
            &k8s.join("overlays")
                .join(overlay)
                .join("kustomization.yaml"),
        )?;
        let targets = patch_targets(&kustomization);
        assert!(!targets.is_empty(), "{overlay} has patches");
        for (kind, name) in targets {
            assert!(
                objects
                    .iter()
                    .any(|(k, n)| *k == kind && name.as_ref().is_none_or(|name| name == n)),
                "{overlay}: no {kind} {name:?} for its patch"
            );
        }
    }

    // Without a file it lists, the dev overlay does not render.
    std::fs::remove_file(k8s.join("overlays/dev/databases.yaml"))?;
    let (rendered, output) = render(&k8s.join("overlays/dev"));
    assert!(!rendered && output.contains("databases.yaml"), "{output}");
    Ok(())
}
