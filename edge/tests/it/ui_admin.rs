//! The admin panel against the real stack through edge, in headless Chromium: an admin changes
//! a user's role and the user's next page load follows it; projects, write keys and their
//! set-up snippets; disabling and deleting users; the system status.

use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use serde_json::Value;

use crate::browser::{
    WAIT, eval, exists, screenshot, sign_in, wait_for, wait_for_none, wait_for_sign_in_form,
};

const USER_PASSWORD: &str = "a long enough password";

/// The Escape key, for [`Browser::type_into`].
const ESCAPE: &str = "\u{E00C}";

async fn register(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    email: &str,
    name: &str,
) -> anyhow::Result<()> {
    crate::helpers::register(http, edge, email, USER_PASSWORD, name).await?;
    Ok(())
}

/// `GET path` with `token`: the status and the body (null when it is not JSON).
async fn get(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    path: &str,
    token: &str,
) -> anyhow::Result<(u16, Value)> {
    crate::helpers::call(
        http,
        reqwest::Method::GET,
        edge.url(path),
        Some(token),
        None,
    )
    .await
}

/// The users the API lists for the search `q`.
async fn api_users(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    token: &str,
    q: &str,
) -> anyhow::Result<Vec<Value>> {
    let (status, body) = get(http, edge, &format!("/api/admin/users?q={q}"), token).await?;
    anyhow::ensure!(status == 200, "GET /api/admin/users: {status} {body}");
    Ok(body["users"].as_array().cloned().unwrap_or_default())
}

fn token(edge: &ServiceHandle, email: &str, password: &str) -> anyhow::Result<String> {
    devstack::test::access_token(edge.addr.port(), email, password, WAIT)
}

/// A browser signed in as `email`, at home.
fn signed_in(
    dir: &TempDir,
    edge: &ServiceHandle,
    email: &str,
    password: &str,
    name: &str,
) -> anyhow::Result<Browser> {
    let browser = Browser::start(dir.path())?;
    browser.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, email, password)?;
    browser.wait_for_text("#signed-in-as", name, WAIT)?;
    Ok(browser)
}

/// Opens the admin panel on `tab`, with its first content shown.
fn open_admin(browser: &Browser, edge: &ServiceHandle, tab: &str) -> anyhow::Result<()> {
    browser.goto(&edge.url(&format!("/admin?tab={tab}")))?;
    wait_for(browser, &format!("#tab-{tab}[aria-selected=\"true\"]"))?;
    wait_for(browser, &format!("#panel-{tab}"))
}

