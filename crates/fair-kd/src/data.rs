//! Attributed graphs with a binary label and a binary sensitive attribute:
//! bail and credit from their CSV files (edges rebuilt with the official
//! rule, see [`crate::graph`]) and an embedded synthetic graph whose bias is
//! known.
//!
//! Split (ours, fixed and seeded): stratified by label, 50% train, 25%
//! validation, 25% test, drawn with the run seed.

use crate::graph::{similarity_edges, undirected};
use anyhow::Result;
use reprolab_core::data::csv::{LabelKind, load_csv};
use reprolab_core::data::scale::Standardiser;
use reprolab_core::data::split::stratified_split;
use reprolab_core::rng::{derive_seed, rng};
use reprolab_core::user_bail;
use std::path::Path;

/// A node-classification graph with a sensitive attribute.
#[derive(Debug, Clone)]
pub struct FairGraph {
    pub name: String,
    /// Row-major `[n, d]`, standardised (the sensitive column kept raw).
    pub features: Vec<f32>,
    pub n: usize,
    pub d: usize,
    pub labels: Vec<bool>,
    pub sensitive: Vec<bool>,
    /// Undirected edges `(i, j)`, i < j.
    pub edges: Vec<(usize, usize)>,
}

/// Train / validation / test node indices.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSplit {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

impl FairGraph {
    /// The seeded stratified 50 / 25 / 25 split.
    pub fn split(&self, seed: u64) -> Result<NodeSplit> {
        let labels: Vec<usize> = self.labels.iter().map(|&y| usize::from(y)).collect();
        let first = stratified_split(&labels, 0.5, derive_seed(seed, "split"))?;
        let rest: Vec<usize> = first.test.iter().map(|&i| labels[i]).collect();
        let second = stratified_split(&rest, 0.5, derive_seed(seed, "split-2"))?;
        let pick = |idx: &[usize]| -> Vec<usize> { idx.iter().map(|&k| first.test[k]).collect() };
        Ok(NodeSplit { train: first.train, validation: pick(&second.train), test: pick(&second.test) })
    }
}

/// Loads a benchmark CSV: `label` and `sensitive` are 0/1 columns; every
/// other column (and the sensitive one) is a feature. Edges come from the
/// raw features with `thresh`; features are then standardised, except the
/// sensitive column, which stays 0/1 (as the official loaders keep it).
pub fn from_csv(path: &Path, label: &str, sensitive: &str, thresh: f64) -> Result<FairGraph> {
    let shown = path.display();
    let data = load_csv(path, label, LabelKind::Values)?;
    let Some(s_col) = data.feature_names.iter().position(|c| c == sensitive) else {
        user_bail!("{shown}: no sensitive column '{sensitive}' (columns: {})", data.feature_names.join(", "));
    };
    let (n, d) = (data.len(), data.n_features);
    let binary = |v: f64, what: &str, row: usize| -> Result<bool> {
        match v {
            0.0 => Ok(false),
            1.0 => Ok(true),
            _ => user_bail!("{shown}: row {}: {what} must be 0 or 1, got {v}", row + 2),
        }
    };
    let reprolab_core::data::Targets::Values(targets) = &data.targets else {
        unreachable!("loaded with LabelKind::Values")
    };
    let labels =
        targets.iter().enumerate().map(|(i, &v)| binary(f64::from(v), label, i)).collect::<Result<Vec<_>>>()?;
    let sens =
        (0..n).map(|i| binary(f64::from(data.features[i * d + s_col]), sensitive, i)).collect::<Result<Vec<_>>>()?;
    let edges = undirected(&similarity_edges(&data.features, n, d, thresh));
    let mut features = data.features.clone();
    Standardiser::fit(&features, d).transform(&mut features);
    for i in 0..n {
        features[i * d + s_col] = f32::from(u8::from(sens[i]));
    }
    let name = path.file_stem().map_or_else(|| "graph".into(), |s| s.to_string_lossy().to_string());
    Ok(FairGraph { name, features, n, d, labels, sensitive: sens, edges })
}

