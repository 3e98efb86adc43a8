//! Saved insights, dashboards and shared links against the real stack through edge, in headless
//! Chromium: the admin saves the trends chart of a project's last 7 days as an insight from the
//! Analytics page, creates a dashboard on the dashboards page, adds the insight to it and
//! reloads: the tile shows the same bars and total as Analytics. A link shared from it opens
//! signed out on the dashboard alone, and a revoked one says it no longer exists; a link with a
//! password asks for it first. A viewer reads the dashboard and changes nothing.

use std::cell::RefCell;
use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use serde_json::{Value, json};

use crate::browser::{
    WAIT, eval, exists, screenshot, sign_in, wait_for, wait_for_none, wait_for_path,
    wait_for_sign_in_form,
};

const PROJECT: &str = "Seaside shop";
const INSIGHT: &str = "Weekly events";
const BOARD: &str = "Marketing";
const LINK_PASSWORD: &str = "sea breeze 2026";
const VIEWER: &str = "viewer@example.com";
const MISSING: &str = "This shared link does not exist or was revoked.";
/// Page views sent on each of the last days: 1, 2 and 3 days ago.
const VIEWS: [(i64, usize); 3] = [(1, 3), (2, 5), (3, 8)];

/// The admin's calls through edge.
struct Api {
    http: reqwest::Client,
    edge: ServiceHandle,
    token: String,
}

impl Api {
    /// `GET path` as the admin: the status and the answer's JSON.
    async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let url = self.edge.url(path);
        crate::helpers::call(
            &self.http,
            reqwest::Method::GET,
            url,
            Some(&self.token),
            None,
        )
        .await
    }

    /// Page views on three of the last seven days, through PostHog's route with the project's
    /// write key, counted by query before the page opens.
    async fn send_the_week(&self, project: &str, key: &str) -> anyhow::Result<()> {
        let now = time::OffsetDateTime::now_utc();
        let batch: Vec<Value> = VIEWS
            .into_iter()
            .flat_map(|(days, views)| {
                let at = now - time::Duration::days(days);
                (0..views).map(move |i| {
                    let at = at + time::Duration::minutes(i as i64);
                    json!({ "event": "$pageview", "distinct_id": format!("v{i}"),
                        "timestamp": at.format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default(),
                        "properties": { "$current_url": "https://seaside.example/" } })
                })
            })
            .collect();
        let sent = self
            .http
            .post(self.edge.url("/batch/"))
            .body(json!({ "api_key": key, "batch": batch }).to_string())
            .send()
            .await?;
        anyhow::ensure!(sent.status() == 200, "the batch answered {}", sent.status());
        let today = now.date();
        let trends = format!(
            "/api/query/trends?project_id={project}&from={}&to={today}",
            today - time::Duration::days(6)
        );
        let last = RefCell::new(Value::Null);
        devstack::wait::until_async("the week counted", Duration::from_secs(60), || async {
            let (_, answer) = self.get(&trends).await.unwrap_or_default();
            let counted = answer["series"][0]["total"].as_u64() == Some(total());
            *last.borrow_mut() = answer;
            counted
        })
        .await
        .map_err(|err| err.context(format!("last trends answer: {}", last.borrow())))
    }

    /// Waits until `GET path` answers `status`; then its JSON.
    async fn wait_for_status(&self, path: &str, status: u16) -> anyhow::Result<Value> {
        let last = RefCell::new((0, Value::Null));
        devstack::wait::until_async(&format!("{path} to answer {status}"), WAIT, || async {
            let answer = self.get(path).await.unwrap_or_default();
            let done = answer.0 == status;
            *last.borrow_mut() = answer;
            done
        })
        .await
        .map_err(|err| err.context(format!("it answered {:?}", last.borrow())))?;
        Ok(last.into_inner().1)
    }
}

fn total() -> u64 {
    VIEWS.iter().map(|(_, views)| *views as u64).sum()
}

/// Sets the input `css` to `value` as typing would (the app reads its `input` events).
fn fill(browser: &Browser, css: &str, value: &str) -> anyhow::Result<()> {
    browser.execute(&format!(
        "const input = document.querySelector({css:?});
         input.value = {value:?};
         input.dispatchEvent(new Event('input', {{ bubbles: true }}));"
    ))?;
    Ok(())
}

/// What the trends chart inside `scope` shows: each bar's bucket and value, and the legend's
/// total; empty until the chart is drawn.
fn figures(browser: &Browser, scope: &str) -> (Vec<(String, String)>, String) {
    let bars = eval(
        browser,
        &format!(
            "Array.from(document.querySelectorAll({:?})).map(e => [e.dataset.bucket, e.dataset.value])",
            format!("{scope} svg.chart rect.mark[data-series='all']")
        ),
    );
    let bars = serde_json::from_value(bars).unwrap_or_default();
    let total = eval(
        browser,
        &format!(
            "document.querySelector({:?})?.textContent.trim() ?? ''",
            format!("{scope} .chart-legend .legend-total")
        ),
    );
    (bars, total.as_str().unwrap_or_default().to_owned())
}

