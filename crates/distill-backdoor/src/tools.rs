//! `reprolab distill-backdoor distill` and `evaluate`: distil a dataset
//! (with or without an attack) into a folder people can inspect and reuse,
//! and measure any such folder with fresh networks. Both use the quick
//! preset's network, loops and evaluation settings, with the network's
//! input shape taken from the data.

use crate::attack::{AttackConfig, AttackKind, Poisoned};
use crate::data::{ImageData, digits, from_dir};
use crate::distill::{DistillConfig, Distilled, Method, distill};
use crate::experiment::{AttackMetrics, Config, evaluate, synthetic_labels};
use crate::net::NetConfig;
use anyhow::Result;
use reprolab_core::data::npy::{Array, load_npy, save_npy};
use reprolab_core::registry::{self, Preset, Validate};
use reprolab_core::report::plot::GridLabels;
use reprolab_core::run_folder::TrainFolder;
use reprolab_core::user_bail;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `distill` writes to `distill.json`, and `evaluate` reads back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyntheticSet {
    pub data: String,
    pub method: Method,
    pub ipc: usize,
    pub attack: AttackConfig,
    pub net: NetConfig,
    pub seed: u64,
    /// Matching loss per iteration.
    pub loss: Vec<f64>,
}

/// The preset's settings with the network fitted to `data`.
fn settings(data: &ImageData) -> Result<Config> {
    let mut cfg: Config = registry::preset_config("distill-backdoor", Preset::Quick)?;
    cfg.net.channels = data.train.channels;
    cfg.net.side = data.train.side;
    cfg.net.classes = data.train.classes;
    cfg.net.validate().map_err(|e| reprolab_core::user_error(format!("{}: {e:#}", data.name)))?;
    Ok(cfg)
}

/// `--data DIR` (IDX or CIFAR-10 files) or the embedded digits.
pub fn load_data(dir: Option<&Path>, seed: u64) -> Result<ImageData> {
    match dir {
        Some(d) => from_dir(d),
        None => digits(seed),
    }
}

/// What `distill` is asked to do.
#[derive(Debug, Clone)]
pub struct DistillRequest {
    /// IDX or CIFAR-10 folder; the embedded digits when absent.
    pub data_dir: Option<PathBuf>,
    pub method: Method,
    pub ipc: usize,
    pub attack: AttackKind,
    pub ratio: f64,
    /// Default: the quick preset's.
    pub iterations: Option<usize>,
    pub seed: u64,
    pub out: PathBuf,
    /// Write into a non-empty `out`.
    pub overwrite: bool,
}

/// The settings `distill` ran with, every default filled in: the folder's
/// `config.toml`, laid out like the experiment's config (`distill`,
/// `attack` and `net` tables).
#[derive(Serialize)]
struct DistillSettings<'a> {
    /// The `--data` folder; absent for the embedded digits.
    data_dir: Option<&'a Path>,
    /// The data set's name.
    data: &'a str,
    method: Method,
    seed: u64,
    out: &'a Path,
    overwrite: bool,
    distill: &'a DistillConfig,
    attack: &'a AttackConfig,
    net: &'a NetConfig,
}

/// What `distill` printed, as `report.json`'s result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DistillSummary {
    pub data: String,
    pub method: Method,
    pub attack: AttackKind,
    pub ipc: usize,
    pub iterations: usize,
    /// The last iteration's matching loss.
    pub final_loss: f64,
    /// DOORPING's trigger updates (0 for the other attacks).
    pub trigger_updates: usize,
    pub out: PathBuf,
}

/// Distils and writes `out/`: first `config.toml` and `report.json`
/// (provenance; the summary once done), then `metrics.jsonl` as it
/// distils, `synthetic.npy` `[n, c, side, side]` (normalised values),
/// `labels.npy`, `synthetic.png` (one row per class), for attacks
/// `trigger.npy` and `trigger.png`, and `distill.json`.
pub fn distill_command(req: &DistillRequest) -> Result<SyntheticSet> {
    let DistillRequest { ref data_dir, method, ipc, attack, ratio, iterations, seed, ref out, overwrite } = *req;
    let data_dir = data_dir.as_deref();
    if ipc == 0 {
        user_bail!("--ipc must be at least 1");
    }
    let data = load_data(data_dir, seed)?;
    let mut cfg = settings(&data)?;
    // DM's network as in the experiment (instance norm, as the official DM).
    cfg.net = crate::experiment::arm_net(&cfg, method);
    let mut dcfg = cfg.distill.clone();
    dcfg.ipc = ipc;
    if method == Method::Dm {
        dcfg.iterations = cfg.dm_iterations;
    }
    if let Some(n) = iterations {
        dcfg.iterations = n;
    }
    let attack_cfg = AttackConfig { kind: attack, ratio, ..cfg.attack.clone() };
    let mut poisoned = Poisoned::new(&data, &attack_cfg, seed)?;
    let settings = DistillSettings {
        data_dir,
        data: &data.name,
        method,
        seed,
        out,
        overwrite,
        distill: &dcfg,
        attack: &attack_cfg,
        net: &cfg.net,
    };
    let folder = TrainFolder::open(crate::METHOD.name, "distill", out, overwrite, &settings, &[seed])?;
    let mut metrics = folder.metrics()?;
    let bar = reprolab_core::progress::bar(dcfg.iterations as u64, &format!("{} {}", method.name(), attack.name()));
    let syn = distill(method, &cfg.net, &dcfg, &mut poisoned, seed, &bar, Some(&mut metrics))?;
    bar.finish_and_clear();
    let n = syn.labels.len();
    let (c, s) = (cfg.net.channels, cfg.net.side);
    save_npy(&out.join("synthetic.npy"), &Array::new(vec![n, c, s, s], syn.images.clone())?)?;
    save_npy(&out.join("labels.npy"), &Array::new(vec![n], syn.labels.iter().map(|&y| y as f32).collect())?)?;
    let target = (attack != AttackKind::None).then_some(attack_cfg.target);
    let title = format!("{} {} synthetic set, seed {seed}", method.name(), attack.name());
    let labels = synthetic_labels(&title, n / ipc.max(1), target);
    write_grid(&out.join("synthetic.png"), &data, &cfg.net, &syn.images, ipc, &labels)?;
    if attack != AttackKind::None {
        save_npy(&out.join("trigger.npy"), &Array::new(vec![c, s, s], poisoned.trigger.clone())?)?;
        write_grid(&out.join("trigger.png"), &data, &cfg.net, &poisoned.trigger, 1, &GridLabels::default())?;
    }
    let set = SyntheticSet {
        data: data.name.clone(),
        method,
        ipc,
        attack: attack_cfg,
        net: cfg.net.clone(),
        seed,
        loss: syn.loss,
    };
    reprolab_core::report::write_bytes_atomic(&out.join("distill.json"), serde_json::to_vec_pretty(&set)?)?;
    folder.finish(&DistillSummary {
        data: set.data.clone(),
        method,
        attack,
        ipc,
        iterations: dcfg.iterations,
        final_loss: set.loss.last().copied().unwrap_or(f64::NAN),
        trigger_updates: syn.trigger_updates.len(),
        out: out.clone(),
    })?;
    Ok(set)
}

