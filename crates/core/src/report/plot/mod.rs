//! Figures: charts drawn with plotters, and image grids (PNG).
//!
//! Every function takes plain numbers and returns a [`FigureContent`], so
//! methods never touch plotters directly and every figure looks alike. A
//! chart keeps what it is drawn from (a [`Chart`]: kind, labels, numbers)
//! rather than a picture, so one drawing code gives its SVG (for the pages)
//! and its PNG (for slides and documents) alike, on any backend, and its
//! numbers go to a CSV beside them for readers who plot with their own
//! tools. Text is set in DejaVu Sans, embedded in the binary, so a PNG
//! drawn on a fresh machine without system fonts still has its labels.

mod draw;
pub mod floats;
mod grid;
mod legend;
mod table;

pub use grid::{GridLabels, image_grid, labelled_image_grid};
pub use table::DataTable;

use super::FigureContent;
use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

/// One line of a line plot: mean over seeds at each x, with its std band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    #[serde(with = "floats")]
    pub x: Vec<f64>,
    #[serde(with = "floats")]
    pub mean: Vec<f64>,
    /// Standard deviation per point (empty: no band).
    #[serde(with = "floats")]
    pub std: Vec<f64>,
}

/// One bar of every group of [`grouped_bars`]: its mean and std per group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bars {
    pub name: String,
    #[serde(with = "floats")]
    pub mean: Vec<f64>,
    #[serde(with = "floats")]
    pub std: Vec<f64>,
}

/// Static shapes of a 2-D map (obstacles, walls, goals), drawn under paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapShape {
    /// Filled grey rectangle `(x0, y0, x1, y1)`.
    Rect(
        #[serde(with = "floats")] f64,
        #[serde(with = "floats")] f64,
        #[serde(with = "floats")] f64,
        #[serde(with = "floats")] f64,
    ),
    /// Green circle `(x, y, radius)` (a goal).
    Circle(#[serde(with = "floats")] f64, #[serde(with = "floats")] f64, #[serde(with = "floats")] f64),
}

/// One panel of [`path_panels`]: light grey background paths (the data),
/// coloured foreground paths (a policy), over the map shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathPanel {
    pub title: String,
    #[serde(with = "floats")]
    pub background: Vec<Vec<(f64, f64)>>,
    #[serde(with = "floats")]
    pub paths: Vec<Vec<(f64, f64)>>,
}

/// The shape of a point in a [`Track`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}

impl Marker {
    /// The name in the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Marker::Circle => "circle",
            Marker::Square => "square",
            Marker::Triangle => "triangle",
            Marker::Diamond => "diamond",
            Marker::Cross => "cross",
        }
    }
}

/// One point of a [`Track`]: where it is, its marker and a short label
/// drawn beside it (empty: none), e.g. the alpha it was trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    #[serde(with = "floats")]
    pub x: f64,
    #[serde(with = "floats")]
    pub y: f64,
    pub marker: Marker,
    pub label: String,
}

/// A line through marked points in order (a sweep's path), in palette
/// colour `colour`, solid or dashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub name: String,
    pub colour: usize,
    pub dashed: bool,
    pub points: Vec<Mark>,
}

/// One panel of [`facets`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facet {
    pub title: String,
    pub tracks: Vec<Track>,
}

/// A glyph of the [`facets`] key: a palette colour, a marker, a line style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Glyph {
    Colour(usize),
    Marker(Marker),
    Line { dashed: bool },
}

/// One row of the [`facets`] key, drawn once under the panels: what the
/// colours (e.g. students), markers (objectives) or line styles (teachers)
/// stand for. A row without entries is a line of text (e.g. what the point
/// labels mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub title: String,
    pub entries: Vec<(Glyph, String)>,
}

/// One ROC curve of [`roc_log_log`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Curve {
    name: String,
    #[serde(with = "floats")]
    fpr: Vec<f64>,
    #[serde(with = "floats")]
    tpr: Vec<f64>,
}

/// One named point set of [`scatter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PointSet {
    name: String,
    #[serde(with = "floats")]
    points: Vec<(f64, f64)>,
}

/// Paths in f32: trajectories come from f32 states, and f32 keeps a
/// chart's JSON (unit cache, `--json`) half the size of f64's digits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Paths32(#[serde(with = "floats")] Vec<Vec<(f32, f32)>>);

