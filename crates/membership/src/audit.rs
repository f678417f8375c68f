//! `reprolab membership audit`: the attacks run on a practitioner's own
//! model outputs.
//!
//! Input (one file for the audited model, optionally one per shadow model):
//! - **CSV** with a header: `id`, `label`, optional `member` (0/1), and
//!   either `logit_0..logit_{C-1}` or `prob_0..prob_{C-1}`.
//! - **NPZ** with arrays `id` (`[n]`, numeric), `label` (`[n]`), optional
//!   `member` (`[n]`, 0/1) and either `logits` or `probs` (`[n, C]`).
//!   NPZ rather than NPY, because the columns need names.
//!
//! Shadow files use the same format on the same example ids and must carry
//! `member`. Without shadows only the attacks that need none run; the
//! report names the skipped ones and why. Without `member` in the audited
//! file the scores are computed and written, but no metric can be.
//!
//! RMIA's population: rows of the audited file with an optional
//! `population` column (NPZ: array) set to 1 are data no model trained on
//! (`member` 0 in every file), as ML Privacy Meter keeps a population
//! split. They are RMIA's population samples z only: not scored, not in
//! the metrics. Without them RMIA compares each example with all the other
//! audited examples (itself excluded), and the report says so.
//!
//! Values are kept in f64 as given: logits go through a softmax in f64,
//! probabilities are used as they are (not renormalised), so examples with
//! the same rounded `p_y` tie exactly in the confidence and loss attacks and
//! the AUC is the exact Mann-Whitney count. (NPZ arrays come through core's
//! reader as float32, so a float64 NPZ is rounded to float32 first: equal
//! values stay equal, but values closer than float32 resolves merge; CSV
//! keeps every digit.)

use crate::attacks::{self, METRICS, NamedScores, Variance};
use crate::scores::Row;
use crate::shadow::Outputs;
use anyhow::Result;
use reprolab_core::data::npy::{Array64, load_npz_f64};
use reprolab_core::metrics::roc_curve;
use reprolab_core::report::plot::roc_log_log;
use reprolab_core::report::{write_atomic, write_bytes_atomic, write_figure};
use reprolab_core::{user_bail, user_error};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One model's outputs on the audited examples.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub ids: Vec<String>,
    pub labels: Vec<usize>,
    pub members: Option<Vec<bool>>,
    /// RMIA's population rows (`population` = 1), when the column is there.
    pub population: Option<Vec<bool>>,
    pub n_classes: usize,
    /// Row-major `[n, n_classes]` outputs as given, in f64: logits, or
    /// probabilities when `are_probs`.
    pub values: Vec<f64>,
    pub are_probs: bool,
}

/// Tolerance on `sum(prob_*) = 1`.
const PROB_TOLERANCE: f64 = 1e-3;

/// Reads a CSV or NPZ model-output file (by extension).
pub fn read_model_file(path: &Path) -> Result<ModelFile> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let file = match ext.as_str() {
        "csv" => read_csv(path)?,
        "npz" => read_npz(path)?,
        _ => user_bail!("{}: unsupported file type (use .csv or .npz)", path.display()),
    };
    file.validate(path)?;
    Ok(file)
}

impl ModelFile {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let shown = path.display();
        if self.len() == 0 {
            user_bail!("{shown}: no examples");
        }
        if let Some(i) = self.labels.iter().position(|&l| l >= self.n_classes) {
            user_bail!("{shown}: example '{}' has label {} outside 0..{}", self.ids[i], self.labels[i], self.n_classes);
        }
        let in_population = |i: usize| self.population.as_ref().is_some_and(|p| p[i]);
        if let Some(m) = &self.members {
            if let Some(i) = (0..self.len()).find(|&i| in_population(i) && m[i]) {
                user_bail!("{shown}: example '{}' is in the population (population = 1) but member = 1", self.ids[i]);
            }
            let scored: Vec<bool> = (0..self.len()).filter(|&i| !in_population(i)).map(|i| m[i]).collect();
            let n_in = scored.iter().filter(|&&x| x).count();
            if n_in == 0 || n_in == scored.len() {
                user_bail!(
                    "{shown}: 'member' has a single class ({n_in} of {} are members); an audit needs both",
                    scored.len()
                );
            }
        }
        if (0..self.len()).all(in_population) {
            user_bail!("{shown}: every example is in the population; nothing is left to audit");
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.ids.iter().find(|id| !seen.insert(id.as_str())) {
            user_bail!("{shown}: id '{dup}' appears twice");
        }
        Ok(())
    }
}

