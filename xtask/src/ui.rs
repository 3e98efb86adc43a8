//! Building the web app: the `ui` crate to wasm32, `wasm-bindgen` (the Cargo.lock version), and
//! an `index.html` whose assets carry a content hash in their names, so edge can cache them
//! for a year and a new build is never mixed with an old one. Beside it, in `static/`, the
//! trackers edge serves as they are: posthog-js's browser bundles, from the npm package pinned
//! in `edge/trackers/package-lock.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use crate::command::{Profile, cargo, run};

const TARGET: &str = "wasm32-unknown-unknown";

/// Build the web app into ui/dist
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A debug build (faster to make, slower to run)
    #[arg(long)]
    debug: bool,
}

impl Args {
    pub(crate) fn run(&self) -> anyhow::Result<()> {
        build(Profile::debug_if(self.debug)).map(|_| ())
    }
}

/// Builds the app into `ui/dist` and returns that folder.
pub(crate) fn build(profile: Profile) -> anyhow::Result<PathBuf> {
    let root = devstack::workspace_root();
    let tools = devstack::install::ensure(&[devstack::install::Need::Wasm])?;
    let wasm_bindgen = tools.wasm_bindgen.context("wasm-bindgen not found")?;

    eprintln!("building the web app ({})", profile.dir());
    let mut build = Command::new(cargo());
    build.current_dir(&root).args([
        "build",
        "--package",
        "ui",
        "--bin",
        "ui",
        "--target",
        TARGET,
    ]);
    build.args(profile.cargo_flag());
    run(&mut build)?;

    let wasm = root
        .join("target")
        .join(TARGET)
        .join(profile.dir())
        .join("ui.wasm");
    let hash =
        short_hash(&std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?);
    let staging = root.join("target/ui-staging");
    let _ = std::fs::remove_dir_all(&staging);
    let assets = staging.join("assets");
    std::fs::create_dir_all(&assets)?;

    let module_name = format!("ui-{hash}");
    run(Command::new(wasm_bindgen)
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            &module_name,
            "--out-dir",
        ])
        .arg(&assets)
        .arg(&wasm))?;

    let module = format!("{module_name}.js");
    let boot_source = format!("import init from './{module}';\ninit();\n");
    let boot = hashed_file(&assets, "boot", "js", boot_source.as_bytes())?;
    let style = hashed_file(&assets, "style", "css", &stylesheet(&root)?)?;
    let html = std::fs::read_to_string(root.join("ui/index.html"))?
        .replace("{{module}}", &module)
        .replace("{{boot}}", &boot)
        .replace("{{style}}", &style);
    std::fs::write(staging.join("index.html"), html)?;
    precompress(&assets)?;
    trackers(&root, &staging.join("static"))?;

    // Swap the finished build in whole, so a running edge never serves half of one.
    let dist = root.join("ui/dist");
    let old = root.join("target/ui-previous");
    let _ = std::fs::remove_dir_all(&old);
    if dist.exists() {
        std::fs::rename(&dist, &old)?;
    }
    std::fs::rename(&staging, &dist)?;
    let _ = std::fs::remove_dir_all(&old);
    eprintln!("web app built into {}", dist.display());
    Ok(dist)
}

/// posthog-js's browser bundles (`array.js` and the ones it loads later, every `dist/*.js` but
/// the npm entry points `main.js` and `module*.js`) copied into `static` with their gzip copies
/// and a `posthog-js.version` file naming their version; `npm ci` in `edge/trackers` first when
/// its `node_modules` does not hold the locked version (node and npm installed when missing).
fn trackers(root: &Path, static_dir: &Path) -> anyhow::Result<()> {
    let package = root.join("edge/trackers");
    let version_of = |lock: &Path| -> Option<String> {
        let text = std::fs::read(lock).ok()?;
        let lock: serde_json::Value = serde_json::from_slice(&text).ok()?;
        lock["packages"]["node_modules/posthog-js"]["version"]
            .as_str()
            .map(str::to_owned)
    };
    let locked = version_of(&package.join("package-lock.json"))
        .context("edge/trackers/package-lock.json names no posthog-js")?;
    if version_of(&package.join("node_modules/.package-lock.json")).as_ref() != Some(&locked) {
        let npm_runs = Command::new("npm")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !npm_runs {
            // Node and npm, with apt-get (and the SDK clients the tests use).
            devstack::install::ensure(&[devstack::install::Need::SdkClients])?;
        }
        eprintln!("installing the trackers (npm ci in {})", package.display());
        run(Command::new("npm").current_dir(&package).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]))
        .context("npm is needed to fetch posthog-js for edge")?;
    }
    std::fs::create_dir_all(static_dir)?;
    let dist = package.join("node_modules/posthog-js/dist");
    for entry in std::fs::read_dir(&dist)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let entry_point = name == "main.js" || name.starts_with("module");
        if name.ends_with(".js") && !entry_point {
            std::fs::copy(&path, static_dir.join(name))
                .with_context(|| format!("copying posthog-js's {name}"))?;
        }
    }
    anyhow::ensure!(
        static_dir.join("array.js").is_file(),
        "posthog-js {locked} has no dist/array.js"
    );
    std::fs::write(static_dir.join("posthog-js.version"), &locked)?;
    precompress(static_dir)
}

/// Writes `<name>.gz` next to every asset, at the best compression, for edge to send to browsers
/// that accept gzip (all do): the WebAssembly shrinks to a quarter.
fn precompress(assets: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    for entry in std::fs::read_dir(assets)? {
        let path = entry?.path();
        let compressible = path
            .extension()
            .is_some_and(|ext| ext == "wasm" || ext == "js" || ext == "css");
        if !compressible {
            continue;
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&std::fs::read(&path)?)?;
        let mut name = path.clone().into_os_string();
        name.push(".gz");
        std::fs::write(name, encoder.finish()?)?;
    }
    Ok(())
}

/// The app's one stylesheet: `ui/style.css` (the base), then each section's `ui/styles/*.css`
/// in name order.
fn stylesheet(root: &Path) -> anyhow::Result<Vec<u8>> {
    let mut css = std::fs::read(root.join("ui/style.css"))?;
    let mut parts = std::fs::read_dir(root.join("ui/styles"))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()?;
    parts.retain(|path| path.extension().is_some_and(|ext| ext == "css"));
    parts.sort();
    for part in parts {
        css.push(b'\n');
        css.extend(std::fs::read(part)?);
    }
    Ok(css)
}

/// Writes `<stem>-<hash>.<ext>` into `dir` and returns its name.
fn hashed_file(dir: &Path, stem: &str, ext: &str, content: &[u8]) -> anyhow::Result<String> {
    let name = format!("{stem}-{}.{ext}", short_hash(content));
    std::fs::write(dir.join(&name), content)?;
    Ok(name)
}

fn short_hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
