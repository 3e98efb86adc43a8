//! The persons tab against the real stack through edge, in headless Chromium: an anonymous
//! visitor who identifies (PostHog's `$identify` with `$anon_distinct_id` and `$set`) is one
//! person; a distinct id in the explorer or the live feed opens them, with their ids,
//! properties and events as the API answers them; the list searches; and an admin's erasure,
//! asked for in a confirmation dialog, leaves nothing of them.

use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::TestStack;
use devstack::test::TempDir;
use serde_json::{Value, json};

use crate::browser::{
    WAIT, eval, exists, screenshot, texts, wait_for, wait_for_none, wait_for_texts,
};
use crate::ui_places::{Api, analytics_at};

/// How long an erasure may take: the sink deletes the rows with a ClickHouse mutation.
const ERASURE: Duration = Duration::from_secs(180);

/// Ada browses anonymously, identifies with her email and plan, and buys; Bob only looks.
fn events() -> Vec<Value> {
    let page = |url: &str| json!({ "$current_url": url, "$ip": "8.8.8.8" });
    vec![
        json!({ "event": "$pageview", "distinct_id": "anon-7", "timestamp": "2026-11-03T09:00:00Z",
            "properties": page("https://shop.example/") }),
        json!({ "event": "$identify", "distinct_id": "user-7", "timestamp": "2026-11-03T09:05:00Z",
            "properties": { "$anon_distinct_id": "anon-7",
                "$set": { "email": "ada@example.com", "plan": "pro" } } }),
        json!({ "event": "purchase", "distinct_id": "user-7", "timestamp": "2026-11-03T09:10:00Z",
            "properties": { "total": 42 } }),
        json!({ "event": "$pageview", "distinct_id": "bob-1", "timestamp": "2026-11-04T12:00:00Z",
            "properties": page("https://shop.example/pricing") }),
    ]
}