/// The synthetic graph's knobs.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    pub nodes: usize,
    pub features: usize,
    /// Expected degree to nodes of the same sensitive group / of the other.
    pub degree_same: f64,
    pub degree_other: f64,
    /// How much s shifts the label's logit (the known bias).
    pub label_bias: f64,
}

/// A stochastic block model with sensitive-attribute homophily: s ~
/// Bernoulli(1/2); features x ~ N(0, I) with the first feature shifted by
/// 0.5 s (so s leaks into the features); label y = 1[x . w + label_bias
/// (2s - 1) + noise > 0] with a fixed w; edges independent with
/// probability degree_same / n within a group and degree_other / n across.
pub fn synthetic(cfg: &SyntheticConfig, seed: u64) -> Result<FairGraph> {
    use rand::RngExt;
    if cfg.nodes < 20 || cfg.features < 2 {
        user_bail!("synthetic graph: needs at least 20 nodes and 2 features");
    }
    let (n, d) = (cfg.nodes, cfg.features);
    let mut r = rng(derive_seed(seed, "synthetic-graph"));
    let mut normal = || -> f32 {
        // Box-Muller
        let (u1, u2): (f64, f64) = (r.random::<f64>().max(1e-12), r.random());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    let sensitive: Vec<bool> = (0..n).map(|i| i % 2 == 1).collect();
    let mut features = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for &s in &sensitive {
        let row: Vec<f32> = (0..d).map(|k| normal() + if k == 0 && s { 0.5 } else { 0.0 }).collect();
        let score: f32 = row.iter().enumerate().map(|(k, v)| v / (k as f32 + 1.0)).sum::<f32>()
            + cfg.label_bias as f32 * if s { 1.0 } else { -1.0 }
            + 0.5 * normal();
        labels.push(score > 0.0);
        features.extend(row);
    }
    let mut r = rng(derive_seed(seed, "synthetic-edges"));
    let mut edges = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let p = if sensitive[i] == sensitive[j] { cfg.degree_same } else { cfg.degree_other } / n as f64;
            if r.random::<f64>() < p {
                edges.push((i, j));
            }
        }
    }
    Ok(FairGraph { name: "synthetic".into(), features, n, d, labels, sensitive, edges })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_graph_is_homophilous_biased_and_split_cleanly() {
        let cfg = SyntheticConfig { nodes: 600, features: 8, degree_same: 8.0, degree_other: 1.0, label_bias: 0.5 };
        let g = synthetic(&cfg, 0).unwrap();
        let same = g.edges.iter().filter(|&&(a, b)| g.sensitive[a] == g.sensitive[b]).count();
        assert!(same as f64 > 0.8 * g.edges.len() as f64, "{same} of {}", g.edges.len());
        let rate = |s: bool| {
            let group: Vec<bool> = (0..g.n).filter(|&i| g.sensitive[i] == s).map(|i| g.labels[i]).collect();
            group.iter().filter(|&&y| y).count() as f64 / group.len() as f64
        };
        assert!(rate(true) - rate(false) > 0.2, "the label depends on s: {} vs {}", rate(true), rate(false));
        let split = g.split(1).unwrap();
        let mut all: Vec<usize> = split.train.iter().chain(&split.validation).chain(&split.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..g.n).collect::<Vec<_>>());
        assert_eq!(split.train.len(), 300);
        assert_eq!(g.split(1).unwrap(), split, "seeded");
    }

    #[test]
    fn csv_columns_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.csv");
        std::fs::write(&p, "a,s,y\n0.5,1,1\n1.5,0,0\n2.5,1,1\n").unwrap();
        let g = from_csv(&p, "y", "s", 0.5).unwrap();
        assert_eq!(
            (g.n, g.d, g.labels.clone(), g.sensitive.clone()),
            (3, 2, vec![true, false, true], vec![true, false, true])
        );
        let err = from_csv(&p, "y", "race", 0.5).unwrap_err().to_string();
        assert!(err.contains("no sensitive column 'race'"), "{err}");
        std::fs::write(&p, "a,s,y\n0.5,2,1\n1.5,0,0\n").unwrap();
        assert!(from_csv(&p, "y", "s", 0.5).unwrap_err().to_string().contains("row 2: s must be 0 or 1, got 2"));
    }
}
