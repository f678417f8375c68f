//! Drawing a [`Chart`] on any plotters backend: the SVG of the pages and
//! the PNG beside it come from this one code. Every chart shares one look:
//! white canvas, title, tick labels large enough to read at the default
//! size, light major grid lines only (no minor grid), Okabe-Ito colours.

use super::legend;
use super::{Bars, Chart, Curve, Facet, Glyph, KeyRow, Kind, MapShape, Marker, PathSet, Paths32, PointSet, Series};
use anyhow::{Result, anyhow};
use plotters::chart::{ChartContext, MeshStyle};
use plotters::coord::Shift;
use plotters::coord::ranged1d::AsRangedCoord;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const SIZE: (u32, u32) = (720, 440);
/// Font sizes in plotters' units (an SVG's font-size is this / 1.24).
const TITLE_PX: f64 = 22.0;
const PANEL_TITLE_PX: f64 = 18.0;
const AXIS_PX: f64 = 17.0;
const TICK_PX: f64 = 15.0;
/// Facets: one panel's size and the height of one line of the key.
const PANEL: (u32, u32) = (400, 360);
const KEY_LINE: u32 = 28;

pub(super) fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e}")
}

pub(super) fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", px))
}

/// DejaVu Sans (embedded) as plotters' "sans-serif", registered once:
/// with it plotters measures text the same on every machine and the
/// bitmap backend can draw glyphs without system fonts.
pub(super) fn register_fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only for a corrupt font file, which drawing then reports.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

pub(super) fn color(i: usize) -> RGBColor {
    // Colour-blind-friendly (Okabe-Ito) first, then plotters' palette.
    const OKABE_ITO: [RGBColor; 7] = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(0, 0, 0),
    ];
    OKABE_ITO.get(i).copied().unwrap_or_else(|| {
        let c = Palette99::pick(i).to_rgba();
        RGBColor(c.0, c.1, c.2)
    })
}

/// Range of finite values with 5% padding (a flat range gets +-1).
pub(super) fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// The step between the ticks plotters puts on `lo..hi` when asked for at
/// most `max` of them (its f64 key-point search: a power of ten, divided
/// by 2, 5 or 10 while the ticks still fit).
fn tick_step(lo: f64, hi: f64, max: usize) -> f64 {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    if !(hi - lo).is_finite() || (hi - lo).abs() < f64::EPSILON || max == 0 {
        return 1.0;
    }
    let rem = |a: f64, b: f64| {
        let r = a - (a / b).floor() * b;
        if (r - b).abs() < f64::EPSILON { 0.0 } else { r }
    };
    let mut scale = 10f64.powf((hi - lo).log10().floor());
    if 1 + ((hi - lo) / scale).floor() as usize > max {
        scale *= 10.0;
    }
    'outer: loop {
        let old = scale;
        for nxt in [2.0, 5.0, 10.0] {
            let mut left = lo - rem(lo, old / nxt);
            if left < lo {
                left += old / nxt;
            }
            let right = hi - rem(hi, old / nxt);
            if (1.0 + (right - left) / old * nxt).round() as usize > max {
                break 'outer;
            }
            scale = old / nxt;
        }
        scale = old / 10.0;
    }
    scale
}

/// Tick labels with the decimals the tick step needs ("100", not
/// plotters' "100.0"; "0.54"; "0.005"), the same for every tick of the
/// axis, scientific for huge or tiny axes. `max` is the tick count asked
/// of the mesh (plotters' default: 11).
pub(super) fn tick_format(lo: f64, hi: f64, max: usize) -> impl Fn(&f64) -> String {
    let step = tick_step(lo, hi, max);
    let big = lo.abs().max(hi.abs());
    let sci = big >= 1e5 || (big > 0.0 && big < 1e-3);
    let decimals = (-step.log10() - 1e-9).ceil().clamp(0.0, 8.0) as usize;
    move |v: &f64| {
        let v = if v.abs() < step * 1e-6 { 0.0 } else { *v };
        if sci { format!("{v:.1e}") } else { format!("{v:.decimals$}") }
    }
}

/// How the i-th series looks: one of 7 colours, then the same colours
/// again with the next marker (and dashes, for lines), so no chart needs
/// more than 7 colours and no two series look alike.
pub(super) fn look(i: usize) -> (RGBColor, Marker, bool) {
    const MARKERS: [Marker; 4] = [Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond];
    (color(i % 7), MARKERS[(i / 7) % 4], i >= 7)
}

