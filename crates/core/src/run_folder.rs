//! The folder a command writes into. Every command that produces results
//! (`run`, `reproduce`, each method's `train`) refuses an `--out` that
//! already holds files unless told to overwrite it, so a second run never
//! mixes its files with an earlier one's; and every `train` command leaves
//! the same record behind: `config.toml` (the settings it ran with) and
//! `report.json` (method, command, provenance, seeds, settings, result),
//! beside its checkpoint and its `metrics.jsonl`.

use crate::provenance::Provenance;
use crate::train::MetricsLog;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What to tell the user about an `--out` that holds files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// The command can continue a run in the folder (`--resume DIR`).
    Resumable,
    /// The command can only start afresh.
    FreshOnly,
}

/// Refuses `out` if it exists and is not empty, unless `overwrite`.
pub fn claim(out: &Path, overwrite: bool, reuse: Reuse) -> Result<()> {
    let used = match std::fs::read_dir(out) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            crate::user_bail!("{}: is a file, not a folder; choose another --out", out.display())
        }
        Err(e) => crate::user_bail!("{}: cannot use as the output folder ({e})", out.display()),
    };
    if used && !overwrite {
        let resume = match reuse {
            Reuse::Resumable => format!(", or --resume {} to continue the run it holds", out.display()),
            Reuse::FreshOnly => String::new(),
        };
        crate::user_bail!("{}: exists and is not empty; pass --overwrite to write into it{resume}", out.display());
    }
    Ok(())
}

/// `report.json` of a `train` command's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRecord {
    /// The method whose command ran (`reprolab export` reads it).
    pub method: String,
    /// The command (`train`, `distill`, ...).
    pub command: String,
    pub provenance: Provenance,
    pub seeds: Vec<u64>,
    /// The settings, as in `config.toml`.
    pub config: serde_json::Value,
    /// The command's summary; null until it finished.
    pub result: serde_json::Value,
}

impl TrainRecord {
    /// Reads `DIR/report.json` (a user error naming the file when it is
    /// missing or not a train record).
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(REPORT);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| crate::user_error(format!("{}: cannot read ({e})", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| crate::user_error(format!("{}: not a reprolab train record ({e})", path.display())))
    }
}

/// What `<method> <command> --resume DIR` finds in a train folder.
#[derive(Debug)]
pub enum Resume<C> {
    /// The run did not finish: the settings it recorded, and the record
    /// (to check a rebuilt command's settings against).
    Unfinished(C, Box<TrainRecord>),
    /// The run finished: its result, nothing to resume.
    Finished(serde_json::Value),
}

impl TrainRecord {
    /// Reads `dir`'s record for `<method> <command> --resume DIR`. Refuses,
    /// in one line, a folder without a train record, one of another
    /// command, or settings that do not parse as `C`; gives an unfinished
    /// run's settings or a finished run's result.
    pub fn for_resume<C: serde::de::DeserializeOwned>(dir: &Path, method: &str, command: &str) -> Result<Resume<C>> {
        let shown = dir.display();
        let record = Self::read(dir)
            .map_err(|e| crate::user_error(format!("{shown}: not a `{method} {command}` folder to resume ({e})")))?;
        if (record.method.as_str(), record.command.as_str()) != (method, command) {
            crate::user_bail!(
                "{shown}: not a `{method} {command}` folder (its report.json is from `{} {}`)",
                record.method,
                record.command
            );
        }
        if !record.result.is_null() {
            return Ok(Resume::Finished(record.result));
        }
        let settings = serde_json::from_value(record.config.clone()).map_err(|e| {
            crate::user_error(format!("{shown}: report.json does not hold `{method} {command}` settings ({e})"))
        })?;
        Ok(Resume::Unfinished(settings, Box::new(record)))
    }
}

/// The train record's file name in a train folder (`reprolab export` reads it too).
pub const REPORT: &str = "report.json";
const CONFIG: &str = "config.toml";
const METRICS: &str = "metrics.jsonl";

/// A `train` command's output folder, claimed and recorded.
#[derive(Debug)]
pub struct TrainFolder {
    dir: PathBuf,
    record: TrainRecord,
}

