//! Charts drawn as SVG from Rust: the scales, ticks and labels (plain functions, tested
//! natively) and the trends chart, whose bars and points open the explorer when clicked.

use std::rc::Rc;

use contract::query::{Amount, TrendSeries, TrendsResponse};
use sycamore::prelude::*;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// How many colours the series cycle through (`.series-0` … in the stylesheet).
pub(crate) const PALETTE: usize = 8;

pub(crate) fn amount(value: Amount) -> f64 {
    match value {
        Amount::Whole(n) => n as f64,
        Amount::Fraction(x) => x,
    }
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten at or above `max` (1 for nothing).
pub(crate) fn nice_ceiling(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let power = 10_f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= max * 0.999_999)
        .unwrap_or(10.0 * power)
}

/// The gridlines of an axis up to `max`: 0, then four equal steps to its nice ceiling.
pub(crate) fn ticks(max: f64) -> Vec<f64> {
    let top = nice_ceiling(max);
    (0..=4).map(|i| top * f64::from(i) / 4.0).collect()
}

/// A value as a person reads it: whole numbers grouped by thousands, fractions to two places.
pub(crate) fn format_number(value: f64) -> String {
    if (value - value.round()).abs() > 1e-9 {
        let text = format!("{value:.2}");
        return text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    let grouped = crate::format::count_label(value.round().abs() as u64);
    if value < -0.5 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// An axis label: short (`1.5k`, `2M`).
pub(crate) fn format_axis(value: f64) -> String {
    let (scaled, unit) = if value.abs() >= 1e6 {
        (value / 1e6, "M")
    } else if value.abs() >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    format!("{}{unit}", format_number((scaled * 10.0).round() / 10.0))
}

/// A fraction as a percentage with one decimal: `0.6667` → `66.7%`.
pub(crate) fn format_percent(fraction: f64) -> String {
    let text = format!("{:.1}", fraction * 100.0);
    format!("{}%", text.trim_end_matches(".0"))
}

/// The change against the previous period, and whether it went up, down or nowhere.
pub(crate) fn format_change(change: Option<f64>) -> (String, &'static str) {
    match change {
        None => ("no earlier data".to_owned(), "flat"),
        Some(c) if c.abs() < 0.0005 => ("±0%".to_owned(), "flat"),
        Some(c) if c > 0.0 => (format!("+{}", format_percent(c)), "up"),
        Some(c) => (format!("−{}", format_percent(-c)), "down"),
    }
}

/// A bucket's start (RFC 3339 with the zone's offset) as the chart labels it.
pub(crate) fn bucket_label(t: &str, interval: &str) -> String {
    let month = t
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("");
    let day = t
        .get(8..10)
        .map(|d| d.trim_start_matches('0'))
        .unwrap_or("");
    let year = t.get(0..4).unwrap_or("");
    let time = t.get(11..16).unwrap_or("");
    match interval {
        "minute" => time.to_owned(),
        "hour" => format!("{month} {day}, {time}"),
        "week" => format!("Week of {month} {day}"),
        "month" => format!("{month} {year}"),
        _ => format!("{month} {day}"),
    }
}

/// The background and text colour of a retention cell holding `percent` (0 to 100): the
/// accent, more opaque the more users came back.
pub(crate) fn heat_style(percent: f64) -> String {
    let share = (percent / 100.0).clamp(0.0, 1.0);
    let alpha = 0.06 + 0.84 * share;
    let text = if alpha > 0.5 { "#ffffff" } else { "inherit" };
    format!("background-color: rgba(59, 91, 219, {alpha:.2}); color: {text}")
}

/// Where the plot sits in the SVG, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Frame {
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) left: f64,
    pub(crate) right: f64,
    pub(crate) top: f64,
    pub(crate) bottom: f64,
}

impl Frame {
    pub(crate) fn new(width: f64, height: f64) -> Self {
        Self {
            width: width.max(240.0),
            height,
            left: 48.0,
            right: 12.0,
            top: 12.0,
            bottom: 30.0,
        }
    }

    fn plot_width(&self) -> f64 {
        self.width - self.left - self.right
    }

