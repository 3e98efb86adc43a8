//! The trends chart, drawn as SVG from Rust: bars (or a line) per series, the previous period
//! dashed when compared, a tooltip on hover and focus, a click or Enter on a bar or point
//! opens the explorer on its bucket, and the project's notes marked at their buckets.

use std::rc::Rc;

use contract::auth::AnnotationView;
use contract::query::{TrendSeries, TrendsResponse};
use sycamore::prelude::*;

use super::annotations::when;
use super::charts::{
    Frame, PALETTE, amount, bucket_label, format_axis, format_number, format_plain, nice_ceiling,
    ticks,
};

/// The height of the row under the axis labels where the notes' flags stand, in pixels.
const NOTE_ROW: f64 = 18.0;

/// What the tooltip shows, and where (pixels from the chart's top left).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tip {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) title: String,
    pub(crate) lines: Vec<String>,
}

/// A bucket of a series someone clicked: the explorer opens on it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pick {
    /// RFC 3339, inclusive.
    pub(crate) from: String,
    /// RFC 3339, exclusive.
    pub(crate) to: String,
    /// The breakdown value; empty without a breakdown.
    pub(crate) breakdown_value: String,
}

/// How a trends chart is drawn, and what its bars or points do.
#[derive(Clone)]
pub(crate) struct Look {
    /// A line through the points rather than bars.
    pub(crate) line: bool,
    /// The width to draw at, in pixels.
    pub(crate) width: f64,
    pub(crate) tip: Signal<Option<Tip>>,
    /// What a click, Enter or Space on a bar or point does: on the Analytics page (whose one
    /// chart is `#trends-chart`) it opens the bucket's events. Without it (a dashboard's tile)
    /// the marks only show their tooltip on hover.
    pub(crate) pick: Option<Rc<dyn Fn(Pick)>>,
}

/// The series value a chart element carries in `data-series`.
pub(crate) fn series_key(series: &TrendSeries) -> String {
    if series.breakdown_value.is_empty() {
        "all".to_owned()
    } else {
        series.breakdown_value.clone()
    }
}

/// The trends chart of `answer` as `look` says: bars (or a line) per series, the previous
/// period dashed when compared, a tooltip on hover and focus, its pick on click or Enter, and a
/// marker per bucket holding any of `notes`.
pub(crate) fn trend_chart(answer: &TrendsResponse, notes: &[AnnotationView], look: Look) -> View {
    let (line, width) = (look.line, look.width);
    let series = &answer.series;
    let starts: Vec<&str> = series
        .first()
        .map(|s| s.points.iter().map(|p| p.t.as_str()).collect())
        .unwrap_or_default();
    let noted = when::by_bucket(&starts, &answer.scope.range.to, notes);
    let mut frame = Frame::new(width, if width < 500.0 { 220.0 } else { 280.0 });
    if !noted.is_empty() {
        frame.height += NOTE_ROW;
        frame.bottom += NOTE_ROW;
    }
    let previous = answer.previous_series.as_deref().unwrap_or_default();
    let max = series
        .iter()
        .chain(previous)
        .flat_map(|s| s.points.iter().map(|p| amount(p.value)))
        .fold(0.0, f64::max);
    let chart = Chart {
        frame,
        top: nice_ceiling(max),
        n: series.first().map_or(0, |s| s.points.len()),
        k: series.len(),
        interval: &answer.interval,
        range_end: &answer.scope.range.to,
        previous,
        line,
        tip: look.tip,
        pick: look.pick,
    };
    let grid = chart.gridlines(max);
    let labels = series
        .first()
        .map(|s| chart.axis_labels(s))
        .unwrap_or_default();
    let dashed = previous
        .iter()
        .enumerate()
        .map(|(j, s)| chart.polyline(s, format!("previous series-{}", j % PALETTE)))
        .collect::<Vec<_>>();
    let lines = series
        .iter()
        .enumerate()
        .filter(|_| line)
        .map(|(j, s)| chart.polyline(s, format!("trend-line series-{}", j % PALETTE)))
        .collect::<Vec<_>>();
    let marks = series
        .iter()
        .enumerate()
        .flat_map(|(j, s)| (0..s.points.len()).map(move |i| (j, s, i)))
        .map(|(j, s, i)| chart.mark(j, s, i))
        .collect::<Vec<_>>();
    let markers = noted
        .iter()
        .map(|(i, notes)| chart.note_marker(*i, starts[*i], notes))
        .collect::<Vec<_>>();

    let view_box = format!("0 0 {} {}", frame.width, frame.height);
    let (id, label) = chart.names();
    view! {
        svg(id=id, class=if line { "chart line" } else { "chart bars" },
            "viewBox"=view_box, "width"=frame.width.to_string(), "height"=frame.height.to_string(),
            "role"="group", aria-label=label) {
            (grid)
            (labels)
            (dashed)
            (lines)
            (marks)
            (markers)
        }
    }
}

