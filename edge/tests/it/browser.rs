//! Driving the web app in headless Chromium: where it is, what it called, screenshots.

use std::path::PathBuf;
use std::time::Duration;

use devstack::browser::Browser;
use devstack::test::artifacts_dir;

/// How long the app may take to show what a step expects.
pub const WAIT: Duration = Duration::from_secs(30);

/// The path the address bar shows.
pub fn path(browser: &Browser) -> anyhow::Result<String> {
    Ok(browser
        .execute("return location.pathname")?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

pub fn wait_for_path(browser: &Browser, expected: &str) -> anyhow::Result<()> {
    let mut last = String::new();
    devstack::wait::until(&format!("the app at {expected}"), WAIT, || {
        last = path(browser).unwrap_or_default();
        last == expected
    })
    .map_err(|err| err.context(format!("the app is at {last}")))
}

/// Waits for the sign-in form, with the app on `/login`.
pub fn wait_for_sign_in_form(browser: &Browser) -> anyhow::Result<()> {
    browser.wait_for_text("#login-submit", "Sign in", WAIT)?;
    wait_for_path(browser, "/login")
}

/// Calls of the page to `path` so far, with the status each got.
pub fn calls_to(browser: &Browser, path: &str) -> anyhow::Result<Vec<u64>> {
    let statuses = browser.execute(&format!(
        "return performance.getEntriesByType('resource')
             .filter(e => new URL(e.name).pathname === '{path}')
             .map(e => e.responseStatus)"
    ))?;
    Ok(statuses
        .as_array()
        .map(|all| all.iter().filter_map(|s| s.as_u64()).collect())
        .unwrap_or_default())
}

/// Waits until the page's calls to `path` got exactly the statuses `expected`.
pub fn wait_for_calls(browser: &Browser, path: &str, expected: &[u64]) -> anyhow::Result<()> {
    let mut last = Vec::new();
    devstack::wait::until(
        &format!("calls to {path} answered {expected:?}"),
        WAIT,
        || {
            last = calls_to(browser, path).unwrap_or_default();
            last == expected
        },
    )
    .map_err(|err| err.context(format!("they answered {last:?}")))
}

/// A screenshot of the page at `width` px, saved as `ui-<name>-<width>.png`; checks that it is
/// a PNG of that width with more in it than a blank page.
pub fn screenshot(browser: &Browser, name: &str, width: u32) -> anyhow::Result<PathBuf> {
    browser.set_window_size(width, 900)?;
    devstack::wait::until(&format!("the page laid out at {width} px"), WAIT, || {
        browser
            .execute("return window.innerWidth")
            .is_ok_and(|w| w.as_u64() == Some(u64::from(width)))
    })?;
    let shot = browser.screenshot(&artifacts_dir().join(format!("ui-{name}-{width}.png")))?;
    let png = std::fs::read(&shot)?;
    assert!(
        png.len() > 8_000,
        "{} is {} bytes: a blank page?",
        shot.display(),
        png.len()
    );
    assert_eq!(&png[1..4], b"PNG", "{}", shot.display());
    // The IHDR chunk opens with the width, big-endian.
    let png_width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    assert_eq!(png_width, width, "{}", shot.display());
    Ok(shot)
}

pub fn sign_in(browser: &Browser, email: &str, password: &str) -> anyhow::Result<()> {
    browser.type_into("#login-email", email)?;
    browser.type_into("#login-password", password)?;
    browser.click("#login-submit")
}

/// The texts of every element matching `css`.
pub fn texts(browser: &Browser, css: &str) -> anyhow::Result<Vec<String>> {
    let found = browser.execute(&format!(
        "return Array.from(document.querySelectorAll({css:?})).map(e => e.textContent.trim())"
    ))?;
    Ok(found
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Waits until the elements matching `css` hold exactly `expected`, in order.
pub fn wait_for_texts(browser: &Browser, css: &str, expected: &[&str]) -> anyhow::Result<()> {
    let mut last = Vec::new();
    devstack::wait::until(&format!("{css} to show {expected:?}"), WAIT, || {
        last = texts(browser, css).unwrap_or_default();
        last == expected
    })
    .map_err(|err| err.context(format!("{css} showed {last:?}")))
}

/// Whether `css` matches anything on the page.
pub fn exists(browser: &Browser, css: &str) -> bool {
    let css = serde_json::to_string(css).unwrap_or_default();
    browser
        .execute(&format!("return document.querySelector({css}) !== null"))
        .is_ok_and(|found| found == true)
}

pub fn wait_for(browser: &Browser, css: &str) -> anyhow::Result<()> {
    devstack::wait::until(&format!("{css} on the page"), WAIT, || exists(browser, css))
}

pub fn wait_for_none(browser: &Browser, css: &str) -> anyhow::Result<()> {
    devstack::wait::until(&format!("no {css} on the page"), WAIT, || {
        !exists(browser, css)
    })
}

/// A JavaScript expression's value, evaluated in the page.
pub fn eval(browser: &Browser, expression: &str) -> serde_json::Value {
    browser
        .execute(&format!("return {expression}"))
        .unwrap_or(serde_json::Value::Null)
}