/// The runs of consecutive finite points: a NaN is a gap in a line.
pub(super) fn finite_runs(points: impl Iterator<Item = (f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for (x, y) in points {
        if x.is_finite() && y.is_finite() {
            runs.last_mut().expect("never empty").push((x, y));
        } else if !runs.last().expect("never empty").is_empty() {
            runs.push(Vec::new());
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// Width and height of a chart in pixels.
pub(super) fn size(c: &Chart) -> (u32, u32) {
    match &c.kind {
        Kind::Paths { panels, cols, .. } => {
            let rows = panels.len().div_ceil(*cols).max(1);
            (260 * *cols as u32, 260 * rows as u32 + 36)
        }
        Kind::Facets { facets, key, .. } => {
            let (cols, rows) = facet_grid(facets.len());
            let width = (PANEL.0 * cols).max(SIZE.0);
            (width, 44 + PANEL.1 * rows + key_height(key, width))
        }
        // The map square: 10 x 10 in a near-square plotting area.
        Kind::Heat { .. } => (640, 560),
        _ => (SIZE.0 + legend::legend(c).map_or(0, |l| l.extra_width()), SIZE.1),
    }
}

/// Draws `c` on `backend`.
pub(super) fn draw<DB: DrawingBackend>(c: &Chart, backend: DB) -> Result<()> {
    register_fonts();
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = c.title.as_str();
    // Charts with a legend: the plot on the left SIZE.0 pixels, the box in
    // a free corner of it or beside it.
    let key = legend::legend(c);
    let plot_area = if root.dim_in_pixel().0 > SIZE.0 { root.split_horizontally(SIZE.0).0 } else { root.clone() };
    let plot = match &c.kind {
        Kind::Lines { x_label, y_label, series } => Some(lines(&plot_area, title, x_label, y_label, series)?),
        Kind::Bars { y_label, groups, bars } => {
            let headroom = key.as_ref().map_or(0.0, |l| l.headroom());
            Some(grouped_bars(&plot_area, title, y_label, groups, bars, headroom)?)
        }
        Kind::Roc { curves, floor } => Some(roc(&plot_area, title, curves, *floor)?),
        Kind::Scatter { x_label, y_label, sets } => Some(scatter(&plot_area, title, x_label, y_label, sets)?),
        _ => None,
    };
    if let (Some(range), Some(l)) = (plot, &key) {
        legend::draw(&root, l, legend::origin(l, range, root.dim_in_pixel().0))?;
    }
    match &c.kind {
        Kind::Lines { .. } | Kind::Bars { .. } | Kind::Roc { .. } | Kind::Scatter { .. } => {}
        Kind::Paths { backgrounds, panels, shapes, range, cols } => {
            paths(&root, title, backgrounds, panels, shapes, *range, *cols)?
        }
        Kind::Heat { values, x_range, y_range, shapes, log } => {
            heat(&root, title, values, *x_range, *y_range, shapes, *log)?
        }
        Kind::Facets { x_label, y_label, facets, key } => facet_panels(&root, title, x_label, y_label, facets, key)?,
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A chart's drawing context on the coordinates of `X` and `Y`.
type Axes<'a, DB, X, Y> =
    ChartContext<'a, DB, Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>>;

/// The axes of one plot: title, label areas, then the coordinate system.
fn frame<'a, DB: DrawingBackend, X: AsRangedCoord, Y: AsRangedCoord>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    title_px: f64,
    x: X,
    y: Y,
) -> Result<Axes<'a, DB, X, Y>> {
    ChartBuilder::on(area)
        .caption(title, font(title_px))
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(76)
        .build_cartesian_2d(x, y)
        .map_err(err)
}

/// The shared mesh look: major grid lines only, readable labels.
fn style_mesh<X: plotters::coord::ranged1d::Ranged, Y: plotters::coord::ranged1d::Ranged, DB: DrawingBackend>(
    m: &mut MeshStyle<'_, '_, X, Y, DB>,
) {
    m.max_light_lines(0).bold_line_style(BLACK.mix(0.12)).label_style(font(TICK_PX)).axis_desc_style(font(AXIS_PX));
}

type Xy<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A line through `pts` in `c`, dashed or solid.
fn draw_line<DB: DrawingBackend>(
    chart: &mut Xy<'_, DB>,
    pts: Vec<(f64, f64)>,
    c: ShapeStyle,
    dashed: bool,
) -> Result<()> {
    if dashed {
        chart.draw_series(DashedLineSeries::new(pts, 7, 5, c)).map_err(err)?;
    } else {
        chart.draw_series(LineSeries::new(pts, c)).map_err(err)?;
    }
    Ok(())
}

/// The pixel ranges of a chart's plotting area (where a legend goes).
type PlotRange = (std::ops::Range<i32>, std::ops::Range<i32>);

fn lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<PlotRange> {
    let ((x0, x1), (y0, y1)) = legend::lines_ranges(series);
    let mut chart = frame(root, title, TITLE_PX, x0..x1, y0..y1)?;
    let (fx, fy) = (tick_format(x0, x1, 11), tick_format(y0, y1, 11));
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_label_formatter(&fx).y_label_formatter(&fy).x_desc(x_label).y_desc(y_label).draw().map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let (c, _, dashed) = look(i);
        let band = s.std.len() == s.mean.len() && !s.std.is_empty();
        // Indices of the finite runs, so the band follows the same gaps.
        let idx: Vec<(f64, f64)> = (0..s.x.len().min(s.mean.len()))
            .map(|k| {
                let ok = s.x[k].is_finite() && s.mean[k].is_finite() && (!band || s.std[k].is_finite());
                (k as f64, if ok { 0.0 } else { f64::NAN })
            })
            .collect();
        for run in finite_runs(idx.into_iter()) {
            let ks: Vec<usize> = run.iter().map(|p| p.0 as usize).collect();
            if band && ks.len() > 1 {
                let upper = ks.iter().map(|&k| (s.x[k], s.mean[k] + s.std[k]));
                let lower = ks.iter().rev().map(|&k| (s.x[k], s.mean[k] - s.std[k]));
                chart
                    .draw_series(std::iter::once(Polygon::new(upper.chain(lower).collect::<Vec<_>>(), c.mix(0.18))))
                    .map_err(err)?;
            }
            let pts: Vec<(f64, f64)> = ks.iter().map(|&k| (s.x[k], s.mean[k])).collect();
            if pts.len() == 1 {
                chart.draw_series(std::iter::once(Circle::new(pts[0], 3, c.filled()))).map_err(err)?;
            } else {
                draw_line(&mut chart, pts, c.stroke_width(2), dashed)?;
            }
        }
    }
    Ok(chart.plotting_area().get_pixel_range())
}

fn grouped_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    groups: &[String],
    bars: &[Bars],
    headroom: f64,
) -> Result<PlotRange> {
    let err_of = |b: &Bars, g: usize| b.std.get(g).copied().filter(|s| s.is_finite()).unwrap_or(0.0);
    let (lo, hi) = padded_range(
        bars.iter()
            .flat_map(|b| b.mean.iter().enumerate().flat_map(move |(g, m)| [m - err_of(b, g), m + err_of(b, g), 0.0])),
    );
    // Headroom above the tallest bar for the legend box (upper right): the
    // top `headroom` share of the axis stays free.
    let top = bars
        .iter()
        .flat_map(|b| b.mean.iter().enumerate().map(move |(g, m)| m + err_of(b, g)))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let hi = if headroom > 0.0 && headroom < 1.0 { hi.max((top - headroom * lo) / (1.0 - headroom)) } else { hi };
    let x_range = -0.5f64..groups.len() as f64 - 0.5;
    let mut chart = frame(root, title, TITLE_PX, x_range, lo..hi)?;
    let names = groups.to_vec();
    let label = move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let fy = tick_format(lo, hi, 11);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.disable_x_mesh()
        .x_labels(groups.len().max(1))
        .x_label_formatter(&label)
        .y_label_formatter(&fy)
        .y_desc(y_label)
        .draw()
        .map_err(err)?;
    let width = 0.8 / bars.len().max(1) as f64;
    for (k, b) in bars.iter().enumerate() {
        let c = color(k);
        let left = |g: usize| g as f64 - 0.4 + k as f64 * width;
        let finite = |g: usize| b.mean.get(g).filter(|m| m.is_finite()).copied();
        chart
            .draw_series(
                (0..b.mean.len())
                    .filter_map(|g| finite(g).map(|m| (g, m)))
                    .map(|(g, m)| Rectangle::new([(left(g), 0.0), (left(g) + width * 0.92, m)], c.filled())),
            )
            .map_err(err)?;
        // +-1 std: a line with whiskers (plotters' ErrorBar adds a circle
        // at the mean that reads as a data point).
        let plot = chart.plotting_area();
        for g in (0..b.mean.len()).filter(|&g| finite(g).is_some() && err_of(b, g) > 0.0) {
            let (m, e, x) = (b.mean[g], err_of(b, g), left(g) + width * 0.46);
            let ink = BLACK.stroke_width(1);
            plot.draw(&PathElement::new(vec![(x, m - e), (x, m + e)], ink)).map_err(err)?;
            for y in [m - e, m + e] {
                plot.draw(&(EmptyElement::at((x, y)) + PathElement::new(vec![(-5, 0), (5, 0)], ink))).map_err(err)?;
            }
        }
    }
    Ok(chart.plotting_area().get_pixel_range())
}

fn roc<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &[Curve],
    floor: f64,
) -> Result<PlotRange> {
    let axis = || (floor..1.0).log_scale();
    let mut chart = frame(root, title, TITLE_PX, axis(), axis())?;
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_desc("false positive rate")
        .y_desc("true positive rate")
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new([(floor, floor), (1.0, 1.0)], RGBColor(150, 150, 150).stroke_width(1)))
        .map_err(err)?;
    for (i, c) in curves.iter().enumerate() {
        let (col, _, dashed) = look(i);
        let pts = c.fpr.iter().zip(&c.tpr).map(|(f, t)| (f.max(floor), t.max(floor)));
        for run in finite_runs(pts) {
            if dashed {
                chart.draw_series(DashedLineSeries::new(run, 7, 5, col.stroke_width(2))).map_err(err)?;
            } else {
                chart.draw_series(LineSeries::new(run, col.stroke_width(2))).map_err(err)?;
            }
        }
    }
    Ok(chart.plotting_area().get_pixel_range())
}

