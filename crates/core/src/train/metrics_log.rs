//! `metrics.jsonl`: one JSON object a line, `{"step": N, "name": "...",
//! "value": x}`, for every loss, learning rate and evaluation score a
//! training loop records, so users plot runs with their own tools (pandas:
//! `pd.read_json(path, lines=True)`). Each line is written whole and
//! flushed at once: a killed run leaves every line it logged and no torn
//! one. A non-finite value is written as `null` (JSON has no NaN).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One logged value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    pub step: usize,
    pub name: String,
    /// `None` for NaN or an infinity.
    pub value: Option<f64>,
}

/// An open `metrics.jsonl`.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
        Ok(Self { path: path.to_path_buf(), file })
    }

    /// Appends one value.
    pub fn log(&mut self, step: usize, name: &str, value: f64) -> Result<()> {
        let record = MetricRecord { step, name: name.to_string(), value: value.is_finite().then_some(value) };
        let mut line = serde_json::to_string(&record)?;
        line.push('\n');
        // One write of the whole line: readers never see half of it.
        self.file.write_all(line.as_bytes()).with_context(|| format!("{}: cannot append", self.path.display()))
    }

    /// Appends several values of the same step.
    pub fn log_all(&mut self, step: usize, values: &[(&str, f64)]) -> Result<()> {
        values.iter().try_for_each(|&(name, value)| self.log(step, name, value))
    }

    /// A logger for one phase of a command (`teacher`, `pretrain`, ...):
    /// every name goes under `phase/` and every step is moved by `offset`,
    /// so phases share one step axis.
    pub fn phase<'a>(&'a mut self, phase: &'a str, offset: usize) -> impl FnMut(usize, &str, f64) -> Result<()> + 'a {
        move |step, name, value| self.log(offset + step, &format!("{phase}/{name}"), value)
    }

    /// Reads a `metrics.jsonl` back (tests, tools).
    pub fn read(path: &Path) -> Result<Vec<MetricRecord>> {
        // User errors naming the file: `reprolab` tools read logs users hand them.
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::user_error(format!("{}: cannot read ({e})", path.display())))?;
        text.lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| {
                    crate::user_error(format!("{}: line {} is not a metric record ({e})", path.display(), i + 1))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_one_json_line_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        let mut log = MetricsLog::create(&path).unwrap();
        log.log(0, "loss", 1.25).unwrap();
        log.log_all(10, &[("loss", 0.5), ("lr", 3e-4), ("eval/return", f64::NAN)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().next().unwrap(), r#"{"step":0,"name":"loss","value":1.25}"#);
        assert_eq!(text.lines().last().unwrap(), r#"{"step":10,"name":"eval/return","value":null}"#);
        let back = MetricsLog::read(&path).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back[2], MetricRecord { step: 10, name: "lr".into(), value: Some(3e-4) });
        assert_eq!(back[3].value, None);
    }

    #[test]
    fn a_phase_prefixes_names_and_offsets_steps() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        let mut log = MetricsLog::create(&path).unwrap();
        (log.phase("teacher", 0))(4, "loss", 1.0).unwrap();
        (log.phase("student", 200))(4, "eval/accuracy", 0.5).unwrap();
        let back = MetricsLog::read(&path).unwrap();
        assert_eq!((back[0].step, back[0].name.as_str()), (4, "teacher/loss"));
        assert_eq!((back[1].step, back[1].name.as_str()), (204, "student/eval/accuracy"));
    }

    #[test]
    fn creating_truncates_an_earlier_log_and_a_torn_line_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        std::fs::write(&path, "{\"step\":1,\"name\":\"loss\",\"va").unwrap();
        assert!(MetricsLog::read(&path).unwrap_err().to_string().contains("line 1 is not a metric record"));
        MetricsLog::create(&path).unwrap().log(3, "loss", 2.0).unwrap();
        assert_eq!(
            MetricsLog::read(&path).unwrap(),
            vec![MetricRecord { step: 3, name: "loss".into(), value: Some(2.0) }]
        );
    }
}
