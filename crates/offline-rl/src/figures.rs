//! The experiment's figures: trajectories over the map per arm (the picture
//! that shows mode averaging), the alpha sweep with std bands, the per-state
//! weight w(s) as a heat map, and learning curves. [`point_figures`] draws a
//! point-mass experiment's figures in its first seed's unit;
//! [`summary_figures`] draws those over seeds in the summary. It draws from
//! [`crate::outcome`]'s types and plain values, never from
//! [`crate::experiment`], which calls it.

use crate::env::point::Layout;
use crate::outcome::PointOutcome;
use crate::train::{ArmCurves, Curve};
use anyhow::Result;
use burn::tensor::{Tensor, TensorData};
use reprolab_core::report::plot::{MapShape, PathPanel, Series, heat_map, lines_with_bands, path_panels};
use reprolab_core::report::{Figure, FigureContent, Results};
use reprolab_core::stats;

pub fn map_shapes(layout: &Layout) -> Vec<MapShape> {
    let mut shapes = Vec::new();
    if let Some(r) = layout.obstacle {
        shapes.push(MapShape::Rect(r.x0 as f64, r.y0 as f64, r.x1 as f64, r.y1 as f64));
    }
    if let Some(w) = layout.wall {
        let x = w.x as f64;
        shapes.push(MapShape::Rect(x - 0.08, 0.0, x + 0.08, w.gap.0 as f64));
        shapes.push(MapShape::Rect(x - 0.08, w.gap.1 as f64, x + 0.08, 10.0));
    }
    shapes.push(MapShape::Circle(layout.goal[0] as f64, layout.goal[1] as f64, crate::env::point::GOAL_RADIUS as f64));
    shapes
}

fn xy(states: &[Vec<f32>]) -> Vec<(f64, f64)> {
    states.iter().map(|s| (s[0] as f64, s[1] as f64)).collect()
}

/// The dataset's episodes as paths (at most `max` of them).
fn data_paths(o: &PointOutcome, max: usize) -> Vec<Vec<(f64, f64)>> {
    let d = &o.dataset;
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for i in 0..d.len() {
        cur.push((d.obs(i)[0] as f64, d.obs(i)[1] as f64));
        if d.terminals[i] > 0.5 || d.timeouts[i] > 0.5 {
            let n = &d.next_observations[i * 2..i * 2 + 2];
            cur.push((n[0] as f64, n[1] as f64));
            out.push(std::mem::take(&mut cur));
        }
    }
    let step = (out.len() / max.max(1)).max(1);
    out.into_iter().step_by(step).collect()
}

/// `w(s)` of the unit's behaviour model on a 40 x 40 grid: the weight of
/// [`crate::td3::state_weights`], `(1 / coverage(s)) / mean(1 / coverage)`,
/// with the mean taken over the dataset's states (in training it is over a
/// batch of them).
fn weight_grid(o: &PointOutcome) -> Vec<Vec<f64>> {
    let mdn = &o.mdn;
    let norm = crate::dataset::Normaliser::fit(&o.dataset);
    let dev = reprolab_core::device::default_device();
    let inner = mdn.mdn.clone();
    let coverage = |states: &[f32]| -> Vec<f32> {
        let n = states.len() / 2;
        let x = Tensor::<2>::from_data(TensorData::new(norm.apply(states), [n, 2]), &dev.clone().autodiff());
        inner.mixture(x).coverage().into_data().try_to_vec().unwrap_or_default()
    };
    let data_cov = coverage(&o.dataset.observations);
    let mean_inv = data_cov.iter().map(|c| 1.0 / *c as f64).sum::<f64>() / data_cov.len().max(1) as f64;
    const G: usize = 40;
    let mut grid = Vec::with_capacity(G * G * 2);
    for r in 0..G {
        for c in 0..G {
            grid.extend_from_slice(&[(c as f32 + 0.5) * 10.0 / G as f32, (r as f32 + 0.5) * 10.0 / G as f32]);
        }
    }
    let cov = coverage(&grid);
    cov.chunks(G).map(|row| row.iter().map(|c| 1.0 / *c as f64 / mean_inv).collect()).collect()
}

/// The mean of a cell, NaN when it was not recorded (a gap in a figure).
fn mean_or_nan(results: &Results, arm: &str, metric: &str) -> f64 {
    results.cell(arm, metric).map_or(f64::NAN, |c| c.mean)
}

fn figure(name: &str, caption: &str, content: FigureContent) -> Figure {
    Figure { name: name.into(), caption: caption.into(), content }
}

fn curve_series(curves: &[crate::train::ArmCurves], keep: &dyn Fn(&str) -> bool) -> Vec<Series> {
    curves
        .iter()
        .filter(|(name, c)| keep(name) && !c.is_empty() && !c[0].is_empty())
        .map(|(name, per_seed)| {
            let x: Vec<f64> = per_seed[0].iter().map(|(s, _)| *s as f64).collect();
            let (mut mean, mut std) = (Vec::new(), Vec::new());
            for i in 0..x.len() {
                let v: Vec<f64> = per_seed.iter().filter_map(|c| c.get(i).map(|p| p.1)).collect();
                mean.push(stats::mean(&v));
                std.push(stats::std(&v));
            }
            Series { name: name.clone(), x, mean, std }
        })
        .collect()
}

