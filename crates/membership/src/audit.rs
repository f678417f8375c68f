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

use crate::attacks::{self, METRICS, NamedScores, Variance};
use crate::shadow::ModelOutputs;
use anyhow::Result;
use reprolab_core::data::npy::load_npz;
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
    pub n_classes: usize,
    /// Row-major `[n, n_classes]` logits (log-probabilities for `prob_*` input).
    pub logits: Vec<f32>,
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
        if let Some(m) = &self.members {
            let n_in = m.iter().filter(|&&x| x).count();
            if n_in == 0 || n_in == m.len() {
                user_bail!(
                    "{shown}: 'member' has a single class ({n_in} of {} are members); an audit needs both",
                    m.len()
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.ids.iter().find(|id| !seen.insert(id.as_str())) {
            user_bail!("{shown}: id '{dup}' appears twice");
        }
        Ok(())
    }
}

/// Turns one row of probabilities into log-probabilities, checking them.
fn probs_to_logits(probs: &[f64], what: &str) -> Result<Vec<f32>> {
    if probs.iter().any(|p| !(0.0..=1.0).contains(p)) {
        user_bail!("{what}: probabilities must lie in [0, 1]");
    }
    let sum: f64 = probs.iter().sum();
    if (sum - 1.0).abs() > PROB_TOLERANCE {
        user_bail!("{what}: probabilities sum to {sum:.6}, not 1 (tolerance {PROB_TOLERANCE})");
    }
    Ok(probs.iter().map(|&p| p.max(1e-30).ln() as f32).collect())
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
        n_classes: cols.len(),
        logits: vec![],
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
            m.push(match field(c) {
                "1" => true,
                "0" => false,
                other => user_bail!("{what}: member must be 0 or 1, got '{other}'"),
            });
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
            f.logits.extend(probs_to_logits(&values, &what)?);
        } else {
            f.logits.extend(values.iter().map(|&v| v as f32));
        }
    }
    Ok(f)
}

