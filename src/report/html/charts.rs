//! The inline SVG charts: the per-process timeline, latency quantiles over
//! time and throughput, each with the fault windows shaded. Every chart
//! draws bins (see [`super::bins`]), so its size does not grow with the
//! history: one rectangle or point per bin (per row for the timeline).

use std::fmt::Write;

use super::bins::{Outcomes, Timeline};
use super::escape;
use crate::results::FaultWindow;

/// Timeline rows drawn at most; more processes are grouped into this many.
pub const MAX_ROWS: usize = 48;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 18.0;
const AXIS: f64 = 22.0;

pub const OK: (u8, u8, u8) = (0x2e, 0x9d, 0x4a);
pub const FAIL: (u8, u8, u8) = (0xd6, 0x45, 0x41);
pub const INFO: (u8, u8, u8) = (0xe5, 0x9e, 0x1a);

/// Colours of fault kinds, by position in the fault list.
const FAULT_COLOURS: [&str; 7] = [
    "#7b61c9", "#3b82c4", "#c25bb0", "#8a6d3b", "#2a9d8f", "#b5651d", "#6c757d",
];

/// Maps seconds onto the x axis.
#[derive(Clone, Copy)]
pub struct XScale {
    pub end_s: f64,
}

impl XScale {
    fn x(self, s: f64) -> f64 {
        LEFT + (s / self.end_s).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }
}

/// The colour of one fault kind, the same in every chart and the fault table.
pub fn fault_colour(kinds: &[String], fault: &str) -> &'static str {
    let i = kinds.iter().position(|k| k == fault).unwrap_or(0);
    FAULT_COLOURS[i % FAULT_COLOURS.len()]
}

fn open_svg(out: &mut String, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{}" preserveAspectRatio="xMinYMin meet">"#,
        escape(label)
    );
}

/// Shaded fault windows over `[top, bottom]`, one `<rect>` each, with the
/// fault's name along the top edge when `labels`.
fn faults(
    out: &mut String,
    x: XScale,
    windows: &[FaultWindow],
    kinds: &[String],
    top: f64,
    bottom: f64,
    labels: bool,
) {
    faults_styled(out, x, windows, kinds, top, bottom, labels, "fault");
}

/// Like [`faults`], with the rectangles' class (`fault over` draws them over
/// the timeline's cells, letting the pointer through to the cells).
#[allow(clippy::too_many_arguments)]
fn faults_styled(
    out: &mut String,
    x: XScale,
    windows: &[FaultWindow],
    kinds: &[String],
    top: f64,
    bottom: f64,
    labels: bool,
    class: &str,
) {
    for (i, w) in windows.iter().enumerate() {
        let x0 = x.x(w.start_s);
        let x1 = x.x(w.end_s.unwrap_or(x.end_s)).max(x0 + 1.0);
        let colour = fault_colour(kinds, &w.fault);
        let _ = write!(
            out,
            r#"<rect class="{class} fw{i}" x="{x0:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{colour}" fill-opacity="0.16"><title>{} {:.2}s to {}</title></rect>"#,
            x1 - x0,
            bottom - top,
            escape(&w.fault),
            w.start_s,
            w.end_s
                .map_or("the end".to_string(), |e| format!("{e:.2}s")),
        );
        if labels {
            let _ = write!(
                out,
                r#"<text class="faultlabel" x="{:.1}" y="{:.1}" fill="{colour}">{}</text>"#,
                x0 + 2.0,
                top - 4.0,
                escape(&w.fault)
            );
        }
    }
}

/// Seconds ticks along the bottom: 1, 2 or 5 times a power of ten.
fn time_axis(out: &mut String, x: XScale, y: f64) {
    let step = nice_step(x.end_s / 10.0);
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" y1="{y}" x2="{}" y2="{y}"/>"#,
        WIDTH - RIGHT
    );
    let mut t = 0.0;
    while t <= x.end_s + 1e-9 {
        let px = x.x(t);
        let _ = write!(
            out,
            r#"<line class="tick" x1="{px:.1}" y1="{y}" x2="{px:.1}" y2="{:.1}"/><text class="tl" x="{px:.1}" y="{:.1}">{}s</text>"#,
            y + 4.0,
            y + 15.0,
            trim(t)
        );
        t += step;
    }
}

fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-3);
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn mix(c: Outcomes) -> String {
    let total = (c[0] + c[1] + c[2]).max(1) as f64;
    let channel = |f: fn((u8, u8, u8)) -> u8| {
        ((f(OK) as f64 * c[0] as f64 + f(FAIL) as f64 * c[1] as f64 + f(INFO) as f64 * c[2] as f64)
            / total)
            .round() as u8
    };
    format!(
        "#{:02x}{:02x}{:02x}",
        channel(|c| c.0),
        channel(|c| c.1),
        channel(|c| c.2)
    )
}

