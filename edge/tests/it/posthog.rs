//! PostHog's script-tag path through edge: posthog-js's bundle at `/static/array.js` (the npm
//! package's file, cached briefly, revalidated by ETag, loadable from any site), the flags and
//! remote config it asks for on start ("nothing enabled"), and PostHog's standard snippet on a
//! page of another site (`shop.example`, which Chromium resolves to 127.0.0.2) in headless
//! Chromium: its pageview and event land in ClickHouse once, it takes its remote config and
//! (no) flags from edge, and the page logs no error or warning.

use std::io::Read as _;

use axum::extract::State;
use axum::response::Html;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::TempDir;
use serde_json::json;

use crate::browser::WAIT;
use crate::helpers::create_project;
use crate::site::{self, PROBLEMS, SITE};

/// PostHog's snippet as its documentation gives it, `KEY` and `HOST` to be filled in.
const SNIPPET: &str = r#"<script>
    !function(t,e){var o,n,p,r;e.__SV||(window.posthog && window.posthog.__loaded)||(window.posthog=e,e._i=[],e.init=function(i,s,a){function g(t,e){var o=e.split(".");2==o.length&&(t=t[o[0]],e=o[1]),t[e]=function(){t.push([e].concat(Array.prototype.slice.call(arguments,0)))}}(p=t.createElement("script")).type="text/javascript",p.crossOrigin="anonymous",p.async=!0,p.src=s.api_host.replace(".i.posthog.com","-assets.i.posthog.com")+"/static/array.js",(r=t.getElementsByTagName("script")[0]).parentNode.insertBefore(p,r);var u=e;for(void 0!==a?u=e[a]=[]:a="posthog",u.people=u.people||[],u.toString=function(t){var e="posthog";return"posthog"!==a&&(e+="."+a),t||(e+=" (stub)"),e},u.people.toString=function(){return u.toString(1)+".people (stub)"},o="init capture register register_once register_for_session unregister unregister_for_session getFeatureFlag getFeatureFlagPayload isFeatureEnabled reloadFeatureFlags updateEarlyAccessFeatureEnrollment getEarlyAccessFeatures on onFeatureFlags onSurveysLoaded onSessionId getSurveys getActiveMatchingSurveys renderSurvey displaySurvey canRenderSurvey canRenderSurveyAsync identify setPersonProperties group resetGroups setPersonPropertiesForFlags resetPersonPropertiesForFlags setGroupPropertiesForFlags resetGroupPropertiesForFlags reset get_distinct_id getGroups get_session_id get_session_replay_url alias set_config startSessionRecording stopSessionRecording sessionRecordingStarted captureException loadToolbar get_property getSessionProperty createPersonProfile opt_in_capturing opt_out_capturing has_opted_in_capturing has_opted_out_capturing get_explicit_consent_status is_capturing clear_opt_in_out_capturing debug getPageViewId captureTraceFeedback captureTraceMetric".split(" "),n=0;n<o.length;n++)g(u,o[n]);e._i.push([i,s,a])},e.__SV=1)}(document,window.posthog||[]);
    posthog.init('KEY', {
        api_host: 'HOST',
        defaults: '2025-05-24',
        person_profiles: 'identified_only',
    })
</script>"#;

/// What the page needs: edge's address and the project's write key.
#[derive(Clone)]
struct Site {
    edge: String,
    key: String,
}

/// The shop's page: the snippet, then an event.
async fn page(State(site): State<Site>) -> Html<String> {
    let snippet = SNIPPET
        .replace("KEY", &site.key)
        .replace("HOST", &site.edge);
    Html(format!(
        "<!doctype html><html><head><title>Shop</title>{PROBLEMS}{snippet}\
         <script>posthog.capture('signup', {{plan: 'pro'}})</script>\
         </head><body><h1>Shop</h1></body></html>"
    ))
}

/// The events of `project_id` in ClickHouse (event, host, path, plan, bot), and how many rows
/// hold them, copies included (no `FINAL`).
fn stored(stack: &TestStack, project_id: &str) -> anyhow::Result<(String, String)> {
    let sql = format!(
        "SELECT event, host, path, prop_values[indexOf(prop_keys, 'plan')], is_bot \
         FROM events FINAL WHERE project_id = '{project_id}' ORDER BY event FORMAT TSV"
    );
    let rows = format!("SELECT count() FROM events WHERE project_id = '{project_id}' FORMAT TSV");
    Ok((
        stack.clickhouse_sql(&sql)?.trim().to_owned(),
        stack.clickhouse_sql(&rows)?.trim().to_owned(),
    ))
}

