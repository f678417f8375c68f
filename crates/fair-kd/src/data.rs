//! Attributed graphs with a binary label and a binary sensitive attribute:
//! bail and credit from their CSV files (edges rebuilt with the official
//! rule, see [`crate::graph`]) and an embedded synthetic graph whose bias is
//! known.
//!
//! Splits, drawn with the run seed: the synthetic graph and user graphs
//! stratified by label 50 / 25 / 25 ([`FairGraph::split`], ours); bail and
//! credit with the official sizes ([`FairGraph::split_with`] and a
//! [`SplitConfig`]: per class, bail 30% train / 20% validation / 50% test
//! as the official `load_bail`; credit at most 500 training nodes per
//! class (1,000 in all) out of the first 50%, then 25% validation and the
//! last 25% test, as the official `get_train_val_test_split`, the nodes
//! between the cap and 50% in no split). The official code shuffles with
//! the fixed `random.seed(20)`; we shuffle with each run seed, so seeds
//! differ in their splits.

use crate::graph::{similarity_edges, undirected};
use anyhow::Result;
use reprolab_core::data::csv::{LabelKind, load_csv};
use reprolab_core::data::scale::Standardiser;
use reprolab_core::data::split::stratified_split;
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng};
use reprolab_core::user_bail;
use std::path::Path;

/// A node-classification graph with a sensitive attribute.
#[derive(Debug, Clone)]
pub struct FairGraph {
    pub name: String,
    /// Row-major `[n, d]`: benchmark CSVs scaled by their
    /// [`FeatureScaling`] (bail row-normalised as the official loader,
    /// credit standardised); user graphs standardised (the sensitive column
    /// kept 0/1); the synthetic graph raw.
    pub features: Vec<f32>,
    pub n: usize,
    pub d: usize,
    pub labels: Vec<bool>,
    pub sensitive: Vec<bool>,
    /// Undirected edges `(i, j)`, i < j.
    pub edges: Vec<(usize, usize)>,
}

/// A finite number from a CSV field; `at` ("file: line N") locates the error.
pub(crate) fn number(raw: &str, column: &str, at: &str) -> Result<f64> {
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => user_bail!("{at}: '{column}' is not a number: {raw:?}"),
    }
}

/// A 0/1 value (a label, a sensitive attribute, a hard prediction) as a bool.
pub(crate) fn zero_one(v: f64, column: &str, at: &str) -> Result<bool> {
    match v {
        0.0 => Ok(false),
        1.0 => Ok(true),
        _ => user_bail!("{at}: '{column}' must be 0 or 1, got {v}"),
    }
}

/// Train / validation / test node indices.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSplit {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

/// A split by class with the official loaders' sizes: per class (shuffled
/// with the seed) the first `train` fraction (at most
/// `max_train_per_class` of it) trains, the next `validation` fraction
/// validates and the rest tests. Fractions are floored as Python's `int()`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Training fraction of each class, in (0, 1) (official: bail 0.3,
    /// credit 0.5).
    pub train: f64,
    /// Validation fraction of each class, after the training block
    /// (official: bail 0.2, credit 0.25); `train + validation` < 1.
    pub validation: f64,
    /// At most this many training nodes per class (official: credit 500,
    /// `label_number // 2`; bail none).
    #[serde(default)]
    pub max_train_per_class: Option<usize>,
}

impl Validate for SplitConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.train > 0.0 && self.train < 1.0, "train must be in (0, 1), got {}", self.train);
        anyhow::ensure!(
            self.validation > 0.0 && self.train + self.validation < 1.0,
            "validation must be positive with train + validation < 1, got {}",
            self.validation
        );
        if let Some(cap) = self.max_train_per_class {
            anyhow::ensure!(cap >= 1, "max_train_per_class must be at least 1, got {cap}");
        }
        Ok(())
    }
}

/// How a benchmark CSV's features are scaled once its edges are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureScaling {
    /// Every row divided by its sum, the sensitive column too: the official
    /// `load_bail`'s `normalize`.
    RowNormalise,
    /// Every column standardised, the sensitive one kept 0/1 (ours: the
    /// official credit loader reads a preprocessed `.npz` that is not in its
    /// repository and calls no `normalize`; from the CSV we standardise).
    Standardise,
}

