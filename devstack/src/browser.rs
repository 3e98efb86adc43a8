//! Headless Chromium driven over WebDriver (chromedriver), for browser tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::process::{Options, Process};
use crate::{http, install, ports, wait};

/// The user agent the test browser sends: desktop Chrome on Linux, as a visitor's would be.
pub const PERSON_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36";

/// A browser session: chromedriver plus one headless Chromium.
#[derive(Debug)]
pub struct Browser {
    session: String,
    port: u16,
    /// Where the files the page downloads are saved.
    downloads: PathBuf,
    // Dropped last: the session is deleted first (closing Chromium), then chromedriver stops.
    _driver: Process,
}

/// Has the Chromium of `capabilities` resolve each host of `hosts` to its address.
fn resolve_hosts(capabilities: &mut Value, hosts: &[(&str, &str)]) {
    if hosts.is_empty() {
        return;
    }
    let rules = hosts
        .iter()
        .map(|(host, address)| format!("MAP {host} {address}"))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(args) =
        capabilities["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["args"].as_array_mut()
    {
        args.push(json!(format!("--host-resolver-rules={rules}")));
    }
}

/// Starts `chromedriver` on a free port, logging under `dir`, and waits until it listens.
fn spawn_driver(dir: &Path, chromedriver: PathBuf) -> anyhow::Result<(Process, u16)> {
    let port = ports::free_port()?;
    let mut command = Command::new(chromedriver);
    command.arg(format!("--port={port}"));
    let driver = Process::spawn(
        "chromedriver",
        command,
        &dir.join("chromedriver.log"),
        Options {
            stop_timeout: Duration::from_secs(5),
            ..Options::default()
        },
    )?;
    wait::until("chromedriver to listen", Duration::from_secs(20), || {
        http::get(port, "/status", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    })?;
    Ok((driver, port))
}

/// WebDriver's identifier key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile under `dir`.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        Self::start_resolving(dir, &[])
    }

    /// [`Browser::start`], with Chromium resolving each made-up host name of `hosts` to its
    /// address (`("shop.example", "127.0.0.2")`), so a page can be on a site of its own.
    pub fn start_resolving(dir: &Path, hosts: &[(&str, &str)]) -> anyhow::Result<Self> {
        let tools = install::locate();
        let chromium = tools
            .chromium
            .context("chromium not found; `cargo xtask test` installs it")?;
        let chromedriver = tools
            .chromedriver
            .context("chromedriver not found; `cargo xtask test` installs it")?;
        std::fs::create_dir_all(dir)?;
        let (driver, port) = spawn_driver(dir, chromedriver)?;
        let profile = dir.join("profile");
        let downloads = dir.join("downloads");
        std::fs::create_dir_all(&downloads)?;
        let mut capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--window-size=1280,900",
                            // No `navigator.webdriver`: trackers such as posthog-js drop
                            // what an automated browser sends, and a person's would not say so.
                            "--disable-blink-features=AutomationControlled",
                            // A person's desktop Chrome: headless Chromium names itself
                            // `HeadlessChrome`, which ingest counts as a bot and every analysis
                            // leaves out, as it would leave out a crawler's.
                            format!("--user-agent={PERSON_USER_AGENT}"),
                            format!("--user-data-dir={}", profile.display()),
                        ],
                        "prefs": {
                            "download.default_directory": downloads,
                            "download.prompt_for_download": false,
                        }
                    }
                }
            }
        });
        resolve_hosts(&mut capabilities, hosts);
        let answer = call(port, "POST", "/session", Some(&capabilities))?;
        let session = answer["sessionId"]
            .as_str()
            .context("chromedriver gave no session id")?
            .to_owned();
        let browser = Self {
            session,
            port,
            downloads,
            _driver: driver,
        };
        // A headless window never has the system's focus, and recent Chromium then fires no
        // focus event when a script or a key moves focus: the page behaves as the one in the
        // foreground of a person's screen, whose keyboard focus shows tooltips and outlines.
        browser.command(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({ "cmd": "Emulation.setFocusEmulationEnabled", "params": { "enabled": true } })),
        )?;
        Ok(browser)
    }

    /// The file `name` the page downloaded, once it is whole (Chromium writes a `.crdownload`
    /// first and renames it when done): its text.
    pub fn downloaded(&self, name: &str, timeout: Duration) -> anyhow::Result<String> {
        let path = self.downloads.join(name);
        wait::until(&format!("the download {name}"), timeout, || path.is_file())?;
        Ok(std::fs::read_to_string(path)?)
    }

    /// Opens `url` and waits for the document to load.
    pub fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.command("POST", "/url", Some(&json!({ "url": url })))?;
        Ok(())
    }

    /// Goes back one entry in the tab's history, as the browser's back button does.
    pub fn back(&self) -> anyhow::Result<()> {
        self.command("POST", "/back", Some(&json!({})))?;
        Ok(())
    }

    /// Goes forward one entry in the tab's history, as the browser's forward button does.
    pub fn forward(&self) -> anyhow::Result<()> {
        self.command("POST", "/forward", Some(&json!({})))?;
        Ok(())
    }

    /// Reloads the page and waits for it to load again.
    pub fn refresh(&self) -> anyhow::Result<()> {
        self.command("POST", "/refresh", Some(&json!({})))?;
        Ok(())
    }

    /// Resizes the window, so a page can be seen at a phone's width as well as a desktop's.
    pub fn set_window_size(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.command(
            "POST",
            "/window/rect",
            Some(&json!({ "width": width, "height": height })),
        )?;
        Ok(())
    }

    /// Delays every request the page makes by `latency` (zero: none), so a test sees what the
    /// page shows while an answer is on its way.
    pub fn set_latency(&self, latency: Duration) -> anyhow::Result<()> {
        let conditions = json!({
            "offline": false,
            "latency": latency.as_millis(),
            "download_throughput": -1,
            "upload_throughput": -1,
        });
        self.command(
            "POST",
            "/chromium/network_conditions",
            Some(&json!({ "network_conditions": conditions })),
        )?;
        Ok(())
    }

    /// Text of the first element matching `css`, if there is one.
    pub fn text(&self, css: &str) -> anyhow::Result<Option<String>> {
        let Some(element) = self.find(css)? else {
            return Ok(None);
        };
        let text = self.command("GET", &format!("/element/{element}/text"), None)?;
        Ok(text.as_str().map(str::to_owned))
    }

    /// Clicks the first element matching `css`, as a person would. An element the page drew
    /// again between finding and clicking it (a chart redrawn when more of its data arrives) is
    /// found again, a few times, as a person's next click would land on the new one.
    pub fn click(&self, css: &str) -> anyhow::Result<()> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let element = self
                .find(css)?
                .with_context(|| format!("no {css:?} to click"))?;
            match self.command(
                "POST",
                &format!("/element/{element}/click"),
                Some(&json!({})),
            ) {
                Ok(_) => return Ok(()),
                Err(err) if attempts < 5 && format!("{err:#}").contains("stale element") => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Types `text` into the first element matching `css`, key by key after what it holds;
    /// [`Browser::ENTER`] presses Enter.
    pub fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let element = self
            .find(css)?
            .with_context(|| format!("no {css:?} to type into"))?;
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(&json!({ "text": text })),
        )?;
        Ok(())
    }

    /// The Enter key, for [`Browser::type_into`].
    pub const ENTER: &'static str = "\u{E007}";

    /// The WebDriver reference of the first element matching `css`.
    fn find(&self, css: &str) -> anyhow::Result<Option<String>> {
        let found = self.command(
            "POST",
            "/elements",
            Some(&json!({ "using": "css selector", "value": css })),
        )?;
        Ok(found
            .as_array()
            .and_then(|all| all.first())
            .and_then(|e| e[ELEMENT_KEY].as_str())
            .map(str::to_owned))
    }

    /// Waits until the first element matching `css` shows `expected`; returns its text.
    pub fn wait_for_text(
        &self,
        css: &str,
        expected: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let mut last = Ok(None);
        wait::until(&format!("{css:?} to show {expected:?}"), timeout, || {
            last = self.text(css);
            last.as_ref()
                .is_ok_and(|text| text.as_deref().is_some_and(|t| t.contains(expected)))
        })
        .with_context(|| format!("last look at {css:?}: {last:?}"))?;
        Ok(last.ok().flatten().unwrap_or_default())
    }

    /// Runs `script` in the page and returns its value.
    pub fn execute(&self, script: &str) -> anyhow::Result<Value> {
        self.command(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": [] })),
        )
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let encoded = self.command("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().context("screenshot is not a string")?)
            .context("screenshot is not base64")?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, png)?;
        Ok(path.to_owned())
    }

    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        call(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = call(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

/// One WebDriver call; returns the `value` of the answer.
fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let response = http::request(
        port,
        method,
        path,
        Some("application/json"),
        payload.as_bytes(),
        Duration::from_secs(60),
    )?;
    let answer: Value = serde_json::from_str(&response.body)
        .with_context(|| format!("webdriver {method} {path} answered {}", response.status))?;
    anyhow::ensure!(
        response.status == 200,
        "webdriver {method} {path} failed ({}): {}",
        response.status,
        answer["value"]["message"]
    );
    Ok(answer["value"].clone())
}
