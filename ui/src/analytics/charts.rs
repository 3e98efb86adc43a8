//! What the charts are drawn with: the scales, ticks and labels, as plain functions tested
//! natively, and the frame that places the plot in its SVG.

use contract::query::Amount;

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
