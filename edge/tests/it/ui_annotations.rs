//! Notes on the trends chart against the real stack through edge, in headless Chromium: the
//! admin opens the built-in project's analytics for a week, adds a note dated inside it with the
//! form, sees it in the list and as a marker at its day on the chart, edits its text and deletes
//! it, the annotations API agreeing at each step.

use std::cell::RefCell;
use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use serde_json::{Value, json};

use crate::browser::{
    WAIT, eval, screenshot, sign_in, wait_for, wait_for_none, wait_for_path, wait_for_sign_in_form,
};

/// The week the chart shows, in the built-in project's zone (UTC).
const FROM: &str = "2026-11-02";
const TO: &str = "2026-11-08";
/// The instants the API is asked for notes between: the whole week.
const WEEK: &str = "from=2026-11-02T00:00:00Z&to=2026-11-09T00:00:00Z";
/// When the note is about, as the form's `datetime-local` input takes it (the browser's clock).
const NOTE_AT: &str = "2026-11-04T12:30";
const NOTE: &str = "Launched the new pricing page";
const EDITED: &str = "Launched the new pricing page and its blog post";

/// The admin's calls through edge, on the built-in project.
struct Api {
    http: reqwest::Client,
    edge: ServiceHandle,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = crate::helpers::call(
            &self.http,
            method,
            self.edge.url(path),
            Some(&self.token),
            body.as_ref(),
        )
        .await?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "{path} answered {status}: {answer}"
        );
        Ok(answer)
    }

    /// A few page views on four days of the week, through PostHog's route with a write key of
    /// the built-in project, counted by query before the page opens.
    async fn send_the_week(&self) -> anyhow::Result<()> {
        let project = contract::BUILTIN_PROJECT_ID;
        let issued = self
            .call(
                reqwest::Method::POST,
                &format!("/api/admin/projects/{project}/keys"),
                None,
            )
            .await?;
        let key = issued["key"].as_str().unwrap_or_default();
        let batch: Vec<Value> = [(2, 3), (3, 5), (4, 8), (5, 4)]
            .into_iter()
            .flat_map(|(day, views)| {
                (0..views).map(move |i| {
                    json!({ "event": "$pageview", "distinct_id": format!("v{i}"),
                        "timestamp": format!("2026-11-0{day}T1{i}:00:00Z"),
                        "properties": { "$current_url": "https://shop.example/pricing" } })
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
        let trends = format!("/api/query/trends?project_id={project}&from={FROM}&to={TO}");
        let last = RefCell::new(Value::Null);
        devstack::wait::until_async(
            "the week counted by query",
            Duration::from_secs(60),
            || async {
                let answer = self
                    .call(reqwest::Method::GET, &trends, None)
                    .await
                    .unwrap_or_default();
                let counted = answer["series"][0]["total"].as_u64() == Some(20);
                *last.borrow_mut() = answer;
                counted
            },
        )
        .await
        .map_err(|err| err.context(format!("last trends answer: {}", last.borrow())))
    }

    /// The notes of the week as the API lists them.
    async fn notes(&self) -> anyhow::Result<Vec<Value>> {
        let path = format!(
            "/api/projects/{}/annotations?{WEEK}",
            contract::BUILTIN_PROJECT_ID
        );
        let list = self.call(reqwest::Method::GET, &path, None).await?;
        Ok(list["annotations"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until the notes of the week are as `expected` says: then they are returned.
    async fn wait_for_notes(
        &self,
        what: &str,
        expected: impl Fn(&[Value]) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let last = RefCell::new(Vec::new());
        devstack::wait::until_async(&format!("the API: {what}"), WAIT, || async {
            let notes = self.notes().await.unwrap_or_default();
            let done = expected(&notes);
            *last.borrow_mut() = notes;
            done
        })
        .await
        .map_err(|err| err.context(format!("it listed {:?}", last.borrow())))?;
        Ok(last.into_inner())
    }
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

/// The text of the first element matching `css`, trimmed; empty when there is none.
fn text_of(browser: &Browser, css: &str) -> String {
    eval(
        browser,
        &format!("document.querySelector({css:?})?.textContent.trim() ?? ''"),
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Whether the browser reads the RFC 3339 time `at` as the instant of its wall clock `local`.
fn same_instant(browser: &Browser, at: &str, local: &str) -> bool {
    eval(
        browser,
        &format!("new Date({at:?}).getTime() === new Date({local:?}).getTime()"),
    ) == true
}

/// A browser signed in as the admin, on the overview of the built-in project's week.
fn analytics(dir: &TempDir, edge: &ServiceHandle) -> anyhow::Result<Browser> {
    let browser = Browser::start(dir.path())?;
    browser.set_window_size(1280, 900)?;
    browser.goto(&edge.url("/analytics"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, ADMIN, PASSWORD)?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    wait_for_path(&browser, "/analytics")?;
    let page = format!(
        "/analytics?project={}&from={FROM}&to={TO}&interval=day",
        contract::BUILTIN_PROJECT_ID
    );
    browser.goto(&edge.url(&page))?;
    wait_for(
        &browser,
        "#trends-chart [data-bucket^='2026-11-04'][data-series='all']",
    )?;
    Ok(browser)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_adds_edits_and_deletes_a_note_seen_in_the_list_and_on_the_chart()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let token = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
    let api = Api {
        http: reqwest::Client::new(),
        edge,
        token,
    };
    api.send_the_week().await?;
    let dir = TempDir::new("chromium")?;
    let browser = analytics(&dir, &api.edge)?;

    // No notes yet; the admin may write, so the form is there, dated now by default.
    browser.wait_for_text(".notes .notes-empty", "No notes in this range", WAIT)?;
    wait_for(&browser, "#annotation-form #annotation-at")?;
    assert_ne!(
        eval(&browser, "document.querySelector('#annotation-at').value"),
        ""
    );
    assert!(api.notes().await?.is_empty());

    // 1. A note on Wednesday of the week, through the form.
    fill(&browser, "#annotation-at", NOTE_AT)?;
    browser.type_into("#annotation-content", NOTE)?;
    browser.click("#annotation-add")?;
    let listed = api
        .wait_for_notes("the note listed", |notes| notes.len() == 1)
        .await?;
    let note = &listed[0];
    let id = note["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(note["content"], NOTE, "{note}");
    assert_eq!(note["created_by"], ADMIN, "{note}");
    let at = note["at"].as_str().unwrap_or_default();
    assert!(
        same_instant(&browser, at, NOTE_AT),
        "{at} is not {NOTE_AT} here"
    );

    // It is listed with its date, text and author, and the form is ready for the next one.
    let line = format!("#annotations li[data-annotation='{id}']");
    wait_for(&browser, &line)?;
    assert_eq!(text_of(&browser, &format!("{line} .note-content")), NOTE);
    assert_eq!(
        text_of(&browser, &format!("{line} .note-at")),
        "Nov 4, 12:30"
    );
    assert!(text_of(&browser, &format!("{line} .note-author")).contains(ADMIN));
    assert_eq!(
        eval(
            &browser,
            "document.querySelector('#annotation-content').value"
        ),
        ""
    );

    // And marked on the chart at Wednesday's bar, saying its text on focus.
    let marker = format!("#trends-chart .annotation-marker[data-annotation~='{id}']");
    wait_for(&browser, &marker)?;
    let bucket = eval(
        &browser,
        &format!("document.querySelector({marker:?}).dataset.bucket"),
    );
    assert!(
        bucket
            .as_str()
            .unwrap_or_default()
            .starts_with("2026-11-04"),
        "{bucket}"
    );
    assert_eq!(
        text_of(&browser, &format!("{marker} title")),
        format!("Nov 4, 12:30: {NOTE}")
    );
    let label = eval(
        &browser,
        &format!("document.querySelector({marker:?}).getAttribute('aria-label')"),
    );
    assert!(label.as_str().unwrap_or_default().contains(NOTE), "{label}");
    browser.execute(&format!("document.querySelector({marker:?}).focus()"))?;
    browser.wait_for_text("#chart-tooltip", NOTE, WAIT)?;
    browser.execute("document.querySelector('.trends').scrollIntoView()")?;
    let shot = screenshot(&browser, "annotations", 1280)?;
    browser.execute(&format!("document.querySelector({marker:?}).blur()"))?;

    // 2. Its text edited in place.
    browser.click(&format!("{line} .note-edit"))?;
    wait_for(&browser, &format!("{line} .note-edit-content"))?;
    fill(&browser, &format!("{line} .note-edit-content"), EDITED)?;
    browser.click(&format!("{line} .note-save"))?;
    let listed = api
        .wait_for_notes("the text edited", |notes| {
            notes.len() == 1 && notes[0]["content"] == EDITED
        })
        .await?;
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(same_instant(
        &browser,
        listed[0]["at"].as_str().unwrap_or_default(),
        NOTE_AT
    ));
    browser.wait_for_text(&format!("{line} .note-content"), EDITED, WAIT)?;
    // A title is not drawn, so WebDriver sees no text in it: its content is read instead.
    let title = format!("{marker} title");
    devstack::wait::until("the marker to say the edited text", WAIT, || {
        text_of(&browser, &title).ends_with(EDITED)
    })?;

    // 3. Deleted, once confirmed: gone from the list, the chart and the API.
    browser.click(&format!("{line} .note-delete"))?;
    browser.wait_for_text("#confirm-delete", "Delete note", WAIT)?;
    browser.click("#confirm-delete")?;
    wait_for_none(&browser, &line)?;
    wait_for_none(&browser, &marker)?;
    api.wait_for_notes("no note left", <[Value]>::is_empty)
        .await?;
    browser.wait_for_text(".notes .notes-empty", "No notes in this range", WAIT)?;
    eprintln!("screenshot: {}", shot.display());
    Ok(())
}