impl Paths32 {
    fn of(paths: &[Vec<(f64, f64)>]) -> Self {
        Paths32(paths.iter().map(|p| p.iter().map(|&(x, y)| (x as f32, y as f32)).collect()).collect())
    }

    fn f64(&self) -> impl Iterator<Item = Vec<(f64, f64)>> + '_ {
        self.0.iter().map(|p| p.iter().map(|&(x, y)| (x as f64, y as f64)).collect())
    }
}

/// One panel of a path chart: its title, which background it shows and
/// its own (policy) paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PathSet {
    title: String,
    background: usize,
    paths: Paths32,
}

/// What a chart shows: its kind with the labels and numbers it is drawn
/// from. Drawn by [`Chart::svg`] and [`Chart::png`] through the same
/// plotters code; its numbers are [`Chart::table`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    title: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Lines {
        x_label: String,
        y_label: String,
        series: Vec<Series>,
    },
    Bars {
        y_label: String,
        groups: Vec<String>,
        bars: Vec<Bars>,
    },
    Roc {
        curves: Vec<Curve>,
        #[serde(with = "floats")]
        floor: f64,
    },
    Scatter {
        x_label: String,
        y_label: String,
        sets: Vec<PointSet>,
    },
    Paths {
        /// The distinct background path sets (every panel usually shares
        /// one: the dataset), stored once.
        backgrounds: Vec<Paths32>,
        panels: Vec<PathSet>,
        shapes: Vec<MapShape>,
        #[serde(with = "floats")]
        range: (f64, f64),
        cols: usize,
    },
    Heat {
        #[serde(with = "floats")]
        values: Vec<Vec<f64>>,
        #[serde(with = "floats")]
        x_range: (f64, f64),
        #[serde(with = "floats")]
        y_range: (f64, f64),
        shapes: Vec<MapShape>,
        log: bool,
    },
    Facets {
        x_label: String,
        y_label: String,
        facets: Vec<Facet>,
        key: Vec<KeyRow>,
    },
}

impl Chart {
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Width and height in pixels (the SVG's and the PNG's).
    pub fn size(&self) -> (u32, u32) {
        draw::size(self)
    }

    /// The chart as SVG text.
    pub fn svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = plotters::prelude::SVGBackend::with_string(&mut svg, self.size());
            draw::draw(self, root)?;
        }
        Ok(svg)
    }

    /// The chart as PNG bytes, drawn by the same code as [`Chart::svg`].
    pub fn png(&self) -> Result<Vec<u8>> {
        let (w, h) = self.size();
        let mut rgb = vec![255u8; w as usize * h as usize * 3];
        {
            let root = plotters::prelude::BitMapBackend::with_buffer(&mut rgb, (w, h));
            draw::draw(self, root)?;
        }
        let img = image::RgbImage::from_raw(w, h, rgb).ok_or_else(|| anyhow!("PNG buffer of the wrong size"))?;
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| anyhow!("PNG encoding failed: {e}"))?;
        Ok(png)
    }

    /// The numbers drawn, one row per point (bar, cell), as written to CSV.
    pub fn table(&self) -> DataTable {
        table::table(self)
    }
}

fn chart(title: &str, kind: Kind) -> Result<FigureContent> {
    Ok(FigureContent::Chart(Chart { title: title.into(), kind }))
}

