//! The body that saves an analysis of the Analytics page as an insight: its kind, the page's
//! address (so the insight opens the same view) and the call its answer came from, with a
//! relative range kept relative.

use contract::auth::{
    InsightKind, InsightQuery, InsightRequest, MAX_INSIGHT_TEXT_BYTES, MAX_NAME_CHARS,
};

use super::super::dates::Preset;
use super::super::url::ViewState;

/// The parameters an insight's query leaves out: the query service sets them each time.
const SET_EACH_TIME: [&str; 4] = ["project_id", "from", "to", "format"];

/// The request saving the answer of `call` (the path and JSON body the page sent for `view`,
/// as the loader keeps them) as the insight `name` of `kind`; or the sentence saying what is
/// wrong. A preset range ("last 7 days") stays one: the insight always shows the last 7 days.
pub(crate) fn request(
    name: &str,
    kind: InsightKind,
    view: &ViewState,
    call: &(String, Option<serde_json::Value>),
) -> Result<InsightRequest, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Name the insight".to_owned());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("A name has {MAX_NAME_CHARS} characters at most"));
    }
    let (path, body) = call;
    let params = params(path);
    let shown = without_project(&view.encode());
    if params.len() > MAX_INSIGHT_TEXT_BYTES || shown.len() > MAX_INSIGHT_TEXT_BYTES {
        return Err("This view has too many filters to save".to_owned());
    }
    let custom = view.preset == Preset::Custom;
    Ok(InsightRequest {
        name: name.to_owned(),
        kind,
        view: shown,
        query: InsightQuery {
            range: view.preset.as_str().to_owned(),
            from: custom.then(|| view.from.clone()),
            to: custom.then(|| view.to.clone()),
            params,
            body: body.clone(),
        },
    })
}

/// The query string of `path` without the parameters the query service sets each time, each
/// pair as the page encoded it.
fn params(path: &str) -> String {
    let query = path.split_once('?').map_or("", |(_, query)| query);
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            !pair.is_empty() && !SET_EACH_TIME.contains(&name)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The query string `search` of the Analytics page without its project: an insight belongs to
/// its project, which its link adds back.
fn without_project(search: &str) -> String {
    search
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("project="))
        .collect::<Vec<_>>()
        .join("&")
}

/// What the insight of `kind` is called until its saver names it: "Trends of all events by
/// browser", "Pages", "Funnel: signup → buy".
pub(crate) fn suggested_name(kind: InsightKind, view: &ViewState, table: &str) -> String {
    match kind {
        InsightKind::Trends => {
            let what = if view.event.is_empty() {
                "all events"
            } else {
                view.event.as_str()
            };
            let measure = if view.measure == "uniques" {
                "Users of"
            } else {
                "Trends of"
            };
            let by = view
                .breakdown
                .strip_prefix("property:")
                .unwrap_or(&view.breakdown);
            if by.is_empty() {
                format!("{measure} {what}")
            } else {
                format!("{measure} {what} by {by}")
            }
        }
        InsightKind::Top => table.to_owned(),
        InsightKind::Funnel => format!("Funnel: {}", view.named_steps().join(" → ")),
        InsightKind::Retention => format!(
            "Retention: {} → {}",
            view.start_event.trim(),
            view.return_event.trim()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = "00000000-0000-4000-8000-000000000001";

    fn week() -> ViewState {
        let mut view = ViewState::decode(&format!("project={PROJECT}&range=7d"), "2026-11-30");
        view.interval = "day".to_owned();
        view
    }

    #[test]
    fn a_trends_insight_keeps_its_preset_relative_and_the_call_without_project_and_dates() {
        let view = week();
        let path = format!(
            "/api/query/trends?project_id={PROJECT}&from=2026-11-24&to=2026-11-30\
             &filter=%5B%5D&interval=day&measure=uniques&breakdown=browser"
        );
        let saved = request(" Weekly users ", InsightKind::Trends, &view, &(path, None))
            .expect("a request");
        assert_eq!(saved.name, "Weekly users");
        assert_eq!(saved.query.range, "7d");
        assert_eq!((saved.query.from, saved.query.to), (None, None));
        assert_eq!(
            saved.query.params,
            "filter=%5B%5D&interval=day&measure=uniques&breakdown=browser"
        );
        assert_eq!(saved.query.body, None);
        assert!(!saved.view.contains("project="), "{}", saved.view);
        assert!(saved.view.contains("range=7d"), "{}", saved.view);
        let reopened =
            ViewState::decode(&format!("project={PROJECT}&{}", saved.view), "2027-01-15");
        assert_eq!(reopened.preset, Preset::Days7);
        assert_eq!(reopened.to, "2027-01-15", "still the last 7 days");
    }

    #[test]
    fn custom_dates_are_kept_and_a_funnel_keeps_its_body() {
        let mut view = week();
        view.preset = Preset::Custom;
        view.from = "2026-11-02".to_owned();
        view.to = "2026-11-08".to_owned();
        let body = serde_json::json!({ "steps": [{ "event": "signup" }], "window_seconds": 60 });
        let path = format!("/api/query/funnel?project_id={PROJECT}&from=2026-11-02&to=2026-11-08");
        let saved = request(
            "Signups",
            InsightKind::Funnel,
            &view,
            &(path, Some(body.clone())),
        )
        .expect("a request");
        assert_eq!(saved.query.range, "custom");
        assert_eq!(saved.query.from.as_deref(), Some("2026-11-02"));
        assert_eq!(saved.query.to.as_deref(), Some("2026-11-08"));
        assert_eq!(saved.query.params, "");
        assert_eq!(saved.query.body, Some(body));
    }

    #[test]
    fn a_name_is_needed_and_short_enough() {
        let call = ("/api/query/top?dimension=path".to_owned(), None);
        assert_eq!(
            request("  ", InsightKind::Top, &week(), &call).expect_err("no name"),
            "Name the insight"
        );
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(request(&long, InsightKind::Top, &week(), &call).is_err());
        let saved = request("Pages", InsightKind::Top, &week(), &call).expect("a request");
        assert_eq!(saved.query.params, "dimension=path");
    }

    #[test]
    fn names_are_suggested_from_the_view() {
        let mut view = week();
        assert_eq!(
            suggested_name(InsightKind::Trends, &view, ""),
            "Trends of all events"
        );
        view.event = "signup".to_owned();
        view.measure = "uniques".to_owned();
        view.breakdown = "property:plan".to_owned();
        assert_eq!(
            suggested_name(InsightKind::Trends, &view, ""),
            "Users of signup by plan"
        );
        assert_eq!(suggested_name(InsightKind::Top, &view, "Pages"), "Pages");
        view.steps = vec!["signup".to_owned(), " ".to_owned(), "buy".to_owned()];
        assert_eq!(
            suggested_name(InsightKind::Funnel, &view, ""),
            "Funnel: signup → buy"
        );
    }
}