/// Processes grouped onto at most [`MAX_ROWS`] rows: (label, row keys).
pub fn row_groups(timeline: &Timeline) -> Vec<(String, Vec<u64>)> {
    let keys: Vec<u64> = timeline.rows.keys().copied().collect();
    if keys.len() <= MAX_ROWS {
        return keys.iter().map(|k| (k.to_string(), vec![*k])).collect();
    }
    let per = keys.len().div_ceil(MAX_ROWS);
    keys.chunks(per)
        .map(|chunk| {
            let label = format!("{}-{}", chunk[0], chunk[chunk.len() - 1]);
            (label, chunk.to_vec())
        })
        .collect()
}

/// Ops per process row per time bin, coloured by their ok/fail/info mix
/// (opacity grows with the number of ops in the cell).
pub fn timeline(
    tl: &Timeline,
    x: XScale,
    windows: &[FaultWindow],
    kinds: &[String],
    groups: &[(String, Vec<u64>)],
) -> String {
    let row_h = if groups.len() > 24 { 9.0 } else { 14.0 };
    let top = TOP;
    let height = top + row_h * groups.len() as f64 + AXIS + 4.0;
    let bottom = top + row_h * groups.len() as f64;
    let mut out = String::new();
    open_svg(&mut out, height, "timeline of ops per process");
    let bin_w = x.x(tl.width_s()) - x.x(0.0);
    // Cells of a grouped row add up their processes.
    let mut cell_max = 1u32;
    let mut cells: Vec<Vec<Outcomes>> = Vec::with_capacity(groups.len());
    for (_, members) in groups {
        let mut row = vec![[0u32; 3]; tl.bins.len()];
        for key in members {
            for (i, c) in tl.rows[key].iter().enumerate() {
                for k in 0..3 {
                    row[i][k] += c[k];
                }
            }
        }
        for c in &row {
            cell_max = cell_max.max(c.iter().sum());
        }
        cells.push(row);
    }
    for (r, ((label, _), row)) in groups.iter().zip(&cells).enumerate() {
        let y = top + r as f64 * row_h;
        let _ = write!(
            out,
            r#"<text class="rl" x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT - 4.0,
            y + row_h * 0.75,
            escape(label)
        );
        for (i, c) in row.iter().enumerate() {
            let n = c[0] + c[1] + c[2];
            if n == 0 {
                continue;
            }
            let t0 = i as f64 * tl.width_s();
            let opacity = 0.35 + 0.65 * n as f64 / cell_max as f64;
            let _ = write!(
                out,
                r#"<rect class="cell" x="{:.1}" y="{:.1}" width="{:.2}" height="{:.1}" fill="{}" fill-opacity="{opacity:.2}"><title>process {} {}-{}s: {} ok, {} fail, {} info</title></rect>"#,
                x.x(t0),
                y + 1.0,
                bin_w.max(0.6),
                row_h - 2.0,
                mix(*c),
                escape(label),
                trim(t0),
                trim(t0 + tl.width_s()),
                c[0],
                c[1],
                c[2]
            );
        }
    }
    // Over the cells, so the windows stay visible on a busy timeline.
    faults_styled(&mut out, x, windows, kinds, top, bottom, true, "fault over");
    time_axis(&mut out, x, bottom + 2.0);
    out.push_str("</svg>");
    out
}

/// A bin's middle in seconds, its p50 and p99, and its max latency (ns).
type Point = (f64, Option<u64>, Option<u64>, u64);

/// p50, p99 and max latency per bin on a log scale.
pub fn latency(tl: &Timeline, x: XScale, windows: &[FaultWindow], kinds: &[String]) -> String {
    let series: Vec<Point> = tl
        .bins
        .iter()
        .enumerate()
        .map(|(i, b)| {
            (
                (i as f64 + 0.5) * tl.width_s(),
                b.latency_ns_quantile(0.5),
                b.latency_ns_quantile(0.99),
                b.latency_ns_max,
            )
        })
        .collect();
    quantile_lines(
        &series,
        x,
        windows,
        kinds,
        "latency over time",
        "no completed ops",
    )
}

/// p50, p99 and max replication lag per bin of ack time, on a log scale.
pub fn lag(
    bins: &[diverge_checkers::LagBin],
    x: XScale,
    windows: &[FaultWindow],
    kinds: &[String],
) -> String {
    let ns = |ms: f64| (ms * 1e6) as u64;
    let series: Vec<Point> = bins
        .iter()
        .map(|b| {
            (
                b.start_s + b.width_s / 2.0,
                Some(ns(b.p50_ms)),
                Some(ns(b.p99_ms)),
                ns(b.max_ms),
            )
        })
        .collect();
    quantile_lines(
        &series,
        x,
        windows,
        kinds,
        "replication lag over time",
        "no value was read on another node",
    )
}