/// Checks one row of probabilities (kept as given, not renormalised).
fn check_probs(probs: &[f64], what: &str) -> Result<()> {
    if probs.iter().any(|p| !(0.0..=1.0).contains(p)) {
        user_bail!("{what}: probabilities must lie in [0, 1]");
    }
    let sum: f64 = probs.iter().sum();
    if (sum - 1.0).abs() > PROB_TOLERANCE {
        user_bail!("{what}: probabilities sum to {sum:.6}, not 1 (tolerance {PROB_TOLERANCE})");
    }
    Ok(())
}

/// A 0/1 flag column's value.
fn flag(value: &str, column: &str, what: &str) -> Result<bool> {
    match value {
        "1" => Ok(true),
        "0" => Ok(false),
        other => user_bail!("{what}: {column} must be 0 or 1, got '{other}'"),
    }
}

/// Output columns `prefix0..prefix{C-1}`, in order, with their positions.
fn class_columns(headers: &csv::StringRecord, prefix: &str) -> Vec<usize> {
    let mut cols = Vec::new();
    while let Some(i) = headers.iter().position(|h| h == format!("{prefix}{}", cols.len())) {
        cols.push(i);
    }
    cols
}

fn read_csv(path: &Path) -> Result<ModelFile> {
    let shown = path.display();
    let (mut reader, headers) = reprolab_core::data::csv::open(path)?;
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id_col), Some(label_col)) = (col("id"), col("label")) else {
        user_bail!(
            "{shown}: needs columns 'id' and 'label' (found: {})",
            headers.iter().collect::<Vec<_>>().join(", ")
        );
    };
    let member_col = col("member");
    let population_col = col("population");
    let (logit_cols, prob_cols) = (class_columns(&headers, "logit_"), class_columns(&headers, "prob_"));
    let (cols, are_probs) = match (logit_cols.len(), prob_cols.len()) {
        (0, 0) => user_bail!("{shown}: needs columns logit_0..logit_{{C-1}} or prob_0..prob_{{C-1}}"),
        (a, b) if a > 0 && b > 0 => user_bail!("{shown}: has both logit_* and prob_* columns; keep one kind"),
        (_, 0) => (logit_cols, false),
        _ => (prob_cols, true),
    };
    if cols.len() < 2 {
        user_bail!("{shown}: needs at least two classes of outputs");
    }
    let mut f = ModelFile {
        ids: vec![],
        labels: vec![],
        members: member_col.map(|_| vec![]),
        population: population_col.map(|_| vec![]),
        n_classes: cols.len(),
        values: vec![],
        are_probs,
    };
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| user_error(format!("{shown}: line {line}: {e}")))?;
        let field = |i: usize| record.get(i).unwrap_or("");
        let what = format!("{shown}: line {line}");
        f.ids.push(field(id_col).to_string());
        f.labels.push(
            field(label_col)
                .parse()
                .map_err(|_| user_error(format!("{what}: label '{}' is not a class index", field(label_col))))?,
        );
        if let (Some(c), Some(m)) = (member_col, f.members.as_mut()) {
            m.push(flag(field(c), "member", &what)?);
        }
        if let (Some(c), Some(p)) = (population_col, f.population.as_mut()) {
            p.push(flag(field(c), "population", &what)?);
        }
        let mut values = Vec::with_capacity(cols.len());
        for &c in &cols {
            let v: f64 = field(c)
                .parse()
                .map_err(|_| user_error(format!("{what}, column '{}': '{}' is not a number", &headers[c], field(c))))?;
            if !v.is_finite() {
                user_bail!("{what}, column '{}': non-finite value", &headers[c]);
            }
            values.push(v);
        }
        if are_probs {
            check_probs(&values, &what)?;
        }
        f.values.extend(values);
    }
    Ok(f)
}