fn read_npz(path: &Path) -> Result<ModelFile> {
    let shown = path.display();
    let mut arrays = load_npz(path)?;
    let mut take = |name: &str| arrays.remove(name);
    let (Some(id), Some(label)) = (take("id"), take("label")) else {
        user_bail!("{shown}: needs arrays 'id' and 'label'");
    };
    let member = take("member");
    let (outputs, are_probs) = match (take("logits"), take("probs")) {
        (Some(l), None) => (l, false),
        (None, Some(p)) => (p, true),
        (Some(_), Some(_)) => user_bail!("{shown}: has both 'logits' and 'probs'; keep one"),
        (None, None) => user_bail!("{shown}: needs an array 'logits' or 'probs' of shape [n, C]"),
    };
    let n = label.data.len();
    let [rows, c] = outputs.shape[..] else { user_bail!("{shown}: outputs must be [n, C], got {:?}", outputs.shape) };
    if rows != n || id.data.len() != n || member.as_ref().is_some_and(|m| m.data.len() != n) {
        user_bail!("{shown}: arrays disagree on the number of examples");
    }
    if outputs.data.iter().any(|v| !v.is_finite()) {
        user_bail!("{shown}: outputs contain NaN or infinite values");
    }
    let mut logits = Vec::with_capacity(n * c);
    for (i, row) in outputs.data.chunks(c).enumerate() {
        if are_probs {
            let p: Vec<f64> = row.iter().map(|&v| v as f64).collect();
            logits.extend(probs_to_logits(&p, &format!("{shown}: row {i}"))?);
        } else {
            logits.extend_from_slice(row);
        }
    }
    let members = match member {
        Some(m) if m.data.iter().any(|&v| v != 0.0 && v != 1.0) => user_bail!("{shown}: 'member' must be 0 or 1"),
        Some(m) => Some(m.data.iter().map(|&v| v == 1.0).collect()),
        None => None,
    };
    if label.data.iter().any(|&v| v < 0.0 || v.fract() != 0.0) {
        user_bail!("{shown}: 'label' must hold class indices");
    }
    Ok(ModelFile {
        ids: id.data.iter().map(|v| format!("{v}")).collect(),
        labels: label.data.iter().map(|&v| v as usize).collect(),
        members,
        n_classes: c,
        logits,
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
    /// Files written.
    pub files: Vec<String>,
}

/// Puts the audited model first and the shadows after it, aligning every
/// shadow's rows to the audited file's ids.
fn stack(target: &ModelFile, shadows: &[(PathBuf, ModelFile)]) -> Result<ModelOutputs> {
    let n = target.len();
    let c = target.n_classes;
    let index: BTreeMap<&str, usize> = target.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut out = ModelOutputs {
        n_models: 1 + shadows.len(),
        n_examples: n,
        n_classes: c,
        logits: target.logits.clone(),
        members: target.members.clone().unwrap_or_else(|| vec![false; n]),
        labels: target.labels.clone(),
        robustness: Vec::new(),
        n_queries: 0,
        query_logits: Vec::new(),
    };
    for (path, s) in shadows {
        let shown = path.display();
        if s.n_classes != c || s.len() != n {
            user_bail!("{shown}: has {} examples x {} classes, the audited file {n} x {c}", s.len(), s.n_classes);
        }
        let Some(members) = &s.members else { user_bail!("{shown}: a shadow file needs a 'member' column") };
        let mut logits = vec![0f32; n * c];
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
            logits[i * c..(i + 1) * c].copy_from_slice(&s.logits[r * c..(r + 1) * c]);
            member[i] = members[r];
        }
        out.logits.extend(logits);
        out.members.extend(member);
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

/// Every applicable attack's scores on the audited model, and the skipped ones.
fn run_attacks(out: &ModelOutputs) -> (NamedScores, BTreeMap<String, String>) {
    let mut scores: NamedScores =
        METRICS.iter().map(|(name, stat)| (name.replace(' ', "_"), attacks::metric(out, 0, *stat))).collect();
    let mut skipped = BTreeMap::new();
    let shadow_attacks =
        ["loss_per_class", "lira_offline", "lira_offline_fixed_variance", "lira_online", "lira_online_fixed_variance"];
    if out.n_models < 2 {
        for a in shadow_attacks {
            skipped.insert(a.into(), "needs shadow model outputs (--shadows)".into());
        }
    } else {
        scores.push(("loss_per_class".into(), attacks::metric_per_class(out, 0, METRICS[0].1)));
        scores.push(("lira_offline".into(), attacks::lira_offline(out, 0, Variance::PerExample)));
        scores.push(("lira_offline_fixed_variance".into(), attacks::lira_offline(out, 0, Variance::Fixed)));
        let any_in = (1..out.n_models).any(|m| out.members_of(m).iter().any(|&x| x));
        if any_in {
            scores.push(("lira_online".into(), attacks::lira_online(out, 0, Variance::PerExample)));
            scores.push(("lira_online_fixed_variance".into(), attacks::lira_online(out, 0, Variance::Fixed)));
        } else {
            for a in ["lira_online", "lira_online_fixed_variance"] {
                skipped.insert(a.into(), "needs shadows that trained on some of the examples (member = 1)".into());
            }
        }
    }
    if out.n_models < 2 {
        for a in ["rmia", "shadow_classifier_top3", "shadow_classifier_per_class"] {
            skipped.insert(a.into(), "needs shadow model outputs (--shadows)".into());
        }
    } else {
        let population: Vec<usize> = (0..out.n_examples).collect();
        scores.push(("rmia".into(), attacks::rmia(out, 0, &population, 1.0)));
        for (name, kind) in [
            ("shadow_classifier_top3", attacks::AttackFeatures::Top3Sorted),
            ("shadow_classifier_per_class", attacks::AttackFeatures::FullVectorPerClass),
        ] {
            match attacks::shadow_classifier(out, 0, kind, 64, &attack_model_fit(), 0) {
                Ok(s) => scores.push((name.into(), s)),
                Err(e) => {
                    skipped.insert(name.into(), format!("attack model failed: {e}"));
                }
            }
        }
    }
    (scores, skipped)
}

/// Runs the audit and writes `report.json`, `summary.md`, `scores.csv`
/// and (with membership) `roc.svg`, `roc.png` and `roc.csv` into `out_dir`.
pub fn audit(input: &Path, shadows: &[PathBuf], out_dir: &Path) -> Result<Audit> {
    let target = read_model_file(input)?;
    let shadow_files: Vec<(PathBuf, ModelFile)> =
        shadows.iter().map(|p| Ok((p.clone(), read_model_file(p)?))).collect::<Result<_>>()?;
    let stacked = stack(&target, &shadow_files)?;
    let (scores, mut skipped) = run_attacks(&stacked);
    let mut report = Audit {
        input: input.display().to_string(),
        n_examples: target.len(),
        n_classes: target.n_classes,
        n_members: target.members.as_ref().map(|m| m.iter().filter(|&&x| x).count()),
        n_shadows: shadows.len(),
        attacks: BTreeMap::new(),
        skipped: BTreeMap::new(),
        files: vec![],
    };
    let scores_path = out_dir.join("scores.csv");
    // csv::Writer quotes ids holding commas, quotes or line breaks.
    write_atomic(&scores_path, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(std::iter::once("id").chain(scores.iter().map(|(name, _)| name.as_str())))?;
        for (i, id) in target.ids.iter().enumerate() {
            let values = scores.iter().map(|(_, s)| s[i].to_string());
            out.write_record(std::iter::once(id.to_string()).chain(values))?;
        }
        out.flush()?;
        Ok(())
    })?;
    report.files.push(scores_path.display().to_string());
    if let Some(members) = &target.members {
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
        let floor = 1.0 / (members.iter().filter(|&&m| !m).count() as f64).max(10.0);
        // roc.svg, with roc.png and roc.csv (each curve's fpr, tpr) beside it.
        let roc = roc_log_log("Membership attacks on the audited model", &curves, floor)?;
        report.files.extend(write_figure(out_dir, "roc", &roc)?.iter().map(|p| p.display().to_string()));
    } else {
        skipped.insert("metrics".into(), "the audited file has no 'member' column: scores only".into());
    }
    report.skipped = skipped;
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
        for (stat_name, stat) in METRICS {
            for i in 0..2 {
                let (sl, sp) =
                    (stat(&l.logits[i * 2..i * 2 + 2], l.labels[i]), stat(&p.logits[i * 2..i * 2 + 2], p.labels[i]));
                assert!((sl - sp).abs() < 1e-5, "{stat_name}: {sl} vs {sp}");
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
