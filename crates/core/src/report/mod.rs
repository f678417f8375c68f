//! The Report model of an experiment and its writers.
//!
//! A [`Report`] holds the paper, the claim in one sentence, the arms, a
//! table of metrics per arm (mean +- std over seeds and the per-seed
//! values), the verdict with the rule that decided it, the wall time and
//! figures. [`write_reports`] turns one or more reports into REPORT.md,
//! report.json and a single-file index.html with the plots inline, and
//! every figure into figures/ (SVG, PNG and the CSV of its numbers),
//! atomically.

pub mod html;
pub mod markdown;
pub mod plot;
mod write;

pub use write::{write_atomic, write_bytes_atomic, write_figure, write_reports};

use crate::stats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Outcome of a claim check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Supported,
    NotSupported,
    Inconclusive,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Supported => "supported",
            Outcome::NotSupported => "not supported",
            Outcome::Inconclusive => "inconclusive",
        })
    }
}

/// The verdict and the rule (written before the run) that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The pass rule, in words.
    pub rule: String,
    /// The measured numbers the rule was applied to, in one line.
    pub evidence: String,
}

impl Verdict {
    /// Supported when `passed`, otherwise not supported.
    pub fn from_rule(passed: bool, rule: &str, evidence: String) -> Self {
        Self { outcome: if passed { Outcome::Supported } else { Outcome::NotSupported }, rule: rule.into(), evidence }
    }

    /// Inconclusive, with the reason in the evidence.
    pub fn inconclusive(rule: &str, why: String) -> Self {
        Self { outcome: Outcome::Inconclusive, rule: rule.into(), evidence: why }
    }
}

/// One metric of one arm over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub mean: f64,
    pub std: f64,
    pub values: Vec<f64>,
}

impl Cell {
    pub fn from_values(values: Vec<f64>) -> Self {
        Self { mean: stats::mean(&values), std: stats::std(&values), values }
    }
}

/// Per-seed results of every (arm, metric), kept in insertion order of arms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub arms: Vec<String>,
    pub metrics: Vec<String>,
    /// `cells[arm][metric]`.
    pub cells: BTreeMap<String, BTreeMap<String, Cell>>,
}

impl Results {
    /// Adds one seed's `value` of `metric` for `arm`.
    pub fn record(&mut self, arm: &str, metric: &str, value: f64) {
        if !self.arms.iter().any(|a| a == arm) {
            self.arms.push(arm.to_string());
        }
        if !self.metrics.iter().any(|m| m == metric) {
            self.metrics.push(metric.to_string());
        }
        let cell =
            self.cells.entry(arm.into()).or_default().entry(metric.into()).or_insert_with(|| Cell::from_values(vec![]));
        cell.values.push(value);
        *cell = Cell::from_values(std::mem::take(&mut cell.values));
    }

    /// The cell of (`arm`, `metric`), if recorded.
    pub fn cell(&self, arm: &str, metric: &str) -> Option<&Cell> {
        self.cells.get(arm)?.get(metric)
    }

    /// The cell of (`arm`, `metric`), or an error naming the missing cell
    /// and what was recorded: what verdict rules read, so a misspelt arm
    /// or metric fails loudly instead of reading as a NaN that fails the
    /// rule ("not supported") in silence.
    pub fn require(&self, arm: &str, metric: &str) -> anyhow::Result<&Cell> {
        self.cell(arm, metric).ok_or_else(|| {
            anyhow::anyhow!(
                "no result for arm '{arm}', metric '{metric}' (arms: {}; metrics: {})",
                self.arms.join(", "),
                self.metrics.join(", ")
            )
        })
    }

    /// True when every recorded value is finite.
    pub fn all_finite(&self) -> bool {
        self.cells.values().flat_map(|m| m.values()).all(|c| c.values.iter().all(|v| v.is_finite()))
    }
}

/// A figure: a chart (drawn as SVG and PNG, its numbers as CSV) or PNG
/// bytes (image grids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// File stem, unique within the report (e.g. `accuracy_bars`).
    pub name: String,
    pub caption: String,
    pub content: FigureContent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureContent {
    /// A chart with the labels and numbers it is drawn from; written as
    /// NAME.svg, NAME.png and NAME.csv ([`write_figure`]).
    Chart(plot::Chart),
    /// SVG text without its numbers: what reports and cached units held
    /// before charts kept their data; still read so they can be resumed.
    Svg(String),
    /// PNG bytes, base64 in JSON.
    Png(#[serde(with = "base64_bytes")] Vec<u8>),
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// The result of one experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Registry name of the method (e.g. `offline-rl`).
    pub method: String,
    /// Paper reference (authors, venue, arXiv id).
    pub paper: String,
    /// The claim tested, in one sentence.
    pub claim: String,
    pub preset: String,
    pub seeds: Vec<u64>,
    pub results: Results,
    pub verdict: Verdict,
    pub wall_time_s: f64,
    pub figures: Vec<Figure>,
    /// Setup details and caveats worth a reader's attention.
    pub notes: Vec<String>,
    /// Further tables (sub-experiments, ablations), each with a title.
    #[serde(default)]
    pub tables: Vec<Table>,
}

/// A titled table of per-seed results, rendered after the main one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub results: Results,
}

impl Report {
    /// A report with no figures or notes; the caller sets `wall_time_s` or
    /// lets the registry do it.
    pub fn new(
        method: &str,
        paper: &str,
        claim: &str,
        preset: &str,
        seeds: Vec<u64>,
        results: Results,
        verdict: Verdict,
    ) -> Self {
        Self {
            method: method.into(),
            paper: paper.into(),
            claim: claim.into(),
            preset: preset.into(),
            seeds,
            results,
            verdict,
            wall_time_s: 0.0,
            figures: Vec::new(),
            notes: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// Adds a titled table after the main one.
    pub fn table(mut self, title: &str, results: Results) -> Self {
        self.tables.push(Table { title: title.into(), results });
        self
    }

    pub fn figure(mut self, name: &str, caption: &str, content: FigureContent) -> Self {
        self.figures.push(Figure { name: name.into(), caption: caption.into(), content });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// Several reports from one `reproduce` (or one `run`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reproduction {
    pub preset: String,
    /// UTC start time, RFC 3339.
    pub started: String,
    pub reports: Vec<Report>,
    /// Methods that failed, with their error (they have no report).
    pub failures: Vec<(String, String)>,
    /// What produced the run (version, commit, command, machine, times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::provenance::Provenance>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_names_the_missing_cell_and_what_exists() {
        let mut r = Results::default();
        r.record("student", "acc", 0.5);
        r.record("student", "acc", 0.7);
        let cell = r.require("student", "acc").unwrap();
        assert!((cell.mean - 0.6).abs() < 1e-12);
        assert_eq!(cell.values, vec![0.5, 0.7]);
        let err = r.require("studnet", "acc").unwrap_err().to_string();
        assert!(
            err.contains("arm 'studnet'") && err.contains("arms: student") && err.contains("metrics: acc"),
            "{err}"
        );
        assert!(r.require("student", "auc").is_err());
    }
}
