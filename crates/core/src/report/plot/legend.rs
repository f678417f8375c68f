//! Legends: what each colour, dash and marker of a chart stands for, in a
//! box that hides no data. The box goes into the first corner of the plot
//! that no line, band or point crosses; when every corner is taken it goes
//! beside the plot and the canvas grows to hold it, so a crowded chart
//! (eight learning curves, ten defences) keeps all of its data visible.

use super::draw::{color, draw_marker, err, font, look, marker_style, padded_range, text_width};
use super::{Chart, Kind, Marker, Series};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The legend's text size (plotters' units).
pub(super) const LEGEND_PX: f64 = 15.0;
const ROW: u32 = 22;
/// The plotting area of a 720 x 440 chart, in pixels (canvas less the
/// label areas, margins and title): what a corner box is measured against.
const PLOT: (f64, f64) = (616.0, 332.0);
/// Pixels between the box and the plot's edge.
const INSET: f64 = 8.0;

/// What an entry's sample looks like.
#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    Line { colour: RGBColor, dashed: bool, width: u32 },
    Marker(Marker, RGBColor),
    Bar(RGBColor),
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub swatch: Swatch,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Corner {
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Place {
    Inside(Corner),
    /// Right of the plot, on a canvas widened by the box.
    Outside,
}

#[derive(Debug, Clone)]
pub(super) struct Legend {
    pub entries: Vec<Entry>,
    pub place: Place,
}

impl Legend {
    /// Width and height of the box in pixels.
    pub fn size(&self) -> (u32, u32) {
        let text = self.entries.iter().map(|e| text_width(&e.text, LEGEND_PX)).max().unwrap_or(0);
        (46 + text + 12, 8 + ROW * self.entries.len() as u32 + 4)
    }

    /// The box as fractions of the plotting area, with the inset.
    fn fraction(&self) -> (f64, f64) {
        let (w, h) = self.size();
        ((w as f64 + 2.0 * INSET) / PLOT.0, (h as f64 + 2.0 * INSET) / PLOT.1)
    }

    /// The extra canvas width when the box is outside.
    pub fn extra_width(&self) -> u32 {
        if self.place == Place::Outside { self.size().0 + 20 } else { 0 }
    }

    /// The share of the y axis above the data kept free for an
    /// upper-right box (grouped bars); 0 when the box is outside.
    pub fn headroom(&self) -> f64 {
        if self.place == Place::Outside { 0.0 } else { self.fraction().1 }
    }
}

/// Points along every segment (24 a segment), so a corner that a line
/// crosses between two data points counts as taken.
fn along(points: &[(f64, f64)], out: &mut Vec<(f64, f64)>) {
    out.extend(points.first().copied());
    for w in points.windows(2) {
        for k in 1..=24 {
            let t = k as f64 / 24.0;
            out.push((w[0].0 + (w[1].0 - w[0].0) * t, w[0].1 + (w[1].1 - w[0].1) * t));
        }
    }
}

/// Where the samples (fractions of the plot, 0..1 both ways) leave room
/// for a box of `(fw, fh)`: the first empty corner in `order`, else outside.
fn place(samples: &[(f64, f64)], (fw, fh): (f64, f64), order: &[Corner]) -> Place {
    if fw >= 0.6 || fh >= 0.9 {
        return Place::Outside;
    }
    let inside = |c: Corner, (u, v): (f64, f64)| {
        let right = matches!(c, Corner::UpperRight | Corner::LowerRight);
        let upper = matches!(c, Corner::UpperRight | Corner::UpperLeft);
        (if right { u >= 1.0 - fw } else { u <= fw }) && (if upper { v >= 1.0 - fh } else { v <= fh })
    };
    order.iter().find(|&&c| !samples.iter().any(|&s| inside(c, s))).map_or(Place::Outside, |&c| Place::Inside(c))
}

/// The x and y ranges of a line chart (padded, bands included).
pub(super) fn lines_ranges(series: &[Series]) -> ((f64, f64), (f64, f64)) {
    let sd = |s: &Series, i: usize| s.std.get(i).copied().unwrap_or(0.0);
    let x = padded_range(series.iter().flat_map(|s| s.x.iter().copied()));
    let y = padded_range(
        series.iter().flat_map(|s| s.mean.iter().enumerate().flat_map(move |(i, m)| [m - sd(s, i), m + sd(s, i)])),
    );
    (x, y)
}

/// The legend of `chart` and where it goes (None: the chart has none).
pub(super) fn legend(chart: &Chart) -> Option<Legend> {
    let norm = |(x0, x1): (f64, f64), (y0, y1): (f64, f64)| {
        move |(x, y): (f64, f64)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0))
    };
    let keep = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let default_order = [Corner::UpperRight, Corner::UpperLeft, Corner::LowerRight, Corner::LowerLeft];
    let (entries, samples, order): (Vec<Entry>, Vec<(f64, f64)>, &[Corner]) = match &chart.kind {
        Kind::Lines { series, .. } => {
            let (xr, yr) = lines_ranges(series);
            let mut samples = Vec::new();
            for s in series {
                let band = s.std.len() == s.mean.len();
                for offset in [0.0, -1.0, 1.0] {
                    if offset != 0.0 && !band {
                        continue;
                    }
                    let pts: Vec<(f64, f64)> =
                        s.x.iter()
                            .zip(&s.mean)
                            .enumerate()
                            .map(|(i, (&x, &m))| (x, m + offset * s.std.get(i).copied().unwrap_or(0.0)))
                            .collect();
                    for run in super::draw::finite_runs(pts.into_iter()) {
                        along(&run, &mut samples);
                    }
                }
            }
            let entries = series
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let (colour, _, dashed) = look(i);
                    Entry { swatch: Swatch::Line { colour, dashed, width: 3 }, text: s.name.clone() }
                })
                .collect();
            (entries, samples.into_iter().map(norm(xr, yr)).collect(), &default_order)
        }
        Kind::Scatter { sets, .. } => {
            let xr = padded_range(sets.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
            let yr = padded_range(sets.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
            let samples = sets.iter().flat_map(|s| s.points.iter().copied().filter(keep)).map(norm(xr, yr)).collect();
            let entries = sets
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let (colour, m, _) = look(i);
                    Entry { swatch: Swatch::Marker(m, colour), text: s.name.clone() }
                })
                .collect();
            (entries, samples, &default_order)
        }
        Kind::Roc { curves, floor } => {
            // Log axes: fractions of log10(floor)..0.
            let lf = floor.log10();
            let to = |(f, t): (f64, f64)| ((f.max(*floor).log10() - lf) / -lf, (t.max(*floor).log10() - lf) / -lf);
            let mut samples = Vec::new();
            for c in curves {
                let pts: Vec<(f64, f64)> = c.fpr.iter().zip(&c.tpr).map(|(&f, &t)| to((f, t))).filter(keep).collect();
                along(&pts, &mut samples);
            }
            along(&[(0.0, 0.0), (1.0, 1.0)], &mut samples);
            let mut entries = vec![Entry {
                swatch: Swatch::Line { colour: RGBColor(150, 150, 150), dashed: false, width: 1 },
                text: "chance".into(),
            }];
            entries.extend(curves.iter().enumerate().map(|(i, c)| {
                let (colour, _, dashed) = look(i);
                Entry { swatch: Swatch::Line { colour, dashed, width: 3 }, text: c.name.clone() }
            }));
            (entries, samples, &[Corner::LowerRight, Corner::UpperLeft, Corner::UpperRight, Corner::LowerLeft])
        }
        Kind::Bars { bars, .. } => {
            let entries = bars
                .iter()
                .enumerate()
                .map(|(i, b)| Entry { swatch: Swatch::Bar(color(i)), text: b.name.clone() })
                .collect();
            let mut l = Legend { entries, place: Place::Inside(Corner::UpperRight) };
            // Above the bars (the y axis gets the headroom) unless that
            // would squash them into less than half the height.
            if l.fraction().1 > 0.5 || l.fraction().0 > 0.6 {
                l.place = Place::Outside;
            }
            return (!bars.is_empty()).then_some(l);
        }
        _ => return None,
    };
    if entries.is_empty() {
        return None;
    }
    let mut l = Legend { entries, place: Place::Outside };
    l.place = place(&samples, l.fraction(), order);
    Some(l)
}

