//! Saved insights and dashboards: a project's analysts save them, every member reads them,
//! anyone else learns nothing; a dashboard leaves out an insight deleted since, and a rebuild
//! gives them all again.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Rebuilt, TestAuth};

fn trends() -> Value {
    json!({
        "name": "  Daily visitors ",
        "kind": "trends",
        "view": "tab=trends&event=%24pageview",
        "query": { "range": "30d", "params": "event=%24pageview&measure=uniques&interval=day" },
    })
}

fn funnel() -> Value {
    json!({
        "name": "Signup funnel",
        "kind": "funnel",
        "query": {
            "range": "custom", "from": "2026-11-01", "to": "2026-11-30",
            "body": { "steps": [{ "event": "$pageview" }, { "event": "signup" }], "window_seconds": 3600 },
        },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn analysts_save_insights_members_read_them_and_others_learn_nothing() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let project = auth.project(&admin, "Saved").await;
    let analyst = auth
        .person(&admin, &project, "ana@example.com", Some("analyst"))
        .await;
    let viewer = auth
        .person(&admin, &project, "vic@example.com", Some("viewer"))
        .await;
    let outsider = auth.person(&admin, &project, "out@example.com", None).await;
    let insights = format!("/api/projects/{project}/insights");

    let (status, daily) = auth
        .call(Method::POST, &insights, &analyst, Some(trends()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{daily}");
    assert_eq!(daily["name"], "Daily visitors");
    assert_eq!(daily["updated_by"], "ana@example.com");
    assert_eq!(daily["query"], trends()["query"]);
    assert_eq!(daily["view"], trends()["view"]);
    let (status, signup) = auth
        .call(Method::POST, &insights, &admin, Some(funnel()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{signup}");
    let mut saved_query = funnel()["query"].clone();
    saved_query["params"] = json!("");
    assert_eq!(
        signup["query"], saved_query,
        "kept as saved, params empty by default"
    );
    let daily_path = format!("{insights}/{}", daily["id"].as_str().expect("id"));

    // Members read them, by name; a viewer writes nothing; an outsider learns nothing.
    let (status, listed) = auth.call(Method::GET, &insights, &viewer, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["insights"], json!([daily, signup]));
    assert_eq!(
        auth.call(Method::GET, &daily_path, &viewer, None).await.1,
        daily
    );
    for (method, path) in [(Method::POST, &insights), (Method::PUT, &daily_path)] {
        let (status, _) = auth.call(method, path, &viewer, Some(trends())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        auth.call(Method::DELETE, &daily_path, &viewer, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    for path in [&insights, &daily_path] {
        assert_eq!(
            auth.call(Method::GET, path, &outsider, None).await.0,
            StatusCode::NOT_FOUND
        );
    }
    let unknown = format!("{insights}/{}", Uuid::now_v7());
    assert_eq!(
        auth.call(Method::GET, &unknown, &viewer, None).await.0,
        StatusCode::NOT_FOUND
    );

    // What an insight may not hold is a 400 that names it.
    let with = |query: Value| {
        let mut request = trends();
        request["query"] = query;
        request
    };
    let mut top_with_body = funnel();
    top_with_body["kind"] = json!("top");
    let mut funnel_without_body = funnel();
    funnel_without_body["query"] = json!({ "range": "7d" });
    for (request, says) in [
        (
            with(json!({ "range": "7d", "params": "interval=day&from=2026-01-01" })),
            "from",
        ),
        (
            with(json!({ "range": "7d", "params": "project_id=x" })),
            "project_id",
        ),
        (
            with(json!({ "range": "7d", "params": "format=csv" })),
            "format",
        ),
        (
            with(json!({ "range": "7d", "params": "?format=csv" })),
            "must not set format",
        ),
        (
            with(json!({ "range": "7d", "params": "interval=day&=x" })),
            "name",
        ),
        (with(json!({ "range": "last week" })), "query.range"),
        (
            with(json!({ "range": "custom", "from": "2026-11-02", "to": "2026-11-01" })),
            "after",
        ),
        (
            with(json!({ "range": "custom", "from": "2026-11-31", "to": "2026-12-01" })),
            "date",
        ),
        (with(json!({ "range": "7d", "to": "2026-12-01" })), "custom"),
        (top_with_body, "takes no query.body"),
        (funnel_without_body, "JSON object"),
        (
            json!({ "name": " ", "kind": "top", "query": { "range": "7d" } }),
            "name",
        ),
        (
            json!({ "name": "v", "kind": "top", "view": "x".repeat(8193), "query": { "range": "7d" } }),
            "view",
        ),
    ] {
        let (status, body) = auth
            .call(Method::POST, &insights, &analyst, Some(request.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(says), "{message} should say {says}");
    }

    // Params are kept canonical: what query appends after its own is a clean query string.
    let (status, odd) = auth
        .call(
            Method::POST,
            &insights,
            &analyst,
            Some(with(json!({
                "range": "7d",
                "params": "?event=sign up#1&path=/café&&interval=day",
            }))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{odd}");
    let canonical = "event=sign+up%231&path=%2Fcaf%C3%A9&interval=day";
    assert_eq!(odd["query"]["params"], canonical);
    let odd_path = format!("{insights}/{}", odd["id"].as_str().expect("id"));
    let (_, read) = auth.call(Method::GET, &odd_path, &viewer, None).await;
    assert_eq!(read["query"]["params"], canonical);
    assert_eq!(
        auth.call(Method::DELETE, &odd_path, &analyst, None).await.0,
        StatusCode::NO_CONTENT
    );

    // Saved again, then deleted.
    let mut renamed = trends();
    renamed["name"] = json!("Visitors a day");
    let (status, saved) = auth
        .call(Method::PUT, &daily_path, &analyst, Some(renamed))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        (&saved["name"], &saved["id"]),
        (&json!("Visitors a day"), &daily["id"])
    );
    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert!(live.contains("Visitors a day"), "{live}");
    assert_eq!(auth.dump(), live, "rebuild equals live");
    assert_eq!(
        auth.call(Method::DELETE, &daily_path, &analyst, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        auth.call(Method::GET, &daily_path, &viewer, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, listed) = auth.call(Method::GET, &insights, &viewer, None).await;
    assert_eq!(listed["insights"], json!([signup]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dashboard_orders_its_project_s_insights_and_leaves_out_one_deleted_since() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let project = auth.project(&admin, "Boards").await;
    let other = auth.project(&admin, "Elsewhere").await;
    let analyst = auth
        .person(&admin, &project, "ana@example.com", Some("analyst"))
        .await;
    let viewer = auth
        .person(&admin, &project, "vic@example.com", Some("viewer"))
        .await;
    let outsider = auth.person(&admin, &project, "out@example.com", None).await;
    let save = |project: String, request: Value| {
        let auth = &auth;
        let admin = admin.clone();
        async move {
            let path = format!("/api/projects/{project}/insights");
            let (status, body) = auth.call(Method::POST, &path, &admin, Some(request)).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["id"].as_str().expect("id").to_owned()
        }
    };
    let daily = save(project.clone(), trends()).await;
    let signup = save(project.clone(), funnel()).await;
    let foreign = save(other.clone(), trends()).await;
    let dashboards = format!("/api/projects/{project}/dashboards");

    let (status, board) = auth
        .call(
            Method::POST,
            &dashboards,
            &analyst,
            Some(json!({ "name": " Growth ", "insight_ids": [signup, daily] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{board}");
    assert_eq!(board["name"], "Growth");
    assert_eq!(board["insight_ids"], json!([signup, daily]));
    assert_eq!(board["updated_by"], "ana@example.com");
    let board_path = format!("{dashboards}/{}", board["id"].as_str().expect("id"));
    let (_, empty) = auth
        .call(
            Method::POST,
            &dashboards,
            &admin,
            Some(json!({ "name": "Another" })),
        )
        .await;
    assert_eq!(empty["insight_ids"], json!([]));

    // Members read them by name; a viewer writes none; an outsider learns nothing.
    let (status, listed) = auth.call(Method::GET, &dashboards, &viewer, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["dashboards"], json!([empty, board]));
    assert_eq!(
        auth.call(Method::GET, &board_path, &viewer, None).await.1,
        board
    );
    let body = json!({ "name": "Mine", "insight_ids": [] });
    assert_eq!(
        auth.call(Method::POST, &dashboards, &viewer, Some(body.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auth.call(Method::PUT, &board_path, &viewer, Some(body.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    for path in [&dashboards, &board_path] {
        assert_eq!(
            auth.call(Method::GET, path, &outsider, None).await.0,
            StatusCode::NOT_FOUND
        );
    }

    // Tiles: each once, at most 50, each an insight of this project.
    let fifty_one: Vec<String> = (0..51).map(|_| Uuid::now_v7().to_string()).collect();
    for (ids, says) in [
        (json!([daily, daily]), "more than once"),
        (json!([daily, foreign]), "no such insight"),
        (json!([Uuid::now_v7()]), "no such insight"),
        (json!(fifty_one), "at most 50"),
    ] {
        let (status, body) = auth
            .call(
                Method::PUT,
                &board_path,
                &analyst,
                Some(json!({ "name": "Growth", "insight_ids": ids })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{ids}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(says), "{message} should say {says}");
    }

    // Renamed and reordered in one save; an insight deleted since is left out.
    let (status, saved) = auth
        .call(
            Method::PUT,
            &board_path,
            &analyst,
            Some(json!({ "name": "Growth, weekly", "insight_ids": [daily, signup] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["insight_ids"], json!([daily, signup]));
    let (status, _) = auth
        .call(
            Method::DELETE,
            &format!("/api/projects/{project}/insights/{daily}"),
            &analyst,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, read) = auth.call(Method::GET, &board_path, &viewer, None).await;
    assert_eq!(read["insight_ids"], json!([signup]));
    let (_, listed) = auth.call(Method::GET, &dashboards, &viewer, None).await;
    assert_eq!(listed["dashboards"][1]["insight_ids"], json!([signup]));
    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert!(live.contains("Growth, weekly"), "{live}");
    assert_eq!(auth.dump(), live, "rebuild equals live");

    assert_eq!(
        auth.call(Method::DELETE, &board_path, &analyst, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        auth.call(Method::GET, &board_path, &viewer, None).await.0,
        StatusCode::NOT_FOUND
    );
}