/// Types `text` into the search box and waits until the table shows exactly `email`.
fn search(browser: &Browser, text: &str, email: &str) -> anyhow::Result<()> {
    browser.type_into("#user-search", text)?;
    let row = format!("tr[data-email=\"{email}\"]");
    devstack::wait::until(
        &format!("the users table to show only {email}"),
        WAIT,
        || {
            exists(browser, &row)
                && eval(
                    browser,
                    "document.querySelectorAll('#users-table tbody tr').length",
                ) == 1
        },
    )?;
    browser.wait_for_text("#users-count", "1–1 of 1", WAIT)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_makes_a_user_an_admin_and_the_users_next_page_load_opens_administration()
-> anyhow::Result<()> {
    const BOB: &str = "bob@example.com";
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    register(&http, &edge, BOB, "Bob Builder").await?;

    // As a user of no project, Bob reads no analytics (the built-in project is a 404 to him)
    // and no administration, by the API and by the app.
    let bob_token = token(&edge, BOB, USER_PASSWORD)?;
    let catalog = format!(
        "/api/query/catalog?project_id={}",
        contract::BUILTIN_PROJECT_ID
    );
    let (status, _) = get(&http, &edge, &catalog, &bob_token).await?;
    assert_eq!(status, 404, "a user of no project reads no analytics");
    let (status, _) = get(&http, &edge, "/api/admin/users", &bob_token).await?;
    assert_eq!(status, 403, "a user lists no users");
    let bob_dir = TempDir::new("chromium-bob")?;
    let bob = signed_in(&bob_dir, &edge, BOB, USER_PASSWORD, "Bob Builder")?;
    assert_eq!(bob.text("#nav-admin")?, None);
    bob.goto(&edge.url("/analytics"))?;
    bob.wait_for_text("#no-projects", "not a member of any project", WAIT)?;
    bob.goto(&edge.url("/admin"))?;
    bob.wait_for_text("#page-title", "No access", WAIT)?;
    bob.wait_for_text("#section-status", "yours is user", WAIT)?;

    // The admin finds Bob with the search box and makes him an admin.
    let admin_dir = TempDir::new("chromium-admin")?;
    let admin = signed_in(&admin_dir, &edge, ADMIN, PASSWORD, "Admin")?;
    admin.click("#nav-admin")?;
    wait_for(&admin, "#users-table tbody tr")?;
    admin.wait_for_text("#users-count", "of 2", WAIT)?;
    // The admin's own row cannot be demoted, disabled or deleted.
    for control in [".role-select", ".toggle-disabled", ".delete-user"] {
        assert_eq!(
            eval(
                &admin,
                &format!("document.querySelector('tr[data-email=\"{ADMIN}\"] {control}').disabled")
            ),
            true,
            "{control} of the admin's own row"
        );
    }
    assert_eq!(
        eval(&admin, "document.querySelector('#users-prev').disabled"),
        true
    );
    assert_eq!(
        eval(&admin, "document.querySelector('#users-next').disabled"),
        true
    );
    screenshot(&admin, "admin", 1280)?;
    screenshot(&admin, "admin", 390)?;
    admin.set_window_size(1280, 900)?;

    search(&admin, "bob", BOB)?;
    let row = format!("tr[data-email=\"{BOB}\"]");
    assert_eq!(
        eval(
            &admin,
            &format!("document.querySelector('{row} .role-select').value")
        ),
        "user"
    );
    admin.click(&format!("{row} .role-select option[value=\"admin\"]"))?;
    let admin_token = token(&edge, ADMIN, PASSWORD)?;
    let role = std::cell::RefCell::new(Value::Null);
    devstack::wait::until_async("the API to list Bob as an admin", WAIT, || async {
        let now = api_users(&http, &edge, &admin_token, "bob")
            .await
            .ok()
            .and_then(|users| users.first().map(|u| u["role"].clone()))
            .unwrap_or(Value::Null);
        let done = now == "admin";
        *role.borrow_mut() = now;
        done
    })
    .await
    .map_err(|err| err.context(format!("role {}", role.borrow())))?;
    devstack::wait::until("the row to show no saving", WAIT, || {
        !exists(&admin, &format!("{row} .row-busy"))
    })?;
    assert!(
        !exists(&admin, &format!("{row} .row-error")),
        "no error on the row"
    );
    assert_eq!(
        eval(
            &admin,
            &format!("document.querySelector('{row} .role-select').value")
        ),
        "admin"
    );

    // Bob's next page load follows the new role: the administration link, and the page itself.
    bob.goto(&edge.url("/"))?;
    bob.wait_for_text("#nav-admin", "Admin", WAIT)?;
    bob.click("#nav-admin")?;
    wait_for(&bob, "#users-table tbody tr")?;
    assert_ne!(bob.text("#page-title")?.as_deref(), Some("No access"));
    let fresh = token(&edge, BOB, USER_PASSWORD)?;
    let (status, body) = get(&http, &edge, "/api/admin/users", &fresh).await?;
    assert_eq!(status, 200, "an admin lists the users: {body}");
    let (status, body) = get(&http, &edge, &catalog, &fresh).await?;
    assert!(
        status != 401 && status != 403 && status != 404,
        "an instance admin reads every project: {status} {body}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_creates_a_project_issues_a_key_sees_its_snippets_and_revokes_it()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let dir = TempDir::new("chromium")?;
    let browser = signed_in(&dir, &edge, ADMIN, PASSWORD, "Admin")?;
    open_admin(&browser, &edge, "projects")?;
    wait_for(&browser, "#project-form")?;
    // The built-in project is listed from the start.
    wait_for(&browser, "article.project")?;

    browser.type_into("#project-name", "Corner shop")?;
    browser.execute(
        "const zone = document.querySelector('#project-timezone');
         zone.value = ''; zone.dispatchEvent(new Event('input', { bubbles: true }));",
    )?;
    browser.type_into("#project-timezone", "Europe/Paris")?;
    browser.click("#project-create")?;
    browser.wait_for_text("#project-created", "Created Corner shop", WAIT)?;
    let card = "article.project[data-name=\"Corner shop\"]";
    wait_for(&browser, &format!("{card} li.key"))?;
    browser.wait_for_text(&format!("{card} .project-timezone"), "Europe/Paris", WAIT)?;
    let project_id = eval(
        &browser,
        &format!("document.querySelector('{card}').dataset.projectId"),
    );
    let project_id = project_id.as_str().unwrap_or_default().to_owned();
    let first_key = eval(
        &browser,
        &format!("document.querySelector('{card} li.key').dataset.key"),
    );
    let first_key = first_key.as_str().unwrap_or_default().to_owned();
    assert!(first_key.starts_with("ea_"), "{first_key}");
    // The snippets are written for the new project's key.
    browser.wait_for_text("#snippet-posthog", &first_key, WAIT)?;

    // A second key: the snippets switch to it.
    browser.click(&format!("{card} .issue-key"))?;
    devstack::wait::until("a second key", WAIT, || {
        eval(
            &browser,
            &format!("document.querySelectorAll('{card} li.key').length"),
        ) == 2
    })?;
    let second_key = eval(
        &browser,
        &format!("document.querySelectorAll('{card} li.key')[1].dataset.key"),
    );
    let second_key = second_key.as_str().unwrap_or_default().to_owned();
    assert!(
        second_key.starts_with("ea_") && second_key != first_key,
        "{second_key}"
    );
    let origin = eval(&browser, "window.location.origin");
    let origin = origin.as_str().unwrap_or_default().to_owned();
    let posthog = browser.wait_for_text("#snippet-posthog", &second_key, WAIT)?;
    assert!(
        posthog.contains(&format!("posthog.init('{second_key}'"))
            && posthog.contains(&format!("api_host: '{origin}'")),
        "{posthog}"
    );
    let segment = browser.text("#snippet-segment")?.unwrap_or_default();
    assert!(
        segment.contains(&format!("writeKey: '{second_key}'")),
        "{segment}"
    );
    let umami = browser.text("#snippet-umami")?.unwrap_or_default();
    assert!(
        umami.contains(&format!("data-website-id=\"{project_id}\""))
            && umami.contains(&format!("src=\"{origin}/script.js\"")),
        "{umami}"
    );
    // Each product's script tag comes first, loading the script from this server.
    let order = eval(
        &browser,
        "[...document.querySelectorAll('[data-snippet]')].map(e => e.dataset.snippet).join(' ')",
    );
    assert_eq!(
        order,
        "posthog-tag posthog segment plausible plausible-npm umami umami-npm curl"
    );
    let tag = browser.text("#snippet-posthog-tag")?.unwrap_or_default();
    assert!(
        tag.contains(&format!("posthog.init('{second_key}'"))
            && tag.contains(&format!("api_host: '{origin}'")),
        "{tag}"
    );
    let plausible = browser.text("#snippet-plausible")?.unwrap_or_default();
    assert!(
        plausible.contains(&format!("src=\"{origin}/js/script.outbound-links.js\"")),
        "{plausible}"
    );
    let curl = browser.text("#snippet-curl")?.unwrap_or_default();
    assert!(
        curl.contains(&format!("{origin}/i/v0/e/")) && curl.contains(&second_key),
        "{curl}"
    );

    // Plausible domains: saved, and named in its snippet.
    browser.type_into(&format!("{card} .domains-input"), "Shop.Example")?;
    browser.click(&format!("{card} .save-domains"))?;
    browser.wait_for_text(&format!("{card} .project-domains"), "shop.example", WAIT)?;
    browser.wait_for_text("#snippet-plausible", "data-domain=\"shop.example\"", WAIT)?;

    screenshot(&browser, "admin-projects", 1280)?;
    screenshot(&browser, "admin-projects", 390)?;
    browser.set_window_size(1280, 900)?;

    // Escape closes the confirmation without revoking anything.
    let second = format!("{card} li.key[data-key=\"{second_key}\"]");
    browser.click(&format!("{second} .revoke-key"))?;
    browser.wait_for_text("#confirm-delete", "Revoke key", WAIT)?;
    assert_eq!(
        eval(&browser, "document.querySelector('#confirm-dialog').open"),
        true
    );
    assert_eq!(
        eval(&browser, "document.activeElement.id"),
        "cancel-delete",
        "Cancel has the focus"
    );
    browser.type_into("#cancel-delete", ESCAPE)?;
    devstack::wait::until("the dialog to close", WAIT, || {
        eval(&browser, "document.querySelector('#confirm-dialog').open") == false
    })?;
    assert!(exists(&browser, &second), "the key is still there");

    // Revoked after confirming: gone from the page and from the API's list.
    browser.click(&format!("{second} .revoke-key"))?;
    browser.wait_for_text("#confirm-delete", "Revoke key", WAIT)?;
    browser.click("#confirm-delete")?;
    wait_for_none(&browser, &second)?;
    assert!(exists(
        &browser,
        &format!("{card} li.key[data-key=\"{first_key}\"]")
    ));
    browser.wait_for_text("#snippet-posthog", &first_key, WAIT)?;
    let admin_token = token(&edge, ADMIN, PASSWORD)?;
    let (status, body) = get(&http, &edge, "/api/admin/projects", &admin_token).await?;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<String> = body["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["id"] == project_id.as_str())
        .flat_map(|p| p["keys"].as_array().cloned().unwrap_or_default())
        .filter_map(|k| k["key"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(keys, [first_key], "the API lists the first key only");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_user_cannot_sign_in_and_a_deleted_one_is_gone() -> anyhow::Result<()> {
    const CAROL: &str = "carol@example.com";
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    register(&http, &edge, CAROL, "Carol").await?;
    let admin_token = token(&edge, ADMIN, PASSWORD)?;

    let dir = TempDir::new("chromium-admin")?;
    let admin = signed_in(&dir, &edge, ADMIN, PASSWORD, "Admin")?;
    open_admin(&admin, &edge, "users")?;
    wait_for(&admin, "#users-table tbody tr")?;
    search(&admin, "carol", CAROL)?;
    let row = format!("tr[data-email=\"{CAROL}\"]");
    admin.wait_for_text(&format!("{row} .toggle-disabled"), "Disable", WAIT)?;
    admin.click(&format!("{row} .toggle-disabled"))?;
    admin.wait_for_text(&format!("{row} .toggle-disabled"), "Enable", WAIT)?;
    admin.wait_for_text(&row, "Disabled", WAIT)?;
    let users = api_users(&http, &edge, &admin_token, "carol").await?;
    assert_eq!(
        users.first().map(|u| u["disabled"].clone()),
        Some(Value::Bool(true))
    );

    // Carol cannot sign in, and is told why.
    let carol_dir = TempDir::new("chromium-carol")?;
    let carol = Browser::start(carol_dir.path())?;
    carol.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&carol)?;
    sign_in(&carol, CAROL, USER_PASSWORD)?;
    carol.wait_for_text("#login-error", "This account is disabled", WAIT)?;

    // Deleting asks first; confirmed, the user leaves the table and the API's list.
    admin.click(&format!("{row} .delete-user"))?;
    admin.wait_for_text("#confirm-message", CAROL, WAIT)?;
    admin.click("#cancel-delete")?;
    devstack::wait::until("the dialog to close", WAIT, || {
        eval(&admin, "document.querySelector('#confirm-dialog').open") == false
    })?;
    assert!(exists(&admin, &row), "cancelled: still there");
    admin.click(&format!("{row} .delete-user"))?;
    admin.wait_for_text("#confirm-delete", "Delete user", WAIT)?;
    admin.click("#confirm-delete")?;
    wait_for_none(&admin, &row)?;
    let users = api_users(&http, &edge, &admin_token, "carol").await?;
    assert!(users.is_empty(), "{users:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_tab_shows_every_service_and_refreshes() -> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let admin_token = token(&edge, ADMIN, PASSWORD)?;
    let (status, body) = get(&http, &edge, "/api/admin/status", &admin_token).await?;

    let dir = TempDir::new("chromium")?;
    let browser = signed_in(&dir, &edge, ADMIN, PASSWORD, "Admin")?;
    open_admin(&browser, &edge, "status")?;
    assert_eq!(status, 200, "{body}");
    for service in ["edge", "ingest", "sink", "query", "auth"] {
        let item = format!("#status-services li[data-service=\"{service}\"]");
        browser.wait_for_text(&item, service, WAIT)?;
        browser.wait_for_text(&item, "Ready", WAIT)?;
    }
    browser.wait_for_text("#status-summary", "All 5 services are ready", WAIT)?;
    wait_for(&browser, "#status-dlq")?;
    wait_for(&browser, "#status-streams tr[data-stream=\"EVENTS\"]")?;
    screenshot(&browser, "admin-status", 1280)?;
    screenshot(&browser, "admin-status", 390)?;

    // The refresh button reads the status again at once (not only when the 10 s timer fires:
    // the call starts within half a second of the click).
    let calls = || {
        eval(
            &browser,
            "performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === '/api/admin/status').length",
        )
        .as_u64()
        .unwrap_or(0)
    };
    let clicked_at = browser.execute(
        "const at = performance.now(); document.querySelector('#status-refresh').click(); return at",
    )?;
    let clicked_at = clicked_at.as_f64().unwrap_or(f64::NAN);
    devstack::wait::until("a status call started by the click", WAIT, || {
        eval(
            &browser,
            &format!(
                "performance.getEntriesByType('resource').some(e => new URL(e.name).pathname === '/api/admin/status' \
                 && e.startTime >= {clicked_at} && e.startTime < {clicked_at} + 500)"
            ),
        ) == true
    })?;
    // And so does the 10 s timer, while the tab is open.
    let seen = calls();
    devstack::wait::until(
        "the status read again on its own",
        Duration::from_secs(25),
        || calls() > seen,
    )?;
    Ok(())
}
