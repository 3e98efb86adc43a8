//! The analytics section against the real stack through edge, in headless Chromium: known
//! events sent through an SDK route, then the overview, the trends chart, the explorer, a funnel
//! and a retention grid must show exactly what was sent, and the address must keep the view.

use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::TempDir;
use serde_json::{Value, json};

use crate::browser::{
    WAIT, screenshot, sign_in, texts, wait_for_path, wait_for_sign_in_form, wait_for_texts,
};

/// The week the events fall in (a Monday to a Sunday), in the project's zone (UTC).
const FROM: &str = "2026-11-02";
const TO: &str = "2026-11-08";

/// Who did what when: three users sign up on Monday; two look at an item that day and the
/// next; one buys on Monday and looks again on Wednesday.
const EVENTS: [(&str, &str, &str); 9] = [
    ("u1", "signup", "2026-11-02T10:00:00Z"),
    ("u1", "view_item", "2026-11-02T10:05:00Z"),
    ("u1", "purchase", "2026-11-02T10:10:00Z"),
    ("u2", "signup", "2026-11-02T11:00:00Z"),
    ("u2", "view_item", "2026-11-02T11:05:00Z"),
    ("u3", "signup", "2026-11-02T12:00:00Z"),
    ("u1", "view_item", "2026-11-03T09:00:00Z"),
    ("u2", "view_item", "2026-11-03T09:30:00Z"),
    ("u1", "view_item", "2026-11-04T15:00:00Z"),
];

/// The query API through edge, as the admin.
struct Api {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        self.runtime.block_on(async {
            let url = format!("{}{path}", self.base);
            let (status, answer) =
                crate::helpers::call(&self.http, method, url, Some(&self.token), body.as_ref())
                    .await?;
            anyhow::ensure!(
                (200..300).contains(&status),
                "{path} answered {status}: {answer}"
            );
            Ok(answer)
        })
    }
}

