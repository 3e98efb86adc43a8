//! A project's history, its own retention and password-reset links in the web app against the
//! real stack through edge, in headless Chromium: an admin changes a member's role and sets the
//! project's retention through its card, and its History section shows both, newest first; the
//! project list keeps the retention across a reload. The admin makes a reset link for a user,
//! who opens it signed out, sets a new password and signs in with it; the link then works no
//! more. Made an admin of the project, that user finds its retention and history on the account
//! page.

use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use serde_json::{Value, json};

use crate::browser::{
    WAIT, eval, exists, screenshot, sign_in, texts, wait_for, wait_for_none, wait_for_path,
    wait_for_sign_in_form,
};

const BOB: &str = "bob@example.com";
const BOB_NAME: &str = "Bob Baker";
const BOB_PASSWORD: &str = "a long enough password";
const NEW_PASSWORD: &str = "a brand new passphrase";
const PROJECT: &str = "Bakery";
const NO_LONGER_VALID: &str = "This reset link is no longer valid";

/// The API through edge, as the admin.
struct Api<'a> {
    http: reqwest::Client,
    edge: &'a ServiceHandle,
    token: String,
}

impl Api<'_> {
    /// `method path` with an optional JSON `body`, as the admin unless `anonymous`: the status
    /// and the answer's JSON.
    async fn call(
        &self,
        (method, path): (reqwest::Method, &str),
        body: Option<&Value>,
        anonymous: bool,
    ) -> anyhow::Result<(u16, Value)> {
        let token = (!anonymous).then_some(self.token.as_str());
        crate::helpers::call(&self.http, method, self.edge.url(path), token, body).await
    }

    /// `PUT path` with `body` as the admin, expecting a 200.
    async fn put(&self, path: &str, body: Value) -> anyhow::Result<()> {
        let (status, answer) = self
            .call((reqwest::Method::PUT, path), Some(&body), false)
            .await?;
        anyhow::ensure!(status == 200, "PUT {path}: {status} {answer}");
        Ok(())
    }

    /// Makes `user` a `role` of `project`.
    async fn set_role(&self, (project, user): (&str, &str), role: &str) -> anyhow::Result<()> {
        let path = format!("/api/admin/projects/{project}/members/{user}");
        self.put(&path, json!({ "role": role })).await
    }

    /// The project `PROJECT` with Bob as a viewer, and 18 changes of its domains besides, so
    /// its history needs two pages: the project's and Bob's ids.
    async fn project_with_bob(&self) -> anyhow::Result<(String, String)> {
        let (project, _) =
            crate::helpers::create_project(&self.http, self.edge, &self.token, PROJECT).await?;
        let bob =
            crate::helpers::register(&self.http, self.edge, BOB, BOB_PASSWORD, BOB_NAME).await?;
        let bob = bob["id"].as_str().unwrap_or_default().to_owned();
        self.set_role((&project, &bob), "viewer").await?;
        let domains = format!("/api/admin/projects/{project}/domains");
        for n in 1..=18 {
            let body = json!({ "domains": [format!("shop{n}.example")] });
            self.put(&domains, body).await?;
        }
        Ok((project, bob))
    }
}

/// A browser signed in as `email`, at home.
fn signed_in(
    dir: &TempDir,
    edge: &ServiceHandle,
    email: &str,
    name: &str,
) -> anyhow::Result<Browser> {
    let browser = Browser::start(dir.path())?;
    browser.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, email, PASSWORD)?;
    browser.wait_for_text("#signed-in-as", name, WAIT)?;
    Ok(browser)
}

/// Waits until the API says `user` is a `role` of `project`.
async fn wait_for_role(
    api: &Api<'_>,
    (project, user): (&str, &str),
    role: &str,
) -> anyhow::Result<()> {
    let path = format!("/api/admin/projects/{project}/members");
    devstack::wait::until_async(&format!("{user} to be {role}"), WAIT, || async {
        let Ok((200, body)) = api.call((reqwest::Method::GET, &path), None, false).await else {
            return false;
        };
        body["members"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["user_id"] == user && m["role"] == role)
    })
    .await
}

/// In the open projects tab: Bob made an analyst in the members section, then the project's
/// retention set to 13 months with its form, which the card's facts show.
async fn change_role_and_retention(
    admin: &Browser,
    api: &Api<'_>,
    (project, bob): (&str, &str),
) -> anyhow::Result<()> {
    let members = format!("#members-{project}");
    admin.click(&format!("{members} summary"))?;
    let row = format!("{members} tr[data-user=\"{bob}\"]");
    wait_for(admin, &row)?;
    admin.click(&format!("{row} .member-role option[value=\"analyst\"]"))?;
    wait_for_role(api, (project, bob), "analyst").await?;
    wait_for_none(admin, &format!("{row} .row-busy"))?;
    assert!(!exists(admin, &format!("{row} .row-error")), "no error");

    let form = format!("#retention-{project}");
    admin.wait_for_text(&format!("{form} .retention-now"), "the instance's", WAIT)?;
    admin.click(&format!("{form}-own"))?;
    admin.type_into(&format!("{form}-months"), "13")?;
    admin.click(&format!("{form} .retention-save"))?;
    admin.wait_for_text(&format!("{form} .retention-saved"), "Retention saved", WAIT)?;
    admin.wait_for_text(&format!("{form} .retention-now"), "13 months", WAIT)?;
    let card = format!("article[data-project-id=\"{project}\"]");
    admin.wait_for_text(&format!("{card} .project-retention"), "13 months", WAIT)?;
    assert!(
        !exists(admin, &format!("{form} .retention-error")),
        "no error"
    );
    Ok(())
}