/// The p50 / p99 / max lines of `series` (nanoseconds) over the fault
/// windows, on a log scale in milliseconds.
fn quantile_lines(
    series: &[Point],
    x: XScale,
    windows: &[FaultWindow],
    kinds: &[String],
    label: &str,
    empty: &str,
) -> String {
    let height = 240.0;
    let (top, bottom) = (TOP, height - AXIS);
    let measured: Vec<f64> = series
        .iter()
        .filter(|s| s.1.is_some())
        .flat_map(|s| [s.1.unwrap_or(0) as f64, s.3 as f64])
        .map(|ns| ns / 1e6)
        .collect();
    let mut out = String::new();
    open_svg(&mut out, height, label);
    faults(&mut out, x, windows, kinds, top, bottom, false);
    if measured.is_empty() {
        let _ = write!(
            out,
            r#"<text class="empty" x="500" y="120">{empty}</text></svg>"#
        );
        return out;
    }
    let lo = measured.iter().cloned().fold(f64::MAX, f64::min).max(0.01);
    let hi = measured.iter().cloned().fold(0.0, f64::max).max(lo * 10.0);
    let (lo_exp, hi_exp) = (lo.log10().floor(), hi.log10().ceil());
    let y = |ms: f64| {
        let f = (ms.max(lo).log10() - lo_exp) / (hi_exp - lo_exp);
        bottom - f * (bottom - top)
    };
    let mut e = lo_exp;
    while e <= hi_exp + 1e-9 {
        let ms = 10f64.powf(e);
        let py = y(ms);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{py:.1}" x2="{}" y2="{py:.1}"/><text class="yl" x="{:.1}" y="{:.1}">{} ms</text>"#,
            WIDTH - RIGHT,
            LEFT - 4.0,
            py + 3.0,
            trim(ms)
        );
        e += 1.0;
    }
    let line = |pick: &dyn Fn(&Point) -> Option<u64>| {
        let points: Vec<String> = series
            .iter()
            .filter_map(|s| pick(s).map(|ns| format!("{:.1},{:.1}", x.x(s.0), y(ns as f64 / 1e6))))
            .collect();
        points.join(" ")
    };
    let _ = write!(
        out,
        r#"<polyline class="max" points="{}"><title>max</title></polyline><polyline class="p99" points="{}"><title>p99</title></polyline><polyline class="p50" points="{}"><title>p50</title></polyline>"#,
        line(&|s| s.1.map(|_| s.3)),
        line(&|s| s.2),
        line(&|s| s.1),
    );
    time_axis(&mut out, x, bottom);
    out.push_str("</svg>");
    out
}

/// Completed ops per second per bin, stacked ok / fail / info.
pub fn throughput(tl: &Timeline, x: XScale, windows: &[FaultWindow], kinds: &[String]) -> String {
    let height = 200.0;
    let (top, bottom) = (TOP, height - AXIS);
    let width_s = tl.width_s();
    let peak = tl
        .bins
        .iter()
        .map(|b| (b.outcomes[0] + b.outcomes[1] + b.outcomes[2]) as f64 / width_s)
        .fold(0.0, f64::max)
        .max(1.0);
    let step = nice_step(peak / 4.0);
    let scale_top = (peak / step).ceil() * step;
    let y = |rate: f64| bottom - rate / scale_top * (bottom - top);
    let mut out = String::new();
    open_svg(&mut out, height, "throughput over time");
    faults(&mut out, x, windows, kinds, top, bottom, false);
    let mut v = 0.0;
    while v <= scale_top + 1e-9 {
        let py = y(v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{py:.1}" x2="{}" y2="{py:.1}"/><text class="yl" x="{:.1}" y="{:.1}">{}/s</text>"#,
            WIDTH - RIGHT,
            LEFT - 4.0,
            py + 3.0,
            trim(v)
        );
        v += step;
    }
    let bin_w = (x.x(width_s) - x.x(0.0)).max(0.6);
    for (i, b) in tl.bins.iter().enumerate() {
        let x0 = x.x(i as f64 * width_s);
        let mut base = 0.0;
        for (k, class) in ["ok", "fail", "info"].iter().enumerate() {
            let n = b.outcomes[k];
            if n == 0 {
                continue;
            }
            let rate = n as f64 / width_s;
            let (y1, y0) = (y(base + rate), y(base));
            let _ = write!(
                out,
                r#"<rect class="{class}" x="{x0:.1}" y="{y1:.1}" width="{bin_w:.2}" height="{:.1}"><title>{}-{}s: {n} {class} ({:.0}/s)</title></rect>"#,
                (y0 - y1).max(0.3),
                trim(i as f64 * width_s),
                trim((i + 1) as f64 * width_s),
                rate
            );
            base += rate;
        }
    }
    time_axis(&mut out, x, bottom);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(trim(2.50), "2.5");
    }

    #[test]
    fn mixed_cells_blend_their_outcomes() {
        assert_eq!(mix([1, 0, 0]), "#2e9d4a");
        assert_eq!(mix([0, 1, 0]), "#d64541");
    }
}