#[test]
fn the_analytics_section_shows_exactly_the_events_sent_and_its_address_keeps_the_view()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let token = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
    let api = Api {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        http: reqwest::Client::new(),
        base: edge.url(""),
        token,
    };

    // A project of its own (nothing else writes to it), and its events through PostHog's route.
    let project = api.call(
        reqwest::Method::POST,
        "/api/admin/projects",
        Some(json!({ "name": "Shop", "timezone": "UTC" })),
    )?;
    let project_id = project["id"].as_str().unwrap_or_default().to_owned();
    let key = project["write_key"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(!project_id.is_empty() && !key.is_empty(), "{project}");
    let batch: Vec<Value> = EVENTS
        .iter()
        .map(|(who, event, at)| json!({ "event": event, "distinct_id": who, "timestamp": at }))
        .collect();
    api.runtime.block_on(async {
        let sent = api
            .http
            .post(edge.url("/batch/"))
            .body(json!({ "api_key": key, "batch": batch }).to_string())
            .send()
            .await?;
        anyhow::ensure!(sent.status() == 200, "the batch answered {}", sent.status());
        anyhow::Ok(())
    })?;
    let scope = format!("project_id={project_id}&from={FROM}&to={TO}");
    let mut last = Value::Null;
    devstack::wait::until(
        "the events counted by query",
        Duration::from_secs(30),
        || {
            last = api
                .call(
                    reqwest::Method::GET,
                    &format!("/api/query/overview?{scope}"),
                    None,
                )
                .unwrap_or_default();
            last["figures"]["events"]["value"].as_f64() == Some(9.0)
        },
    )
    .map_err(|err| err.context(format!("last overview: {last}")))?;

    // Signed in, the analytics page on the project and the week.
    let dir = TempDir::new("chromium")?;
    let browser = Browser::start(dir.path())?;
    browser.set_window_size(1280, 900)?;
    browser.goto(&edge.url("/analytics"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, ADMIN, PASSWORD)?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    wait_for_path(&browser, "/analytics")?;
    let page = format!("/analytics?project={project_id}&from={FROM}&to={TO}&interval=day");
    browser.goto(&edge.url(&page))?;

    // 1. The overview and the trends chart count what was sent; focusing a bar tells its value.
    browser.wait_for_text("[data-figure=events] .figure-value", "9", WAIT)?;
    browser.wait_for_text("[data-figure=users] .figure-value", "3", WAIT)?;
    let bar = |day: &str| format!("#trends-chart [data-bucket^='{day}'][data-series='all']");
    let mut values = Vec::new();
    devstack::wait::until("the chart drawn", WAIT, || {
        values = [
            "2026-11-02",
            "2026-11-03",
            "2026-11-04",
            "2026-11-05",
            "2026-11-08",
        ]
        .iter()
        .map(|day| {
            browser
                .execute(&format!(
                    "const e = document.querySelector({:?}); return e && e.dataset.value",
                    bar(day)
                ))
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
        values == ["6", "2", "1", "0", "0"]
    })
    .map_err(|err| err.context(format!("the bars hold {values:?}")))?;
    let bars =
        browser.execute("return document.querySelectorAll('#trends-chart rect.mark').length")?;
    assert_eq!(bars, 7, "one bar a day");
    browser.execute(&format!(
        "document.querySelector({:?}).focus()",
        bar("2026-11-02")
    ))?;
    let tip = browser.wait_for_text("#chart-tooltip", ": 6", WAIT)?;
    assert!(tip.contains("Nov 2"), "{tip}");
    let over_the_chart = browser.execute(
        "const t = document.querySelector('#chart-tooltip').getBoundingClientRect();
         const c = document.querySelector('#trends-chart').getBoundingClientRect();
         return [t.top, t.bottom, c.top, c.bottom]",
    )?;
    let [tip_top, tip_bottom, chart_top, chart_bottom] =
        [0, 1, 2, 3].map(|i| over_the_chart[i].as_f64().unwrap_or(f64::NAN));
    assert!(
        tip_bottom > chart_top && tip_top < chart_bottom,
        "the tooltip shows over the chart: {over_the_chart}"
    );
    wait_for_texts(
        &browser,
        "#top-event tr[data-value] td:nth-child(2)",
        &["5", "3", "1"],
    )?;
    let shots = [
        screenshot(&browser, "analytics", 1280)?,
        screenshot(&browser, "analytics", 390)?,
    ];
    browser.set_window_size(1280, 900)?;

    // 2. Clicking Tuesday's bar opens the explorer on exactly Tuesday's events.
    browser.click(&bar("2026-11-03"))?;
    browser.wait_for_text("#tab-explorer[aria-selected=true]", "Explorer", WAIT)?;
    wait_for_texts(
        &browser,
        "#explorer tr.event-row .event-name",
        &["view_item", "view_item"],
    )?;
    assert_eq!(
        texts(&browser, "#explorer tr.event-row .event-who")?,
        ["u2", "u1"],
        "newest first"
    );
    assert!(
        texts(&browser, "#active-filters .filter-chip")?
            .iter()
            .any(|chip| chip.contains("Nov 3")),
        "the bucket shows as a removable filter"
    );
    // A row opens the drawer with every field; Escape closes it.
    browser.click("#explorer tr.event-row")?;
    browser.wait_for_text("#event-drawer", "u2", WAIT)?;
    let focused = browser.execute("return document.activeElement && document.activeElement.id")?;
    assert_eq!(focused, "drawer-close", "the focus moves into the drawer");
    browser.execute(
        "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))",
    )?;
    devstack::wait::until("the drawer closed", WAIT, || {
        browser.text("#event-drawer").is_ok_and(|t| t.is_none())
    })?;

    // 3. A three-step funnel built in the page counts what the API counts.
    browser.click("#tab-funnel")?;
    browser.type_into("#funnel-step-1", "signup")?;
    browser.type_into("#funnel-step-2", "view_item")?;
    browser.click("#funnel-add-step")?;
    browser.type_into("#funnel-step-3", "purchase")?;
    browser.click("#funnel-run")?;
    browser.wait_for_text(".funnel-step[data-step='3'] .funnel-count", "1", WAIT)?;
    let shown = texts(&browser, ".funnel-step .funnel-count")?;
    let answer = api.call(
        reqwest::Method::POST,
        &format!("/api/query/funnel?{scope}"),
        Some(json!({
            "steps": [{ "event": "signup" }, { "event": "view_item" }, { "event": "purchase" }],
            "window_seconds": 86_400,
        })),
    )?;
    let counted: Vec<String> = answer["steps"]
        .as_array()
        .map(|steps| steps.iter().map(|s| s["count"].to_string()).collect())
        .unwrap_or_default();
    assert_eq!(shown, counted, "the page shows the API's counts");
    assert_eq!(shown, ["3", "2", "1"]);
    assert_eq!(
        texts(&browser, ".funnel-step .funnel-conversion")?,
        ["100%", "66.7%", "33.3%"]
    );
    let funnel_shots = [
        screenshot(&browser, "funnel", 1280)?,
        screenshot(&browser, "funnel", 390)?,
    ];
    browser.set_window_size(1280, 900)?;

    // 4. Retention: the Monday cohort holds the three who signed up; two came back the next day.
    browser.click("#tab-retention")?;
    browser.type_into("#retention-start", "signup")?;
    browser.type_into("#retention-return", "view_item")?;
    browser.click("#retention-run")?;
    browser.wait_for_text(
        "#retention-grid tr[data-cohort='2026-11-02'] .cohort-size",
        "3",
        WAIT,
    )?;
    let cell = |period: u32| {
        format!("#retention-grid td[data-cohort='2026-11-02'][data-period='{period}']")
    };
    assert_eq!(browser.text(&cell(1))?.as_deref(), Some("66.7%"));
    assert_eq!(browser.text(&cell(2))?.as_deref(), Some("33.3%"));
    let title = browser.execute(&format!(
        "return document.querySelector({:?}).title",
        cell(1)
    ))?;
    assert!(
        title
            .as_str()
            .unwrap_or_default()
            .starts_with("2 of 3 users"),
        "{title}"
    );
    let retention_shots = [
        screenshot(&browser, "retention", 1280)?,
        screenshot(&browser, "retention", 390)?,
    ];
    browser.set_window_size(1280, 900)?;

    // 5. A filter from a top table narrows every figure, and a reload keeps it and the tab.
    browser.click("#tab-overview")?;
    browser.wait_for_text("#top-event tr[data-value='view_item']", "view_item", WAIT)?;
    browser.click("#top-event tr[data-value='view_item'] button")?;
    browser.wait_for_text("#active-filters", "event = view_item", WAIT)?;
    browser.wait_for_text("[data-figure=events] .figure-value", "5", WAIT)?;
    browser.click("#tab-explorer")?;
    // The bucket chip from before still narrows the explorer: remove it.
    browser.click("#active-filters li[data-key='time'] button")?;
    wait_for_texts(
        &browser,
        "#explorer tr.event-row .event-name",
        &["view_item"; 5],
    )?;
    let search = browser.execute("return location.search")?;
    let search = search.as_str().unwrap_or_default().to_owned();
    assert!(search.contains("tab=explorer"), "{search}");
    assert!(search.contains("filters="), "{search}");
    browser.refresh()?;
    browser.wait_for_text("#tab-explorer[aria-selected=true]", "Explorer", WAIT)?;
    browser.wait_for_text("#active-filters", "event = view_item", WAIT)?;
    wait_for_texts(
        &browser,
        "#explorer tr.event-row .event-name",
        &["view_item"; 5],
    )?;
    assert_eq!(
        browser.execute("return location.search")?.as_str(),
        Some(search.as_str())
    );

    // 6. Live: an event sent now shows in the feed of the open tab, and its user is active.
    browser.click("#tab-live")?;
    browser.wait_for_text("#tab-live[aria-selected=true]", "Live", WAIT)?;
    browser.wait_for_text(".live [role=status]", "Connected", WAIT)?;
    api.runtime.block_on(async {
        let ping =
            json!({ "api_key": key, "batch": [{ "event": "live_ping", "distinct_id": "u9" }] });
        let sent = api
            .http
            .post(edge.url("/batch/"))
            .body(ping.to_string())
            .send()
            .await?;
        anyhow::ensure!(sent.status() == 200, "the ping answered {}", sent.status());
        anyhow::Ok(())
    })?;
    browser.wait_for_text("#live-feed .live-item", "live_ping", WAIT)?;
    assert_eq!(texts(&browser, "#live-feed .live-who")?, ["u9"]);
    browser.wait_for_text("#active-users", "1", WAIT)?;

    for shot in shots.iter().chain(&funnel_shots).chain(&retention_shots) {
        eprintln!("screenshot: {}", shot.display());
    }
    Ok(())
}