fn write_grid(
    path: &Path,
    data: &ImageData,
    net: &NetConfig,
    images: &[f32],
    cols: usize,
    labels: &GridLabels,
) -> Result<()> {
    let cells: Vec<Vec<f32>> = images.chunks(net.image_len()).map(|img| data.display_pixels(img)).collect();
    let scale = (64 / net.side).max(1);
    match reprolab_core::report::plot::labelled_image_grid(
        &cells,
        net.side,
        net.side,
        net.channels,
        cols,
        scale,
        labels,
    )? {
        reprolab_core::report::FigureContent::Png(bytes) => reprolab_core::report::write_bytes_atomic(path, bytes),
        _ => unreachable!("image_grid draws PNG"),
    }
}

/// Trains `networks` fresh networks on the synthetic set in `dir` and
/// measures clean accuracy and attack success on the test set.
pub fn evaluate_command(dir: &Path, data_dir: Option<&Path>, networks: usize) -> Result<(SyntheticSet, AttackMetrics)> {
    let meta_path = dir.join("distill.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        reprolab_core::user_error(format!(
            "{}: cannot read ({e}); is this a `distill` output folder?",
            meta_path.display()
        ))
    })?;
    let set: SyntheticSet =
        serde_json::from_str(&text).map_err(|e| reprolab_core::user_error(format!("{}: {e}", meta_path.display())))?;
    let data = load_data(data_dir, set.seed)?;
    if (data.train.channels, data.train.side) != (set.net.channels, set.net.side) {
        user_bail!(
            "{}: distilled from {}x{}x{} images, the data has {}x{}x{}",
            dir.display(),
            set.net.channels,
            set.net.side,
            set.net.side,
            data.train.channels,
            data.train.side,
            data.train.side
        );
    }
    let images = load_npy(&dir.join("synthetic.npy"))?;
    let labels = load_npy(&dir.join("labels.npy"))?;
    let n = labels.data.len();
    if images.data.len() != n * set.net.image_len() {
        user_bail!(
            "{}: {} values for {n} labels of {} values each",
            dir.join("synthetic.npy").display(),
            images.data.len(),
            set.net.image_len()
        );
    }
    if let Some(bad) = labels.data.iter().find(|&&y| y < 0.0 || y.fract() != 0.0 || y as usize >= set.net.classes) {
        user_bail!("{}: label {bad} is not a class index", dir.join("labels.npy").display());
    }
    if images.data.iter().any(|v| !v.is_finite()) {
        user_bail!("{}: non-finite values", dir.join("synthetic.npy").display());
    }
    let mut poisoned = Poisoned::new(&data, &AttackConfig { kind: AttackKind::None, ..set.attack.clone() }, set.seed)?;
    if set.attack.kind != AttackKind::None {
        let trigger = load_npy(&dir.join("trigger.npy"))?;
        if trigger.data.len() != set.net.image_len() {
            user_bail!(
                "{}: {} values, expected {}",
                dir.join("trigger.npy").display(),
                trigger.data.len(),
                set.net.image_len()
            );
        }
        poisoned.trigger = trigger.data;
    }
    let syn = Distilled {
        images: images.data,
        labels: labels.data.iter().map(|&y| y as usize).collect(),
        loss: Vec::new(),
        triggers: Vec::new(),
        trigger_updates: Vec::new(),
        updates_per_iteration: Vec::new(),
    };
    let mut cfg = settings(&data)?.eval;
    cfg.networks = networks.max(1);
    let (m, _) = evaluate(&set.net, &syn, &poisoned, &data, &cfg, set.seed)?;
    Ok((set, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_folders_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = evaluate_command(dir.path(), None, 1).unwrap_err().to_string();
        assert!(err.contains("distill.json: cannot read"), "{err}");
        std::fs::write(dir.path().join("distill.json"), "{not json").unwrap();
        assert!(evaluate_command(dir.path(), None, 1).unwrap_err().to_string().contains("distill.json:"));
        assert!(
            distill_command(&DistillRequest {
                data_dir: None,
                method: Method::Dc,
                ipc: 0,
                attack: AttackKind::None,
                ratio: 0.0,
                iterations: None,
                seed: 0,
                out: dir.path().into(),
                overwrite: false,
            })
            .unwrap_err()
            .to_string()
            .contains("--ipc")
        );
    }
}
