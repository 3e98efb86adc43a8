//! The benchmark's one chart, ingest events/s by events per request, as a plain SVG written
//! from Rust: axes, labelled ticks, a line with points and the raw JetStream limit dashed.

use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// Where a value lands: the x axis logarithmic in events per request, the y axis linear from 0.
struct Frame {
    x_min: f64,
    x_max: f64,
    y_max: f64,
    /// Between two y ticks.
    step: f64,
}

impl Frame {
    fn x(&self, size: usize) -> f64 {
        let span = (self.x_max - self.x_min).max(f64::EPSILON);
        LEFT + ((size as f64).ln() - self.x_min) / span * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, value: f64) -> f64 {
        HEIGHT - BOTTOM - value / self.y_max * (HEIGHT - TOP - BOTTOM)
    }
}

/// `points` are (events per request, events/s), smallest batch first; `limit` is the raw
/// JetStream publish rate drawn across as a dashed line. The x axis is logarithmic, since the
/// batch sizes grow by about ×2 to ×10 from one to the next.
pub(crate) fn ingest_vs_batch(points: &[(usize, f64)], limit: f64, title: &str) -> String {
    let top_value = points.iter().map(|p| p.1).fold(limit, f64::max).max(1.0);
    let step = nice_step(top_value / 5.0);
    let frame = Frame {
        x_min: points.first().map_or(1.0, |p| p.0 as f64).ln(),
        x_max: points.last().map_or(10.0, |p| p.0 as f64).ln(),
        y_max: (top_value / step).ceil() * step,
        step,
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{title}</text>\n",
        WIDTH / 2.0
    );
    axes(&mut svg, &frame, points);
    series(&mut svg, &frame, points, limit);
    svg.push_str("</svg>\n");
    svg
}

/// The y ticks with a light grid line each, the x ticks at each batch size, the axes and their
/// labels.
fn axes(svg: &mut String, frame: &Frame, points: &[(usize, f64)]) {
    let mut value = 0.0;
    while value <= frame.y_max + frame.step / 2.0 {
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"#e5e5e5\"/>\
<text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4}</text>",
            frame.y(value),
            WIDTH - RIGHT,
            LEFT - 6.0,
            frame.y(value) + 4.0,
            thousands(value),
        );
        value += frame.step;
    }
    for &(size, _) in points {
        let _ = writeln!(
            svg,
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"black\"/>\
<text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{size}</text>",
            frame.x(size),
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 5.0,
            HEIGHT - BOTTOM + 18.0,
        );
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{0}\" stroke=\"black\"/>\
<line x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"black\"/>\n\
<text x=\"{2}\" y=\"{3}\" text-anchor=\"middle\">events per request (log scale)</text>\n\
<text transform=\"translate(16 {4}) rotate(-90)\" text-anchor=\"middle\">events/s</text>",
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 12.0,
        (TOP + HEIGHT - BOTTOM) / 2.0,
    );
}

/// The limit dashed across, then the measured line with a point (and its tooltip) per size.
fn series(svg: &mut String, frame: &Frame, points: &[(usize, f64)], limit: f64) {
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"#c0392b\" stroke-dasharray=\"6 4\"/>\
<text x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\" fill=\"#c0392b\">raw JetStream publish, 100-event batches: {3} events/s</text>",
        frame.y(limit),
        WIDTH - RIGHT,
        frame.y(limit) - 6.0,
        thousands(limit),
    );
    let line: Vec<String> = points
        .iter()
        .map(|&(size, value)| format!("{:.1},{:.1}", frame.x(size), frame.y(value)))
        .collect();
    let _ = writeln!(
        svg,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#2c7fb8\" stroke-width=\"2\"/>",
        line.join(" ")
    );
    for &(size, value) in points {
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#2c7fb8\"><title>{size} per request: {} events/s</title></circle>",
            frame.x(size),
            frame.y(value),
            thousands(value)
        );
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

/// A whole number with thin spaces between thousands: 61 888.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{2009}');
        }
        out.push(digit);
    }
    out
}