/// Waits until the chart in `scope` is drawn with the week's total; then what it shows.
fn wait_for_figures(browser: &Browser, scope: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut shown = (Vec::new(), String::new());
    devstack::wait::until(&format!("the chart in {scope}"), WAIT, || {
        shown = figures(browser, scope);
        shown.1 == total().to_string() && shown.0.len() == 7
    })
    .map_err(|err| err.context(format!("it showed {shown:?}")))?;
    Ok(shown.0)
}

/// The value of the input `css`.
fn value_of(browser: &Browser, css: &str) -> String {
    eval(
        browser,
        &format!("document.querySelector({css:?})?.value ?? ''"),
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Saves the open trends chart as the insight [`INSIGHT`] with its Save button: its id, as
/// the API lists it (checked to keep the range relative and to open the same view).
async fn save_the_chart(admin: &Browser, api: &Api, project: &str) -> anyhow::Result<String> {
    // Shown once the project list says the admin may write.
    wait_for(admin, ".trends .save-button")?;
    admin.click(".trends .save-button")?;
    wait_for(admin, "#save-insight-dialog[open] #insight-name")?;
    assert_eq!(value_of(admin, "#insight-name"), "Trends of all events");
    let about = admin.text("#save-insight-about")?.unwrap_or_default();
    assert!(about.contains("Last 7 days, kept relative"), "{about}");
    fill(admin, "#insight-name", INSIGHT)?;
    screenshot(admin, "save-insight", 1280)?;
    admin.click("#save-insight-submit")?;
    admin.wait_for_text("#insight-saved", &format!("Saved “{INSIGHT}”."), WAIT)?;
    let (status, list) = api
        .get(&format!("/api/projects/{project}/insights"))
        .await?;
    assert_eq!(status, 200, "{list}");
    let insights = list["insights"].as_array().cloned().unwrap_or_default();
    assert_eq!(insights.len(), 1, "{list}");
    let insight = &insights[0];
    assert_eq!(insight["name"], INSIGHT, "{insight}");
    assert_eq!(insight["kind"], "trends", "{insight}");
    assert_eq!(insight["query"]["range"], "7d", "{insight}");
    assert!(
        insight["query"].get("from").is_none(),
        "relative: {insight}"
    );
    let params = insight["query"]["params"].as_str().unwrap_or_default();
    assert!(params.contains("interval=day"), "{params}");
    assert!(
        !params.contains("project_id") && !params.contains("from="),
        "{params}"
    );
    let view = insight["view"].as_str().unwrap_or_default();
    assert!(
        view.contains("range=7d") && !view.contains("project="),
        "{view}"
    );
    Ok(insight["id"].as_str().unwrap_or_default().to_owned())
}

/// Creates the dashboard [`BOARD`] on the dashboards page and adds the insight `insight`: the
/// dashboard's id, the API agreeing.
async fn build_the_board(
    admin: &Browser,
    api: &Api,
    project: &str,
    insight: &str,
) -> anyhow::Result<String> {
    admin.click("#insight-to-dashboards")?;
    wait_for_path(admin, "/dashboards")?;
    wait_for(
        admin,
        &format!("#insight-list tr[data-insight='{insight}']"),
    )?;
    // The form is there once the project list says the admin may write.
    wait_for(admin, "#dashboard-name")?;
    admin.type_into("#dashboard-name", BOARD)?;
    admin.click("#dashboard-create-submit")?;
    admin.wait_for_text("#board-title", BOARD, WAIT)?;
    wait_for(admin, "#board-empty")?;
    let search = eval(admin, "location.search");
    let search = search.as_str().unwrap_or_default();
    let board = search
        .split("dashboard=")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    assert!(search.contains(&format!("project={project}")), "{search}");
    wait_for(admin, &format!("#tile-insight option[value='{insight}']"))?;
    admin.click(&format!("#tile-insight option[value='{insight}']"))?;
    admin.click("#tile-add-submit")?;
    wait_for(admin, &format!("#tiles li[data-insight='{insight}']"))?;
    let (status, saved) = api
        .get(&format!("/api/projects/{project}/dashboards/{board}"))
        .await?;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["name"], BOARD, "{saved}");
    assert_eq!(saved["insight_ids"], json!([insight]), "{saved}");
    Ok(board)
}

/// Shares the open dashboard with the password `password` (none when empty): the link shown,
/// checked to be this server's `/shared/…`, once query opens it.
async fn share(admin: &Browser, api: &Api, password: &str) -> anyhow::Result<String> {
    wait_for(admin, "#board-share")?;
    if !exists(admin, "#share-panel") {
        admin.click("#board-share")?;
    }
    wait_for(admin, "#share-form")?;
    fill(admin, "#share-password", password)?;
    let before = value_of(admin, "#share-link");
    admin.click("#share-create")?;
    let mut link = String::new();
    devstack::wait::until("the shared link", WAIT, || {
        link = value_of(admin, "#share-link");
        link.contains("/shared/") && link != before
    })?;
    assert!(link.starts_with(&api.edge.url("/shared/")), "{link}");
    let token = link.rsplit('/').next().unwrap_or_default();
    let expected = if password.is_empty() { 200 } else { 401 };
    api.wait_for_status(&format!("/api/shared/{token}"), expected)
        .await?;
    Ok(link)
}

/// Makes `email` a viewer of `project` (registering them): they read, and change nothing.
async fn add_a_viewer(api: &Api, project: &str, email: &str) -> anyhow::Result<()> {
    let user = crate::helpers::register(&api.http, &api.edge, email, PASSWORD, "").await?;
    let id = user["id"].as_str().unwrap_or_default();
    let added = api
        .http
        .put(
            api.edge
                .url(&format!("/api/admin/projects/{project}/members/{id}")),
        )
        .bearer_auth(&api.token)
        .json(&json!({ "role": "viewer" }))
        .send()
        .await?;
    anyhow::ensure!(
        added.status() == 200,
        "adding the viewer: {}",
        added.status()
    );
    Ok(())
}

/// The viewer opens a link to the dashboard signed out, signs in and lands on it: its tile is
/// drawn as `bars` and nothing changes it; Analytics offers no Save button.
fn a_viewer_reads(
    browser: &Browser,
    url: &str,
    tile: &str,
    bars: &[(String, String)],
) -> anyhow::Result<()> {
    browser.goto(url)?;
    wait_for_sign_in_form(browser)?;
    sign_in(browser, VIEWER, PASSWORD)?;
    browser.wait_for_text("#board-title", BOARD, WAIT)?;
    assert_eq!(wait_for_figures(browser, tile)?, bars);
    for css in [
        "#board-delete",
        "#board-share",
        "#tile-add",
        ".tile-actions",
        "#dashboard-create",
    ] {
        assert!(!exists(browser, css), "a viewer sees {css}");
    }
    browser.click(&format!("{tile} .tile-title a"))?;
    wait_for_path(browser, "/analytics")?;
    wait_for_figures(browser, "#panel-overview .trends")?;
    browser.wait_for_text("#project-switcher", PROJECT, WAIT)?;
    assert!(
        !exists(browser, ".save-button"),
        "a viewer saves no insight"
    );
    Ok(())
}

/// Opens `link` in the signed-out `visitor`: the dashboard and its one tile, drawn as `bars`,
/// and nothing else of the app.
fn see_the_shared_board(
    visitor: &Browser,
    link: &str,
    insight: &str,
    bars: &[(String, String)],
) -> anyhow::Result<()> {
    visitor.goto(link)?;
    visitor.wait_for_text("#shared-title", BOARD, WAIT)?;
    let tile = format!("#tiles li[data-insight='{insight}']");
    visitor.wait_for_text(&format!("{tile} .tile-title"), INSIGHT, WAIT)?;
    assert_eq!(wait_for_figures(visitor, &tile)?, bars);
    assert_eq!(
        eval(visitor, "document.querySelectorAll('#tiles > li').length"),
        1
    );
    for css in [
        ".masthead",
        "#signed-in-as",
        "nav",
        "a[href^='/']",
        ".save-button",
        "#login-form",
    ] {
        assert!(!exists(visitor, css), "{css} on the shared page");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_trends_chart_shows_the_same_on_a_dashboard_and_through_its_shared_link()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let token = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
    let (project, key) = crate::helpers::create_project(&http, &edge, &token, PROJECT).await?;
    let api = Api { http, edge, token };
    api.send_the_week(&project, &key).await?;

    // The admin opens the project's last 7 days and saves the trends chart.
    let admin_dir = TempDir::new("chromium-admin")?;
    let admin = Browser::start(admin_dir.path())?;
    admin.set_window_size(1280, 900)?;
    admin.goto(&api.edge.url("/login"))?;
    wait_for_sign_in_form(&admin)?;
    sign_in(&admin, ADMIN, PASSWORD)?;
    admin.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    admin.goto(&api.edge.url(&format!(
        "/analytics?project={project}&range=7d&interval=day"
    )))?;
    let bars = wait_for_figures(&admin, "#panel-overview .trends")?;
    let insight = save_the_chart(&admin, &api, &project).await?;

    // On the dashboards page: a dashboard with the insight, the same after a reload.
    let board = build_the_board(&admin, &api, &project, &insight).await?;
    let tile = format!("#tiles li[data-insight='{insight}']");
    admin.refresh()?;
    admin.wait_for_text("#board-title", BOARD, WAIT)?;
    assert_eq!(
        wait_for_figures(&admin, &tile)?,
        bars,
        "the tile shows what Analytics showed"
    );
    // Back to the insights the board was made beside, and forward to it again: the page follows
    // the address, though both are the one route, /dashboards.
    admin.back()?;
    wait_for(
        &admin,
        &format!("#insight-list tr[data-insight='{insight}']"),
    )?;
    wait_for_none(&admin, "#board-title")?;
    admin.forward()?;
    admin.wait_for_text("#board-title", BOARD, WAIT)?;
    assert_eq!(wait_for_figures(&admin, &tile)?, bars);
    let href = eval(
        &admin,
        &format!("document.querySelector(\"{tile} .tile-title a\").getAttribute('href')"),
    );
    let href = href.as_str().unwrap_or_default();
    assert!(
        href.starts_with(&format!("/analytics?project={project}&")) && href.contains("range=7d"),
        "{href}"
    );
    wait_for(
        &admin,
        &format!("#dashboard-list li[data-dashboard='{board}'] a[aria-current='page']"),
    )?;
    wait_for(&admin, &format!("{tile} .tile-actions"))?;
    let shot = screenshot(&admin, "dashboards", 1280)?;
    screenshot(&admin, "dashboards", 390)?;
    admin.set_window_size(1280, 900)?;

    // Shared without a password: a signed-out visitor sees the dashboard alone.
    let link = share(&admin, &api, "").await?;
    let visitor_dir = TempDir::new("chromium-visitor")?;
    let visitor = Browser::start(visitor_dir.path())?;
    visitor.set_window_size(1280, 900)?;
    see_the_shared_board(&visitor, &link, &insight, &bars)?;
    let shared_shot = screenshot(&visitor, "shared-dashboard", 1280)?;

    // With a password: asked first, a wrong one refused.
    let guarded = share(&admin, &api, LINK_PASSWORD).await?;
    admin.execute("document.querySelector('#share-panel').scrollIntoView()")?;
    screenshot(&admin, "share-dashboard", 1280)?;
    visitor.goto(&guarded)?;
    wait_for(&visitor, "#shared-password-form #shared-password")?;
    screenshot(&visitor, "shared-password", 390)?;
    visitor.set_window_size(1280, 900)?;
    visitor.type_into("#shared-password", &format!("not it{}", Browser::ENTER))?;
    visitor.wait_for_text("#shared-password-error", "Wrong password", WAIT)?;
    fill(&visitor, "#shared-password", LINK_PASSWORD)?;
    visitor.click("#shared-open")?;
    visitor.wait_for_text("#shared-title", BOARD, WAIT)?;
    assert_eq!(wait_for_figures(&visitor, &tile)?, bars);

    // The first link revoked from the list: it no longer opens.
    let token = link.rsplit('/').next().unwrap_or_default().to_owned();
    let prefix: String = token.chars().take(8).collect();
    wait_for(&admin, "#share-list li.share-row")?;
    let revoke = format!(
        "Array.from(document.querySelectorAll('#share-list li.share-row'))
            .find(row => row.querySelector('.share-prefix').textContent.startsWith({prefix:?}))
            .querySelector('.share-revoke').click()"
    );
    admin.execute(&revoke)?;
    admin.wait_for_text("#confirm-delete", "Revoke link", WAIT)?;
    admin.click("#confirm-delete")?;
    devstack::wait::until("the revoked link to leave the list", WAIT, || {
        eval(
            &admin,
            "document.querySelectorAll('#share-list li.share-row').length",
        ) == 1
    })?;
    api.wait_for_status(&format!("/api/shared/{token}"), 404)
        .await?;
    visitor.goto(&link)?;
    visitor.wait_for_text("#shared-missing", MISSING, WAIT)?;
    wait_for_none(&visitor, "#tiles")?;

    // A viewer, sent to sign in by a link to the dashboard, comes back to it and reads it.
    add_a_viewer(&api, &project, VIEWER).await?;
    let board_url = api
        .edge
        .url(&format!("/dashboards?project={project}&dashboard={board}"));
    a_viewer_reads(&visitor, &board_url, &tile, &bars)?;

    // The tile's title opens the insight in Analytics.
    admin.click(&format!("{tile} .tile-title a"))?;
    wait_for_path(&admin, "/analytics")?;
    assert_eq!(wait_for_figures(&admin, "#panel-overview .trends")?, bars);
    eprintln!("screenshots: {} {}", shot.display(), shared_shot.display());
    Ok(())
}