/// Opens the project's History: the two changes head it, newest first, made by the admin; the
/// first page holds 20, and "Older" adds the rest under them, the focus on the first it added.
fn read_history(admin: &Browser, project: &str) -> anyhow::Result<()> {
    let history = format!("#history-{project}");
    admin.click(&format!("{history} summary"))?;
    let summaries = format!("{history} .history-summary");
    let expected = ["retention set to 13 months", &format!("{BOB} is analyst")];
    let mut last = Vec::new();
    devstack::wait::until("the history to show both changes", WAIT, || {
        last = texts(admin, &summaries).unwrap_or_default();
        last.len() >= 2 && last[..2] == expected
    })
    .map_err(|err| err.context(format!("it showed {last:?}")))?;
    assert_eq!(last.len(), 20, "a page: {last:?}");
    let actors = texts(admin, &format!("{history} .history-actor"))?;
    assert_eq!(actors[..2], [ADMIN, ADMIN], "{actors:?}");
    let whens = texts(admin, &format!("{history} .history-when"))?;
    assert!(
        whens.iter().all(|w| w.len() == 16),
        "to the minute: {whens:?}"
    );

    admin.click(&format!("{history} .history-older"))?;
    wait_for_none(admin, &format!("{history} .history-older"))?;
    let all = texts(admin, &summaries)?;
    assert_eq!(all[..20], last[..], "the first page stays on top");
    assert_eq!(all.len(), 23, "{all:?}");
    assert_eq!(all[20], format!("{BOB} is viewer"));
    assert!(
        all[21].starts_with("write key ea_") && all[21].ends_with("issued"),
        "{all:?}"
    );
    assert_eq!(
        all[22],
        format!("project {PROJECT} created (time zone UTC)")
    );
    let focused = eval(
        admin,
        "document.activeElement?.querySelector('.history-summary')?.textContent ?? ''",
    );
    assert_eq!(
        focused,
        json!(format!("{BOB} is viewer")),
        "the focus on the first added"
    );
    admin.wait_for_text(&format!("{history} .history-count"), "23 changes", WAIT)?;
    Ok(())
}

/// In the users tab: a reset link for Bob, asked first, shown once with its expiry.
fn make_reset_link(admin: &Browser, edge: &ServiceHandle, bob: &str) -> anyhow::Result<String> {
    admin.click("#tab-users")?;
    let row = format!("tr[data-user-id=\"{bob}\"]");
    wait_for(admin, &row)?;
    admin.click(&format!("{row} button.reset-password"))?;
    admin.wait_for_text("#confirm-title", "password reset link", WAIT)?;
    admin.click("#confirm-delete")?;
    let mut link = String::new();
    devstack::wait::until("the reset link", WAIT, || {
        link = eval(admin, "document.querySelector('#reset-link')?.value ?? ''")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        link.contains("/reset/")
    })?;
    assert!(
        link.starts_with(&edge.url("/reset/")),
        "this server's: {link}"
    );
    let note = admin.text("#reset-link-note")?.unwrap_or_default();
    assert!(
        note.contains("shown only this once") && note.contains("expires at"),
        "{note}"
    );
    admin.wait_for_text("#reset-link-title", BOB, WAIT)?;
    assert!(!exists(admin, &format!("{row} .row-error")), "no error");
    Ok(link)
}

/// Types `password` twice into the reset page's form and sends it.
fn set_password(browser: &Browser, password: &str) -> anyhow::Result<()> {
    browser.wait_for_text("#reset-submit", "Set the password", WAIT)?;
    browser.type_into("#reset-password", password)?;
    browser.type_into("#reset-again", password)?;
    browser.click("#reset-submit")
}

/// Bob opens `link` signed out, sets a new password and signs in with it (taking
/// screenshots into `shots`); his old password no longer works.
async fn reset_and_sign_in(
    api: &Api<'_>,
    dir: &TempDir,
    link: &str,
    shots: &mut Vec<std::path::PathBuf>,
) -> anyhow::Result<Browser> {
    let browser = Browser::start(dir.path())?;
    browser.goto(link)?;
    browser.wait_for_text("#reset-submit", "Set the password", WAIT)?;
    shots.push(screenshot(&browser, "reset-page", 390)?);
    set_password(&browser, NEW_PASSWORD)?;
    browser.wait_for_text("#reset-done", "Your new password is set", WAIT)?;
    wait_for_path(&browser, link.trim_start_matches(&api.edge.url("")))?;
    browser.click("#reset-to-sign-in")?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, BOB, NEW_PASSWORD)?;
    browser.wait_for_text("#signed-in-as", BOB_NAME, WAIT)?;
    let login = json!({ "email": BOB, "password": BOB_PASSWORD });
    let (status, _) = api
        .call(
            (reqwest::Method::POST, "/api/auth/login"),
            Some(&login),
            true,
        )
        .await?;
    assert_eq!(status, 401, "the old password no longer works");
    Ok(browser)
}