/// Lines with shaded +-1 std bands (learning curves, sweeps). A NaN
/// breaks its line (a cell that did not run is a gap, not a zero).
pub fn lines_with_bands(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<FigureContent> {
    chart(title, Kind::Lines { x_label: x_label.into(), y_label: y_label.into(), series: series.to_vec() })
}

/// Grouped bars with +-1 std error bars: `groups` along x (e.g. metrics or
/// datasets), one bar per entry of `bars` in each group.
pub fn grouped_bars(title: &str, y_label: &str, groups: &[String], bars: &[Bars]) -> Result<FigureContent> {
    chart(title, Kind::Bars { y_label: y_label.into(), groups: groups.to_vec(), bars: bars.to_vec() })
}

/// ROC curves `(name, fpr, tpr)` on log-log axes (the view that shows the
/// low-FPR regime membership-inference papers care about), with the chance
/// diagonal; rates below `floor` are drawn at the floor.
pub fn roc_log_log(title: &str, curves: &[(String, Vec<f64>, Vec<f64>)], floor: f64) -> Result<FigureContent> {
    let curves = curves.iter().map(|(name, fpr, tpr)| Curve { name: name.clone(), fpr: fpr.clone(), tpr: tpr.clone() });
    chart(title, Kind::Roc { curves: curves.collect(), floor })
}

/// Scatter plot of named point sets (e.g. predicted vs true quality).
pub fn scatter(title: &str, x_label: &str, y_label: &str, sets: &[(String, Vec<(f64, f64)>)]) -> Result<FigureContent> {
    let sets = sets.iter().map(|(name, points)| PointSet { name: name.clone(), points: points.clone() });
    chart(title, Kind::Scatter { x_label: x_label.into(), y_label: y_label.into(), sets: sets.collect() })
}

/// Trajectories over a map, one small panel per entry, `cols` per row, all
/// on the square `range x range`. Points are kept (and written) as f32,
/// the precision of the states they come from; a background that several
/// panels share is stored once.
pub fn path_panels(
    title: &str,
    panels: &[PathPanel],
    shapes: &[MapShape],
    range: (f64, f64),
    cols: usize,
) -> Result<FigureContent> {
    let mut backgrounds: Vec<Paths32> = Vec::new();
    let mut sets = Vec::new();
    for p in panels {
        let bg = Paths32::of(&p.background);
        let background = backgrounds.iter().position(|b| *b == bg).unwrap_or_else(|| {
            backgrounds.push(bg);
            backgrounds.len() - 1
        });
        sets.push(PathSet { title: p.title.clone(), background, paths: Paths32::of(&p.paths) });
    }
    chart(title, Kind::Paths { backgrounds, panels: sets, shapes: shapes.to_vec(), range, cols: cols.max(1) })
}

/// A heat map of `values[row][col]` over `x_range x y_range` (row 0 at the
/// bottom), white (low) to blue (high) on a log scale when `log` is set,
/// with the map shapes drawn on top and a colour bar at the right.
pub fn heat_map(
    title: &str,
    values: &[Vec<f64>],
    x_range: (f64, f64),
    y_range: (f64, f64),
    shapes: &[MapShape],
    log: bool,
) -> Result<FigureContent> {
    chart(title, Kind::Heat { values: values.to_vec(), x_range, y_range, shapes: shapes.to_vec(), log })
}

/// Small multiples: one panel per [`Facet`] (each on its own axes), each
/// holding tracks (lines through marked points, e.g. one per student
/// through its alpha sweep), and the key under the panels. At most 8
/// colours in a panel, so every track stays distinguishable.
pub fn facets(title: &str, x_label: &str, y_label: &str, panels: &[Facet], key: &[KeyRow]) -> Result<FigureContent> {
    for f in panels {
        let mut colours: Vec<usize> = f.tracks.iter().map(|t| t.colour).collect();
        colours.sort_unstable();
        colours.dedup();
        if colours.len() > 8 {
            anyhow::bail!("facets: panel '{}' has {} colours; at most 8 stay distinguishable", f.title, colours.len());
        }
    }
    chart(
        title,
        Kind::Facets { x_label: x_label.into(), y_label: y_label.into(), facets: panels.to_vec(), key: key.to_vec() },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart_of(f: FigureContent) -> Chart {
        match f {
            FigureContent::Chart(c) => c,
            other => panic!("expected a chart, got {other:?}"),
        }
    }

    fn svg(f: FigureContent) -> String {
        chart_of(f).svg().unwrap()
    }

    #[test]
    fn line_plot_has_title_legend_and_band() {
        let s = svg(lines_with_bands(
            "Learning curve",
            "step",
            "loss",
            &[Series {
                name: "arm A".into(),
                x: vec![0., 1., 2.],
                mean: vec![1., 0.5, 0.2],
                std: vec![0.1, 0.1, 0.05],
            }],
        )
        .unwrap());
        assert!(s.starts_with("<svg") || s.contains("<svg"));
        assert!(s.contains("Learning curve") && s.contains("arm A"));
        assert!(s.contains("<polygon"), "std band missing");
    }

    #[test]
    fn a_nan_breaks_the_line_instead_of_drawing_to_a_corner() {
        let s = svg(lines_with_bands(
            "gap",
            "x",
            "y",
            &[Series { name: "a".into(), x: vec![0., 1., 2., 3.], mean: vec![1., f64::NAN, 2., 3.], std: vec![] }],
        )
        .unwrap());
        // Two finite runs: [0] alone (a dot) and [2, 3] (a line), plus the
        // legend's line; nothing drawn towards the NaN.
        let lines = s.split("<polyline").skip(1).filter(|l| l.split('>').next().unwrap().contains("#0072B2")).count();
        assert_eq!(lines, 2, "one line for the run [2, 3] and the legend's");
        assert_eq!(s.matches("<circle").count(), 1, "the lone point [0] as a dot");
    }

    #[test]
    fn bars_roc_and_scatter_render() {
        let b = svg(grouped_bars(
            "Acc",
            "accuracy",
            &["digits".into()],
            &[Bars { name: "mlp".into(), mean: vec![0.9], std: vec![0.02] }],
        )
        .unwrap());
        assert!(b.contains("digits") && b.contains("mlp"));
        let r = svg(roc_log_log("ROC", &[("attack".into(), vec![0.0, 0.01, 1.0], vec![0.0, 0.1, 1.0])], 1e-3).unwrap());
        assert!(r.contains("attack"));
        let sc = svg(scatter("MOS", "true", "pred", &[("test".into(), vec![(1.0, 1.1), (2.0, 1.9)])]).unwrap());
        assert!(sc.contains("<circle"));
    }

    #[test]
    fn no_minor_grid_and_readable_tick_labels() {
        let s = svg(scatter("MOS", "true", "pred", &[("test".into(), vec![(1.0, 1.1), (2.0, 1.9)])]).unwrap());
        // The light (minor) mesh of plotters is drawn at opacity 0.1; only
        // the major lines (0.12 here) remain.
        assert!(!s.contains("opacity=\"0.1\""), "minor grid lines drawn");
        // Tick labels are at least 12 px (plotters' default was 9.7).
        let sizes: Vec<f64> =
            s.split("font-size=\"").skip(1).filter_map(|rest| rest.split('"').next()?.parse().ok()).collect();
        assert!(!sizes.is_empty());
        assert!(sizes.iter().all(|&px| px >= 12.0), "font sizes {sizes:?}");
    }

    #[test]
    fn path_panels_and_heat_map_draw_their_parts() {
        let panels: Vec<PathPanel> = ["bc", "td3-rkl"]
            .iter()
            .map(|t| PathPanel {
                title: t.to_string(),
                background: vec![vec![(0.0, 0.0), (5.0, 5.0)]],
                paths: vec![vec![(1.0, 5.0), (9.0, 5.0)]],
            })
            .collect();
        let shapes = [MapShape::Rect(4.0, 3.5, 6.0, 6.5), MapShape::Circle(9.0, 5.0, 0.5)];
        let p = svg(path_panels("Trajectories", &panels, &shapes, (0.0, 10.0), 2).unwrap());
        assert!(p.contains("Trajectories") && p.contains("bc") && p.contains("td3-rkl"));
        // The policy path in the first colour, the data path in light grey, once per panel.
        assert_eq!(p.matches("#0072B2").count(), 2, "one policy path per panel");
        assert_eq!(p.matches("#AAAAAA").count(), 2, "one background path per panel");
        let h =
            svg(heat_map("w(s)", &[vec![1.0, 2.0], vec![4.0, 8.0]], (0.0, 10.0), (0.0, 10.0), &shapes, true).unwrap());
        assert!(h.contains("w(s)"));
        assert!(h.contains(">\n1.00\n<") && h.contains(">\n8.00\n<"), "the colour bar's ends are labelled");
        assert!(h.matches("<rect").count() >= 5, "four cells and the obstacle");
    }

    fn tradeoff_facets() -> (Vec<Facet>, Vec<KeyRow>) {
        let track = |name: &str, colour: usize, dashed: bool, pts: &[(f64, f64)]| Track {
            name: name.into(),
            colour,
            dashed,
            points: pts
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| Mark {
                    x,
                    y,
                    marker: if i == 0 { Marker::Square } else { Marker::Circle },
                    label: if i == 0 { String::new() } else { format!("{}", 10f64.powi(i as i32)) },
                })
                .collect(),
        };
        let facets = vec![
            Facet {
                title: "synthetic".into(),
                tracks: vec![
                    track("GCN -> MLP", 0, false, &[(0.8, 0.3), (0.79, 0.2), (0.75, 0.05)]),
                    track("SAGE -> MLP", 0, true, &[(0.82, 0.25), (0.8, 0.1)]),
                ],
            },
            Facet { title: "bail".into(), tracks: vec![track("GCN -> SGC", 1, false, &[(0.9, 0.1), (0.88, 0.04)])] },
        ];
        let row = |title: &str, entries: Vec<(Glyph, &str)>| KeyRow {
            title: title.into(),
            entries: entries.into_iter().map(|(g, t)| (g, t.to_string())).collect(),
        };
        let key = vec![
            row("student:", vec![(Glyph::Colour(0), "MLP"), (Glyph::Colour(1), "SGC")]),
            row(
                "objective:",
                vec![(Glyph::Marker(Marker::Square), "vanilla KD"), (Glyph::Marker(Marker::Circle), "RELIANT-SP")],
            ),
            row(
                "teacher:",
                vec![(Glyph::Line { dashed: false }, "GCN teacher"), (Glyph::Line { dashed: true }, "SAGE teacher")],
            ),
            row("numbers: alpha", vec![]),
        ];
        (facets, key)
    }

    #[test]
    fn facets_draw_one_panel_per_facet_with_key_and_labels() {
        let (f, key) = tradeoff_facets();
        let s = svg(facets("Accuracy vs delta SP", "test accuracy", "delta SP", &f, &key).unwrap());
        for text in ["synthetic", "bail", "MLP", "SGC", "vanilla KD", "RELIANT-SP", "SAGE teacher", "numbers: alpha"] {
            assert!(s.contains(&format!(">\n{text}\n<")), "missing '{text}'");
        }
        assert!(s.contains(">\n100\n<"), "the alpha labels are drawn");
        // Too many colours in one panel is refused.
        let many = Facet {
            title: "crowded".into(),
            tracks: (0..9).map(|c| Track { name: c.to_string(), colour: c, dashed: false, points: vec![] }).collect(),
        };
        let e = facets("t", "x", "y", &[many], &key).unwrap_err().to_string();
        assert!(e.contains("crowded") && e.contains("9 colours"), "{e}");
    }

    #[test]
    fn png_has_the_chart_size_ink_and_title_text() {
        let series = [Series { name: "arm A".into(), x: vec![0., 1., 2.], mean: vec![1., 0.5, 0.2], std: vec![] }];
        let with_title = chart_of(lines_with_bands("Learning curve", "step", "loss", &series).unwrap());
        let without = chart_of(lines_with_bands("", "step", "loss", &series).unwrap());
        let decode = |c: &Chart| image::load_from_memory(&c.png().unwrap()).unwrap().to_rgb8();
        let (a, b) = (decode(&with_title), decode(&without));
        assert_eq!(a.dimensions(), with_title.size());
        assert_eq!(a.dimensions(), (720, 440));
        let dark = |img: &image::RgbImage, rows: std::ops::Range<u32>| {
            img.enumerate_pixels().filter(|(_, y, p)| rows.contains(y) && p.0.iter().all(|&v| v < 100)).count()
        };
        // Axes, ticks and labels: plenty of dark pixels in the whole image.
        assert!(dark(&a, 0..440) > 2000, "blank PNG: {} dark pixels", dark(&a, 0..440));
        // The title's glyphs are in the top band only when there is a title.
        let title_ink = dark(&a, 0..36);
        assert!(title_ink > 100, "no title text in the PNG ({title_ink} dark pixels)");
        assert!(dark(&b, 0..36) < title_ink / 10, "ink in the title band without a title");
    }

    #[test]
    fn charts_round_trip_through_json_with_nan() {
        let fig = lines_with_bands(
            "t",
            "x",
            "y",
            &[Series { name: "a".into(), x: vec![0.0, 1.0], mean: vec![f64::NAN, 1.0], std: vec![0.1, 0.2] }],
        )
        .unwrap();
        let text = serde_json::to_string(&fig).unwrap();
        let back: FigureContent = serde_json::from_str(&text).unwrap();
        let (FigureContent::Chart(a), FigureContent::Chart(b)) = (&fig, &back) else { panic!() };
        assert_eq!(a.table(), b.table());
        assert!(b.table().rows[0][2] == "NaN");
    }
}