impl TrainFolder {
    /// Claims `dir` (see [`claim`]), creates it and writes `config.toml`
    /// and a `report.json` without a result, so a run that dies still says
    /// what it was. `config` is the command's full settings (it must
    /// serialise to a TOML table).
    pub fn open<C: Serialize>(
        method: &str,
        command: &str,
        dir: &Path,
        overwrite: bool,
        config: &C,
        seeds: &[u64],
    ) -> Result<Self> {
        claim(dir, overwrite, Reuse::FreshOnly)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::user_error(format!("{}: cannot create the output folder ({e})", dir.display())))?;
        let toml_text = toml::to_string(config).map_err(|e| {
            if e.to_string().contains("UTF-8") {
                crate::user_error(format!(
                    "{}: a path among the settings is not UTF-8, and config.toml (which records them so the run can be repeated) holds UTF-8 only: rename it",
                    dir.display()
                ))
            } else {
                anyhow::Error::new(e).context("the command's settings do not form a TOML table")
            }
        })?;
        let header = format!("# reprolab {method} {command}: the settings this folder was trained with.\n");
        crate::report::write_bytes_atomic(&dir.join(CONFIG), format!("{header}{toml_text}"))?;
        let record = TrainRecord {
            method: method.to_string(),
            command: command.to_string(),
            provenance: Provenance::now(),
            seeds: seeds.to_vec(),
            config: serde_json::to_value(config)?,
            result: serde_json::Value::Null,
        };
        let folder = Self { dir: dir.to_path_buf(), record };
        folder.write_record()?;
        Ok(folder)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh `metrics.jsonl` in the folder.
    pub fn metrics(&self) -> Result<MetricsLog> {
        MetricsLog::create(&self.dir.join(METRICS))
    }

    /// Records the command's summary and its end time.
    pub fn finish<R: Serialize>(mut self, result: &R) -> Result<()> {
        self.record.result = serde_json::to_value(result)?;
        self.record.provenance.finish();
        self.write_record()
    }

    fn write_record(&self) -> Result<()> {
        crate::report::write_bytes_atomic(&self.dir.join(REPORT), serde_json::to_string_pretty(&self.record)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Settings {
        steps: usize,
        lr: f64,
        data: Vec<PathBuf>,
        hidden: Option<usize>,
        inner: Inner,
    }
    #[derive(Serialize)]
    struct Inner {
        alpha: f64,
    }

    fn settings() -> Settings {
        Settings { steps: 5, lr: 0.01, data: vec!["a, b.csv".into()], hidden: None, inner: Inner { alpha: 2.5 } }
    }

    #[test]
    fn a_train_folder_holds_its_settings_and_provenance_then_its_result() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let folder = TrainFolder::open("toy", "train", &dir, false, &settings(), &[7]).unwrap();
        let mut log = folder.metrics().unwrap();
        log.log(1, "loss", 0.5).unwrap();
        let early = TrainRecord::read(&dir).unwrap();
        assert_eq!((early.method.as_str(), early.command.as_str(), early.seeds.as_slice()), ("toy", "train", &[7][..]));
        assert!(early.result.is_null() && early.provenance.finished.is_none());
        assert_eq!(early.config["inner"]["alpha"], 2.5);
        let config: toml::Table = std::fs::read_to_string(dir.join("config.toml")).unwrap().parse().unwrap();
        assert_eq!(config["steps"].as_integer(), Some(5));
        assert_eq!(config["data"][0].as_str(), Some("a, b.csv"));
        assert_eq!(config["inner"]["alpha"].as_float(), Some(2.5));
        assert!(!config.contains_key("hidden"), "None is left out, not written as a string");
        folder.finish(&serde_json::json!({"final_loss": 0.25})).unwrap();
        let done = TrainRecord::read(&dir).unwrap();
        assert_eq!(done.result["final_loss"], 0.25);
        assert!(done.provenance.finished.is_some());
        assert!(!done.provenance.cpu.is_empty() && !done.provenance.command_line.is_empty());
        assert!(dir.join("metrics.jsonl").exists());
    }

    #[test]
    fn a_used_folder_is_refused_unless_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        claim(&dir, false, Reuse::FreshOnly).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        claim(&dir, false, Reuse::FreshOnly).unwrap();
        std::fs::write(dir.join("model.safetensors"), b"x").unwrap();
        let err = TrainFolder::open("toy", "train", &dir, false, &settings(), &[0]).unwrap_err();
        assert!(crate::is_user_error(&err));
        assert_eq!(
            err.to_string(),
            format!("{}: exists and is not empty; pass --overwrite to write into it", dir.display())
        );
        let resumable = claim(&dir, false, Reuse::Resumable).unwrap_err().to_string();
        assert!(resumable.ends_with(&format!("or --resume {} to continue the run it holds", dir.display())));
        TrainFolder::open("toy", "train", &dir, true, &settings(), &[0]).unwrap();
        let file = dir.join("model.safetensors");
        let err = claim(&file, false, Reuse::FreshOnly).unwrap_err().to_string();
        assert!(err.contains("is a file, not a folder"), "{err}");
    }

    #[test]
    fn reading_a_folder_without_a_record_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let err = TrainRecord::read(tmp.path()).unwrap_err();
        assert!(crate::is_user_error(&err) && err.to_string().contains("report.json: cannot read"), "{err}");
        std::fs::write(tmp.path().join("report.json"), "{\"tables\": []}").unwrap();
        let err = TrainRecord::read(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not a reprolab train record"), "{err}");
    }
}