/// Standardises every column of row-major `features` (`d` columns), then
/// puts the sensitive column `s_col` back to its 0/1 values `sens`.
fn standardise_keeping_sensitive(features: &mut [f32], d: usize, s_col: usize, sens: &[bool]) {
    Standardiser::fit(features, d).transform(features);
    for (row, &s) in features.chunks_mut(d).zip(sens) {
        row[s_col] = f32::from(u8::from(s));
    }
}

/// Refuses features that scaling made non-finite (finite inputs near the
/// float32 limit overflow a variance or a row sum's inverse), so no NaN
/// reaches training silently; `shown` names the file.
fn finite_after_scaling(features: &[f32], d: usize, shown: &str) -> Result<()> {
    if let Some(i) = features.iter().position(|v| !v.is_finite()) {
        user_bail!(
            "{shown}: line {}: features overflow float32 once scaled (values too large or rows summing to ~0)",
            i / d.max(1) + 2
        );
    }
    Ok(())
}

/// Divides every row by its sum, as the official `normalize` (rows summing
/// to 0 stay 0).
pub fn row_normalise(features: &mut [f32], d: usize) {
    for row in features.chunks_mut(d) {
        let sum: f64 = row.iter().map(|&v| f64::from(v)).sum();
        let inv = if sum == 0.0 { 0.0 } else { 1.0 / sum };
        row.iter_mut().for_each(|v| *v = (f64::from(*v) * inv) as f32);
    }
}

