//! Importing past events in the admin panel against the real stack through edge, in headless
//! Chromium: the admin picks a format and an export file on the project's card, clicks Import,
//! and watches the job's progress bar reach 100 % and "done"; the events are in ClickHouse.

use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::TempDir;

use crate::browser::{WAIT, eval, screenshot, sign_in, wait_for, wait_for_sign_in_form};
use crate::imports::{export, settled_count};

const EVENTS: usize = 5_000;

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_imports_an_export_file_and_watches_its_progress_bar_reach_done()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let token = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
    let (project, _) = crate::helpers::create_project(&http, &edge, &token, "Seed shop").await?;
    let dir = TempDir::new("chromium-imports")?;
    let file = dir.path().join("segment-export.jsonl");
    std::fs::write(&file, export("segment", EVENTS))?;

    let browser = Browser::start(dir.path())?;
    browser.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, ADMIN, PASSWORD)?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    browser.goto(&edge.url("/admin?tab=projects"))?;
    let card = format!("article.project[data-project-id=\"{project}\"]");
    wait_for(&browser, &format!("{card} form.import-form"))?;

    // Segment, and the file, as a person picks them.
    browser.execute(&format!(
        "const select = document.querySelector('{card} select.import-format');
         select.value = 'segment';
         select.dispatchEvent(new Event('input', {{ bubbles: true }}));
         select.dispatchEvent(new Event('change', {{ bubbles: true }}));"
    ))?;
    browser.type_into(
        &format!("{card} input.import-file"),
        &file.display().to_string(),
    )?;
    browser.click(&format!("{card} button.import-start"))?;

    let done = format!("{card} li.import-job[data-state=\"done\"]");
    devstack::wait::until("the import shows done", Duration::from_secs(180), || {
        eval(
            &browser,
            &format!("document.querySelector('{done}') !== null"),
        ) == true
    })?;
    let bar = format!("{done} [role=progressbar]");
    assert_eq!(
        eval(
            &browser,
            &format!("document.querySelector('{bar}').getAttribute('aria-valuenow')")
        ),
        "100"
    );
    let row = eval(
        &browser,
        &format!("document.querySelector('{done}').textContent"),
    );
    let row = row.as_str().unwrap_or_default();
    assert!(
        row.contains("segment") && row.contains("done") && row.contains("100 %"),
        "{row}"
    );
    assert!(
        row.contains("5,000 imported")
            || row.contains("5 000 imported")
            || row.contains("5000 imported"),
        "{row}"
    );
    assert_eq!(settled_count(&stack, &project).await, EVENTS as u64);

    browser.execute(&format!(
        "document.querySelector('{card} section.imports').scrollIntoView({{ block: 'center' }})"
    ))?;
    let shot = screenshot(&browser, "imports", 1280)?;
    eprintln!("screenshot: {}", shot.display());
    Ok(())
}