/// The persons the API lists, as their sorted distinct ids.
fn listed(api: &Api, search: &str) -> Vec<Vec<String>> {
    let answer = api
        .query("/api/query/persons", &format!("&search={search}"))
        .unwrap_or_default();
    answer["persons"]
        .as_array()
        .map(|persons| {
            persons
                .iter()
                .map(|p| {
                    p["distinct_ids"]
                        .as_array()
                        .map(|ids| {
                            ids.iter()
                                .filter_map(|i| i.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A screenshot at phone width with `css` scrolled to the top.
pub fn narrow_screenshot(
    browser: &Browser,
    name: &str,
    css: &str,
) -> anyhow::Result<std::path::PathBuf> {
    browser.set_window_size(390, 900)?;
    browser.execute(&format!("document.querySelector({css:?}).scrollIntoView()"))?;
    screenshot(browser, name, 390)
}

/// Waits until the page shows the person with `title`, their `ids` and `events` (names, newest
/// first).
fn wait_for_person(
    browser: &Browser,
    title: &str,
    ids: &[&str],
    events: &[&str],
) -> anyhow::Result<()> {
    browser.wait_for_text("#tab-persons[aria-selected=true]", "Persons", WAIT)?;
    browser.wait_for_text("#person-title", title, WAIT)?;
    wait_for_texts(browser, "#person-ids li", ids)?;
    wait_for_texts(browser, "#person-events .timeline-item .event-name", events)
}

#[test]
fn a_distinct_id_opens_its_person_with_their_events_and_an_admin_can_erase_them()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let api = Api::start(edge, "People")?;
    api.send(&events())?;
    let ada = vec!["anon-7".to_owned(), "user-7".to_owned()];
    let mut persons = Vec::new();
    devstack::wait::until(
        "Ada's ids merged into one person",
        Duration::from_secs(60),
        || {
            persons = listed(&api, "");
            persons.contains(&ada) && persons.contains(&vec!["bob-1".to_owned()])
        },
    )
    .map_err(|err| err.context(format!("the persons: {persons:?}")))?;
    let answer = api.query("/api/query/persons", "&search=ada")?;
    let ada_id = answer["persons"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let person = api.query(&format!("/api/query/persons/{ada_id}"), "")?;
    let ada_events: Vec<String> = person["events"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|e| e["event"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ada_events,
        ["purchase", "$identify", "$pageview"],
        "{person}"
    );

    // 1. In the explorer, Ada's anonymous id opens her person: merged ids, properties, events.
    let dir = TempDir::new("chromium")?;
    let browser = analytics_at(&dir, &api, "explorer")?;
    wait_for(
        &browser,
        "#explorer button.person-link[data-distinct-id='anon-7']",
    )?;
    browser.click("#explorer button.person-link[data-distinct-id='anon-7']")?;
    wait_for_person(
        &browser,
        "ada@example.com",
        &["anon-7", "user-7"],
        &["purchase", "$identify", "$pageview"],
    )?;
    assert!(
        !exists(&browser, "#event-drawer"),
        "the id opened the person, not the event"
    );
    assert_eq!(
        browser
            .text("#person-properties tr[data-property='plan'] td")?
            .as_deref(),
        Some("pro")
    );
    let search = eval(&browser, "location.search");
    assert!(
        search.as_str().unwrap_or_default().contains("person="),
        "the address holds the person: {search}"
    );
    browser.refresh()?;
    wait_for_person(
        &browser,
        "ada@example.com",
        &["anon-7", "user-7"],
        &["purchase", "$identify", "$pageview"],
    )?;
    let person_shots = [
        screenshot(&browser, "person", 1280)?,
        narrow_screenshot(&browser, "person", "#person")?,
    ];
    browser.set_window_size(1280, 900)?;

    // 2. The list holds both persons; a search keeps Ada alone.
    browser.click("#person-back")?;
    wait_for_texts(
        &browser,
        "#persons tr.person-row .person-ids",
        &["bob-1", "anon-7, user-7"],
    )?;
    browser.type_into("#persons-search", "ADA@")?;
    browser.click("#persons-search-submit")?;
    wait_for_texts(
        &browser,
        "#persons tr.person-row .person-name",
        &["ada@example.com"],
    )?;
    let list_shot = screenshot(&browser, "persons", 1280)?;
    browser.set_window_size(1280, 900)?;

    // 3. The live feed's ids open their person too.
    browser.click("#tab-live")?;
    browser.wait_for_text(".live [role=status]", "Connected", WAIT)?;
    api.send(&[json!({ "event": "ping", "distinct_id": "bob-1" })])?;
    wait_for(
        &browser,
        "#live-feed button.person-link[data-distinct-id='bob-1']",
    )?;
    browser.click("#live-feed button.person-link[data-distinct-id='bob-1']")?;
    browser.wait_for_text("#tab-persons[aria-selected=true]", "Persons", WAIT)?;
    browser.wait_for_text("#person-title", "bob-1", WAIT)?;

    // 4. Erasing asks first; cancelled, nothing happens; confirmed, Ada is gone everywhere.
    browser.click("#person-back")?;
    let ada_row = "#persons tr.person-row[data-distinct-id='user-7'] .person-link";
    wait_for(&browser, ada_row)?;
    browser.click(ada_row)?;
    browser.wait_for_text("#person-title", "ada@example.com", WAIT)?;
    browser.click("#person-erase")?;
    browser.wait_for_text("#confirm-dialog[open]", "Erase this person?", WAIT)?;
    let erase_shot = screenshot(&browser, "person-erase", 1280)?;
    browser.set_window_size(1280, 900)?;
    browser.click("#cancel-delete")?;
    wait_for_none(&browser, "#confirm-dialog[open]")?;
    assert!(
        exists(&browser, "#person-erase"),
        "cancelled: the button is still there"
    );
    assert!(
        listed(&api, "").contains(&ada),
        "cancelled: Ada is still there"
    );
    browser.click("#person-erase")?;
    browser.wait_for_text("#confirm-dialog[open]", "Erase this person?", WAIT)?;
    browser.click("#confirm-delete")?;
    browser.wait_for_text("#person-erase-status", "Erase", WAIT)?;
    browser.wait_for_text("#person-erase-status", "Erased", ERASURE)?;
    let (status, _) = api.call(
        reqwest::Method::GET,
        &format!("/api/query/persons/{ada_id}?project_id={}", api.project),
    )?;
    assert_eq!(status, 404, "Ada's person is gone");
    assert_eq!(listed(&api, ""), [vec!["bob-1".to_owned()]]);
    for who in ["anon-7", "user-7"] {
        let events = api.query("/api/query/events", &format!("&distinct_id={who}"))?;
        assert_eq!(
            events["events"].as_array().map(Vec::len),
            Some(0),
            "{who}: {events}"
        );
    }
    browser.click("#person-back")?;
    wait_for(&browser, "#persons-empty")?;

    for shot in person_shots.iter().chain([&list_shot, &erase_shot]) {
        eprintln!("screenshot: {}", shot.display());
    }
    assert!(texts(&browser, "#persons tr.person-row")?.is_empty());
    Ok(())
}