/// The figures of point-mass experiment `e` from one seed's outcome (the
/// first seed's unit draws them): trajectories per arm, then w(s).
pub fn point_figures(e: &str, o: &PointOutcome) -> Result<Vec<Figure>> {
    let background = data_paths(o, 60);
    let panels: Vec<PathPanel> = o
        .runs
        .iter()
        .filter(|r| !r.arm.contains("alpha="))
        .map(|r| PathPanel {
            title: format!(
                "{} (success {:.0}%)",
                r.arm,
                100.0 * r.metrics.iter().find(|m| m.0 == "success").map_or(0.0, |m| m.1)
            ),
            background: background.clone(),
            paths: r.episodes.iter().map(|ep| xy(&ep.states)).collect(),
        })
        .collect();
    let fig = path_panels(
        &format!("{e}: evaluation trajectories per arm (seed 0), data in grey"),
        &panels,
        &map_shapes(&o.layout),
        (0.0, 10.0),
        3,
    )?;
    let mut out = vec![figure(
        &format!("{e}_trajectories"),
        &format!(
            "{e}: the learned policies' trajectories over the map, one panel per arm; grey: the dataset's trajectories."
        ),
        fig,
    )];
    let fig = heat_map(
        &format!("{e}: per-state weight w(s), seed 0"),
        &weight_grid(o),
        (0.0, 10.0),
        (0.0, 10.0),
        &map_shapes(&o.layout),
        true,
    )?;
    out.push(figure(&format!("{e}_weight"), &format!("{e}: w(s) = (1/coverage)/mean over the data, from the fitted behaviour model; high (blue) where the behaviour's actions are narrow."), fig));
    Ok(out)
}

/// The figures over seeds: E2's alpha sweep and learning curves (from E2's
/// table and its arms' curves per seed), Pendulum's learning curves and the
/// online run behind its behaviour policies. `alpha` is the one alpha of
/// the arms outside the sweep, `alphas` the sweep (the config's
/// `td3.alpha` and `alphas`). A cell missing from E2's table is drawn as a
/// gap (NaN), not an error: figures show what ran.
pub fn summary_figures(
    e2: Option<(&Results, &[ArmCurves])>,
    pendulum: Option<(&[ArmCurves], &Curve)>,
    alpha: f64,
    alphas: &[f64],
) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    if let Some((results, curves)) = e2 {
        let metric = "normalised return";
        let sweep = |algo: &str| -> Series {
            let label = |a: f64| if a == alpha { algo.to_string() } else { format!("{algo} alpha={a}") };
            let mut alphas = alphas.to_vec();
            if !alphas.contains(&alpha) {
                alphas.push(alpha);
            }
            alphas.sort_by(f64::total_cmp);
            Series {
                name: format!("{algo} (global alpha)"),
                x: alphas.iter().map(|a| a.log10()).collect(),
                mean: alphas.iter().map(|a| mean_or_nan(results, &label(*a), metric)).collect(),
                std: alphas.iter().map(|a| results.cell(&label(*a), metric).map_or(0.0, |c| c.std)).collect(),
            }
        };
        let flat = |arm: &str, x: &[f64]| Series {
            name: format!("{arm} (adaptive, alpha {alpha})"),
            x: x.to_vec(),
            mean: vec![mean_or_nan(results, arm, metric); x.len()],
            std: vec![results.cell(arm, metric).map_or(0.0, |c| c.std); x.len()],
        };
        let a = sweep("td3-bc");
        let b = sweep("td3-rkl-global");
        let ends = [*a.x.first().unwrap_or(&-1.0), *a.x.last().unwrap_or(&1.0)];
        let series = vec![a, b, flat("td3-rkl", &ends), flat("td3-rkl-det", &ends), flat("td3-mse-adaptive", &ends)];
        let fig = lines_with_bands(
            "E2: global alpha sweep vs the adaptive weight",
            "log10 alpha",
            "normalised return",
            &series,
        )?;
        out.push(figure("e2_alpha_sweep", "E2: normalised return against the global alpha (mean +- std over seeds); flat lines: the adaptive arms at their one alpha.", fig));
        let keep = |n: &str| !n.contains("alpha=");
        let fig = lines_with_bands("E2: learning curves", "update", "normalised return", &curve_series(curves, &keep))?;
        out.push(figure("e2_curves", "E2: normalised return during training (mean +- std over seeds).", fig));
    }
    if let Some((curves, online_curve)) = pendulum {
        let fig = lines_with_bands(
            "Pendulum mixed datasets: learning curves",
            "update",
            "D4RL normalised score",
            &curve_series(curves, &|_| true),
        )?;
        out.push(figure(
            "pendulum_curves",
            "Pendulum: D4RL normalised score during offline training per mixture and arm.",
            fig,
        ));
        let online = vec![Series {
            name: "online TD3".into(),
            x: online_curve.iter().map(|c| c.0 as f64).collect(),
            mean: online_curve.iter().map(|c| c.1).collect(),
            std: vec![],
        }];
        let fig = lines_with_bands(
            "Pendulum: online TD3 that produced the behaviour policies",
            "environment step",
            "return",
            &online,
        )?;
        out.push(figure("pendulum_online", "Online TD3 on Pendulum: the medium policy is its first snapshot above the medium return, the expert its last.", fig));
    }
    Ok(out)
}