fn read_npz(path: &Path) -> Result<ModelFile> {
    let shown = path.display();
    let mut arrays = load_npz_f64(path)?;
    let mut take = |name: &str| arrays.remove(name);
    let (Some(id), Some(label)) = (take("id"), take("label")) else {
        user_bail!("{shown}: needs arrays 'id' and 'label'");
    };
    let member = take("member");
    let population = take("population");
    let (outputs, are_probs) = match (take("logits"), take("probs")) {
        (Some(l), None) => (l, false),
        (None, Some(p)) => (p, true),
        (Some(_), Some(_)) => user_bail!("{shown}: has both 'logits' and 'probs'; keep one"),
        (None, None) => user_bail!("{shown}: needs an array 'logits' or 'probs' of shape [n, C]"),
    };
    let n = label.data.len();
    let [rows, c] = outputs.shape[..] else { user_bail!("{shown}: outputs must be [n, C], got {:?}", outputs.shape) };
    // As the CSV reader: an attack compares classes, and rows of 0 classes cannot be chunked.
    if c < 2 {
        user_bail!("{shown}: needs at least two classes of outputs, got [{rows}, {c}]");
    }
    let wrong_len = |a: &Option<Array64>| a.as_ref().is_some_and(|a| a.data.len() != n);
    if rows != n || id.data.len() != n || wrong_len(&member) || wrong_len(&population) {
        user_bail!("{shown}: arrays disagree on the number of examples");
    }
    if outputs.data.iter().any(|v| !v.is_finite()) {
        user_bail!("{shown}: outputs contain NaN or infinite values");
    }
    // Read in f64: a float64 file keeps every digit (ties and orderings as the user saved them).
    let values = outputs.data;
    if are_probs {
        for (i, row) in values.chunks(c).enumerate() {
            check_probs(row, &format!("{shown}: row {i}"))?;
        }
    }
    let flags = |a: Option<Array64>, name: &str| match a {
        Some(m) if m.data.iter().any(|&v| v != 0.0 && v != 1.0) => user_bail!("{shown}: '{name}' must be 0 or 1"),
        Some(m) => Ok(Some(m.data.iter().map(|&v| v == 1.0).collect::<Vec<bool>>())),
        None => Ok(None),
    };
    let (members, population) = (flags(member, "member")?, flags(population, "population")?);
    if label.data.iter().any(|&v| v < 0.0 || v.fract() != 0.0) {
        user_bail!("{shown}: 'label' must hold class indices");
    }
    // Ids are printed into scores.csv and matched across shadow files: "NaN" or "inf" would be no id.
    if id.data.iter().any(|v| !v.is_finite()) {
        user_bail!("{shown}: 'id' contains NaN or infinite values");
    }
    Ok(ModelFile {
        ids: id.data.iter().map(|v| format!("{v}")).collect(),
        labels: label.data.iter().map(|&v| v as usize).collect(),
        members,
        population,
        n_classes: c,
        values,
        are_probs,
    })
}

/// Metrics of one attack, with the key names `report.json` promises.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttackMetrics {
    pub auc: f64,
    /// At the best threshold on the audited data: (1 + advantage) / 2, an
    /// upper bound for an attacker who must pick the threshold blind.
    pub balanced_accuracy: f64,
    pub advantage: f64,
    #[serde(rename = "tpr_at_fpr_0.001")]
    pub tpr_at_fpr_0_001: f64,
    #[serde(rename = "tpr_at_fpr_0.01")]
    pub tpr_at_fpr_0_01: f64,
}

/// The audit's result (`report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub input: String,
    pub n_examples: usize,
    pub n_classes: usize,
    pub n_members: Option<usize>,
    pub n_shadows: usize,
    /// Metrics per attack (empty without a `member` column).
    pub attacks: BTreeMap<String, AttackMetrics>,
    /// Attacks not run, with the reason.
    pub skipped: BTreeMap<String, String>,
    /// RMIA's population rows (`population` = 1; not scored).
    pub n_population: usize,
    /// What RMIA compared each example with, and offline RMIA's `a`.
    pub notes: Vec<String>,
    /// Readings to take with care (also printed on stderr).
    pub warnings: Vec<String>,
    /// The empirical epsilon lower bound of every attack ([`crate::epsilon`];
    /// absent without a `member` column).
    pub epsilon: Option<crate::epsilon::EpsilonReport>,
    /// Files written.
    pub files: Vec<String>,
}

/// Every model's outputs on some of the audited rows, as given in f64
/// (the audited model first, then the shadows): what the attacks read.
#[derive(Debug, Clone, PartialEq)]
struct Exact {
    n_models: usize,
    n: usize,
    c: usize,
    labels: Vec<usize>,
    /// `[model][example]`.
    members: Vec<bool>,
    /// `[model][example][class]`.
    values: Vec<f64>,
    /// Per model: its values are probabilities (else logits).
    are_probs: Vec<bool>,
}

