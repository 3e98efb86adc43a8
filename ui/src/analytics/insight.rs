//! A saved insight's answer drawn as the Analytics page draws its analysis, with the same code
//! but read-only: the trends chart and its legend, a top table, the funnel's steps or the
//! retention grid. A dashboard's tiles and a shared dashboard show insights with it.

use std::future::Future;

use contract::auth::{InsightKind, InsightQuery};
use contract::query::{FunnelResponse, RetentionResponse, TopResponse, TrendsResponse};
use sycamore::prelude::*;

use super::dates::Preset;
use super::funnel;
use super::load::Load;
use super::overview::SESSION_PAGES;
use super::page::all_dimensions;
use super::retention;
use super::sync::follow_the_width;
use super::top;
use super::trend_chart::{Look, Tip};
use super::trends::{drawn, tooltip};
use crate::api::{self, Action, ApiError};

/// How many times a call answered 404 is made before that is shown: query learns of a new
/// insight (or shared link) from the stream a moment after auth stored it.
const TRIES: u32 = 6;

/// What an insight's route answered, read as its kind's analysis answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Trends(TrendsResponse),
    Top(TopResponse),
    Funnel(FunnelResponse),
    Retention(RetentionResponse),
}

impl Answer {
    /// `value`, the JSON of `GET /api/query/insights/{id}` (or a shared tile's), as `kind`
    /// answers; the sentence to show when it is not that.
    pub(crate) fn read(kind: InsightKind, value: serde_json::Value) -> Result<Self, String> {
        let answer = match kind {
            InsightKind::Trends => serde_json::from_value(value).map(Answer::Trends),
            InsightKind::Top => serde_json::from_value(value).map(Answer::Top),
            InsightKind::Funnel => serde_json::from_value(value).map(Answer::Funnel),
            InsightKind::Retention => serde_json::from_value(value).map(Answer::Retention),
        };
        answer.map_err(|err| format!("This insight's answer could not be read ({err})"))
    }
}

/// The answer of an insight of `kind` that `call` asks for (its route, with the access token
/// or a shared link's password): read as its kind answers. A 404 is asked again a few times,
/// for a few seconds in all, before it is shown.
pub(crate) async fn fetch<F, Fut>(kind: InsightKind, call: F) -> Load<Answer>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<serde_json::Value, ApiError>>,
{
    let mut tries = 1;
    loop {
        match call().await {
            Ok(value) => {
                return match Answer::read(kind, value) {
                    Ok(answer) => Load::Ready(answer),
                    Err(message) => Load::Failed(message),
                };
            }
            Err(err) if err.status() == Some(404) && tries < TRIES => {
                crate::browser::sleep_ms(300 * tries).await;
                tries += 1;
            }
            Err(err) => return Load::Failed(explain(&err)),
        }
    }
}

/// Why a tile shows no answer: a shared link's password changed meanwhile, or as any call says.
fn explain(error: &ApiError) -> String {
    match error {
        ApiError::Refused {
            status: 401, code, ..
        } if code == "share_password" => {
            "The link's password changed: reload the page to enter the new one".to_owned()
        }
        _ => api::explain(error, Action::Work),
    }
}

/// What an insight shows, in a few words: "Trends · Last 7 days", "Funnel · 2026-11-02 to
/// 2026-11-08".
pub(crate) fn about(kind: InsightKind, query: &InsightQuery) -> String {
    let what = match kind {
        InsightKind::Trends => "Trends",
        InsightKind::Top => "Top values",
        InsightKind::Funnel => "Funnel",
        InsightKind::Retention => "Retention",
    };
    let range = match (Preset::parse(&query.range), &query.from, &query.to) {
        (Some(Preset::Custom) | None, Some(from), Some(to)) => format!("{from} to {to}"),
        (Some(preset), _, _) if preset != Preset::Custom => preset.title().to_owned(),
        _ => query.range.clone(),
    };
    format!("{what} · {range}")
}

