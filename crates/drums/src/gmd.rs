//! The full Groove MIDI Dataset (Gillick et al. 2019; CC BY 4.0): its
//! `info.csv` index with the official train / validation / test split.

use anyhow::Result;
use reprolab_core::user_bail;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One performance of the index (the columns of `info.csv` used here).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Performance {
    pub drummer: String,
    pub id: String,
    pub style: String,
    pub bpm: f64,
    /// `beat` or `fill`.
    pub beat_type: String,
    /// e.g. `4-4`.
    pub time_signature: String,
    /// Relative to the dataset root.
    pub midi_filename: String,
    pub duration: f64,
    /// `train`, `validation` or `test`.
    pub split: String,
}

impl Performance {
    pub fn midi_path(&self, root: &Path) -> PathBuf {
        root.join(&self.midi_filename)
    }
}

/// Reads `root/info.csv`; every row must name a known split.
pub fn load_index(root: &Path) -> Result<Vec<Performance>> {
    let path = root.join("info.csv");
    let shown = path.display();
    let mut reader = csv::Reader::from_path(&path)
        .map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read the Groove MIDI index ({e})")))?;
    let mut rows = Vec::new();
    for (i, row) in reader.deserialize::<Performance>().enumerate() {
        // A row the index's columns do not fit is the file's fault: a user error.
        let row = row.map_err(|e| reprolab_core::user_error(format!("{shown}: row {}: {e}", i + 2)))?;
        if !["train", "validation", "test"].contains(&row.split.as_str()) {
            user_bail!("{shown}: row {}: unknown split '{}'", i + 2, row.split);
        }
        // `NaN` and `inf` parse as numbers; a tempo or duration must be a real one.
        if !(row.bpm.is_finite() && row.bpm > 0.0 && row.duration.is_finite() && row.duration >= 0.0) {
            user_bail!("{shown}: row {}: bpm {} or duration {} is not a positive number", i + 2, row.bpm, row.duration);
        }
        rows.push(row);
    }
    if rows.is_empty() {
        user_bail!("{shown}: no performances");
    }
    Ok(rows)
}