impl Outputs for Exact {
    fn n_models(&self) -> usize {
        self.n_models
    }
    fn n_examples(&self) -> usize {
        self.n
    }
    fn n_classes(&self) -> usize {
        self.c
    }
    fn label(&self, example: usize) -> usize {
        self.labels[example]
    }
    fn is_member(&self, model: usize, example: usize) -> bool {
        self.members[model * self.n + example]
    }
    fn row(&self, model: usize, example: usize) -> Row<'_> {
        let start = (model * self.n + example) * self.c;
        let v = &self.values[start..start + self.c];
        if self.are_probs[model] { Row::Probs(v) } else { Row::Logits64(v) }
    }
}

impl Exact {
    /// The rows `rows` of every model.
    fn select(&self, rows: &[usize]) -> Exact {
        let mut out = Exact {
            n_models: self.n_models,
            n: rows.len(),
            c: self.c,
            labels: rows.iter().map(|&j| self.labels[j]).collect(),
            members: Vec::with_capacity(self.n_models * rows.len()),
            values: Vec::with_capacity(self.n_models * rows.len() * self.c),
            are_probs: self.are_probs.clone(),
        };
        for m in 0..self.n_models {
            for &j in rows {
                out.members.push(self.is_member(m, j));
                let start = (m * self.n + j) * self.c;
                out.values.extend_from_slice(&self.values[start..start + self.c]);
            }
        }
        out
    }
}

/// Puts the audited model first and the shadows after it, aligning every
/// shadow's rows to the audited file's ids; a population row must be OUT
/// for every shadow.
fn stack(target: &ModelFile, shadows: &[(PathBuf, ModelFile)]) -> Result<Exact> {
    let n = target.len();
    let c = target.n_classes;
    let index: BTreeMap<&str, usize> = target.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut out = Exact {
        n_models: 1 + shadows.len(),
        n,
        c,
        labels: target.labels.clone(),
        members: target.members.clone().unwrap_or_else(|| vec![false; n]),
        values: target.values.clone(),
        are_probs: vec![target.are_probs],
    };
    let in_population = |i: usize| target.population.as_ref().is_some_and(|p| p[i]);
    for (path, s) in shadows {
        let shown = path.display();
        if s.n_classes != c || s.len() != n {
            user_bail!("{shown}: has {} examples x {} classes, the audited file {n} x {c}", s.len(), s.n_classes);
        }
        let Some(members) = &s.members else { user_bail!("{shown}: a shadow file needs a 'member' column") };
        let mut values = vec![0f64; n * c];
        let mut member = vec![false; n];
        for (r, id) in s.ids.iter().enumerate() {
            let Some(&i) = index.get(id.as_str()) else { user_bail!("{shown}: id '{id}' is not in the audited file") };
            if s.labels[r] != target.labels[i] {
                user_bail!(
                    "{shown}: id '{id}' has label {} here but {} in the audited file",
                    s.labels[r],
                    target.labels[i]
                );
            }
            if members[r] && in_population(i) {
                user_bail!("{shown}: id '{id}' is in the audited file's population but member = 1 here");
            }
            values[i * c..(i + 1) * c].copy_from_slice(&s.values[r * c..(r + 1) * c]);
            member[i] = members[r];
        }
        out.values.extend(values);
        out.members.extend(member);
        out.are_probs.push(s.are_probs);
    }
    Ok(out)
}

/// Training of the shadow attack classifiers in an audit (the experiment's
/// quick-preset values).
fn attack_model_fit() -> reprolab_core::train::classifier::FitConfig {
    reprolab_core::train::classifier::FitConfig {
        epochs: 3,
        batch_size: 256,
        optimizer: reprolab_core::train::OptimizerConfig::adam(1e-3),
        schedule: Default::default(),
        label_smoothing: 0.0,
        early_stopping: None,
    }
}

/// Every applicable attack's scores on the audited model, what was
/// skipped and why, and notes on how RMIA ran. `population` holds RMIA's
/// population rows (none: each example against the other audited ones).
struct Attacked {
    scores: NamedScores,
    skipped: BTreeMap<String, String>,
    notes: Vec<String>,
}

/// Per-example variance needs a standard deviation per example and side.
const MIN_PER_EXAMPLE_SHADOWS: usize = 2;

