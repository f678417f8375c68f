//! The numbers behind a chart as one table (the CSV beside its SVG): one
//! row per drawn point, bar or cell, long format, so a reader can redraw
//! the figure with pandas, R or a spreadsheet without parsing SVG.
//!
//! Numbers are written with Rust's shortest exact form (`{}`), so a CSV
//! value parses back to the very f64 that was drawn; NaN and infinities
//! are `NaN`, `inf`, `-inf` (what Python's `float` and pandas read).

use super::{Chart, Kind};
use anyhow::Result;

/// A header and rows of text cells.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTable {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl DataTable {
    /// Writes the table as CSV through `csv::Writer` (names holding commas,
    /// quotes or line breaks are quoted).
    pub fn write_csv<W: std::io::Write>(&self, w: W) -> Result<()> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(&self.header)?;
        for row in &self.rows {
            out.write_record(row)?;
        }
        out.flush()?;
        Ok(())
    }
}

fn num(v: f64) -> String {
    format!("{v}")
}

pub(super) fn table(chart: &Chart) -> DataTable {
    let mut rows = Vec::new();
    let header: Vec<&'static str> = match &chart.kind {
        Kind::Lines { series, .. } => {
            for s in series {
                let band = s.std.len() == s.mean.len() && !s.std.is_empty();
                for (i, (&x, &y)) in s.x.iter().zip(&s.mean).enumerate() {
                    let (low, high) = if band { (num(y - s.std[i]), num(y + s.std[i])) } else { Default::default() };
                    rows.push(vec![s.name.clone(), num(x), num(y), low, high]);
                }
            }
            vec!["series", "x", "y", "low", "high"]
        }
        Kind::Bars { groups, bars, .. } => {
            for (g, group) in groups.iter().enumerate() {
                for b in bars {
                    if let Some(&m) = b.mean.get(g) {
                        let e = b.std.get(g).map_or(String::new(), |s| num(*s));
                        rows.push(vec![group.clone(), b.name.clone(), num(m), e]);
                    }
                }
            }
            vec!["group", "bar", "value", "error"]
        }
        Kind::Roc { curves, .. } => {
            for c in curves {
                for (&f, &t) in c.fpr.iter().zip(&c.tpr) {
                    rows.push(vec![c.name.clone(), num(f), num(t)]);
                }
            }
            vec!["curve", "fpr", "tpr"]
        }
        Kind::Scatter { sets, .. } => {
            for s in sets {
                for &(x, y) in &s.points {
                    rows.push(vec![s.name.clone(), num(x), num(y)]);
                }
            }
            vec!["set", "x", "y"]
        }
        Kind::Paths { backgrounds, panels, .. } => {
            // A background every panel shows is listed once, as panel "all".
            let point = |p: (f32, f32)| (format!("{}", p.0), format!("{}", p.1));
            let mut push = |panel: &str, layer: &str, paths: &super::Paths32| {
                for (k, path) in paths.0.iter().enumerate() {
                    for (step, &p) in path.iter().enumerate() {
                        let (x, y) = point(p);
                        rows.push(vec![panel.into(), layer.into(), k.to_string(), step.to_string(), x, y]);
                    }
                }
            };
            let shared = backgrounds.len() == 1 && panels.len() > 1;
            if shared {
                push("all", "data", &backgrounds[0]);
            }
            for p in panels {
                if !shared && let Some(bg) = backgrounds.get(p.background) {
                    push(&p.title, "data", bg);
                }
                push(&p.title, "policy", &p.paths);
            }
            vec!["panel", "layer", "path", "step", "x", "y"]
        }
        Kind::Heat { values, x_range, y_range, .. } => {
            let rows_n = values.len().max(1);
            let cols_n = values.first().map_or(1, |r| r.len().max(1));
            let (dx, dy) = ((x_range.1 - x_range.0) / cols_n as f64, (y_range.1 - y_range.0) / rows_n as f64);
            for (r, row) in values.iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    let (x, y) = (x_range.0 + (c as f64 + 0.5) * dx, y_range.0 + (r as f64 + 0.5) * dy);
                    rows.push(vec![r.to_string(), c.to_string(), num(x), num(y), num(v)]);
                }
            }
            vec!["row", "col", "x", "y", "value"]
        }
        Kind::Facets { facets, .. } => {
            for f in facets {
                for t in &f.tracks {
                    for (step, m) in t.points.iter().enumerate() {
                        rows.push(vec![
                            f.title.clone(),
                            t.name.clone(),
                            step.to_string(),
                            num(m.x),
                            num(m.y),
                            m.marker.name().into(),
                            m.label.clone(),
                        ]);
                    }
                }
            }
            vec!["panel", "track", "step", "x", "y", "marker", "label"]
        }
    };
    DataTable { header, rows }
}

#[cfg(test)]
mod tests {
    use super::super::*;

    fn table_of(f: FigureContent) -> DataTable {
        let FigureContent::Chart(c) = f else { panic!("not a chart") };
        c.table()
    }

    #[test]
    fn every_kind_lists_its_numbers() {
        let t = table_of(
            lines_with_bands(
                "t",
                "x",
                "y",
                &[Series { name: "a, b".into(), x: vec![0.0, 1.0], mean: vec![0.3, 0.1], std: vec![0.1, 0.05] }],
            )
            .unwrap(),
        );
        assert_eq!(t.header, ["series", "x", "y", "low", "high"]);
        assert_eq!(t.rows[1], ["a, b", "1", "0.1", "0.05", "0.15000000000000002"]);
        let t = table_of(
            grouped_bars(
                "t",
                "y",
                &["g1".into(), "g2".into()],
                &[Bars { name: "m".into(), mean: vec![1.0, 2.0], std: vec![0.5, 0.25] }],
            )
            .unwrap(),
        );
        assert_eq!(t.rows, [["g1", "m", "1", "0.5"], ["g2", "m", "2", "0.25"]]);
        let t = table_of(roc_log_log("r", &[("lira".into(), vec![0.0, 1.0], vec![0.0, 1.0])], 1e-3).unwrap());
        assert_eq!(
            (t.header.clone(), t.rows[1].clone()),
            (vec!["curve", "fpr", "tpr"], vec!["lira".into(), "1".into(), "1".into()])
        );
        let t = table_of(heat_map("h", &[vec![1.0, 2.0]], (0.0, 10.0), (0.0, 4.0), &[], false).unwrap());
        assert_eq!(t.rows, [["0", "0", "2.5", "2", "1"], ["0", "1", "7.5", "2", "2"]]);
        let t = table_of(
            path_panels(
                "p",
                &[PathPanel { title: "bc".into(), background: vec![vec![(0.0, 0.0)]], paths: vec![vec![(1.0, 2.0)]] }],
                &[],
                (0.0, 10.0),
                1,
            )
            .unwrap(),
        );
        assert_eq!(t.rows, [["bc", "data", "0", "0", "0", "0"], ["bc", "policy", "0", "0", "1", "2"]]);
        // A background shared by every panel is listed once; f32 points
        // are written short.
        let panel =
            |t: &str| PathPanel { title: t.into(), background: vec![vec![(0.1, 0.2)]], paths: vec![vec![(0.3, 0.4)]] };
        let t = table_of(path_panels("p", &[panel("a"), panel("b")], &[], (0.0, 1.0), 2).unwrap());
        assert_eq!(
            t.rows,
            [
                ["all", "data", "0", "0", "0.1", "0.2"],
                ["a", "policy", "0", "0", "0.3", "0.4"],
                ["b", "policy", "0", "0", "0.3", "0.4"]
            ]
        );
    }
}