/// How a top table heads the values of `dimension`: "Pages", "Entry pages", "plan".
pub(crate) fn dimension_title(dimension: &str) -> String {
    all_dimensions()
        .chain(SESSION_PAGES.iter())
        .find(|(d, _)| *d == dimension)
        .map_or_else(
            || {
                dimension
                    .strip_prefix("property:")
                    .unwrap_or(dimension)
                    .to_owned()
            },
            |(_, title)| (*title).to_owned(),
        )
}

/// `answer` drawn to the width of its container, read-only; a trends chart as a line when
/// `line`. A top table is labelled by the element `labelled_by` (the tile's title).
#[component(inline_props)]
pub(crate) fn Figure(answer: Answer, line: bool, labelled_by: String) -> View {
    match answer {
        Answer::Trends(trends) => view! { TrendsFigure(answer=trends, line=line) },
        Answer::Top(answer) => {
            let title = dimension_title(&answer.dimension);
            top::table(answer, &title, labelled_by, None)
        }
        Answer::Funnel(answer) => funnel::result(answer, None),
        Answer::Retention(answer) => retention::grid(answer, None),
    }
}

/// An insight's answer as it stands: loading, the error, or the figure ([`Figure`]).
pub(crate) fn shown(state: Signal<Load<Answer>>, line: bool, labelled_by: String) -> View {
    view! {
        (move || match state.get_clone() {
            Load::Idle => view! {},
            Load::Loading => view! { p(class="status", role="status") { "Loading…" } },
            Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
            Load::Ready(answer) => {
                let labelled_by = labelled_by.clone();
                view! { Figure(answer=answer, line=line, labelled_by=labelled_by) }
            }
        })
    }
}

/// A trends chart as wide as its container, with its own tooltip.
#[component(inline_props)]
fn TrendsFigure(answer: TrendsResponse, line: bool) -> View {
    let tip = create_signal(None::<Tip>);
    let width = create_signal(560.0);
    let wrap = create_node_ref();
    on_mount(move || follow_the_width(width, wrap));
    let chart = move || {
        let look = Look {
            line,
            width: width.get(),
            tip,
            pick: None,
        };
        drawn(&answer, &[], look)
    };
    view! {
        div(class="chart-wrap tile-chart", r#ref=wrap) {
            (chart)
            (tooltip(tip, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_as_its_kind_and_a_wrong_one_says_so() {
        let top = serde_json::json!({
            "project_id": uuid::Uuid::from_u128(1),
            "timezone": "UTC",
            "range": { "from": "2026-11-02T00:00:00Z", "to": "2026-11-09T00:00:00Z" },
            "dimension": "path",
            "values": [{ "value": "/pricing", "count": 3, "users": 2 }],
        });
        let read = Answer::read(InsightKind::Top, top.clone());
        assert!(
            matches!(read, Ok(Answer::Top(ref t)) if t.values.len() == 1),
            "{read:?}"
        );
        assert!(Answer::read(InsightKind::Funnel, top).is_err());
    }

    #[test]
    fn an_insight_says_its_kind_and_range() {
        let query = |range: &str, dates: Option<(&str, &str)>| InsightQuery {
            range: range.to_owned(),
            from: dates.map(|d| d.0.to_owned()),
            to: dates.map(|d| d.1.to_owned()),
            params: String::new(),
            body: None,
        };
        assert_eq!(
            about(InsightKind::Trends, &query("7d", None)),
            "Trends · Last 7 days"
        );
        assert_eq!(
            about(
                InsightKind::Funnel,
                &query("custom", Some(("2026-11-02", "2026-11-08")))
            ),
            "Funnel · 2026-11-02 to 2026-11-08"
        );
    }

    #[test]
    fn dimensions_are_titled_as_the_analytics_page_titles_them() {
        assert_eq!(dimension_title("path"), "Pages");
        assert_eq!(dimension_title("entry_page"), "Entry pages");
        assert_eq!(dimension_title("city"), "Cities");
        assert_eq!(dimension_title("property:plan"), "plan");
    }
}
