//! The trade-off figure: test accuracy against delta SP, one panel per
//! dataset, so a reader sees at a glance where the vanilla student sits,
//! how far RELIANT-SP moves it at each alpha, and what the teacher was.
//! Drawn from the seed means of the report's table alone (the numbers the
//! rule reads), never recomputed.

use super::{Config, GraphPlan, Objective, arm, objective_name};
use anyhow::Result;
use reprolab_core::report::plot::{Facet, Glyph, KeyRow, Mark, Marker, Track, facets};
use reprolab_core::report::{FigureContent, Results};

/// The palette index of the teachers' crosses (black).
const TEACHER_COLOUR: usize = 6;

/// One panel per dataset with teachers; in it per (teacher, student) a
/// track from the vanilla KD student (square) through RELIANT-SP at every
/// alpha in increasing order (circles labelled with alpha), coloured by
/// student, dashed for the second teacher kind; each teacher a black cross.
pub(super) fn tradeoff(cfg: &Config, graphs: &[GraphPlan], results: &Results) -> Result<FigureContent> {
    let mean = |arm: &str, metric: &str| results.cell(arm, metric).map_or(f64::NAN, |c| c.mean);
    let mut teacher_kinds = Vec::new();
    for t in graphs.iter().flat_map(|g| &g.teachers) {
        if !teacher_kinds.contains(t) {
            teacher_kinds.push(*t);
        }
    }
    let mut alphas = cfg.alphas.clone();
    alphas.sort_by(f64::total_cmp);
    let sp = objective_name(Objective::Sp);
    let mut panels = Vec::new();
    for g in graphs.iter().filter(|g| !g.teachers.is_empty()) {
        let ds = g.name.as_str();
        let point = |arm: &str, marker: Marker, label: String| Mark {
            x: mean(arm, &format!("{ds} accuracy")),
            y: mean(arm, &format!("{ds} delta SP")),
            marker,
            label,
        };
        let mut tracks = Vec::new();
        for &t in &g.teachers {
            let dashed = teacher_kinds.iter().position(|k| *k == t).unwrap_or(0) % 2 == 1;
            for (k, &s) in cfg.students.iter().enumerate() {
                let mut points = vec![point(&arm(t, Some(s), "vanilla KD"), Marker::Square, String::new())];
                for a in &alphas {
                    points.push(point(&arm(t, Some(s), &format!("{sp} alpha {a}")), Marker::Circle, format!("{a}")));
                }
                tracks.push(Track { name: format!("{} -> {}", t.name(), s.name()), colour: k, dashed, points });
            }
            let teacher = point(&arm(t, None, ""), Marker::Cross, t.name().to_string());
            tracks.push(Track {
                name: format!("{} teacher", t.name()),
                colour: TEACHER_COLOUR,
                dashed: false,
                points: vec![teacher],
            });
        }
        panels.push(Facet { title: ds.to_string(), tracks });
    }
    let text = |s: &str| s.to_string();
    let mut key = vec![
        KeyRow {
            title: text("student:"),
            entries: cfg.students.iter().enumerate().map(|(k, s)| (Glyph::Colour(k), text(s.name()))).collect(),
        },
        KeyRow {
            title: text("point:"),
            entries: vec![
                (Glyph::Marker(Marker::Cross), text("teacher")),
                (Glyph::Marker(Marker::Square), text("vanilla KD student")),
                (Glyph::Marker(Marker::Circle), format!("{sp} student, labelled with its alpha")),
            ],
        },
    ];
    if teacher_kinds.len() > 1 {
        key.push(KeyRow {
            title: text("line:"),
            entries: teacher_kinds
                .iter()
                .enumerate()
                .map(|(i, t)| (Glyph::Line { dashed: i % 2 == 1 }, format!("distilled from the {} teacher", t.name())))
                .collect(),
        });
    }
    key.push(KeyRow {
        title: text("Each line runs from the vanilla student through increasing alpha; lower right is better."),
        entries: vec![],
    });
    facets("Test accuracy vs delta SP (mean over seeds)", "test accuracy", "delta SP", &panels, &key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::students::StudentKind;
    use crate::teachers::TeacherKind;
    use reprolab_core::registry::{Preset, preset_config};

    /// The figure reads the table's seed means: on the quick preset's
    /// synthetic graph (GCN and SAGE teachers, three students, three
    /// alphas) each track runs vanilla -> alpha 10 -> 100 -> 1000, the
    /// SAGE tracks are dashed, and each teacher is one cross.
    #[test]
    fn tradeoff_tracks_run_from_vanilla_through_increasing_alpha() {
        let mut cfg: Config = preset_config("fair-kd", Preset::Quick).unwrap();
        cfg.alphas = vec![1000.0, 10.0, 100.0];
        let graphs = vec![GraphPlan {
            name: "synthetic".into(),
            real: None,
            teachers: vec![TeacherKind::Gcn, TeacherKind::Sage],
            seeds: vec![0],
        }];
        let mut results = Results::default();
        let mut v = 0.0;
        let mut put = |arm: &str| {
            v += 1.0;
            results.record(arm, "synthetic accuracy", v / 100.0);
            results.record(arm, "synthetic delta SP", v / 1000.0);
        };
        for t in [TeacherKind::Gcn, TeacherKind::Sage] {
            put(&arm(t, None, ""));
            for s in [StudentKind::Mlp, StudentKind::Sgc, StudentKind::Plp] {
                put(&arm(t, Some(s), "vanilla KD"));
                for a in [10.0, 100.0, 1000.0] {
                    put(&arm(t, Some(s), &format!("RELIANT-SP alpha {a}")));
                }
            }
        }
        let FigureContent::Chart(chart) = tradeoff(&cfg, &graphs, &results).unwrap() else { panic!("not a chart") };
        let t = chart.table();
        assert_eq!(t.header, ["panel", "track", "step", "x", "y", "marker", "label"]);
        let track = |name: &str| t.rows.iter().filter(|r| r[1] == name).cloned().collect::<Vec<_>>();
        let mlp = track("GCN -> MLP");
        let labels: Vec<(&str, &str)> = mlp.iter().map(|r| (r[5].as_str(), r[6].as_str())).collect();
        assert_eq!(labels, [("square", ""), ("circle", "10"), ("circle", "100"), ("circle", "1000")]);
        // The numbers are the table's means, in the table's arm order.
        let vanilla =
            results.require(&arm(TeacherKind::Gcn, Some(StudentKind::Mlp), "vanilla KD"), "synthetic accuracy");
        assert_eq!(mlp[0][3].parse::<f64>().unwrap(), vanilla.unwrap().mean);
        let cross = track("SAGE teacher");
        assert_eq!((cross.len(), cross[0][5].as_str(), cross[0][6].as_str()), (1, "cross", "SAGE"));
        assert_eq!(t.rows.len(), 2 * (1 + 3 * 4), "per teacher: its cross and 3 students x (vanilla + 3 alphas)");
        let svg = chart.svg().unwrap();
        for text in ["synthetic", "MLP", "SGC", "PLP", "vanilla KD student", "distilled from the SAGE teacher"] {
            assert!(svg.contains(&format!(">\n{text}\n<")), "missing '{text}' in the figure");
        }
        // MLP's colour: the solid GCN track and the key's swatch are one
        // line each; the dashed SAGE track is a line per dash.
        let mlp_lines =
            svg.split("<polyline").skip(1).filter(|l| l.split('>').next().unwrap().contains("#0072B2")).count();
        assert!(mlp_lines >= 5, "the SAGE -> MLP track is not dashed ({mlp_lines} lines in its colour)");
    }
}
