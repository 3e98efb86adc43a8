//! Places, acquisition and sessions against the real stack through edge, in headless Chromium:
//! visits from known addresses (PostHog's `$ip`, located by the GeoIP database the test stack
//! installs) and campaign links sent through PostHog's route; the world map and the tables of
//! countries, channels, campaigns and entry pages must show what the API counts, and a click on
//! a country or a row narrows the page to it.

use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use serde_json::{Value, json};

use crate::browser::{
    WAIT, eval, screenshot, sign_in, texts, wait_for_path, wait_for_sign_in_form, wait_for_texts,
};

/// The week the visits fall in, in the project's zone (UTC).
pub const FROM: &str = "2026-11-02";
pub const TO: &str = "2026-11-08";

const CAMPAIGN: &str =
    "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring";

/// Who came from where: distinct id, client address, landing page, referrer. Each visitor
/// lands and then opens the pricing page, in one session.
const VISITS: [(&str, &str, &str, &str); 6] = [
    ("us-1", "8.8.8.8", CAMPAIGN, ""),
    ("us-2", "8.8.4.4", CAMPAIGN, ""),
    ("us-3", "8.8.8.8", "https://shop.example/help", ""),
    (
        "de-1",
        "85.214.132.117",
        "https://shop.example/",
        "https://www.google.com/",
    ),
    (
        "de-2",
        "193.99.144.80",
        "https://shop.example/",
        "https://www.google.com/",
    ),
    (
        "jp-1",
        "133.242.0.3",
        "https://shop.example/help?utm_source=twitter&utm_medium=social&utm_campaign=launch",
        "",
    ),
];

/// The query API through edge, as the admin, and the project the test's events go to.
pub struct Api {
    pub runtime: tokio::runtime::Runtime,
    pub http: reqwest::Client,
    pub edge: ServiceHandle,
    pub token: String,
    pub project: String,
    pub write_key: String,
}

impl Api {
    /// Signs in as the admin and creates a project of the test's own.
    pub fn start(edge: ServiceHandle, name: &str) -> anyhow::Result<Self> {
        let token = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let http = reqwest::Client::new();
        let (project, write_key) =
            runtime.block_on(crate::helpers::create_project(&http, &edge, &token, name))?;
        Ok(Self {
            runtime,
            http,
            edge,
            token,
            project,
            write_key,
        })
    }

    /// `method path` as the admin: the status and the body.
    pub fn call(&self, method: reqwest::Method, path: &str) -> anyhow::Result<(u16, Value)> {
        self.runtime.block_on(crate::helpers::call(
            &self.http,
            method,
            self.edge.url(path),
            Some(&self.token),
            None,
        ))
    }