#[test]
fn posthogs_snippet_on_another_site_lands_its_pageview_and_event_once() -> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let token = devstack::test::access_token(port, ADMIN, PASSWORD, WAIT)?;
    let (project_id, key) = runtime.block_on(create_project(&http, &edge, &token, "Shop"))?;

    let site = Site {
        edge: format!("http://127.0.0.1:{port}"),
        key: key.clone(),
    };
    let app = axum::Router::new()
        .route("/", axum::routing::get(page))
        .with_state(site);
    let dir = TempDir::new("chromium")?;
    let (shop, browser) = site::serve(&runtime, app, dir.path())?;
    browser.goto(&format!("{shop}/"))?;
    devstack::wait::until("posthog-js to load", WAIT, || {
        browser
            .execute("return !!(window.posthog && window.posthog.__loaded)")
            .is_ok_and(|loaded| loaded == true)
    })?;

    let expected = format!("$pageview\t{SITE}\t/\t\t0\nsignup\t{SITE}\t/\tpro\t0");
    let mut last = (String::new(), String::new());
    devstack::wait::until("the pageview and the event in ClickHouse", WAIT, || {
        last = stored(&stack, &project_id).unwrap_or_default();
        last.0 == expected
    })
    .map_err(|err| err.context(format!("ClickHouse holds:\n{}", last.0)))?;
    // An event sent after them arrives after them: then no copy of either came.
    browser.execute("posthog.capture('done'); return true")?;
    devstack::wait::until("the last event in ClickHouse", WAIT, || {
        last = stored(&stack, &project_id).unwrap_or_default();
        last.0.contains("\ndone\t")
    })?;
    assert_eq!(last.1, "3", "rows, copies included:\n{}", last.0);

    // Flags asked for load, and are none.
    browser.execute(
        "posthog.onFeatureFlags(flags => { window.flags = flags }); \
         posthog.reloadFeatureFlags(); return true",
    )?;
    devstack::wait::until("posthog-js to have its flags", WAIT, || {
        browser
            .execute("return window.flags")
            .is_ok_and(|flags| flags == json!([]))
    })?;
    // It took its remote config and the flags from edge.
    let asked = browser.execute(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)",
    )?;
    for path in [
        "/static/array.js".to_owned(),
        format!("/array/{key}/config.js"),
        "/flags/".to_owned(),
    ] {
        anyhow::ensure!(
            asked
                .as_array()
                .is_some_and(|all| all.contains(&json!(path))),
            "the page never asked for {path}: {asked}"
        );
    }
    site::assert_no_problems(&browser)?;
    Ok(())
}

/// The bundle npm installed for the build.
fn bundle_file(name: &str) -> anyhow::Result<Vec<u8>> {
    let path = devstack::workspace_root()
        .join("edge/trackers/node_modules/posthog-js/dist")
        .join(name);
    Ok(std::fs::read(path)?)
}