/// On the account page of a project's admin: its retention as saved, and its history.
fn account_shows_retention_and_history(
    browser: &Browser,
    edge: &ServiceHandle,
    project: &str,
) -> anyhow::Result<()> {
    browser.goto(&edge.url("/account"))?;
    let form = format!("#administered #retention-{project}");
    browser.wait_for_text(&format!("{form} .retention-now"), "13 months", WAIT)?;
    let own = eval(
        browser,
        &format!("document.querySelector('#retention-{project}-own').checked"),
    );
    assert_eq!(own, json!(true), "the project's own retention is ticked");
    let history = format!("#administered #history-{project}");
    browser.click(&format!("{history} summary"))?;
    browser.wait_for_text(
        &format!("{history} .history-summary"),
        &format!("{BOB} is admin"),
        WAIT,
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_reads_a_projects_history_sets_its_retention_and_sends_a_reset_link()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let api = Api {
        http: reqwest::Client::new(),
        edge: &edge,
        token: devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?,
    };
    let (project, bob) = api.project_with_bob().await?;

    // The admin changes Bob's role and the retention; the history shows both, newest first.
    let admin_dir = TempDir::new("chromium-admin")?;
    let admin = signed_in(&admin_dir, &edge, ADMIN, "Admin")?;
    admin.goto(&edge.url("/admin?tab=projects"))?;
    wait_for(&admin, &format!("#members-{project}"))?;
    change_role_and_retention(&admin, &api, (&project, &bob)).await?;
    admin.execute(&format!(
        "document.querySelector('#retention-{project}').scrollIntoView({{ block: 'center' }})"
    ))?;
    let mut shots = vec![screenshot(&admin, "retention", 1280)?];
    read_history(&admin, &project)?;
    for width in [1280, 390] {
        admin.set_window_size(width, 900)?;
        admin.execute(&format!(
            "document.querySelector('#history-{project}').scrollIntoView({{ block: 'start' }})"
        ))?;
        shots.push(screenshot(&admin, "history", width)?);
    }
    admin.set_window_size(1280, 900)?;

    // Reloaded, the project list shows the retention saved, as the API does.
    admin.refresh()?;
    let card = format!("article[data-project-id=\"{project}\"]");
    admin.wait_for_text(&format!("{card} .project-retention"), "13 months", WAIT)?;
    let list = (reqwest::Method::GET, "/api/admin/projects");
    let (_, list) = api.call(list, None, false).await?;
    let listed = list["projects"].as_array().into_iter().flatten();
    let months: Vec<&Value> = listed
        .filter(|p| p["id"] == project.as_str())
        .map(|p| &p["retention_months"])
        .collect();
    assert_eq!(months, [&json!(13)], "{list}");

    // A reset link for Bob, opened signed out: a new password, then signing in with it.
    let link = make_reset_link(&admin, &edge, &bob)?;
    shots.push(screenshot(&admin, "reset-link", 1280)?);
    let bob_dir = TempDir::new("chromium-bob")?;
    let browser = reset_and_sign_in(&api, &bob_dir, &link, &mut shots).await?;

    // Made an admin of the project, Bob finds its retention and history on his account page.
    api.set_role((&project, &bob), "admin").await?;
    account_shows_retention_and_history(&browser, &edge, &project)?;

    // The link a second time: the error, and the password stays the new one. Bob is signed in
    // now, and the end of the page's session check does not draw the form again (which lost
    // what he had typed): a mark put on the form while the check is on its way stays.
    browser.set_latency(Duration::from_secs(2))?;
    browser.goto(&link)?;
    browser.wait_for_text("#reset-submit", "Set the password", WAIT)?;
    browser.execute("document.querySelector('#reset-form').dataset.mark = 'first'")?;
    browser.wait_for_text("#signed-in-as", BOB_NAME, WAIT)?;
    browser.set_latency(Duration::ZERO)?;
    let mark = eval(
        &browser,
        "document.querySelector('#reset-form')?.dataset.mark ?? ''",
    );
    assert_eq!(mark, json!("first"), "the form drawn once");
    set_password(&browser, "yet another password")?;
    browser.wait_for_text("#reset-error", NO_LONGER_VALID, WAIT)?;
    assert!(!exists(&browser, "#reset-done"));
    shots.push(screenshot(&browser, "reset-used", 1280)?);
    devstack::test::access_token(edge.addr.port(), BOB, NEW_PASSWORD, WAIT)?;
    for shot in shots {
        println!("screenshot: {}", shot.display());
    }
    Ok(())
}