fn run_attacks(out: &Exact, population: Option<&Exact>) -> Attacked {
    let mut scores: NamedScores =
        METRICS.iter().map(|(name, stat)| (name.replace(' ', "_"), attacks::metric(out, 0, *stat))).collect();
    let mut skipped = BTreeMap::new();
    let mut notes = Vec::new();
    let mut skip = |names: &[&str], why: &str| {
        for a in names {
            skipped.insert(a.to_string(), why.to_string());
        }
    };
    if out.n_models < 2 {
        let per_class: Vec<String> =
            METRICS.iter().map(|(name, _)| format!("{}_per_class", name.replace(' ', "_"))).collect();
        skip(&per_class.iter().map(String::as_str).collect::<Vec<_>>(), "needs shadow model outputs (--shadows)");
        skip(
            &[
                "lira_offline",
                "lira_offline_fixed_variance",
                "lira_offline_one_sided",
                "lira_offline_one_sided_fixed_variance",
                "lira_online",
                "lira_online_fixed_variance",
                "rmia",
                "rmia_offline",
                "shadow_classifier_top3",
                "shadow_classifier_per_class",
            ],
            "needs shadow model outputs (--shadows)",
        );
        return Attacked { scores, skipped, notes };
    }
    for (name, stat) in METRICS {
        scores.push((format!("{}_per_class", name.replace(' ', "_")), attacks::metric_per_class(out, 0, stat)));
    }
    let (fewest_in, fewest_out) = attacks::fewest_shadows(out, 0);
    let per_example = |need: &str| {
        format!(
            "per-example variance needs at least {need} shadows for every example (a standard deviation per side); the fewest here: {fewest_in} IN and {fewest_out} OUT (use the fixed-variance variant, or add shadows)"
        )
    };
    let any_out = (1..out.n_models).any(|m| (0..out.n).any(|j| !out.is_member(m, j)));
    if !any_out {
        skip(
            &[
                "lira_offline",
                "lira_offline_one_sided",
                "lira_offline_fixed_variance",
                "lira_offline_one_sided_fixed_variance",
            ],
            "needs shadows that did not train on some of the examples (member = 0)",
        );
    } else {
        if fewest_out >= MIN_PER_EXAMPLE_SHADOWS {
            scores.push(("lira_offline".into(), attacks::lira_offline(out, 0, Variance::PerExample)));
            scores
                .push(("lira_offline_one_sided".into(), attacks::lira_offline_one_sided(out, 0, Variance::PerExample)));
        } else {
            skip(&["lira_offline", "lira_offline_one_sided"], &per_example(&format!("{MIN_PER_EXAMPLE_SHADOWS} OUT")));
        }
        scores.push(("lira_offline_fixed_variance".into(), attacks::lira_offline(out, 0, Variance::Fixed)));
        scores.push((
            "lira_offline_one_sided_fixed_variance".into(),
            attacks::lira_offline_one_sided(out, 0, Variance::Fixed),
        ));
    }
    let any_in = (1..out.n_models).any(|m| (0..out.n).any(|j| out.is_member(m, j)));
    if !any_in {
        skip(
            &["lira_online", "lira_online_fixed_variance"],
            "needs shadows that trained on some of the examples (member = 1)",
        );
    } else {
        if fewest_in >= MIN_PER_EXAMPLE_SHADOWS && fewest_out >= MIN_PER_EXAMPLE_SHADOWS {
            scores.push(("lira_online".into(), attacks::lira_online(out, 0, Variance::PerExample)));
        } else {
            skip(
                &["lira_online"],
                &per_example(&format!("{MIN_PER_EXAMPLE_SHADOWS} IN and {MIN_PER_EXAMPLE_SHADOWS} OUT")),
            );
        }
        scores.push(("lira_online_fixed_variance".into(), attacks::lira_online(out, 0, Variance::Fixed)));
    }
    let z = match population {
        Some(p) => {
            notes.push(format!(
                "RMIA: each example against the {} population rows (population = 1), which no model trained on; its score takes at most {} values, so below an FPR of about 1/{} it cannot rank.",
                p.n,
                p.n + 1,
                p.n + 1
            ));
            attacks::Population::Disjoint(p)
        }
        None => {
            notes.push(format!(
                "RMIA: no population rows (population = 1) were given, so each example is compared with the other {} audited examples (itself excluded), members of the audited model among them; a disjoint population, as ML Privacy Meter uses, gives RMIA more power.",
                out.n.saturating_sub(1)
            ));
            attacks::Population::LeaveOneOut
        }
    };
    scores.push(("rmia".into(), attacks::rmia(out, 0, z, attacks::RmiaMode::Online, 1.0)));
    let (a, tuned, offline) = attacks::rmia_offline_tuned(out, 0, z, 1.0);
    scores.push(("rmia_offline".into(), offline));
    notes.push(if tuned {
        format!("RMIA offline: a = {a:.1}, the best AUC from 0, 0.1, ..., 1 when attacking a shadow with the other shadows as references.")
    } else {
        format!("RMIA offline: a = {a:.1} (untuned: tuning needs two shadows, one with both IN and OUT examples).")
    });
    for (name, kind) in [
        ("shadow_classifier_top3", attacks::AttackFeatures::Top3Sorted),
        ("shadow_classifier_per_class", attacks::AttackFeatures::FullVectorPerClass),
    ] {
        match attacks::shadow_classifier(out, 0, kind, 64, &attack_model_fit(), 0) {
            Ok(s) => scores.push((name.into(), s)),
            Err(e) => {
                skip(&[name], &format!("attack model failed: {e}"));
            }
        }
    }
    Attacked { scores, skipped, notes }
}

