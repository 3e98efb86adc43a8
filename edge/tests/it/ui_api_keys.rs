//! The account page against the real stack through edge, in headless Chromium: a user creates
//! an API key limited to one of their projects, reads it from the page (shown once), and reads
//! that project's trends with it while another of their projects stays closed to it; revoked
//! in the page, the key is refused at its next call and gone from the page for good. A user
//! who is an admin of a project, not of the instance, manages its members and invites there.

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use serde_json::Value;

use crate::browser::{
    WAIT, calls_to, eval, exists, screenshot, sign_in, wait_for, wait_for_none,
    wait_for_sign_in_form,
};

const DORA: &str = "dora@example.com";
const DORA_PASSWORD: &str = "a long enough password";
const BAKERY: &str = "Bakery";
const FLORIST: &str = "Florist";
const KEY_NAME: &str = "Nightly export";

/// The stack, edge, and Dora: a viewer of the Bakery and an admin of the Florist (projects
/// the instance admin created), neither of them an instance admin.
struct World {
    _stack: TestStack,
    edge: ServiceHandle,
    http: reqwest::Client,
    admin_token: String,
    dora_id: String,
    bakery: String,
    florist: String,
}

impl World {
    async fn start() -> anyhow::Result<Self> {
        let stack = TestStack::builder().everything().start()?;
        let edge = stack.edge(|_| {})?;
        let http = reqwest::Client::new();
        let admin_token = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
        let (bakery, _) =
            crate::helpers::create_project(&http, &edge, &admin_token, BAKERY).await?;
        let (florist, _) =
            crate::helpers::create_project(&http, &edge, &admin_token, FLORIST).await?;
        let dora = crate::helpers::register(&http, &edge, DORA, DORA_PASSWORD, "Dora").await?;
        let dora_id = dora["id"].as_str().unwrap_or_default().to_owned();
        let world = Self {
            _stack: stack,
            edge,
            http,
            admin_token,
            dora_id,
            bakery,
            florist,
        };
        world.make_member(&world.bakery, "viewer").await?;
        world.make_member(&world.florist, "admin").await?;
        Ok(world)
    }

    async fn make_member(&self, project: &str, role: &str) -> anyhow::Result<()> {
        let path = format!("/api/admin/projects/{project}/members/{}", self.dora_id);
        let (status, body) = self
            .call(reqwest::Method::PUT, &path, &self.admin_token, Some(role))
            .await?;
        anyhow::ensure!(status == 200, "PUT {path}: {status} {body}");
        Ok(())
    }

    /// `method path` through edge with the bearer `token` (and `{"role"}` when given).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        role: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let body = role.map(|role| serde_json::json!({ "role": role }));
        crate::helpers::call(
            &self.http,
            method,
            self.edge.url(path),
            Some(token),
            body.as_ref(),
        )
        .await
    }

    /// The status of the trends of `project` read with `token`.
    async fn trends_status(&self, token: &str, project: &str) -> u16 {
        let path = format!("/api/query/trends?project_id={project}");
        self.call(reqwest::Method::GET, &path, token, None)
            .await
            .map_or(0, |(status, _)| status)
    }

    /// Waits until the trends of `project` read with `token` answer `expected`.
    async fn wait_for_trends(
        &self,
        token: &str,
        project: &str,
        expected: u16,
    ) -> anyhow::Result<()> {
        let last = std::cell::Cell::new(0);
        devstack::wait::until_async(
            &format!("the trends of {project} with the key to answer {expected}"),
            WAIT,
            || async {
                let status = self.trends_status(token, project).await;
                last.set(status);
                status == expected
            },
        )
        .await
        .map_err(|err| err.context(format!("they answered {}", last.get())))
    }

    /// Dora, signed in, on her account page.
    fn dora_on_her_account_page(&self, dir: &TempDir) -> anyhow::Result<Browser> {
        let browser = Browser::start(dir.path())?;
        browser.goto(&self.edge.url("/login"))?;
        wait_for_sign_in_form(&browser)?;
        sign_in(&browser, DORA, DORA_PASSWORD)?;
        browser.wait_for_text("#signed-in-as", "Dora", WAIT)?;
        browser.click("#nav-account")?;
        browser.wait_for_text("#account-email", DORA, WAIT)?;
        Ok(browser)
    }
}