fn scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    sets: &[PointSet],
) -> Result<PlotRange> {
    let (x0, x1) = padded_range(sets.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let (y0, y1) = padded_range(sets.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let mut chart = frame(root, title, TITLE_PX, x0..x1, y0..y1)?;
    let (fx, fy) = (tick_format(x0, x1, 11), tick_format(y0, y1, 11));
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_label_formatter(&fx).y_label_formatter(&fy).x_desc(x_label).y_desc(y_label).draw().map_err(err)?;
    for (i, s) in sets.iter().enumerate() {
        let (c, m, _) = look(i);
        // Many points: small and translucent; a few: full markers.
        let style = if s.points.len() > 50 { c.mix(0.6).filled() } else { c.filled() };
        for &p in s.points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
            draw_marker(chart.plotting_area(), m, p, style)?;
        }
    }
    Ok(chart.plotting_area().get_pixel_range())
}

/// Draws the map shapes: grey filled rectangles, translucent green discs.
fn draw_shapes<DB: DrawingBackend>(chart: &mut Xy<'_, DB>, shapes: &[MapShape]) -> Result<()> {
    for s in shapes {
        match *s {
            MapShape::Rect(x0, y0, x1, y1) => {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, y0), (x1, y1)],
                        RGBColor(120, 120, 120).filled(),
                    )))
                    .map_err(err)?;
            }
            MapShape::Circle(x, y, r) => {
                let pts: Vec<(f64, f64)> = (0..=24)
                    .map(|i| {
                        let t = i as f64 / 24.0 * std::f64::consts::TAU;
                        (x + r * t.cos(), y + r * t.sin())
                    })
                    .collect();
                chart.draw_series(std::iter::once(Polygon::new(pts, RGBColor(0, 158, 115).mix(0.4)))).map_err(err)?;
            }
        }
    }
    Ok(())
}