impl FairGraph {
    /// The split of `rule` drawn with `seed` (see [`SplitConfig`]).
    pub fn split_with(&self, rule: &SplitConfig, seed: u64) -> Result<NodeSplit> {
        use rand::seq::SliceRandom;
        rule.validate().map_err(|e| reprolab_core::user_error(format!("split: {e:#}")))?;
        let mut r = rng(derive_seed(seed, "official-split"));
        let mut split = NodeSplit { train: Vec::new(), validation: Vec::new(), test: Vec::new() };
        for class in [false, true] {
            let mut members: Vec<usize> = (0..self.n).filter(|&i| self.labels[i] == class).collect();
            members.shuffle(&mut r);
            let n = members.len() as f64;
            let train_end = (rule.train * n) as usize;
            let val_end = ((rule.train + rule.validation) * n) as usize;
            let kept = rule.max_train_per_class.map_or(train_end, |cap| train_end.min(cap));
            split.train.extend(&members[..kept]);
            split.validation.extend(&members[train_end..val_end]);
            split.test.extend(&members[val_end..]);
        }
        for (name, part) in [("train", &split.train), ("validation", &split.validation), ("test", &split.test)] {
            if part.is_empty() {
                user_bail!("{}: the {name} split is empty ({} nodes)", self.name, self.n);
            }
        }
        Ok(split)
    }

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
/// raw features with `thresh`; features are then scaled by `scaling`.
pub fn from_csv(path: &Path, label: &str, sensitive: &str, thresh: f64, scaling: FeatureScaling) -> Result<FairGraph> {
    let shown = path.display();
    let data = load_csv(path, label, LabelKind::Values)?;
    let Some(s_col) = data.feature_names.iter().position(|c| c == sensitive) else {
        user_bail!("{shown}: no sensitive column '{sensitive}' (columns: {})", data.feature_names.join(", "));
    };
    let (n, d) = (data.len(), data.n_features);
    let binary =
        |v: f32, column: &str, row: usize| zero_one(f64::from(v), column, &format!("{shown}: line {}", row + 2));
    let reprolab_core::data::Targets::Values(targets) = &data.targets else {
        unreachable!("loaded with LabelKind::Values")
    };
    let labels = targets.iter().enumerate().map(|(i, &v)| binary(v, label, i)).collect::<Result<Vec<_>>>()?;
    let sens = (0..n).map(|i| binary(data.features[i * d + s_col], sensitive, i)).collect::<Result<Vec<_>>>()?;
    let edges = undirected(&similarity_edges(&data.features, n, d, thresh));
    let mut features = data.features.clone();
    match scaling {
        FeatureScaling::RowNormalise => row_normalise(&mut features, d),
        FeatureScaling::Standardise => standardise_keeping_sensitive(&mut features, d, s_col, &sens),
    }
    finite_after_scaling(&features, d, &shown.to_string())?;
    let name = path.file_stem().map_or_else(|| "graph".into(), |s| s.to_string_lossy().to_string());
    Ok(FairGraph { name, features, n, d, labels, sensitive: sens, edges })
}

/// A user's graph: `nodes` CSV with numeric feature columns, a 0/1 `label`
/// column, a 0/1 `sensitive` column and optionally an `id` column (else
/// rows are ids 0..n); `edges` CSV with two columns naming node ids. Edges
/// are undirected; listing one in both directions is fine, listing the
/// same direction twice, a self-loop or an unknown id is an error.
/// Features are standardised (the sensitive column kept 0/1).
pub fn from_user_files(nodes: &Path, edges: &Path, label: &str, sensitive: &str) -> Result<FairGraph> {
    Ok(from_user_files_with_ids(nodes, edges, label, sensitive)?.0)
}

/// [`from_user_files`] and every node's id (the `id` column's value, else
/// its row number), in node order: what outputs name nodes by.
pub fn from_user_files_with_ids(
    nodes: &Path,
    edges: &Path,
    label: &str,
    sensitive: &str,
) -> Result<(FairGraph, Vec<String>)> {
    let shown = nodes.display();
    let (mut reader, headers) = reprolab_core::data::csv::open(nodes)?;
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(l_col), Some(s_col)) = (col(label), col(sensitive)) else {
        user_bail!("{shown}: needs the label column '{label}' and the sensitive column '{sensitive}'");
    };
    let id_col = col("id");
    let feature_cols: Vec<usize> = (0..headers.len()).filter(|&c| c != l_col && Some(c) != id_col).collect();
    let mut ids = std::collections::HashMap::new();
    let mut node_ids = Vec::new();
    let (mut features, mut labels, mut sens) = (Vec::new(), Vec::new(), Vec::new());
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| reprolab_core::user_error(format!("{shown}: line {line}: {e}")))?;
        let at = format!("{shown}: line {line}");
        let num = |c: usize| number(record.get(c).unwrap_or(""), &headers[c], &at);
        let binary = |c: usize| zero_one(num(c)?, &headers[c], &at);
        let id = id_col.map_or_else(|| row.to_string(), |c| record.get(c).unwrap_or("").to_string());
        if ids.insert(id.clone(), row).is_some() {
            user_bail!("{shown}: line {line}: duplicate node id '{id}'");
        }
        node_ids.push(id);
        labels.push(binary(l_col)?);
        sens.push(binary(s_col)?);
        for &c in &feature_cols {
            // Features are f32 in the models: 1e300 is finite in f64 but inf once stored.
            let v = num(c)? as f32;
            if !v.is_finite() {
                user_bail!("{at}: '{}' is outside the float32 range", &headers[c]);
            }
            features.push(v);
        }
    }
    let (n, d) = (labels.len(), feature_cols.len());
    if n < 4 {
        user_bail!("{shown}: needs at least 4 nodes, found {n}");
    }
    let eshown = edges.display();
    let (mut reader, _) = reprolab_core::data::csv::open(edges)?;
    let mut seen = std::collections::HashSet::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| reprolab_core::user_error(format!("{eshown}: line {line}: {e}")))?;
        let node = |k: usize| -> Result<usize> {
            let raw = record.get(k).unwrap_or("");
            ids.get(raw).copied().ok_or_else(|| {
                // Named with the nodes file: the id may be missing there rather than mistyped here.
                reprolab_core::user_error(format!("{eshown}: line {line}: unknown node id '{raw}' (not in {shown})"))
            })
        };
        let (a, b) = (node(0)?, node(1)?);
        if a == b {
            user_bail!("{eshown}: line {line}: self-loop on node '{}'", record.get(0).unwrap_or(""));
        }
        if !seen.insert((a, b)) {
            user_bail!("{eshown}: line {line}: duplicate edge");
        }
    }
    // An edge list with no edges (an empty file, a header alone) is almost
    // certainly the wrong file: the teacher is a graph network, and on a
    // graph without edges it would silently become an MLP.
    if seen.is_empty() {
        user_bail!("{eshown}: no edges (the file has no data rows); give the graph's node-id pairs, one per line");
    }
    let edges = undirected(&seen.into_iter().collect::<Vec<_>>());
    let s_feature = feature_cols.iter().position(|&c| c == s_col).expect("the sensitive column is a feature");
    standardise_keeping_sensitive(&mut features, d, s_feature, &sens);
    finite_after_scaling(&features, d, &shown.to_string())?;
    let name = nodes.file_stem().map_or_else(|| "graph".into(), |s| s.to_string_lossy().to_string());
    Ok((FairGraph { name, features, n, d, labels, sensitive: sens, edges }, node_ids))
}