    /// `GET path` of the query API with the project and the week: the answer of a 2xx.
    pub fn query(&self, path: &str, more: &str) -> anyhow::Result<Value> {
        let scope = format!("project_id={}&from={FROM}&to={TO}", self.project);
        let (status, answer) = self.call(reqwest::Method::GET, &format!("{path}?{scope}{more}"))?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "{path} answered {status}: {answer}"
        );
        Ok(answer)
    }

    /// Sends `batch` to PostHog's batch route with the project's write key.
    pub fn send(&self, batch: &[Value]) -> anyhow::Result<()> {
        let body = json!({ "api_key": self.write_key, "batch": batch });
        self.runtime.block_on(async {
            let sent = self
                .http
                .post(self.edge.url("/batch/"))
                .body(body.to_string())
                .send()
                .await?;
            anyhow::ensure!(sent.status() == 200, "the batch answered {}", sent.status());
            anyhow::Ok(())
        })
    }

    /// The values of `GET /api/query/top?dimension=` and their users, most first.
    pub fn top(&self, dimension: &str) -> anyhow::Result<Vec<(String, u64)>> {
        self.top_with(dimension, "")
    }

    /// [`Api::top`] with `more` parameters (`&include_bots=true`).
    pub fn top_with(&self, dimension: &str, more: &str) -> anyhow::Result<Vec<(String, u64)>> {
        let answer = self.query(
            "/api/query/top",
            &format!("&dimension={dimension}&limit=50{more}"),
        )?;
        Ok(answer["values"]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .map(|v| {
                        let value = v["value"].as_str().unwrap_or_default().to_owned();
                        (value, v["users"].as_u64().unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// A browser signed in as the admin, on the analytics page of the project's week at `tab`.
pub fn analytics_at(dir: &TempDir, api: &Api, tab: &str) -> anyhow::Result<Browser> {
    let browser = Browser::start(dir.path())?;
    browser.set_window_size(1280, 900)?;
    browser.goto(&api.edge.url("/analytics"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, ADMIN, PASSWORD)?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    wait_for_path(&browser, "/analytics")?;
    let page = format!(
        "/analytics?tab={tab}&project={}&from={FROM}&to={TO}",
        api.project
    );
    browser.goto(&api.edge.url(&page))?;
    browser.wait_for_text(&format!("#tab-{tab}[aria-selected=true]"), "", WAIT)?;
    Ok(browser)
}

/// A crawler's visit from France, which ingest flags as a bot's.
fn crawl() -> Value {
    json!({ "event": "$pageview", "distinct_id": "crawler-1", "timestamp": "2026-11-03T11:00:00Z",
        "properties": { "$ip": "212.27.48.10", "$current_url": "https://shop.example/",
            "$raw_user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" } })
}

fn visits() -> Vec<Value> {
    let mut batch = Vec::new();
    for (i, (who, ip, landing, referrer)) in VISITS.iter().enumerate() {
        let minute = 10 * i;
        let common = json!({ "$ip": ip, "$session_id": format!("s-{who}") });
        let mut first = common.clone();
        first["$current_url"] = json!(landing);
        if !referrer.is_empty() {
            first["$referrer"] = json!(referrer);
        }
        let mut second = common;
        second["$current_url"] = json!("https://shop.example/pricing");
        second["$referrer"] = json!(landing);
        batch.push(json!({ "event": "$pageview", "distinct_id": who,
            "timestamp": format!("2026-11-03T10:{minute:02}:00Z"), "properties": first }));
        batch.push(json!({ "event": "$pageview", "distinct_id": who,
            "timestamp": format!("2026-11-03T10:{:02}:30Z", minute + 2), "properties": second }));
    }
    batch
}

/// The values of the rows of the top table of `dimension`.
fn rows(browser: &Browser, dimension: &str) -> Vec<String> {
    let found = eval(
        browser,
        &format!(
            "Array.from(document.querySelectorAll('#top-{dimension} tr[data-value]')).map(r => r.dataset.value)"
        ),
    );
    found
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for_rows(browser: &Browser, dimension: &str, expected: &[String]) -> anyhow::Result<()> {
    let mut last = Vec::new();
    devstack::wait::until(
        &format!("the {dimension} table to list {expected:?}"),
        WAIT,
        || {
            last = rows(browser, dimension);
            last == expected
        },
    )
    .map_err(|err| err.context(format!("it listed {last:?}")))
}

/// The countries the map shades, with the visitors each says it has.
fn shaded(browser: &Browser) -> Vec<(String, u64)> {
    let found = eval(
        browser,
        "Array.from(document.querySelectorAll('#world-map path.visited'))
            .map(p => [p.dataset.country, Number(p.dataset.users)])",
    );
    let mut shaded: Vec<(String, u64)> = found
        .as_array()
        .map(|all| {
            all.iter()
                .map(|pair| {
                    let code = pair[0].as_str().unwrap_or_default().to_owned();
                    (code, pair[1].as_u64().unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    shaded.sort();
    shaded.dedup();
    shaded
}

#[test]
fn the_map_and_the_tables_show_where_visitors_came_from_and_a_click_filters_the_page()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let api = Api::start(edge, "Places")?;
    let mut sent = visits();
    sent.push(crawl());
    api.send(&sent)?;
    let mut countries = Vec::new();
    devstack::wait::until("every visitor located", Duration::from_secs(60), || {
        countries = api.top("country").unwrap_or_default();
        countries.iter().map(|(_, users)| users).sum::<u64>() == 6
    })
    .map_err(|err| {
        err.context(format!(
            "the countries: {countries:?} (is the GeoIP database installed?)"
        ))
    })?;
    assert_eq!(
        countries.first().map(|(c, u)| (c.as_str(), *u)),
        Some(("US", 3))
    );

    let dir = TempDir::new("chromium")?;
    let browser = analytics_at(&dir, &api, "places")?;

    // 1. The map shades exactly the countries the API counts, with their visitors; the table
    //    lists them in the API's order, by name.
    let mut expected: Vec<(String, u64)> = countries.clone();
    expected.sort();
    let mut last = Vec::new();
    devstack::wait::until("the map shaded", WAIT, || {
        last = shaded(&browser);
        last == expected
    })
    .map_err(|err| err.context(format!("the map shades {last:?}, not {expected:?}")))?;
    let order: Vec<String> = countries.iter().map(|(c, _)| c.clone()).collect();
    wait_for_rows(&browser, "country", &order)?;
    let us = browser.text("#top-country tr[data-value='US'] .value-button")?;
    assert_eq!(us.as_deref(), Some("United States (US)"));
    let shapes = eval(
        &browser,
        "document.querySelectorAll('#world-map path.country').length",
    );
    assert!(
        shapes.as_u64().unwrap_or_default() > 170,
        "every country drawn: {shapes}"
    );
    browser.click("#places-tab-city")?;
    let cities: Vec<String> = api.top("city")?.into_iter().map(|(c, _)| c).collect();
    wait_for_rows(&browser, "city", &cities)?;
    browser.click("#places-tab-country")?;
    wait_for_rows(&browser, "country", &order)?;
    let mut shots = vec![
        screenshot(&browser, "places", 1280)?,
        crate::ui_persons::narrow_screenshot(&browser, "places", "#world-map")?,
    ];
    browser.set_window_size(1280, 900)?;
    browser.execute("document.querySelector('#places').scrollIntoView()")?;
    shots.push(screenshot(&browser, "places-table", 1280)?);
    browser.set_window_size(1280, 900)?;
    // The table's "Download CSV" saves what it shows: a row per country with its events and
    // users, as the API counts them.
    browser.click("#places .csv-button")?;
    let csv = browser.downloaded("Locations.csv", WAIT)?;
    let answer = api.query("/api/query/top", "&dimension=country&limit=50")?;
    let mut rows = vec!["value,count,users".to_owned()];
    for value in answer["values"].as_array().into_iter().flatten() {
        rows.push(format!(
            "{},{},{}",
            value["value"].as_str().unwrap_or_default(),
            value["count"],
            value["users"]
        ));
    }
    assert_eq!(csv.lines().collect::<Vec<_>>(), rows, "{csv}");

    // 2. A click on Germany narrows the page to it: the filter shows, the map shades Germany
    //    alone, the table lists it alone, and the address keeps the filter.
    browser.click("#world-map path.visited[data-country='DE']")?;
    browser.wait_for_text("#active-filters", "country = DE", WAIT)?;
    devstack::wait::until("the map narrowed to Germany", WAIT, || {
        shaded(&browser) == [("DE".to_owned(), 2)]
    })?;
    wait_for_rows(&browser, "country", &["DE".to_owned()])?;
    let search = eval(&browser, "location.search");
    let search = search.as_str().unwrap_or_default();
    assert!(
        search.contains("filters=") && search.contains("country"),
        "{search}"
    );
    browser.refresh()?;
    browser.wait_for_text("#active-filters", "country = DE", WAIT)?;
    wait_for_rows(&browser, "country", &["DE".to_owned()])?;
    browser.click("#active-filters li[data-key='country'] button")?;
    wait_for_rows(&browser, "country", &order)?;

    // 3. Bots are left out until asked for: the crawler's France then shows on the map.
    let mut with_bots = api.top_with("country", "&include_bots=true")?;
    assert!(with_bots.iter().any(|(c, _)| c == "FR"), "{with_bots:?}");
    assert!(!shaded(&browser).iter().any(|(c, _)| c == "FR"));
    browser.click("#include-bots")?;
    with_bots.sort();
    devstack::wait::until("the crawler's country shaded", WAIT, || {
        shaded(&browser) == with_bots
    })?;
    let search = eval(&browser, "location.search");
    assert!(
        search.as_str().unwrap_or_default().contains("bots=1"),
        "{search}"
    );
    browser.click("#include-bots")?;
    devstack::wait::until("bots left out again", WAIT, || shaded(&browser) == expected)?;

    // 4. Acquisition: channels as the API groups them; a campaign row filters the page.
    browser.click("#tab-acquisition")?;
    let channels: Vec<String> = api.top("channel")?.into_iter().map(|(c, _)| c).collect();
    assert!(channels.contains(&"Email".to_owned()), "{channels:?}");
    wait_for_rows(&browser, "channel", &channels)?;
    browser.click("#campaigns-tab-utm_campaign")?;
    let campaigns: Vec<String> = api
        .top("utm_campaign")?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert!(campaigns.contains(&"spring".to_owned()), "{campaigns:?}");
    wait_for_rows(&browser, "utm_campaign", &campaigns)?;
    let acquisition_shots = [
        screenshot(&browser, "acquisition", 1280)?,
        crate::ui_persons::narrow_screenshot(&browser, "acquisition", ".acquisition")?,
    ];
    browser.set_window_size(1280, 900)?;
    browser.click("#top-utm_campaign tr[data-value='spring'] button")?;
    browser.wait_for_text("#active-filters", "utm_campaign = spring", WAIT)?;
    wait_for_rows(&browser, "channel", &["Email".to_owned()])?;
    browser.click("#active-filters li[data-key='utm_campaign'] button")?;

    // 5. Sessions: the overview's visit figures and entry pages are the API's.
    browser.click("#tab-overview")?;
    let overview = api.query("/api/query/overview", "")?;
    let figure = |name: &str| overview["figures"][name]["value"].as_f64();
    assert_eq!(figure("sessions"), Some(6.0), "{overview}");
    assert_eq!(figure("pages_per_session"), Some(2.0), "{overview}");
    browser.wait_for_text("[data-figure=sessions] .figure-value", "6", WAIT)?;
    browser.wait_for_text("[data-figure=pages_per_session] .figure-value", "2", WAIT)?;
    assert_eq!(figure("avg_session_seconds"), Some(150.0), "{overview}");
    browser.wait_for_text(
        "[data-figure=avg_session_seconds] .figure-value",
        "2m 30s",
        WAIT,
    )?;
    let entries: Vec<String> = api.top("entry_page")?.into_iter().map(|(p, _)| p).collect();
    assert_eq!(entries.len(), 2, "/ and /help: {entries:?}");
    wait_for_rows(&browser, "entry_page", &entries)?;
    wait_for_texts(
        &browser,
        "#top-exit_page tr[data-value] .value-button",
        &["/pricing"],
    )?;
    let overview_shots = [screenshot(&browser, "sessions", 1280)?];

    for shot in shots
        .iter()
        .chain(&acquisition_shots)
        .chain(&overview_shots)
    {
        eprintln!("screenshot: {}", shot.display());
    }
    assert!(texts(&browser, "#figures .figure-name")?.contains(&"Visits".to_owned()));
    Ok(())
}