/// What every part of one trends chart is drawn against.
struct Chart<'a> {
    frame: Frame,
    /// The top of the value axis.
    top: f64,
    /// Buckets per series.
    n: usize,
    /// Series shown.
    k: usize,
    interval: &'a str,
    /// The end of the range: where the last bucket ends.
    range_end: &'a str,
    previous: &'a [TrendSeries],
    line: bool,
    tip: Signal<Option<Tip>>,
    pick: Option<Rc<dyn Fn(Pick)>>,
}

impl Chart<'_> {
    /// The chart's id and accessible label: the Analytics page's, whose marks open their
    /// events, or a tile's.
    fn names(&self) -> (Option<&'static str>, &'static str) {
        match self.pick {
            Some(_) => (
                Some("trends-chart"),
                "Trends chart: each bar or point opens its events",
            ),
            None => (None, "Trends chart"),
        }
    }

    /// The horizontal gridlines with their values.
    fn gridlines(&self, max: f64) -> Vec<View> {
        let frame = self.frame;
        ticks(max)
            .into_iter()
            .map(|value| {
                let y = frame.y(value, self.top);
                view! {
                    g(class="gridline") {
                        line("x1"=frame.left.to_string(), "x2"=(frame.width - frame.right).to_string(),
                            "y1"=y.to_string(), "y2"=y.to_string())
                        text("x"=(frame.left - 6.0).to_string(), "y"=(y + 4.0).to_string(),
                            "text-anchor"="end") { (format_axis(value)) }
                    }
                }
            })
            .collect()
    }

    /// The buckets' labels under the plot, as many as fit.
    fn axis_labels(&self, series: &TrendSeries) -> Vec<View> {
        let frame = self.frame;
        let every = frame.label_every(self.n, if self.interval == "hour" { 96.0 } else { 64.0 });
        series
            .points
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, point)| {
                let (x, _) = frame.point(i, self.n, 0.0, self.top);
                let label = bucket_label(&point.t, self.interval);
                let y = frame.height - frame.bottom + 20.0;
                view! {
                    text(class="axis-label", "x"=x.to_string(),
                        "y"=y.to_string(), "text-anchor"="middle") { (label) }
                }
            })
            .collect()
    }

    /// A series as a line through its buckets.
    fn polyline(&self, series: &TrendSeries, class: String) -> View {
        let points = series
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (x, y) = self.frame.point(i, self.n, amount(p.value), self.top);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ");
        view! { polyline(class=class, "points"=points) }
    }

    /// What the tooltip of bucket `i` of series `j` shows, and its accessible label.
    fn tip_of(&self, j: usize, series: &TrendSeries, i: usize) -> (Tip, String) {
        let point = &series.points[i];
        let value = amount(point.value);
        let before = self
            .previous
            .get(j)
            .and_then(|p| p.points.get(i))
            .map(|p| amount(p.value));
        let title = bucket_label(&point.t, self.interval);
        let mut lines = vec![format!("{}: {}", series.label, format_number(value))];
        if let Some(before) = before {
            lines.push(format!("previous period: {}", format_number(before)));
        }
        let label = format!("{title}, {}", lines.join(", "));
        let (x, y) = self.frame.point(i, self.n, value, self.top);
        (Tip { x, y, title, lines }, label)
    }

    /// The bucket `i` of `series` as the explorer opens it.
    fn pick_of(&self, series: &TrendSeries, i: usize) -> Pick {
        Pick {
            from: series.points[i].t.clone(),
            to: series
                .points
                .get(i + 1)
                .map_or_else(|| self.range_end.to_owned(), |next| next.t.clone()),
            breakdown_value: series.breakdown_value.clone(),
        }
    }

    /// The bar (or point) of bucket `i` of series `j`: it shows its tooltip on hover and
    /// focus, and opens its events on click, Enter or Space; on a chart that picks nothing, it
    /// is an image with a label, out of the tab order.
    fn mark(&self, j: usize, series: &TrendSeries, i: usize) -> View {
        let tip = self.tip;
        let (shown, label) = self.tip_of(j, series, i);
        let show = move || tip.set(Some(shown.clone()));
        let show_on_focus = show.clone();
        let open = self.pick.as_ref().map(|pick| {
            let pick = Rc::clone(pick);
            let chosen = self.pick_of(series, i);
            move || pick(chosen.clone())
        });
        let (role, tabindex) = match open {
            Some(_) => ("button", Some("0")),
            None => ("img", None),
        };
        let open_on_key = open.clone();
        let on_key = move |event: web_sys::KeyboardEvent| {
            if let Some(open) = &open_on_key {
                if event.key() == "Enter" || event.key() == " " {
                    event.prevent_default();
                    open();
                }
            }
        };
        let on_click = move |_| {
            if let Some(open) = &open {
                open();
            }
        };
        let point = &series.points[i];
        let value = amount(point.value);
        let class = format!("mark series-{}", j % PALETTE);
        let data_value = format_plain(value);
        let bucket = point.t.clone();
        let key = series_key(series);
        if self.line {
            let (cx, cy) = self.frame.point(i, self.n, value, self.top);
            view! {
                circle(class=class, "cx"=format!("{cx:.1}"), "cy"=format!("{cy:.1}"), "r"="5",
                    tabindex=tabindex, "role"=role, aria-label=label,
                    data-bucket=bucket, data-series=key, data-value=data_value,
                    on:mouseenter=move |_| show(), on:focus=move |_| show_on_focus(),
                    on:mouseleave=move |_| tip.set(None), on:blur=move |_| tip.set(None),
                    on:click=on_click, on:keydown=on_key)
            }
        } else {
            let [x, y, w, h] = self.frame.bar(i, self.n, j, self.k, value, self.top);
            view! {
                rect(class=class, "x"=format!("{x:.1}"), "y"=format!("{y:.1}"),
                    "width"=format!("{w:.1}"), "height"=format!("{:.1}", h.max(0.0)),
                    tabindex=tabindex, "role"=role, aria-label=label,
                    data-bucket=bucket, data-series=key, data-value=data_value,
                    on:mouseenter=move |_| show(), on:focus=move |_| show_on_focus(),
                    on:mouseleave=move |_| tip.set(None), on:blur=move |_| tip.set(None),
                    on:click=on_click, on:keydown=on_key)
            }
        }
    }

    /// The notes of bucket `i` (starting at `bucket`), all in one marker: a dashed line through
    /// the plot and a flag under the bucket's label (with their count when there are several),
    /// which says them on hover and focus, in its title and its accessible label.
    fn note_marker(&self, i: usize, bucket: &str, notes: &[&AnnotationView]) -> View {
        let frame = self.frame;
        let bucket = bucket.to_owned();
        let (x, _) = frame.point(i, self.n, 0.0, self.top);
        let flag = frame.height - NOTE_ROW / 2.0 - 2.0;
        let ids = notes
            .iter()
            .map(|note| note.id.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let lines: Vec<String> = notes
            .iter()
            .map(|note| {
                format!(
                    "{}: {}",
                    when::label(note.at.unix_timestamp()),
                    note.content
                )
            })
            .collect();
        let title = match notes.len() {
            1 => "Note".to_owned(),
            n => format!("{n} notes"),
        };
        let label = format!("{title}: {}", lines.join("; "));
        let said = lines.join("\n");
        let tip = self.tip;
        let shown = Tip {
            x,
            y: flag - 8.0,
            title,
            lines,
        };
        let show = move || tip.set(Some(shown.clone()));
        let show_on_focus = show.clone();
        let (x, top, bottom) = (
            format!("{x:.1}"),
            format!("{:.1}", frame.top),
            format!("{:.1}", frame.height - frame.bottom),
        );
        let (x1, x2) = (x.clone(), x.clone());
        let count = match notes.len() {
            1 => view! {},
            n => {
                let (x, y) = (x.clone(), format!("{:.1}", flag + 3.5));
                view! {
                    text(class="annotation-count", "x"=x, "y"=y, "text-anchor"="middle") { (n.to_string()) }
                }
            }
        };
        view! {
            g(class="annotation-marker", data-annotation=ids, data-bucket=bucket,
                tabindex="0", "role"="img",
                aria-label=label,
                on:mouseenter=move |_| show(), on:focus=move |_| show_on_focus(),
                on:mouseleave=move |_| tip.set(None), on:blur=move |_| tip.set(None)) {
                svg_title { (said) }
                line(class="annotation-line", "x1"=x1, "x2"=x2, "y1"=top, "y2"=bottom)
                circle(class="annotation-flag", "cx"=x, "cy"=format!("{flag:.1}"), "r"="6")
                (count)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> TrendsResponse {
        let points: Vec<_> = (2..=4)
            .map(|day| serde_json::json!({ "t": format!("2026-11-0{day}T00:00:00+00:00"), "value": day }))
            .collect();
        let answer = serde_json::json!({
            "project_id": uuid::Uuid::from_u128(1),
            "timezone": "UTC",
            "range": { "from": "2026-11-02T00:00:00Z", "to": "2026-11-05T00:00:00Z" },
            "interval": "day",
            "series": [{ "label": "All events", "breakdown_value": "", "total": 9, "points": points }],
        });
        serde_json::from_value(answer).expect("a trends answer")
    }

    fn note(n: u128, at: &str, content: &str) -> AnnotationView {
        let note = serde_json::json!({
            "id": uuid::Uuid::from_u128(n), "project_id": uuid::Uuid::from_u128(1), "at": at,
            "content": content, "created_by": "ada@example.com", "updated_at": at,
        });
        serde_json::from_value(note).expect("a note")
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn notes_in_one_bucket_share_one_marker_saying_them_all() {
        let notes = [
            note(7, "2026-11-03T09:00:00Z", "Launched pricing"),
            note(8, "2026-11-03T18:30:00Z", "Newsletter sent"),
            note(9, "2026-11-09T10:00:00Z", "After the range"),
        ];
        let html = sycamore::web::render_to_string(move || {
            let tip = create_signal(None);
            let look = Look {
                line: false,
                width: 800.0,
                tip,
                pick: Some(Rc::new(|_| {})),
            };
            trend_chart(&answer(), &notes, look)
        });
        let (seven, eight) = (uuid::Uuid::from_u128(7), uuid::Uuid::from_u128(8));
        assert_eq!(
            html.matches("class=\"annotation-marker\"").count(),
            1,
            "{html}"
        );
        assert!(
            html.contains(&format!("data-annotation=\"{seven} {eight}\"")),
            "{html}"
        );
        assert!(
            html.contains(">Nov 3, 09:00: Launched pricing\nNov 3, 18:30: Newsletter sent</title>"),
            "{html}"
        );
        assert!(
            html.contains("aria-label=\"2 notes: Nov 3, 09:00: Launched pricing; Nov 3, 18:30: Newsletter sent\""),
            "{html}"
        );
        assert!(!html.contains("After the range"), "{html}");
        // The marker stands at the middle of the second of three buckets.
        let (x, _) = Frame::new(800.0, 280.0).point(1, 3, 0.0, 1.0);
        assert!(html.contains(&format!("cx=\"{x:.1}\"")), "{html}");
        assert!(
            html.contains("data-bucket=\"2026-11-03T00:00:00+00:00\" tabindex"),
            "{html}"
        );
    }
}