/// Non-members needed behind TPR at 0.1% FPR: with fewer, 0.1% of them is
/// less than one false positive.
pub const MIN_NON_MEMBERS: usize = 1000;

/// Runs the audit and writes `report.json`, `summary.md`, `scores.csv`
/// and (with membership) `roc.svg`, `roc.png` and `roc.csv` into `out_dir`.
pub fn audit(input: &Path, shadows: &[PathBuf], out_dir: &Path) -> Result<Audit> {
    let target = read_model_file(input)?;
    let shadow_files: Vec<(PathBuf, ModelFile)> =
        shadows.iter().map(|p| Ok((p.clone(), read_model_file(p)?))).collect::<Result<_>>()?;
    let stacked = stack(&target, &shadow_files)?;
    let in_population = |i: usize| target.population.as_ref().is_some_and(|p| p[i]);
    let (pop_rows, rows): (Vec<usize>, Vec<usize>) = (0..target.len()).partition(|&i| in_population(i));
    let attacked = stacked.select(&rows);
    let population = (!pop_rows.is_empty()).then(|| stacked.select(&pop_rows));
    let Attacked { scores, mut skipped, notes } = run_attacks(&attacked, population.as_ref());
    let ids: Vec<&String> = rows.iter().map(|&i| &target.ids[i]).collect();
    let target_members: Option<Vec<bool>> = target.members.as_ref().map(|m| rows.iter().map(|&i| m[i]).collect());
    let mut report = Audit {
        input: input.display().to_string(),
        n_examples: rows.len(),
        n_classes: target.n_classes,
        n_members: target_members.as_ref().map(|m| m.iter().filter(|&&x| x).count()),
        n_shadows: shadows.len(),
        attacks: BTreeMap::new(),
        skipped: BTreeMap::new(),
        n_population: pop_rows.len(),
        notes,
        warnings: Vec::new(),
        epsilon: None,
        files: vec![],
    };
    let scores_path = out_dir.join("scores.csv");
    // csv::Writer quotes ids holding commas, quotes or line breaks.
    write_atomic(&scores_path, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(std::iter::once("id").chain(scores.iter().map(|(name, _)| name.as_str())))?;
        for (i, id) in ids.iter().enumerate() {
            let values = scores.iter().map(|(_, s)| s[i].to_string());
            out.write_record(std::iter::once(id.to_string()).chain(values))?;
        }
        out.flush()?;
        Ok(())
    })?;
    report.files.push(scores_path.display().to_string());
    if let Some(members) = &target_members {
        let non_members = members.iter().filter(|&&m| !m).count();
        if non_members < MIN_NON_MEMBERS {
            report.warnings.push(format!(
                "TPR@0.1%FPR rests on {non_members} non-members, fewer than {MIN_NON_MEMBERS}: 0.1% of them is less than one false positive, so that column reads the TPR at FPR 0; pool several target models (or more non-members) before reading it"
            ));
        }
        let mut curves = Vec::new();
        for (name, s) in &scores {
            let roc = roc_curve(members, s)?;
            let advantage = roc.advantage();
            report.attacks.insert(
                name.clone(),
                AttackMetrics {
                    auc: roc.auc(),
                    balanced_accuracy: (1.0 + advantage) / 2.0,
                    advantage,
                    tpr_at_fpr_0_001: roc.tpr_at(0.001),
                    tpr_at_fpr_0_01: roc.tpr_at(0.01),
                },
            );
            curves.push((name.clone(), roc.fpr, roc.tpr));
        }
        report.epsilon = crate::epsilon::audit_bounds(members, &scores)?;
        let floor = 1.0 / (non_members as f64).max(10.0);
        // roc.svg, with roc.png and roc.csv (each curve's fpr, tpr) beside it.
        let roc = roc_log_log("Membership attacks on the audited model", &curves, floor)?;
        report.files.extend(write_figure(out_dir, "roc", &roc)?.iter().map(|p| p.display().to_string()));
    } else {
        skipped.insert("metrics".into(), "the audited file has no 'member' column: scores only".into());
    }
    report.skipped = skipped;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let md_path = out_dir.join("summary.md");
    let json_path = out_dir.join("report.json");
    report.files.push(md_path.display().to_string());
    report.files.push(json_path.display().to_string());
    write_bytes_atomic(&md_path, summary_markdown(&report))?;
    let json = serde_json::to_string_pretty(&report)?;
    write_bytes_atomic(&json_path, json)?;
    Ok(report)
}