/// The synthetic graph's knobs (the whole graph is ours: the paper uses
/// only real benchmarks).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Number of nodes, at least 20 (paper: none; ours 2,000, 300 in smoke).
    pub nodes: usize,
    /// Number of features, at least 2 (paper: none; ours 8).
    pub features: usize,
    /// Expected degree to nodes of the same sensitive group (paper: none;
    /// ours 8).
    pub degree_same: f64,
    /// Expected degree to nodes of the other sensitive group (paper: none;
    /// ours 1).
    pub degree_other: f64,
    /// How much s shifts the label's logit, the known bias (paper: none;
    /// ours 0.8).
    pub label_bias: f64,
}

impl Validate for SyntheticConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.nodes >= 20, "nodes must be at least 20, got {}", self.nodes);
        anyhow::ensure!(self.features >= 2, "features must be at least 2, got {}", self.features);
        for (name, v) in [("degree_same", self.degree_same), ("degree_other", self.degree_other)] {
            anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be a non-negative number, got {v}");
        }
        anyhow::ensure!(self.label_bias.is_finite(), "label_bias must be a number, got {}", self.label_bias);
        Ok(())
    }
}

/// A stochastic block model with sensitive-attribute homophily: s ~
/// Bernoulli(1/2); features x ~ N(0, I) with the first feature shifted by
/// 0.5 s (so s leaks into the features); label y = 1[x . w + label_bias
/// (2s - 1) + noise > 0] with a fixed w; edges independent with
/// probability degree_same / n within a group and degree_other / n across.
pub fn synthetic(cfg: &SyntheticConfig, seed: u64) -> Result<FairGraph> {
    use rand::RngExt;
    cfg.validate().map_err(|e| reprolab_core::user_error(format!("synthetic graph: {e:#}")))?;
    let (n, d) = (cfg.nodes, cfg.features);
    let mut r = rng(derive_seed(seed, "synthetic-graph"));
    let mut normal = || reprolab_core::rng::standard_normal(&mut r);
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
    fn rows_are_normalised_as_the_official_normalize() {
        let mut x = vec![1.0, 3.0, 0.0, 0.0, 0.0, 0.0, 2.0, 2.0, 4.0];
        row_normalise(&mut x, 3);
        assert_eq!(x, vec![0.25, 0.75, 0.0, 0.0, 0.0, 0.0, 0.25, 0.25, 0.5]);
    }

    /// The official sizes: per class floor(fraction x class size), the
    /// training block capped (credit) with the rest of it in no split.
    #[test]
    fn the_official_split_sizes() {
        // 30 negatives, 10 positives.
        let g = FairGraph {
            name: "t".into(),
            features: vec![0.0; 40],
            n: 40,
            d: 1,
            labels: (0..40).map(|i| i >= 30).collect(),
            sensitive: vec![false; 40],
            edges: vec![],
        };
        let bail = SplitConfig { train: 0.3, validation: 0.2, max_train_per_class: None };
        let s = g.split_with(&bail, 3).unwrap();
        // class 0: 9 / 6 / 15; class 1: 3 / 2 / 5
        assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (12, 8, 20));
        let credit = SplitConfig { train: 0.5, validation: 0.25, max_train_per_class: Some(4) };
        let s = g.split_with(&credit, 3).unwrap();
        // class 0: min(15, 4) / 7 / 8; class 1: min(5, 4) / 2 / 3 (7 + 1 nodes unused)
        assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (8, 9, 11));
        let mut all: Vec<usize> = s.train.iter().chain(&s.validation).chain(&s.test).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 28, "disjoint");
        assert_eq!(g.split_with(&credit, 3).unwrap(), s, "seeded");
        assert_ne!(g.split_with(&credit, 4).unwrap(), s, "another seed, another split");
        let bad = SplitConfig { train: 0.6, validation: 0.4, max_train_per_class: None };
        assert!(g.split_with(&bad, 0).unwrap_err().to_string().contains("train + validation < 1"));
    }

    #[test]
    fn user_graph_files_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = dir.path().join("nodes.csv");
        let edges = dir.path().join("edges.csv");
        std::fs::write(&nodes, "id,x,s,y\na,0.5,1,1\nb,1.5,0,0\nc,2.5,1,1\nd,3.0,0,0\n").unwrap();
        std::fs::write(&edges, "src,dst\na,b\nb,a\nc,d\n").unwrap();
        let g = from_user_files(&nodes, &edges, "y", "s").unwrap();
        assert_eq!((g.n, g.d, g.edges.clone()), (4, 2, vec![(0, 1), (2, 3)]));
        let bad = |edges_text: &str, want: &str| {
            std::fs::write(&edges, edges_text).unwrap();
            let err = from_user_files(&nodes, &edges, "y", "s").unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        };
        bad("src,dst\na,z\n", "line 2: unknown node id 'z'");
        bad("src,dst\na,a\n", "line 2: self-loop on node 'a'");
        bad("src,dst\na,b\na,b\n", "line 3: duplicate edge");
        std::fs::write(&nodes, "id,x,s,y\na,0.5,1,1\na,1.5,0,0\nc,2.5,1,1\nd,3.0,0,0\n").unwrap();
        assert!(
            from_user_files(&nodes, &edges, "y", "s")
                .unwrap_err()
                .to_string()
                .contains("line 3: duplicate node id 'a'")
        );
        std::fs::write(&nodes, "id,x,s,y\na,0.5,1,3\n").unwrap();
        assert!(
            from_user_files(&nodes, &edges, "y", "s").unwrap_err().to_string().contains("'y' must be 0 or 1, got 3")
        );
    }

    #[test]
    fn csv_columns_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.csv");
        std::fs::write(&p, "a,s,y\n0.5,1,1\n1.5,0,0\n2.5,1,1\n").unwrap();
        let g = from_csv(&p, "y", "s", 0.5, FeatureScaling::RowNormalise).unwrap();
        assert_eq!(
            (g.n, g.d, g.labels.clone(), g.sensitive.clone()),
            (3, 2, vec![true, false, true], vec![true, false, true])
        );
        // Row-normalised, the sensitive column too: (0.5, 1) / 1.5, (1.5, 0) / 1.5.
        let want = [1.0 / 3.0, 2.0 / 3.0, 1.0, 0.0];
        assert!(g.features[..4].iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{:?}", g.features);
        // Standardised: column a (0.5, 1.5, 2.5) has mean 1.5 and population
        // std sqrt(2/3); the sensitive column stays 0/1.
        let g = from_csv(&p, "y", "s", 0.5, FeatureScaling::Standardise).unwrap();
        let z = 1.0 / (2.0f32 / 3.0).sqrt();
        let want = [-z, 1.0, 0.0, 0.0, z, 1.0];
        assert!(g.features.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5), "{:?}", g.features);
        let err = from_csv(&p, "y", "race", 0.5, FeatureScaling::RowNormalise).unwrap_err().to_string();
        assert!(err.contains("no sensitive column 'race'"), "{err}");
        std::fs::write(&p, "a,s,y\n0.5,2,1\n1.5,0,0\n").unwrap();
        let err = from_csv(&p, "y", "s", 0.5, FeatureScaling::RowNormalise).unwrap_err().to_string();
        assert!(err.contains("line 2: 's' must be 0 or 1, got 2"), "{err}");
    }
}