/// The value of the input matching `css`, empty when there is none.
fn input_value(browser: &Browser, css: &str) -> String {
    eval(
        browser,
        &format!("document.querySelector({css:?})?.value ?? ''"),
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_created_on_the_account_page_reads_its_project_until_revoked_there()
-> anyhow::Result<()> {
    let world = World::start().await?;
    let dir = TempDir::new("chromium-dora")?;
    let dora = world.dora_on_her_account_page(&dir)?;
    wait_for(&dora, "#api-keys-empty")?;

    // A key limited to the Bakery: shown once, in a read-only field, with how to use it.
    let bakery_box = format!("#api-key-project-{}", world.bakery);
    wait_for(&dora, &bakery_box)?;
    dora.type_into("#api-key-name", KEY_NAME)?;
    dora.click(&bakery_box)?;
    dora.click("#api-key-create")?;
    let mut key = String::new();
    devstack::wait::until("the new key on the page", WAIT, || {
        key = input_value(&dora, "#api-key-value");
        key.starts_with(contract::auth::API_KEY_PREFIX)
    })?;
    assert!(!exists(&dora, "#api-key-error"), "no error");
    let note = dora.text("#api-key-note")?.unwrap_or_default();
    assert!(
        note.contains("shown only now") && note.contains("Authorization: Bearer"),
        "{note}"
    );
    let row = "#api-keys tr.api-key-row";
    dora.wait_for_text(&format!("{row} .api-key-name"), KEY_NAME, WAIT)?;
    let prefix = dora
        .text(&format!("{row} .api-key-prefix"))?
        .unwrap_or_default();
    assert_eq!(
        prefix,
        format!("{}…", &key[..12]),
        "the key's first characters"
    );
    dora.wait_for_text(&format!("{row} .api-key-projects-cell"), BAKERY, WAIT)?;
    dora.wait_for_text(&format!("{row} .api-key-last-used"), "never", WAIT)?;
    for width in [1280, 390] {
        dora.set_window_size(width, 900)?;
        dora.execute(
            "document.querySelector('#api-key-created').scrollIntoView({ block: 'start' })",
        )?;
        screenshot(&dora, "account", width)?;
    }
    dora.set_window_size(1280, 900)?;

    // The key reads the Bakery (once query has read it from the stream), not the Florist.
    world.wait_for_trends(&key, &world.bakery, 200).await?;
    assert_eq!(
        world.trends_status(&key, &world.florist).await,
        404,
        "a key limited to the Bakery reads nothing of the Florist"
    );

    // Revoked in the page (asked first): the row and the shown key go, the next call is a 401.
    let key_id = eval(
        &dora,
        &format!("document.querySelector('{row}').dataset.keyId"),
    );
    let key_id = key_id.as_str().unwrap_or_default().to_owned();
    dora.click(&format!("{row} .api-key-revoke"))?;
    dora.wait_for_text("#confirm-title", "Revoke this API key?", WAIT)?;
    dora.click("#confirm-delete")?;
    wait_for_none(&dora, &format!("tr[data-key-id=\"{key_id}\"]"))?;
    wait_for_none(&dora, "#api-key-value")?;
    wait_for(&dora, "#api-keys-empty")?;
    world.wait_for_trends(&key, &world.bakery, 401).await?;

    // After a reload the key is nowhere on the page, nor in the API's list.
    dora.refresh()?;
    wait_for(&dora, "#api-keys-empty")?;
    let html = eval(&dora, "document.documentElement.outerHTML");
    assert!(
        !html.as_str().unwrap_or_default().contains(&key),
        "the revoked key is not on the page"
    );
    let dora_token =
        devstack::test::access_token(world.edge.addr.port(), DORA, DORA_PASSWORD, WAIT)?;
    let (status, keys) = world
        .call(
            reqwest::Method::GET,
            "/api/auth/api-keys",
            &dora_token,
            None,
        )
        .await?;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["api_keys"], serde_json::json!([]), "no live key");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_admin_who_is_no_instance_admin_manages_its_members_on_the_account_page()
-> anyhow::Result<()> {
    let world = World::start().await?;
    let dir = TempDir::new("chromium-dora")?;
    let dora = world.dora_on_her_account_page(&dir)?;
    assert!(!exists(&dora, "#nav-admin"), "Dora is no instance admin");

    // Only the Florist, which she administers, is managed here; the Bakery she only reads.
    let card = format!(
        "#administered article[data-project-id=\"{}\"]",
        world.florist
    );
    wait_for(&dora, &card)?;
    assert!(!exists(
        &dora,
        &format!(
            "#administered article[data-project-id=\"{}\"]",
            world.bakery
        )
    ));
    let section = format!("#members-{}", world.florist);
    dora.click(&format!("{section} summary"))?;
    let row = format!("{section} tr[data-user=\"{}\"]", world.dora_id);
    dora.wait_for_text(&format!("{row} .member-email"), DORA, WAIT)?;
    assert!(
        !exists(&dora, &format!("#add-member-{}", world.florist)),
        "no form adding from the instance's users, which only instance admins may list"
    );
    assert_eq!(calls_to(&dora, "/api/admin/users")?, Vec::<u64>::new());

    // She invites someone: the link shows, and the pending invite is listed.
    let form = format!("#invite-{}", world.florist);
    dora.type_into(&format!("{form} input.invite-email"), "erin@example.com")?;
    dora.click(&format!(
        "{form} select.invite-role option[value=\"analyst\"]"
    ))?;
    dora.click(&format!("{form} button.invite-send"))?;
    let mut link = String::new();
    devstack::wait::until("the invite's link", WAIT, || {
        link = input_value(&dora, &format!("{section} input.invite-link"));
        link.contains("/invite/")
    })?;
    dora.wait_for_text(
        &format!("{section} .invite-row-email"),
        "erin@example.com",
        WAIT,
    )?;
    assert!(
        !exists(&dora, &format!("{section} .invite-error")),
        "no error"
    );
    for width in [1280, 390] {
        dora.set_window_size(width, 900)?;
        dora.execute(&format!(
            "document.querySelector({card:?}).scrollIntoView({{ block: 'start' }})"
        ))?;
        screenshot(&dora, "members-project-admin", width)?;
    }
    Ok(())
}