    fn plot_height(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    /// The band of bucket `i` of `n`: its left edge and width.
    pub(crate) fn band(&self, i: usize, n: usize) -> (f64, f64) {
        let width = self.plot_width() / n.max(1) as f64;
        (self.left + width * i as f64, width)
    }

    /// The height of `value` on an axis topping at `top`.
    pub(crate) fn y(&self, value: f64, top: f64) -> f64 {
        self.top + self.plot_height() * (1.0 - (value / top).clamp(0.0, 1.0))
    }

    /// Bar `j` of `k` in bucket `i` of `n`: x, y, width, height.
    pub(crate) fn bar(
        &self,
        i: usize,
        n: usize,
        j: usize,
        k: usize,
        value: f64,
        top: f64,
    ) -> [f64; 4] {
        let (left, band) = self.band(i, n);
        let group = band * 0.8;
        let width = (group / k.max(1) as f64).max(1.0);
        let x = left + band * 0.1 + width * j as f64;
        let y = self.y(value, top);
        [x, y, width, self.top + self.plot_height() - y]
    }

    /// The point of bucket `i` of `n` on a line.
    pub(crate) fn point(&self, i: usize, n: usize, value: f64, top: f64) -> (f64, f64) {
        let (left, band) = self.band(i, n);
        (left + band / 2.0, self.y(value, top))
    }

    /// Label every how many buckets, so labels do not overlap.
    pub(crate) fn label_every(&self, n: usize, label_px: f64) -> usize {
        let fits = (self.plot_width() / label_px).floor().max(1.0) as usize;
        n.div_ceil(fits).max(1)
    }
}

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

/// The series value a chart element carries in `data-series`.
pub(crate) fn series_key(series: &TrendSeries) -> String {
    if series.breakdown_value.is_empty() {
        "all".to_owned()
    } else {
        series.breakdown_value.clone()
    }
}

/// The trends chart of `answer` at `width` px: bars (or a line) per series, the previous
/// period dashed when compared, a tooltip on hover and focus, and `pick` on click or Enter.
pub(crate) fn trend_chart(
    answer: &TrendsResponse,
    line: bool,
    width: f64,
    tip: Signal<Option<Tip>>,
    pick: Rc<dyn Fn(Pick)>,
) -> View {
    let frame = Frame::new(width, if width < 500.0 { 220.0 } else { 280.0 });
    let series = &answer.series;
    let previous = answer.previous_series.as_deref().unwrap_or_default();
    let n = series.first().map_or(0, |s| s.points.len());
    let max = series
        .iter()
        .chain(previous)
        .flat_map(|s| s.points.iter().map(|p| amount(p.value)))
        .fold(0.0, f64::max);
    let top = nice_ceiling(max);
    let interval = answer.interval.clone();
    let range_end = answer.scope.range.to.clone();

    let grid = ticks(max)
        .into_iter()
        .map(|value| {
            let y = frame.y(value, top);
            view! {
                g(class="gridline") {
                    line("x1"=frame.left.to_string(), "x2"=(frame.width - frame.right).to_string(),
                        "y1"=y.to_string(), "y2"=y.to_string())
                    text("x"=(frame.left - 6.0).to_string(), "y"=(y + 4.0).to_string(),
                        "text-anchor"="end") { (format_axis(value)) }
                }
            }
        })
        .collect::<Vec<_>>();

    let every = frame.label_every(n, if interval == "hour" { 96.0 } else { 64.0 });
    let labels = series
        .first()
        .map(|s| {
            s.points
                .iter()
                .enumerate()
                .filter(|(i, _)| i % every == 0)
                .map(|(i, point)| {
                    let (x, _) = frame.point(i, n, 0.0, top);
                    let label = bucket_label(&point.t, &interval);
                    view! {
                        text(class="axis-label", "x"=x.to_string(),
                            "y"=(frame.height - 10.0).to_string(), "text-anchor"="middle") { (label) }
                    }
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();

    let dashed = previous
        .iter()
        .enumerate()
        .map(|(j, s)| {
            let points = s
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let (x, y) = frame.point(i, n, amount(p.value), top);
                    format!("{x:.1},{y:.1}")
                })
                .collect::<Vec<_>>()
                .join(" ");
            let class = format!("previous series-{}", j % PALETTE);
            view! { polyline(class=class, "points"=points) }
        })
        .collect::<Vec<_>>();

    let k = series.len();
    let mut marks = Vec::new();
    let mut lines = Vec::new();
    for (j, s) in series.iter().enumerate() {
        let colour = format!("series-{}", j % PALETTE);
        if line {
            let points = s
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let (x, y) = frame.point(i, n, amount(p.value), top);
                    format!("{x:.1},{y:.1}")
                })
                .collect::<Vec<_>>()
                .join(" ");
            let class = format!("trend-line {colour}");
            lines.push(view! { polyline(class=class, "points"=points) });
        }
        for (i, point) in s.points.iter().enumerate() {
            let value = amount(point.value);
            let before = previous
                .get(j)
                .and_then(|p| p.points.get(i))
                .map(|p| amount(p.value));
            let title = bucket_label(&point.t, &interval);
            let mut tip_lines = vec![format!("{}: {}", s.label, format_number(value))];
            if let Some(before) = before {
                tip_lines.push(format!("previous period: {}", format_number(before)));
            }
            let label = format!("{title}, {}", tip_lines.join(", "));
            let (tip_x, tip_y) = frame.point(i, n, value, top);
            let shown = Tip {
                x: tip_x,
                y: tip_y,
                title,
                lines: tip_lines,
            };
            let chosen = Pick {
                from: point.t.clone(),
                to: s
                    .points
                    .get(i + 1)
                    .map_or_else(|| range_end.clone(), |next| next.t.clone()),
                breakdown_value: s.breakdown_value.clone(),
            };
            let show = {
                let shown = shown.clone();
                move || tip.set(Some(shown.clone()))
            };
            let show_on_focus = show.clone();
            let open = {
                let pick = Rc::clone(&pick);
                let chosen = chosen.clone();
                move || pick(chosen.clone())
            };
            let open_on_key = open.clone();
            let on_key = move |event: web_sys::KeyboardEvent| {
                if event.key() == "Enter" || event.key() == " " {
                    event.prevent_default();
                    open_on_key();
                }
            };
            let class = format!("mark {colour}");
            let data_value = format_plain(value);
            let bucket = point.t.clone();
            let key = series_key(s);
            let mark = if line {
                let (cx, cy) = frame.point(i, n, value, top);
                view! {
                    circle(class=class, "cx"=format!("{cx:.1}"), "cy"=format!("{cy:.1}"), "r"="5",
                        tabindex="0", "role"="button", aria-label=label,
                        data-bucket=bucket, data-series=key, data-value=data_value,
                        on:mouseenter=move |_| show(), on:focus=move |_| show_on_focus(),
                        on:mouseleave=move |_| tip.set(None), on:blur=move |_| tip.set(None),
                        on:click=move |_| open(), on:keydown=on_key)
                }
            } else {
                let [x, y, w, h] = frame.bar(i, n, j, k, value, top);
                view! {
                    rect(class=class, "x"=format!("{x:.1}"), "y"=format!("{y:.1}"),
                        "width"=format!("{w:.1}"), "height"=format!("{:.1}", h.max(0.0)),
                        tabindex="0", "role"="button", aria-label=label,
                        data-bucket=bucket, data-series=key, data-value=data_value,
                        on:mouseenter=move |_| show(), on:focus=move |_| show_on_focus(),
                        on:mouseleave=move |_| tip.set(None), on:blur=move |_| tip.set(None),
                        on:click=move |_| open(), on:keydown=on_key)
                }
            };
            marks.push(mark);
        }
    }

    let view_box = format!("0 0 {} {}", frame.width, frame.height);
    view! {
        svg(id="trends-chart", class=if line { "chart line" } else { "chart bars" },
            "viewBox"=view_box, "width"=frame.width.to_string(), "height"=frame.height.to_string(),
            "role"="group", aria-label="Trends chart: each bar or point opens its events") {
            (grid)
            (labels)
            (dashed)
            (lines)
            (marks)
        }
    }
}

/// A value for `data-value`: exact, without grouping.
pub(crate) fn format_plain(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{}", value.round() as i64)
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_top_out_at_a_round_number_above_the_largest_value() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(6.0), 10.0);
        assert_eq!(nice_ceiling(4.0), 5.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(2_400.0), 2_500.0);
        assert_eq!(nice_ceiling(1_000.0), 1_000.0);
        assert_eq!(ticks(6.0), vec![0.0, 2.5, 5.0, 7.5, 10.0]);
    }

    #[test]
    fn numbers_and_labels_read_as_people_write_them() {
        assert_eq!(format_number(1_234_567.0), "1,234,567");
        assert_eq!(format_number(6.0), "6");
        assert_eq!(format_number(0.126), "0.13");
        assert_eq!(format_number(-1_500.0), "-1,500");
        assert_eq!(format_axis(2_500.0), "2.5k");
        assert_eq!(format_axis(7.5), "7.5");
        assert_eq!(format_percent(2.0 / 3.0), "66.7%");
        assert_eq!(format_percent(1.0), "100%");
        assert_eq!(format_change(Some(0.25)), ("+25%".to_owned(), "up"));
        assert_eq!(format_change(Some(-0.5)), ("−50%".to_owned(), "down"));
        assert_eq!(format_change(None).1, "flat");
        assert_eq!(format_plain(6.0), "6");
        assert_eq!(format_plain(2.5), "2.5");
    }

    #[test]
    fn buckets_are_labelled_by_their_interval() {
        let t = "2026-11-02T14:00:00+01:00";
        assert_eq!(bucket_label(t, "day"), "Nov 2");
        assert_eq!(bucket_label(t, "hour"), "Nov 2, 14:00");
        assert_eq!(bucket_label(t, "week"), "Week of Nov 2");
        assert_eq!(bucket_label(t, "month"), "Nov 2026");
        assert_eq!(bucket_label("garbage", "day"), " ");
    }

    #[test]
    fn bars_share_their_bucket_and_stand_on_the_axis() {
        let frame = Frame::new(460.0, 242.0);
        // 400 px of plot for 4 buckets: 100 px each, 80 px of bars split between 2 series.
        assert_eq!(frame.band(1, 4), (148.0, 100.0));
        let [x, y, w, h] = frame.bar(1, 4, 1, 2, 5.0, 10.0);
        assert_eq!((x, w), (198.0, 40.0));
        assert_eq!((y, h), (112.0, 100.0));
        assert_eq!(frame.point(0, 4, 10.0, 10.0), (98.0, 12.0));
        assert_eq!(frame.label_every(30, 64.0), 5);
    }

    #[test]
    fn more_users_back_means_a_darker_cell() {
        assert_eq!(
            heat_style(0.0),
            "background-color: rgba(59, 91, 219, 0.06); color: inherit"
        );
        assert_eq!(
            heat_style(100.0),
            "background-color: rgba(59, 91, 219, 0.90); color: #ffffff"
        );
    }
}