/// The posthog-js version npm installed.
fn posthog_js_version() -> anyhow::Result<String> {
    let path =
        devstack::workspace_root().join("edge/trackers/node_modules/posthog-js/package.json");
    let package: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    Ok(package["version"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn posthog_js_and_its_bundles_are_served_with_flags_and_config_and_other_paths_are_404()
-> anyhow::Result<()> {
    let stack = TestStack::builder().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let header = |answer: &reqwest::Response, name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    for name in ["array.js", "array.full.js"] {
        let path = format!("/static/{name}");
        let answer = http.get(edge.url(&path)).send().await?;
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(
            header(&answer, "content-type"),
            "application/javascript; charset=utf-8"
        );
        assert_eq!(header(&answer, "access-control-allow-origin"), "*");
        assert_eq!(header(&answer, "cache-control"), "public, max-age=300");
        let etag = header(&answer, "etag");
        assert!(etag.starts_with('"') && etag.len() > 10, "{path}: {etag}");
        assert_eq!(answer.bytes().await?.as_ref(), bundle_file(name)?, "{path}");

        // Gzip for browsers that take it: the same file.
        let zipped = http
            .get(edge.url(&path))
            .header("accept-encoding", "gzip, deflate, br")
            .send()
            .await?;
        assert_eq!(header(&zipped, "content-encoding"), "gzip", "{path}");
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(zipped.bytes().await?.as_ref()).read_to_end(&mut text)?;
        assert_eq!(text, bundle_file(name)?, "{path}");

        let again = http
            .get(edge.url(&path))
            .header("if-none-match", &etag)
            .send()
            .await?;
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(header(&again, "etag"), etag);
        assert!(again.bytes().await?.is_empty());
    }
    // The bundles posthog-js loads later (surveys even when off), also under the version it
    // names; anything else under /static/ is a JSON 404, never the web app.
    let version = posthog_js_version()?;
    for path in [
        "/static/surveys.js".to_owned(),
        format!("/static/{version}/surveys.js"),
        "/static/recorder.js".to_owned(),
    ] {
        let answer = http.get(edge.url(&path)).send().await?;
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(header(&answer, "access-control-allow-origin"), "*");
        assert_eq!(
            answer.bytes().await?.as_ref(),
            bundle_file(path.rsplit('/').next().unwrap_or_default())?
        );
    }
    for path in [
        "/static/x.js",
        "/static/1.0.0/surveys.js",
        "/static/main.js",
        "/static/module.js",
        "/static/posthog-js.version",
        "/static/..%2Findex.html",
        "/static/Array.js",
        "/static/",
        "/static",
    ] {
        let answer = http.get(edge.url(path)).send().await?;
        assert_eq!(answer.status(), 404, "{path}");
        assert_eq!(header(&answer, "access-control-allow-origin"), "*");
        let body: serde_json::Value = answer.json().await?;
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }

    // Flags, by POST or GET, any query string: none, nothing enabled; preflights pass.
    for (method, path) in [
        (reqwest::Method::POST, "/flags/?v=2&config=true"),
        (reqwest::Method::GET, "/flags/?v=2"),
        (reqwest::Method::POST, "/decide/?v=3"),
        (reqwest::Method::GET, "/decide/"),
    ] {
        let answer = http
            .request(method.clone(), edge.url(path))
            .header("origin", "http://shop.example")
            .body(r#"{"token":"phc_x","distinct_id":"d"}"#)
            .send()
            .await?;
        assert_eq!(answer.status(), 200, "{method} {path}");
        assert_eq!(header(&answer, "access-control-allow-origin"), "*");
        let flags: serde_json::Value = answer.json().await?;
        assert_eq!(flags["flags"], json!({}), "{path}");
        assert_eq!(flags["featureFlags"], json!({}), "{path}");
        assert_eq!(flags["featureFlagPayloads"], json!({}), "{path}");
        assert_eq!(flags["errorsWhileComputingFlags"], false, "{path}");
        assert_eq!(flags["sessionRecording"], false, "{path}");
        assert_eq!(flags["supportedCompression"], json!(["gzip", "gzip-js"]));
    }
    for path in ["/flags/?v=2", "/decide/", "/array/phc_x/config"] {
        let preflight = http
            .request(reqwest::Method::OPTIONS, edge.url(path))
            .header("origin", "http://shop.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await?;
        assert_eq!(preflight.status(), 204, "{path}");
        assert_eq!(header(&preflight, "access-control-allow-origin"), "*");
        assert!(header(&preflight, "access-control-allow-methods").contains("POST"));
    }

    // Remote config, as JSON and as the script posthog-js loads.
    let answer = http.get(edge.url("/array/phc_x-1/config")).send().await?;
    assert_eq!(answer.status(), 200);
    assert_eq!(header(&answer, "access-control-allow-origin"), "*");
    let config: serde_json::Value = answer.json().await?;
    assert_eq!(config["token"], "phc_x-1");
    assert_eq!(config["hasFeatureFlags"], false);
    assert_eq!(config["sessionRecording"], false);
    let script = http
        .get(edge.url("/array/phc_x-1/config.js"))
        .send()
        .await?;
    assert_eq!(script.status(), 200);
    assert_eq!(
        header(&script, "content-type"),
        "application/javascript; charset=utf-8"
    );
    let script = script.text().await?;
    assert!(
        script.contains(r#"window._POSTHOG_REMOTE_CONFIG["phc_x-1"] = { config: {"#),
        "{script}"
    );
    for path in ["/array/phc_x/other", "/array/bad%22token/config.js"] {
        let answer = http.get(edge.url(path)).send().await?;
        assert_eq!(answer.status(), 404, "{path}");
    }
    Ok(())
}