/// The human-readable summary.
pub fn summary_markdown(a: &Audit) -> String {
    let mut s = format!(
        "# Membership-inference audit\n\nInput `{}`: {} examples, {} classes, {} members, {} shadow model(s).\n\n",
        a.input,
        a.n_examples,
        a.n_classes,
        a.n_members.map_or("unknown".into(), |m| m.to_string()),
        a.n_shadows
    );
    if a.n_population > 0 {
        s += &format!("{} population rows (RMIA's samples z) are not scored.\n\n", a.n_population);
    }
    for w in &a.warnings {
        s += &format!("**Warning:** {w}.\n\n");
    }
    if !a.attacks.is_empty() {
        s += "| attack | AUC | balanced accuracy* | advantage | TPR@0.1%FPR | TPR@1%FPR |\n|---|---|---|---|---|---|\n";
        for (name, m) in &a.attacks {
            s += &format!(
                "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
                m.auc, m.balanced_accuracy, m.advantage, m.tpr_at_fpr_0_001, m.tpr_at_fpr_0_01
            );
        }
        s += "\n*at the best threshold on these data: an upper bound for a real attacker.\n\n![ROC](roc.svg)\n";
    }
    if let Some(e) = &a.epsilon {
        s += &format!("\n{}\n", crate::epsilon::summary_markdown(e));
    }
    if !a.notes.is_empty() {
        s += "\n";
        for n in &a.notes {
            s += &format!("- {n}\n");
        }
    }
    if !a.skipped.is_empty() {
        s += "\nNot run:\n\n";
        for (name, why) in &a.skipped {
            s += &format!("- {name}: {why}\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn malformed_files_get_one_line_errors_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let cases = [
            ("a.csv", "id,logit_0,logit_1\n1,0.1,0.2\n", "needs columns 'id' and 'label'"),
            ("b.csv", "id,label,member\n1,0,1\n", "needs columns logit_0"),
            ("c.csv", "id,label,member,prob_0,prob_1\n1,0,1,0.5,0.6\n2,1,0,0.5,0.5\n", "sum to 1.100000"),
            ("d.csv", "id,label,member,logit_0,logit_1\n1,0,1,NaN,1\n", "non-finite"),
            ("e.csv", "id,label,member,logit_0,logit_1\n1,0,1,0,1\n2,1,1,1,0\n", "single class"),
            ("f.csv", "id,label,member,logit_0,logit_1\n1,5,1,0,1\n2,1,0,1,0\n", "label 5 outside 0..2"),
            ("g.csv", "id,label,member,logit_0,logit_1\n1,0,2,0,1\n", "member must be 0 or 1"),
            ("h.txt", "x", "unsupported file type"),
        ];
        for (name, text, needle) in cases {
            let p = write(d.path(), name, text);
            let err = read_model_file(&p).unwrap_err();
            assert!(reprolab_core::is_user_error(&err), "{name}");
            let msg = err.to_string();
            assert!(msg.contains(name) && msg.contains(needle), "{name}: {msg}");
            assert_eq!(msg.lines().count(), 1);
        }
    }

    #[test]
    fn probabilities_and_logits_give_the_same_scores() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (1f64.exp(), 1.0);
        let (p0, p1) = (a / (a + b), b / (a + b));
        let lp = write(d.path(), "l.csv", "id,label,member,logit_0,logit_1\nx,0,1,1,0\ny,1,0,1,0\n");
        let pp =
            write(d.path(), "p.csv", &format!("id,label,member,prob_0,prob_1\nx,0,1,{p0},{p1}\ny,1,0,{p0},{p1}\n"));
        let (l, p) = (read_model_file(&lp).unwrap(), read_model_file(&pp).unwrap());
        assert!(!l.are_probs && p.are_probs);
        for (stat_name, stat) in METRICS {
            for i in 0..2 {
                let (sl, sp) = (
                    stat(Row::Logits64(&l.values[i * 2..i * 2 + 2]), l.labels[i]),
                    stat(Row::Probs(&p.values[i * 2..i * 2 + 2]), p.labels[i]),
                );
                assert!((sl - sp).abs() < 1e-12, "{stat_name}: {sl} vs {sp}");
            }
        }
    }

    /// User ids with commas, quotes and spaces come back unchanged from
    /// scores.csv, through the csv crate and, where it is installed,
    /// Python's csv module.
    #[test]
    fn scores_csv_quotes_ids_so_they_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let ids = ["plain", "a,b", "say \"hi\"", "two words"];
        let mut text = String::from("id,label,member,logit_0,logit_1\n");
        for (i, id) in ids.iter().enumerate() {
            let quoted = format!("\"{}\"", id.replace('"', "\"\""));
            text += &format!("{quoted},{},{},{},0.5\n", i % 2, (i / 2) % 2, i as f64 * 0.3);
        }
        let input = write(d.path(), "ids.csv", &text);
        let out = d.path().join("out");
        audit(&input, &[], &out).unwrap();
        let scores = out.join("scores.csv");
        let mut reader = csv::Reader::from_path(&scores).unwrap();
        let back: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_string()).collect();
        assert_eq!(back, ids);
        let script = "import csv,sys; print('\\x1f'.join(r[0] for r in list(csv.reader(open(sys.argv[1])))[1:]))";
        if let Ok(py) = std::process::Command::new("python3").arg("-c").arg(script).arg(&scores).output()
            && py.status.success()
        {
            let got = String::from_utf8(py.stdout).unwrap();
            assert_eq!(got.trim_end_matches('\n').split('\x1f').collect::<Vec<_>>(), ids);
        } else {
            eprintln!("python3 not available: checked with the csv crate only");
        }
    }

    /// The ROC goes out as SVG, PNG and the CSV of every curve's points,
    /// each curve running from (0, 0) to (1, 1), all listed in the report.
    #[test]
    fn roc_is_written_as_svg_png_and_csv() {
        let d = tempfile::tempdir().unwrap();
        let mut text = String::from("id,label,member,logit_0,logit_1\n");
        for i in 0..40 {
            text += &format!("{i},{},{},{},{}\n", i % 2, (i / 3) % 2, (i as f64 * 0.37).sin(), (i as f64 * 0.11).cos());
        }
        let input = write(d.path(), "model.csv", &text);
        let out = d.path().join("out");
        let report = audit(&input, &[], &out).unwrap();
        for f in ["roc.svg", "roc.png", "roc.csv"] {
            assert!(report.files.iter().any(|p| p.ends_with(f)), "{f} not listed in {:?}", report.files);
        }
        assert!(std::fs::read(out.join("roc.png")).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let mut r = csv::Reader::from_path(out.join("roc.csv")).unwrap();
        assert_eq!(r.headers().unwrap(), vec!["curve", "fpr", "tpr"]);
        let rows: Vec<(String, f64, f64)> = r
            .records()
            .map(|x| x.unwrap())
            .map(|x| (x[0].to_string(), x[1].parse().unwrap(), x[2].parse().unwrap()))
            .collect();
        assert!(!report.attacks.is_empty());
        for name in report.attacks.keys() {
            let pts: Vec<&(String, f64, f64)> = rows.iter().filter(|p| &p.0 == name).collect();
            assert!(pts.len() >= 2, "curve {name} has {} points", pts.len());
            assert_eq!((pts[0].1, pts[0].2), (0.0, 0.0), "{name} starts at the origin");
            assert_eq!((pts[pts.len() - 1].1, pts[pts.len() - 1].2), (1.0, 1.0), "{name} ends at (1, 1)");
        }
    }
}
