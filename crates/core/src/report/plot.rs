//! Figures with plotters (SVG, returned as strings) and image grids (PNG).
//!
//! Every function takes plain numbers and returns a [`FigureContent`], so
//! methods never touch plotters directly and every figure looks alike.

use super::FigureContent;
use anyhow::{Result, anyhow};
use plotters::coord::ranged1d::AsRangedCoord;
use plotters::prelude::*;

const SIZE: (u32, u32) = (720, 440);

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e}")
}

fn color(i: usize) -> RGBColor {
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
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
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

/// Draws one SVG chart: white canvas, title, axis areas, then `draw` adds
/// the mesh and the series; the legend goes at `legend` afterwards. Every
/// plot goes through here so all figures share one look.
fn svg_chart<X: AsRangedCoord, Y: AsRangedCoord>(
    title: &str,
    x: X,
    y: Y,
    legend: SeriesLabelPosition,
    draw: impl FnOnce(&mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X::CoordDescType, Y::CoordDescType>>) -> Result<()>,
) -> Result<FigureContent> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        draw(&mut chart)?;
        chart
            .configure_series_labels()
            .position(legend)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(FigureContent::Svg(svg))
}

/// The corner whose quarter of the plot holds the fewest points, so the
/// legend hides as little data as possible (matplotlib's "best").
fn emptiest_corner(points: &[(f64, f64)], (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> SeriesLabelPosition {
    let (xm, ym) = (x0 + (x1 - x0) * 0.6, y0 + (y1 - y0) * 0.6);
    let (xl, yl) = (x0 + (x1 - x0) * 0.4, y0 + (y1 - y0) * 0.4);
    let count = |f: &dyn Fn(f64, f64) -> bool| points.iter().filter(|&&(x, y)| f(x, y)).count();
    let corners = [
        (SeriesLabelPosition::UpperRight, count(&|x, y| x >= xm && y >= ym)),
        (SeriesLabelPosition::UpperLeft, count(&|x, y| x <= xl && y >= ym)),
        (SeriesLabelPosition::LowerRight, count(&|x, y| x >= xm && y <= yl)),
        (SeriesLabelPosition::LowerLeft, count(&|x, y| x <= xl && y <= yl)),
    ];
    corners.into_iter().min_by_key(|c| c.1).map_or(SeriesLabelPosition::UpperRight, |c| c.0)
}

/// One line of a line plot: mean over seeds at each x, with its std band.
pub struct Series {
    pub name: String,
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    /// Standard deviation per point (empty: no band).
    pub std: Vec<f64>,
}

/// Lines with shaded +-1 std bands (learning curves, sweeps).
pub fn lines_with_bands(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<FigureContent> {
    let (x0, x1) = padded_range(series.iter().flat_map(|s| s.x.iter().copied()));
    let (y0, y1) = padded_range(series.iter().flat_map(|s| {
        s.mean.iter().enumerate().flat_map(move |(i, m)| {
            let sd = s.std.get(i).copied().unwrap_or(0.0);
            [m - sd, m + sd]
        })
    }));
    let points: Vec<(f64, f64)> = series.iter().flat_map(|s| s.x.iter().copied().zip(s.mean.iter().copied())).collect();
    let legend = emptiest_corner(&points, (x0, x1), (y0, y1));
    svg_chart(title, x0..x1, y0..y1, legend, |chart| {
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).light_line_style(WHITE.mix(0.0)).draw().map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let c = color(i);
            if s.std.len() == s.mean.len() && !s.std.is_empty() {
                let upper = s.x.iter().zip(&s.mean).zip(&s.std).map(|((x, m), sd)| (*x, m + sd));
                let lower = s.x.iter().zip(&s.mean).zip(&s.std).rev().map(|((x, m), sd)| (*x, m - sd));
                let band: Vec<(f64, f64)> = upper.chain(lower).collect();
                chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.18)))).map_err(err)?;
            }
            chart
                .draw_series(LineSeries::new(s.x.iter().copied().zip(s.mean.iter().copied()), c.stroke_width(2)))
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        }
        Ok(())
    })
}