fn paths<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    backgrounds: &[Paths32],
    panels: &[PathSet],
    shapes: &[MapShape],
    range: (f64, f64),
    cols: usize,
) -> Result<()> {
    let rows = panels.len().div_ceil(cols).max(1);
    let root = root.margin(8, 0, 0, 0).titled(title, font(TITLE_PX)).map_err(err)?;
    for (area, panel) in root.split_evenly((rows, cols)).iter().zip(panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, font(16.0))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(30)
            .build_cartesian_2d(range.0..range.1, range.0..range.1)
            .map_err(err)?;
        let f = tick_format(range.0, range.1, 3);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(3)
            .y_labels(3)
            .x_label_formatter(&f)
            .y_label_formatter(&f)
            .label_style(font(13.0))
            .draw()
            .map_err(err)?;
        draw_shapes(&mut chart, shapes)?;
        for p in backgrounds.get(panel.background).into_iter().flat_map(|b| b.f64()) {
            for run in finite_runs(p.into_iter()) {
                chart
                    .draw_series(std::iter::once(PathElement::new(run, RGBColor(170, 170, 170).mix(0.35))))
                    .map_err(err)?;
            }
        }
        for (i, p) in panel.paths.f64().enumerate() {
            for run in finite_runs(p.into_iter()) {
                chart
                    .draw_series(std::iter::once(PathElement::new(run, color(i % 2).mix(0.8).stroke_width(1))))
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

/// A heat map's colour: white (f = 0) to Okabe-Ito blue (f = 1).
fn heat_colour(f: f64) -> RGBColor {
    RGBColor((255.0 * (1.0 - f)) as u8, (255.0 - 141.0 * f) as u8, (255.0 - 77.0 * f) as u8)
}

/// A colour bar's tick label: 3 significant digits, never "0.00" for a
/// small positive weight.
fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (0.01..1000.0).contains(&a) { format!("{v:.2}") } else { format!("{v:.2e}") }
}

fn heat<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    values: &[Vec<f64>],
    x_range: (f64, f64),
    y_range: (f64, f64),
    shapes: &[MapShape],
    log: bool,
) -> Result<()> {
    let rows = values.len().max(1);
    let cols = values.first().map_or(1, |r| r.len().max(1));
    let t = |v: f64| if log { v.max(1e-12).ln() } else { v };
    let shown = |v: f64| if log { v.exp() } else { v };
    let finite = values.iter().flatten().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(t(v)), b.max(t(v))));
    let (map_area, bar_area) = root.split_horizontally(root.dim_in_pixel().0 - 110);
    let mut chart = frame(&map_area, title, TITLE_PX, x_range.0..x_range.1, y_range.0..y_range.1)?;
    let (fx, fy) = (tick_format(x_range.0, x_range.1, 11), tick_format(y_range.0, y_range.1, 11));
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.disable_mesh().x_label_formatter(&fx).y_label_formatter(&fy).draw().map_err(err)?;
    let (dx, dy) = ((x_range.1 - x_range.0) / cols as f64, (y_range.1 - y_range.0) / rows as f64);
    let frac = |v: f64| if hi > lo { ((t(v) - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
    let cells = values.iter().enumerate().flat_map(|(r, row)| {
        row.iter().enumerate().filter(|(_, v)| v.is_finite()).map(move |(c, v)| {
            let (x, y) = (x_range.0 + c as f64 * dx, y_range.0 + r as f64 * dy);
            Rectangle::new([(x, y), (x + dx, y + dy)], heat_colour(frac(*v)).filled())
        })
    });
    chart.draw_series(cells).map_err(err)?;
    draw_shapes(&mut chart, shapes)?;
    // The colour bar: the scale's ends and middle, in the data's units.
    if lo.is_finite() && hi.is_finite() {
        let bar = bar_area.margin(56, 64, 10, 56);
        let (bw, bh) = bar.dim_in_pixel();
        let steps = 64;
        for k in 0..steps {
            let y0 = bh as i32 - (k + 1) * bh as i32 / steps;
            let y1 = bh as i32 - k * bh as i32 / steps;
            let f = (k as f64 + 0.5) / steps as f64;
            bar.draw(&Rectangle::new([(0, y0), (bw.min(22) as i32, y1)], heat_colour(f).filled())).map_err(err)?;
        }
        bar.draw(&Rectangle::new([(0, 0), (bw.min(22) as i32, bh as i32)], BLACK.stroke_width(1))).map_err(err)?;
        for (f, v) in [(0.0, lo), (0.5, (lo + hi) / 2.0), (1.0, hi)] {
            let y = bh as i32 - (f * bh as f64) as i32;
            let style = font(TICK_PX).pos(Pos::new(HPos::Left, VPos::Center));
            bar.draw(&Text::new(short(shown(v)), (28, y), style)).map_err(err)?;
        }
        if log {
            let style = font(13.0).pos(Pos::new(HPos::Left, VPos::Center));
            // In the bar's margin (an area clamps what falls outside it).
            bar_area.draw(&Text::new("log scale", (10, 56 + bh as i32 + 28), style)).map_err(err)?;
        }
    }
    Ok(())
}

/// Columns and rows of a facet grid: up to 3 panels a row.
fn facet_grid(n: usize) -> (u32, u32) {
    let cols = n.clamp(1, 3);
    (cols as u32, n.div_ceil(cols).max(1) as u32)
}

/// Pixel width of `text` at `px` (DejaVu metrics, the same on every machine).
pub(super) fn text_width(text: &str, px: f64) -> u32 {
    register_fonts();
    font(px).font.box_size(text).map_or(text.len() as u32 * px as u32 / 2, |s| s.0)
}

const GLYPH_W: u32 = 26;

/// Where each key entry goes: `(line, x, glyph, text)`, wrapping at `width`.
#[allow(clippy::type_complexity)]
fn key_layout(key: &[KeyRow], width: u32) -> Vec<(u32, u32, Option<Glyph>, String)> {
    let mut out = Vec::new();
    let mut line = 0;
    for row in key {
        let mut x = 16;
        if row.entries.is_empty() {
            // A line of text: wrapped at word boundaries.
            let mut text = String::new();
            for word in row.title.split_whitespace() {
                let longer = if text.is_empty() { word.to_string() } else { format!("{text} {word}") };
                if !text.is_empty() && x + text_width(&longer, legend::LEGEND_PX) + 16 > width {
                    out.push((line, x, None, std::mem::take(&mut text)));
                    line += 1;
                    text = word.to_string();
                } else {
                    text = longer;
                }
            }
            if !text.is_empty() {
                out.push((line, x, None, text));
                line += 1;
            }
            continue;
        }
        if !row.title.is_empty() {
            out.push((line, x, None, row.title.clone()));
            x += text_width(&row.title, legend::LEGEND_PX) + 12;
        }
        let indent = x;
        for (glyph, text) in &row.entries {
            let w = GLYPH_W + 6 + text_width(text, legend::LEGEND_PX) + 18;
            if x + w > width && x > indent {
                line += 1;
                x = indent;
            }
            out.push((line, x, Some(*glyph), text.clone()));
            x += w;
        }
        line += 1;
    }
    out
}

fn key_height(key: &[KeyRow], width: u32) -> u32 {
    let lines = key_layout(key, width).iter().map(|e| e.0 + 1).max().unwrap_or(0);
    if lines == 0 { 0 } else { lines * KEY_LINE + 16 }
}

/// A marker centred on `at` on any drawing area (data or pixel coordinates).
pub(super) fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    m: Marker,
    at: CT::From,
    style: ShapeStyle,
) -> Result<()> {
    let e = EmptyElement::at(at);
    match m {
        Marker::Circle => area.draw(&(e + Circle::new((0, 0), 5, style))),
        Marker::Square => area.draw(&(e + Rectangle::new([(-5, -5), (5, 5)], style))),
        Marker::Triangle => area.draw(&(e + Polygon::new(vec![(0, -6), (-6, 5), (6, 5)], style))),
        Marker::Diamond => area.draw(&(e + Polygon::new(vec![(0, -7), (-6, 0), (0, 7), (6, 0)], style))),
        Marker::Cross => area.draw(&(e + Cross::new((0, 0), 5, style.stroke_width(2)))),
    }
    .map_err(err)
}

/// The style of a marker: filled in its colour (a cross is a stroke).
pub(super) fn marker_style(m: Marker, c: RGBColor) -> ShapeStyle {
    if m == Marker::Cross { c.stroke_width(2) } else { c.filled() }
}

/// Point labels' font size.
const LABEL_PX: f64 = 14.0;

/// Where each point label goes (its text's top-left corner, in pixels):
/// the first spot around its point (right above, right below, left above,
/// left below, above, below, then farther out) that stays inside `bounds`
/// `(x0, y0, x1, y1)` and covers no marker and no label placed before it;
/// failing that the first spot inside the bounds. Greedy, in order.
fn place_labels(
    labels: &[((i32, i32), String)],
    markers: &[(i32, i32)],
    bounds: (i32, i32, i32, i32),
) -> Vec<((i32, i32), String)> {
    type Box4 = (i32, i32, i32, i32);
    let overlaps = |a: Box4, b: Box4| a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
    let mut taken: Vec<Box4> = markers.iter().map(|&(x, y)| (x - 6, y - 6, x + 7, y + 7)).collect();
    let mut out = Vec::new();
    for ((x, y), text) in labels {
        let (w, h) = (text_width(text, LABEL_PX) as i32, (LABEL_PX / 1.24).ceil() as i32 + 2);
        let spots = [
            (x + 7, y - 7 - h),
            (x + 7, y + 7),
            (x - 7 - w, y - 7 - h),
            (x - 7 - w, y + 7),
            (x - w / 2, y - 9 - h),
            (x - w / 2, y + 9),
            (x + 9, y - h / 2),
            (x - 9 - w, y - h / 2),
            (x + 7, y - 9 - 2 * h),
            (x - 7 - w, y - 9 - 2 * h),
            (x + 7, y + 9 + h),
            (x - 7 - w, y + 9 + h),
        ];
        let boxed = |&(sx, sy): &(i32, i32)| (sx, sy, sx + w, sy + h);
        let inside = |b: Box4| b.0 >= bounds.0 && b.1 >= bounds.1 && b.2 <= bounds.2 && b.3 <= bounds.3;
        let free = spots.iter().find(|s| inside(boxed(s)) && !taken.iter().any(|t| overlaps(*t, boxed(s))));
        let spot = free.or_else(|| spots.iter().find(|s| inside(boxed(s)))).unwrap_or(&spots[0]);
        taken.push(boxed(spot));
        out.push((*spot, text.clone()));
    }
    out
}

fn facet_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    facets: &[Facet],
    key: &[KeyRow],
) -> Result<()> {
    let (cols, rows) = facet_grid(facets.len());
    let body = root.margin(8, 0, 0, 0).titled(title, font(TITLE_PX)).map_err(err)?;
    let (panels, key_area) = body.split_vertically(PANEL.1 * rows);
    for (area, f) in panels.split_evenly((rows as usize, cols as usize)).iter().zip(facets) {
        let pts = || f.tracks.iter().flat_map(|t| t.points.iter());
        let (x0, x1) = padded_range(pts().map(|m| m.x));
        let (y0, y1) = padded_range(pts().map(|m| m.y));
        let mut chart = frame(area, &f.title, PANEL_TITLE_PX, x0..x1, y0..y1)?;
        let (fx, fy) = (tick_format(x0, x1, 6), tick_format(y0, y1, 8));
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_labels(6)
            .y_labels(8)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(err)?;
        for t in &f.tracks {
            let c = color(t.colour);
            for run in finite_runs(t.points.iter().map(|m| (m.x, m.y))) {
                draw_line(&mut chart, run, c.mix(0.8).stroke_width(2), t.dashed)?;
            }
        }
        // Markers over every line, so no line hides a point; then the
        // labels where they cover no marker and no other label.
        let plot = chart.plotting_area();
        let finite: Vec<(&super::Track, &super::Mark)> = f
            .tracks
            .iter()
            .flat_map(|t| t.points.iter().map(move |m| (t, m)))
            .filter(|(_, m)| m.x.is_finite() && m.y.is_finite())
            .collect();
        for (t, m) in &finite {
            draw_marker(plot, m.marker, (m.x, m.y), marker_style(m.marker, color(t.colour)))?;
        }
        let centres: Vec<(i32, i32)> = finite.iter().map(|(_, m)| chart.backend_coord(&(m.x, m.y))).collect();
        let (xs, ys) = plot.get_pixel_range();
        let labels: Vec<((i32, i32), String)> = finite
            .iter()
            .zip(&centres)
            .filter(|((_, m), _)| !m.label.is_empty())
            .map(|((_, m), &c)| (c, m.label.clone()))
            .collect();
        let label_style = font(LABEL_PX).color(&RGBColor(60, 60, 60));
        for ((x, y), text) in place_labels(&labels, &centres, (xs.start, ys.start, xs.end, ys.end)) {
            root.draw(&Text::new(text, (x, y), label_style.clone())).map_err(err)?;
        }
    }
    let ink = RGBColor(70, 70, 70);
    for (line, x, glyph, text) in key_layout(key, key_area.dim_in_pixel().0) {
        let y = (8 + line * KEY_LINE + KEY_LINE / 2) as i32;
        let style = font(legend::LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Center));
        let (x, text_x) = (x as i32, x as i32 + if glyph.is_some() { (GLYPH_W + 6) as i32 } else { 0 });
        match glyph {
            None => {}
            Some(Glyph::Colour(i)) => key_area
                .draw(&PathElement::new(vec![(x, y), (x + GLYPH_W as i32, y)], color(i).stroke_width(4)))
                .map_err(err)?,
            Some(Glyph::Marker(m)) => draw_marker(&key_area, m, (x + GLYPH_W as i32 / 2, y), marker_style(m, ink))?,
            Some(Glyph::Line { dashed: false }) => key_area
                .draw(&PathElement::new(vec![(x, y), (x + GLYPH_W as i32, y)], ink.stroke_width(2)))
                .map_err(err)?,
            Some(Glyph::Line { dashed: true }) => key_area
                .draw(&DashedPathElement::new(vec![(x, y), (x + GLYPH_W as i32, y)], 7, 5, ink.stroke_width(2)))
                .map_err(err)?,
        }
        key_area.draw(&Text::new(text, (text_x, y), style)).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_avoid_markers_labels_and_the_edge() {
        // Two points close together: their labels must not overlap each
        // other or either marker; a point at the right edge gets its label
        // on the left.
        let markers = [(100, 100), (104, 98), (395, 200)];
        let labels: Vec<((i32, i32), String)> = markers.iter().map(|&c| (c, "1000".to_string())).collect();
        let placed = place_labels(&labels, &markers, (0, 0, 400, 300));
        let (w, h) = (text_width("1000", LABEL_PX) as i32, (LABEL_PX / 1.24).ceil() as i32 + 2);
        let boxes: Vec<(i32, i32, i32, i32)> = placed.iter().map(|((x, y), _)| (*x, *y, x + w, y + h)).collect();
        let overlaps =
            |a: (i32, i32, i32, i32), b: (i32, i32, i32, i32)| a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
        assert!(!overlaps(boxes[0], boxes[1]), "{boxes:?}");
        for b in &boxes {
            for &(x, y) in &markers {
                assert!(!overlaps(*b, (x - 6, y - 6, x + 7, y + 7)), "label {b:?} covers the marker at {x},{y}");
            }
            assert!(b.0 >= 0 && b.2 <= 400 && b.1 >= 0 && b.3 <= 300, "{b:?} leaves the plot");
        }
        assert!(boxes[2].2 <= 395, "the edge point's label goes left: {:?}", boxes[2]);
    }

    #[test]
    fn tick_labels_carry_the_decimals_the_step_needs() {
        // Steps as plotters picks them (checked against its SVG output).
        assert_eq!(tick_step(100.0, 200.0, 11), 10.0);
        assert_eq!(tick_step(100.0, 200.0, 10), 20.0);
        assert_eq!(tick_step(0.0, 0.045, 8), 0.01);
        assert_eq!(tick_step(0.0, 0.045, 10), 0.005);
        let f = tick_format(95.0, 205.0, 11);
        assert_eq!((f(&100.0), f(&150.0)), ("100".to_string(), "150".to_string()));
        let f = tick_format(0.53, 0.73, 10);
        assert_eq!(f(&0.54), "0.54");
        let f = tick_format(0.8, 2.2, 10);
        assert_eq!((f(&1.0), f(&0.8)), ("1.0".to_string(), "0.8".to_string()));
        assert_eq!(tick_format(-0.002, 0.046, 8)(&0.04), "0.04");
        assert_eq!(tick_format(-0.002, 0.046, 10)(&0.045), "0.045");
        assert_eq!(tick_format(0.0002, 0.0047, 10)(&0.0045), "0.0045");
        assert_eq!(tick_format(-1e-17, 0.3, 10)(&1e-18), "0.00", "no -0.00 or 1e-18 at zero");
        assert_eq!(tick_format(0.0, 2e6, 10)(&1e6), "1.0e6");
    }

    #[test]
    fn nan_splits_runs() {
        let r = finite_runs([(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 3.0), (f64::NAN, 0.0)].into_iter());
        assert_eq!(r, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    #[test]
    fn key_wraps_entries_past_the_width() {
        let row = KeyRow {
            title: "colour:".into(),
            entries: (0..8).map(|i| (Glyph::Colour(i), format!("student {i}"))).collect(),
        };
        let placed = key_layout(std::slice::from_ref(&row), 400);
        let lines = placed.iter().map(|p| p.0).max().unwrap() + 1;
        assert!(lines >= 3, "8 entries of ~140 px fit 2 a line in 400 px: {lines} lines");
        assert!(placed.iter().all(|p| p.1 + 10 < 400), "an entry starts past the edge");
        assert_eq!(key_height(&[row], 400), lines * KEY_LINE + 16);
    }
}