/// The box's top-left corner on the canvas for a plotting area `plot`
/// (pixel ranges) and, outside, the canvas width `width`.
pub(super) fn origin(l: &Legend, plot: (std::ops::Range<i32>, std::ops::Range<i32>), width: u32) -> (i32, i32) {
    let (w, h) = l.size();
    let (w, h, inset) = (w as i32, h as i32, INSET as i32);
    let (xs, ys) = plot;
    match l.place {
        Place::Outside => (width as i32 - w - 10, ys.start),
        Place::Inside(Corner::UpperRight) => (xs.end - w - inset, ys.start + inset),
        Place::Inside(Corner::UpperLeft) => (xs.start + inset, ys.start + inset),
        Place::Inside(Corner::LowerRight) => (xs.end - w - inset, ys.end - h - inset),
        Place::Inside(Corner::LowerLeft) => (xs.start + inset, ys.end - h - inset),
    }
}

/// Draws the box with its entries at `at` (top-left, canvas pixels).
pub(super) fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, l: &Legend, at: (i32, i32)) -> Result<()> {
    let (w, h) = l.size();
    let (x, y) = at;
    root.draw(&Rectangle::new([(x, y), (x + w as i32, y + h as i32)], WHITE.mix(0.9).filled())).map_err(err)?;
    root.draw(&Rectangle::new([(x, y), (x + w as i32, y + h as i32)], BLACK.mix(0.35).stroke_width(1))).map_err(err)?;
    let style = font(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, e) in l.entries.iter().enumerate() {
        let yc = y + 8 + (k as i32) * ROW as i32 + ROW as i32 / 2;
        let (x0, x1) = (x + 10, x + 36);
        match e.swatch {
            Swatch::Line { colour, dashed: false, width } => {
                root.draw(&PathElement::new(vec![(x0, yc), (x1, yc)], colour.stroke_width(width))).map_err(err)?
            }
            Swatch::Line { colour, dashed: true, width } => root
                .draw(&DashedPathElement::new(vec![(x0, yc), (x1, yc)], 6, 4, colour.stroke_width(width)))
                .map_err(err)?,
            Swatch::Marker(m, colour) => draw_marker(root, m, ((x0 + x1) / 2, yc), marker_style(m, colour))?,
            Swatch::Bar(colour) => {
                root.draw(&Rectangle::new([(x0 + 4, yc - 6), (x1 - 4, yc + 6)], colour.filled())).map_err(err)?
            }
        }
        root.draw(&Text::new(e.text.clone(), (x + 44, yc), style.clone())).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::FigureContent;
    use super::*;

    #[test]
    fn the_box_goes_to_the_first_free_corner_or_outside() {
        let order = [Corner::UpperRight, Corner::UpperLeft, Corner::LowerRight, Corner::LowerLeft];
        // A rising line crosses the upper right and lower left corners.
        let mut rising = Vec::new();
        along(&[(0.0, 0.0), (1.0, 1.0)], &mut rising);
        assert_eq!(place(&rising, (0.3, 0.3), &order), Place::Inside(Corner::UpperLeft));
        // Points in all four corners: outside.
        let corners = [(0.05, 0.05), (0.95, 0.05), (0.05, 0.95), (0.95, 0.95)];
        assert_eq!(place(&corners, (0.3, 0.3), &order), Place::Outside);
        // A box as tall as the plot never fits inside.
        assert_eq!(place(&[], (0.3, 0.95), &order), Place::Outside);
    }

    #[test]
    fn crowded_lines_put_the_legend_beside_the_plot_on_a_wider_canvas() {
        // Eight flat lines across the whole height: no corner is free.
        let series: Vec<Series> = (0..8)
            .map(|i| Series { name: format!("arm {i}"), x: vec![0.0, 1.0], mean: vec![i as f64; 2], std: vec![] })
            .collect();
        let FigureContent::Chart(c) = super::super::lines_with_bands("t", "x", "y", &series).unwrap() else { panic!() };
        let l = legend(&c).unwrap();
        assert_eq!(l.place, Place::Outside);
        assert_eq!(c.size(), (720 + l.extra_width(), 440));
        // One flat line across the middle leaves every corner free.
        let one = [Series { name: "a".into(), x: vec![0.0, 1.0], mean: vec![0.0, 0.0], std: vec![] }];
        let FigureContent::Chart(c) = super::super::lines_with_bands("t", "x", "y", &one).unwrap() else { panic!() };
        let l = legend(&c).unwrap();
        assert_eq!(l.place, Place::Inside(Corner::UpperRight));
        assert_eq!(c.size(), (720, 440));
    }
}