/// Grouped bars with +-1 std error bars: `groups` along x (e.g. metrics or
/// datasets), one bar per entry of `bars` in each group.
pub struct Bars {
    pub name: String,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

pub fn grouped_bars(title: &str, y_label: &str, groups: &[String], bars: &[Bars]) -> Result<FigureContent> {
    let (lo, hi) =
        padded_range(bars.iter().flat_map(|b| b.mean.iter().zip(&b.std).flat_map(|(m, s)| [m - s, m + s, 0.0])));
    // Headroom above the tallest bar for the legend box (upper right).
    let hi = hi + (hi - lo) * 0.2;
    let x_range = -0.5f64..groups.len() as f64 - 0.5;
    svg_chart(title, x_range, lo..hi, SeriesLabelPosition::UpperRight, |chart| {
        let names = groups.to_vec();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups.len().max(1))
            .x_label_formatter(&move |x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(y_label)
            .draw()
            .map_err(err)?;
        let width = 0.8 / bars.len().max(1) as f64;
        for (k, b) in bars.iter().enumerate() {
            let c = color(k);
            let left = |g: usize| g as f64 - 0.4 + k as f64 * width;
            chart
                .draw_series(
                    b.mean
                        .iter()
                        .enumerate()
                        .map(|(g, &m)| Rectangle::new([(left(g), 0.0), (left(g) + width * 0.92, m)], c.filled())),
                )
                .map_err(err)?
                .label(b.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            chart
                .draw_series(b.mean.iter().zip(&b.std).enumerate().map(|(g, (&m, &s))| {
                    ErrorBar::new_vertical(left(g) + width * 0.46, m - s, m, m + s, BLACK.stroke_width(1), 6)
                }))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// ROC curves on log-log axes (the view that shows the low-FPR regime
/// membership-inference papers care about), with the chance diagonal.
pub fn roc_log_log(title: &str, curves: &[(String, Vec<f64>, Vec<f64>)], floor: f64) -> Result<FigureContent> {
    let axis = || (floor..1.0).log_scale();
    svg_chart(title, axis(), axis(), SeriesLabelPosition::LowerRight, |chart| {
        chart
            .configure_mesh()
            .x_desc("false positive rate")
            .y_desc("true positive rate")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new([(floor, floor), (1.0, 1.0)], BLACK.mix(0.4).stroke_width(1)))
            .map_err(err)?;
        for (i, (name, fpr, tpr)) in curves.iter().enumerate() {
            let c = color(i);
            let pts = fpr.iter().zip(tpr).map(|(f, t)| (f.max(floor), t.max(floor)));
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        }
        Ok(())
    })
}

/// Scatter plot of named point sets (e.g. predicted vs true quality).
pub fn scatter(title: &str, x_label: &str, y_label: &str, sets: &[(String, Vec<(f64, f64)>)]) -> Result<FigureContent> {
    let (x0, x1) = padded_range(sets.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
    let (y0, y1) = padded_range(sets.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    let points: Vec<(f64, f64)> = sets.iter().flat_map(|s| s.1.iter().copied()).collect();
    let legend = emptiest_corner(&points, (x0, x1), (y0, y1));
    svg_chart(title, x0..x1, y0..y1, legend, |chart| {
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(err)?;
        for (i, (name, pts)) in sets.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.mix(0.7).filled())))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        Ok(())
    })
}

/// A grid of images as PNG. Each image is `height * width * channels`
/// values in [0, 1] (channels 1 = grey, 3 = RGB, interleaved), drawn
/// `cols` per row, each pixel scaled up `scale` times, 2-pixel gaps.
pub fn image_grid(
    images: &[Vec<f32>],
    height: usize,
    width: usize,
    channels: usize,
    cols: usize,
    scale: usize,
) -> Result<FigureContent> {
    if images.is_empty() || cols == 0 || scale == 0 || !(channels == 1 || channels == 3) {
        crate::user_bail!("image_grid: needs at least one image, cols > 0, scale > 0 and 1 or 3 channels");
    }
    if let Some(i) = images.iter().position(|im| im.len() != height * width * channels) {
        crate::user_bail!("image_grid: image {i} has {} values, expected {height}x{width}x{channels}", images[i].len());
    }
    let gap = 2;
    let rows = images.len().div_ceil(cols);
    let (cell_h, cell_w) = (height * scale + gap, width * scale + gap);
    let (h, w) = (rows * cell_h + gap, cols * cell_w + gap);
    let mut canvas = image::RgbImage::from_pixel(w as u32, h as u32, image::Rgb([255, 255, 255]));
    for (k, img) in images.iter().enumerate() {
        let (oy, ox) = ((k / cols) * cell_h + gap, (k % cols) * cell_w + gap);
        for y in 0..height * scale {
            for x in 0..width * scale {
                let base = ((y / scale) * width + x / scale) * channels;
                let px = |c: usize| (img[base + c.min(channels - 1)].clamp(0.0, 1.0) * 255.0).round() as u8;
                canvas.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb([px(0), px(1), px(2)]));
            }
        }
    }
    let mut png = Vec::new();
    canvas.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(err)?;
    Ok(FigureContent::Png(png))
}

/// Static shapes of a 2-D map (obstacles, walls, goals), drawn under paths.
#[derive(Debug, Clone, PartialEq)]
pub enum MapShape {
    /// Filled grey rectangle `(x0, y0, x1, y1)`.
    Rect(f64, f64, f64, f64),
    /// Green circle `(x, y, radius)` (a goal).
    Circle(f64, f64, f64),
}

/// Draws the map shapes: grey filled rectangles, translucent green discs.
fn draw_shapes<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    shapes: &[MapShape],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
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

/// One panel of [`path_panels`]: light grey background paths (the data),
/// coloured foreground paths (a policy), over the map shapes.
pub struct PathPanel {
    pub title: String,
    pub background: Vec<Vec<(f64, f64)>>,
    pub paths: Vec<Vec<(f64, f64)>>,
}

/// Trajectories over a map, one small panel per entry, `cols` per row, all
/// on the square `range x range`.
pub fn path_panels(
    title: &str,
    panels: &[PathPanel],
    shapes: &[MapShape],
    range: (f64, f64),
    cols: usize,
) -> Result<FigureContent> {
    let cols = cols.max(1);
    let rows = panels.len().div_ceil(cols).max(1);
    let (w, h) = (260 * cols as u32, 260 * rows as u32 + 30);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, ("sans-serif", 20)).map_err(err)?;
        for (area, panel) in root.split_evenly((rows, cols)).iter().zip(panels) {
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, ("sans-serif", 14))
                .margin(6)
                .x_label_area_size(18)
                .y_label_area_size(22)
                .build_cartesian_2d(range.0..range.1, range.0..range.1)
                .map_err(err)?;
            chart.configure_mesh().disable_mesh().x_labels(3).y_labels(3).draw().map_err(err)?;
            draw_shapes(&mut chart, shapes)?;
            for p in &panel.background {
                chart
                    .draw_series(std::iter::once(PathElement::new(p.clone(), RGBColor(170, 170, 170).mix(0.35))))
                    .map_err(err)?;
            }
            for (i, p) in panel.paths.iter().enumerate() {
                chart
                    .draw_series(std::iter::once(PathElement::new(p.clone(), color(i % 2).mix(0.8).stroke_width(1))))
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(FigureContent::Svg(svg))
}

/// A heat map of `values[row][col]` over `x_range x y_range` (row 0 at the
/// bottom), white (low) to blue (high) on a log scale when `log` is set,
/// with the map shapes drawn on top and the colour scale's ends in the title.
pub fn heat_map(
    title: &str,
    values: &[Vec<f64>],
    x_range: (f64, f64),
    y_range: (f64, f64),
    shapes: &[MapShape],
    log: bool,
) -> Result<FigureContent> {
    let rows = values.len().max(1);
    let cols = values.first().map_or(1, |r| r.len().max(1));
    let t = |v: f64| if log { v.max(1e-12).ln() } else { v };
    let finite = values.iter().flatten().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(t(v)), b.max(t(v))));
    let shown = |v: f64| if log { v.exp() } else { v };
    let title = format!("{title} (white {:.2} .. blue {:.2})", shown(lo), shown(hi));
    svg_chart(&title, x_range.0..x_range.1, y_range.0..y_range.1, SeriesLabelPosition::UpperRight, |chart| {
        chart.configure_mesh().disable_mesh().draw().map_err(err)?;
        let (dx, dy) = ((x_range.1 - x_range.0) / cols as f64, (y_range.1 - y_range.0) / rows as f64);
        let cells = values.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, v)| {
                let f = if hi > lo { ((t(*v) - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
                let colour = RGBColor((255.0 * (1.0 - f)) as u8, (255.0 - 141.0 * f) as u8, (255.0 - 77.0 * f) as u8);
                let (x, y) = (x_range.0 + c as f64 * dx, y_range.0 + r as f64 * dy);
                Rectangle::new([(x, y), (x + dx, y + dy)], colour.filled())
            })
        });
        chart.draw_series(cells).map_err(err)?;
        draw_shapes(chart, shapes)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(f: FigureContent) -> String {
        match f {
            FigureContent::Svg(s) => s,
            FigureContent::Png(_) => panic!("expected svg"),
        }
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
        assert!(h.contains("white 1.00 .. blue 8.00"), "the colour scale's ends are in the title");
        assert!(h.matches("<rect").count() >= 5, "four cells and the obstacle");
    }

    #[test]
    fn legend_goes_to_the_emptiest_corner() {
        let pts = [(0.9, 0.9), (0.95, 0.95), (0.1, 0.9), (0.9, 0.1)];
        assert_eq!(emptiest_corner(&pts, (0.0, 1.0), (0.0, 1.0)), SeriesLabelPosition::LowerLeft);
        let falling: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 10.0 - i as f64)).collect();
        let c = emptiest_corner(&falling, (0.0, 10.0), (0.0, 10.0));
        assert!(matches!(c, SeriesLabelPosition::UpperRight | SeriesLabelPosition::LowerLeft), "{c:?}");
    }

    #[test]
    fn image_grid_is_a_png_of_the_right_size() {
        let imgs = vec![vec![0.0; 4], vec![1.0; 4], vec![0.5; 4]];
        let FigureContent::Png(png) = image_grid(&imgs, 2, 2, 1, 2, 3).unwrap() else { panic!() };
        let decoded = image::load_from_memory(&png).unwrap();
        // 2 columns x (2*3 + 2) + 2 = 18 wide; 2 rows -> 18 high
        assert_eq!((decoded.width(), decoded.height()), (18, 18));
        assert!(image_grid(&[vec![0.0; 3]], 2, 2, 1, 1, 1).is_err());
    }
}
