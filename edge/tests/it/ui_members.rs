//! Project members in the admin panel against the real stack through edge, in headless
//! Chromium: an admin adds a user to a project with the add form, changes the member's role and
//! removes them, the API agreeing at each step; the member's analytics page offers that project
//! only, and says so when the user is a member of none.

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use serde_json::Value;

use crate::browser::{
    WAIT, eval, exists, screenshot, sign_in, wait_for, wait_for_none, wait_for_sign_in_form,
    wait_for_texts,
};

const BOB: &str = "bob@example.com";
const BOB_PASSWORD: &str = "a long enough password";
const PROJECT: &str = "Corner shop";
const NOT_A_MEMBER: &str = "You are not a member of any project yet";

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

/// The members of `project` as the API lists them: email and role, in its order.
async fn api_members(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    token: &str,
    project: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let (status, body) = crate::helpers::call(
        http,
        reqwest::Method::GET,
        edge.url(&format!("/api/admin/projects/{project}/members")),
        Some(token),
        None,
    )
    .await?;
    anyhow::ensure!(status == 200, "GET members: {status} {body}");
    let field = |member: &Value, name: &str| member[name].as_str().unwrap_or_default().to_owned();
    Ok(body["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (field(m, "email"), field(m, "role")))
        .collect())
}

/// Waits until the API lists exactly `expected` as the members of `project`.
async fn wait_for_members(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    token: &str,
    project: &str,
    expected: &[(&str, &str)],
) -> anyhow::Result<()> {
    let last = std::cell::RefCell::new(Vec::new());
    let matches = |listed: &[(String, String)]| {
        listed.len() == expected.len()
            && listed
                .iter()
                .zip(expected)
                .all(|((email, role), (e, r))| email == e && role == r)
    };
    devstack::wait::until_async(
        &format!("the API to list {expected:?} as members"),
        WAIT,
        || async {
            let listed = api_members(http, edge, token, project)
                .await
                .unwrap_or_default();
            let done = matches(&listed);
            *last.borrow_mut() = listed;
            done
        },
    )
    .await
    .map_err(|err| err.context(format!("it listed {:?}", last.borrow())))
}

/// The value of the first select matching `css`.
fn select_value(browser: &Browser, css: &str) -> Value {
    eval(browser, &format!("document.querySelector({css:?}).value"))
}

/// Opens the analytics page afresh (its project list is read on opening).
fn open_analytics(browser: &Browser, edge: &ServiceHandle) -> anyhow::Result<()> {
    browser.goto(&edge.url("/analytics"))?;
    wait_for(browser, "#analytics-page")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_adds_changes_and_removes_a_member_and_the_member_sees_only_that_project()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let admin_token = token(&edge, ADMIN, PASSWORD)?;
    let (project, _) = crate::helpers::create_project(&http, &edge, &admin_token, PROJECT).await?;
    let bob = crate::helpers::register(&http, &edge, BOB, BOB_PASSWORD, "Bob Builder").await?;
    let bob_id = bob["id"].as_str().unwrap_or_default().to_owned();

    // A member of nothing yet: analytics is open to Bob, and says so instead of showing figures.
    let bob_dir = TempDir::new("chromium-bob")?;
    let bob = signed_in(&bob_dir, &edge, BOB, BOB_PASSWORD, "Bob Builder")?;
    bob.wait_for_text("#nav-analytics", "Analytics", WAIT)?;
    open_analytics(&bob, &edge)?;
    bob.wait_for_text("#no-projects", NOT_A_MEMBER, WAIT)?;
    assert!(
        !exists(&bob, "#tab-overview"),
        "no figures for a non-member"
    );

    // The admin opens the project's members: none yet, Bob offered by the add form.
    let admin_dir = TempDir::new("chromium-admin")?;
    let admin = signed_in(&admin_dir, &edge, ADMIN, PASSWORD, "Admin")?;
    admin.goto(&edge.url("/admin?tab=projects"))?;
    let section = format!("#members-{project}");
    wait_for(&admin, &section)?;
    admin.click(&format!("{section} summary"))?;
    let form = format!("#add-member-{project}");
    let offered = format!("{form} select.add-member-user option[value=\"{bob_id}\"]");
    wait_for(&admin, &offered)?;
    admin.wait_for_text(&format!("{section} .members-empty"), "No members yet", WAIT)?;

    // Bob is added as an analyst.
    admin.click(&offered)?;
    admin.click(&format!(
        "{form} select.add-member-role option[value=\"analyst\"]"
    ))?;
    admin.click(&format!("{form} button.add-member"))?;
    let row = format!("{section} tr[data-user=\"{bob_id}\"]");
    wait_for(&admin, &row)?;
    admin.wait_for_text(&format!("{row} .member-email"), BOB, WAIT)?;
    assert_eq!(
        select_value(&admin, &format!("{row} .member-role")),
        "analyst"
    );
    wait_for_none(&admin, &offered)?;
    assert!(!exists(&admin, &format!("{form} .add-member-error")));
    wait_for_members(&http, &edge, &admin_token, &project, &[(BOB, "analyst")]).await?;

    // Then made a viewer with the row's select.
    admin.click(&format!("{row} .member-role option[value=\"viewer\"]"))?;
    wait_for_members(&http, &edge, &admin_token, &project, &[(BOB, "viewer")]).await?;
    wait_for_none(&admin, &format!("{row} .row-busy"))?;
    assert!(!exists(&admin, &format!("{row} .row-error")), "no error");
    assert_eq!(
        select_value(&admin, &format!("{row} .member-role")),
        "viewer"
    );
    for width in [1280, 390] {
        admin.set_window_size(width, 900)?;
        admin.execute(&format!(
            "document.querySelector({section:?}).scrollIntoView({{ block: 'center' }})"
        ))?;
        screenshot(&admin, "members", width)?;
    }
    admin.set_window_size(1280, 900)?;

    // Bob's analytics offers that project only, not the built-in one, and reads it.
    open_analytics(&bob, &edge)?;
    wait_for_texts(&bob, "#project-switcher option", &[PROJECT])?;
    assert_eq!(select_value(&bob, "#project-switcher"), project.as_str());
    wait_for(&bob, "#tab-overview")?;
    let bob_token = token(&edge, BOB, BOB_PASSWORD)?;
    let (status, body) = crate::helpers::call(
        &http,
        reqwest::Method::GET,
        edge.url(&format!("/api/query/catalog?project_id={project}")),
        Some(&bob_token),
        None,
    )
    .await?;
    assert!(
        status != 401 && status != 403,
        "a viewer reads the project's catalogue: {status} {body}"
    );

    // Removed, Bob is a member of nothing again.
    admin.click(&format!("{row} .member-remove"))?;
    wait_for_none(&admin, &row)?;
    wait_for(&admin, &offered)?;
    wait_for_members(&http, &edge, &admin_token, &project, &[]).await?;
    open_analytics(&bob, &edge)?;
    bob.wait_for_text("#no-projects", NOT_A_MEMBER, WAIT)?;
    Ok(())
}
