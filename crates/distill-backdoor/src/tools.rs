//! `reprolab distill-backdoor distill` and `evaluate`: distil a dataset
//! (with or without an attack) into a folder people can inspect and reuse,
//! and measure any such folder with fresh networks. Both use the quick
//! preset's network, loops and evaluation settings, with the network's
//! input shape taken from the data.

use crate::attack::{AttackConfig, AttackKind, Poisoned};
use crate::data::{ImageData, digits, from_dir};
use crate::distill::{DistillConfig, Distilled, IterationHook, Method, Progress, SavedUpdate, distill_with};
use crate::experiment::{AttackMetrics, Config, evaluate, synthetic_labels};
use crate::net::NetConfig;
use anyhow::Result;
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use reprolab_core::data::npy::{Array, load_npy, save_npy};
use reprolab_core::registry::{self, Preset, Validate};
use reprolab_core::report::plot::GridLabels;
use reprolab_core::run_folder::TrainFolder;
use reprolab_core::train::Checkpoint;
use reprolab_core::train::checkpoint::TrainState;
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
    distill_in(req, None)
}

/// What `distill --resume DIR` found.
#[derive(Debug, Clone)]
pub enum Resumed {
    /// The distillation continued from its last checkpoint (or from the
    /// start, when it died before its first) and finished.
    Distilled(SyntheticSet),
    /// It had finished already; its `report.json` result.
    Finished(serde_json::Value),
}

/// The flags a `distill` folder's `config.toml` records.
#[derive(Debug, Deserialize)]
struct Recorded {
    data_dir: Option<PathBuf>,
    method: Method,
    seed: u64,
    distill: RecordedDistill,
    attack: AttackConfig,
}

#[derive(Debug, Deserialize)]
struct RecordedDistill {
    ipc: usize,
    iterations: usize,
}

/// `reprolab distill-backdoor distill --resume DIR`: continues the
/// distillation in `dir` from its last complete checkpoint with the
/// settings the folder records; the synthetic set, trigger, losses and
/// `metrics.jsonl` it ends with are the uninterrupted run's. Refuses a
/// folder that is not a `distill` folder, or whose settings this build no
/// longer gives.
pub fn resume_command(dir: &Path) -> Result<Resumed> {
    use reprolab_core::run_folder::{Resume, TrainRecord};
    let (r, record): (Recorded, _) = match TrainRecord::for_resume(dir, crate::METHOD.name, "distill")? {
        Resume::Finished(result) => return Ok(Resumed::Finished(result)),
        Resume::Unfinished(r, record) => (r, record),
    };
    let req = DistillRequest {
        data_dir: r.data_dir,
        method: r.method,
        ipc: r.distill.ipc,
        attack: r.attack.kind,
        ratio: r.attack.ratio,
        iterations: Some(r.distill.iterations),
        seed: r.seed,
        out: dir.to_path_buf(),
        overwrite: true,
    };
    distill_in(&req, Some(&*record)).map(Resumed::Distilled)
}

/// The folder of a `distill` run's checkpoints (`DIR/checkpoint`).
pub const CHECKPOINTS: &str = "checkpoint";

/// The float state of a distillation checkpoint as one module, so that
/// core's [`Checkpoint`] writes it as safetensors (readable from Python):
/// the synthetic images, their optimiser's momentum buffer (this SGD is
/// ours, on host vectors; its state is this one buffer), the trigger and
/// the trigger after each iteration so far (DOORPING), all flattened.
#[derive(burn::module::Module, Debug)]
struct SavedTensors {
    images: Param<Tensor<1>>,
    momentum: Option<Param<Tensor<1>>>,
    trigger: Param<Tensor<1>>,
    triggers: Option<Param<Tensor<1>>>,
}

fn param(values: Vec<f32>) -> Param<Tensor<1>> {
    let n = values.len();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, [n]), &reprolab_core::device::default_device()))
}

fn values(p: &Param<Tensor<1>>) -> Vec<f32> {
    p.val().into_data().try_to_vec().expect("f32 values")
}

/// What a distillation checkpoint's `state.json` holds in `extra`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedDistill {
    /// The set's description, its loss so far (what `evaluate` reads).
    set: SyntheticSet,
    labels: Vec<usize>,
    iterations: usize,
    /// The sampling stream's position in 32-bit words (a decimal string: a
    /// u128 does not fit a JSON number).
    rng_word_pos: String,
    trigger_updates: Vec<SavedUpdate>,
    updates_per_iteration: Vec<usize>,
    /// Whether the image optimiser had stepped (its momentum is saved).
    momentum: bool,
    /// Triggers saved in `triggers` (one per iteration under DOORPING).
    triggers: usize,
    /// Lines of `metrics.jsonl` written when the checkpoint was.
    metrics_lines: usize,
}

/// The complete checkpoint with the most iterations under `dir`
/// (`DIR/checkpoint`).
pub fn last_checkpoint(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().strip_prefix("iteration-")?.parse::<usize>().ok()?;
            e.path().join("state.json").exists().then(|| (n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
}

/// Reads the checkpoint in `dir` (`DIR/checkpoint/iteration-N`): its
/// description, labels and resume state.
fn read_checkpoint(dir: &Path) -> Result<(SavedDistill, Progress)> {
    let ck = Checkpoint::new(dir);
    let Some(state) = ck.state()? else { user_bail!("{}: not a distill checkpoint (no state.json)", dir.display()) };
    let saved: SavedDistill = serde_json::from_value(state.extra)
        .map_err(|e| reprolab_core::user_error(format!("{}: not a distill checkpoint ({e})", dir.display())))?;
    check_net(&saved.set.net, &dir.join("state.json").display().to_string())?;
    let len = saved.set.net.image_len();
    if saved.labels.len() > 1 << 20 || saved.triggers > 1 << 20 {
        user_bail!("{}: more images than a distill checkpoint holds (a damaged file?)", dir.display());
    }
    let template = SavedTensors {
        images: param(vec![0.0; saved.labels.len() * len]),
        momentum: saved.momentum.then(|| param(vec![0.0; saved.labels.len() * len])),
        trigger: param(vec![0.0; len]),
        triggers: (saved.triggers > 0).then(|| param(vec![0.0; saved.triggers * len])),
    };
    let t = ck.load_model(template)?;
    let progress = Progress {
        iterations: saved.iterations,
        images: values(&t.images),
        momentum: t.momentum.as_ref().map(values),
        rng_word_pos: saved
            .rng_word_pos
            .parse()
            .map_err(|_| reprolab_core::user_error(format!("{}: corrupt checkpoint (rng position)", dir.display())))?,
        trigger: values(&t.trigger),
        loss: saved.set.loss.clone(),
        triggers: t.triggers.as_ref().map(|p| values(p).chunks(len).map(<[f32]>::to_vec).collect()).unwrap_or_default(),
        trigger_updates: saved.trigger_updates.clone(),
        updates_per_iteration: saved.updates_per_iteration.clone(),
    };
    Ok((saved, progress))
}

/// A checkpoint as `evaluate` reads a `distill` folder: the synthetic set
/// and trigger as they were after its iteration.
fn read_checkpoint_folder(dir: &Path) -> Result<SyntheticFolder> {
    let (saved, progress) = read_checkpoint(dir)?;
    let trigger = (saved.set.attack.kind != AttackKind::None).then_some(progress.trigger);
    Ok(SyntheticFolder { set: saved.set, images: progress.images, labels: saved.labels, trigger })
}

/// The `distill` command's [`IterationHook`]: one folder per iteration,
/// `DIR/checkpoint/iteration-N`, complete once its `state.json` is written
/// (last); the older ones are deleted after that, so a kill at any moment
/// leaves the last complete checkpoint. `evaluate --synthetic` reads one.
struct Checkpoints {
    dir: PathBuf,
    metrics: PathBuf,
    /// The set's description (its loss filled in at each save).
    set: SyntheticSet,
    labels: Vec<usize>,
    saved: Option<Progress>,
}

impl IterationHook for Checkpoints {
    fn restore(&mut self) -> Result<Option<Progress>> {
        Ok(self.saved.take())
    }

    fn save(&mut self, p: &Progress) -> Result<()> {
        let dir = self.dir.join(format!("iteration-{:06}", p.iterations));
        let _ = std::fs::remove_dir_all(&dir); // an incomplete one from a killed run
        let metrics_lines =
            std::fs::read(&self.metrics).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0);
        let saved = SavedDistill {
            set: SyntheticSet { loss: p.loss.clone(), ..self.set.clone() },
            labels: self.labels.clone(),
            iterations: p.iterations,
            rng_word_pos: p.rng_word_pos.to_string(),
            trigger_updates: p.trigger_updates.clone(),
            updates_per_iteration: p.updates_per_iteration.clone(),
            momentum: p.momentum.is_some(),
            triggers: p.triggers.len(),
            metrics_lines,
        };
        let tensors = SavedTensors {
            images: param(p.images.clone()),
            momentum: p.momentum.clone().map(param),
            trigger: param(p.trigger.clone()),
            triggers: (!p.triggers.is_empty()).then(|| param(p.triggers.concat())),
        };
        let state = TrainState {
            step: p.iterations,
            epoch: p.iterations,
            extra: serde_json::to_value(&saved)?,
            ..Default::default()
        };
        Checkpoint::new(&dir).save(&tensors, None, &state)?;
        // The new one is complete: the older ones (and leftovers of a killed run) go.
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            if entry.path() != dir && entry.file_name().to_string_lossy().starts_with("iteration-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }
}

fn distill_in(req: &DistillRequest, resume: Option<&reprolab_core::run_folder::TrainRecord>) -> Result<SyntheticSet> {
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
    let checkpoint_dir = out.join(CHECKPOINTS);
    let (folder, mut metrics, saved) = match resume {
        None => {
            let folder = TrainFolder::open(crate::METHOD.name, "distill", out, overwrite, &settings, &[seed])?;
            // --overwrite: an earlier run's checkpoints must not be resumed from.
            let _ = std::fs::remove_dir_all(&checkpoint_dir);
            let metrics = folder.metrics()?;
            (folder, metrics, None)
        }
        Some(record) => {
            let mut now = serde_json::to_value(&settings)?;
            for key in ["out", "overwrite"] {
                now[key] = record.config[key].clone();
            }
            if now != record.config {
                user_bail!(
                    "{}: distilled with settings this build no longer gives (see its config.toml); distil it afresh",
                    out.display()
                );
            }
            let saved = last_checkpoint(&checkpoint_dir).map(|d| read_checkpoint(&d)).transpose()?;
            let n = saved.as_ref().map_or(0, |s| s.0.metrics_lines);
            let kept = logged_before(&out.join("metrics.jsonl"), n)?;
            let folder = TrainFolder::open(crate::METHOD.name, "distill", out, true, &settings, &[seed])?;
            let mut metrics = folder.metrics()?;
            for r in kept {
                metrics.log(r.step, &r.name, r.value.unwrap_or(f64::NAN))?;
            }
            (folder, metrics, saved.map(|s| s.1))
        }
    };
    let mut checkpoints = Checkpoints {
        dir: checkpoint_dir,
        metrics: out.join("metrics.jsonl"),
        set: SyntheticSet {
            data: data.name.clone(),
            method,
            ipc,
            attack: attack_cfg.clone(),
            net: cfg.net.clone(),
            seed,
            loss: Vec::new(),
        },
        labels: (0..cfg.net.classes).flat_map(|c| std::iter::repeat_n(c, ipc)).collect(),
        saved,
    };
    let bar = reprolab_core::progress::bar(dcfg.iterations as u64, &format!("{} {}", method.name(), attack.name()));
    let syn = distill_with(
        method,
        &cfg.net,
        &dcfg,
        &mut poisoned,
        seed,
        &bar,
        Some(&mut metrics),
        Some(&mut checkpoints as &mut dyn IterationHook),
    )?;
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

/// The first `n` records of the `metrics.jsonl` at `path` (what a run had
/// logged when its checkpoint was written).
fn logged_before(path: &Path, n: usize) -> Result<Vec<reprolab_core::train::metrics_log::MetricRecord>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .take(n)
        .map(|line| {
            serde_json::from_str(line)
                .map_err(|e| reprolab_core::user_error(format!("{}: a torn line ({e})", path.display())))
        })
        .collect()
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

/// A `distill` output folder as `evaluate` reads it back.
#[derive(Debug, Clone)]
pub struct SyntheticFolder {
    pub set: SyntheticSet,
    /// `[n, c, side, side]` normalised values, finite.
    pub images: Vec<f32>,
    /// One class index per image.
    pub labels: Vec<usize>,
    /// The attack's trigger (`trigger.npy`), for an attacked set.
    pub trigger: Option<Vec<f32>>,
}

/// The largest network a `distill.json` may describe (parameters), and
/// the bound on each of its sizes: the file is user input, and without
/// them a damaged `width` or `depth` (10^12) would be believed by
/// [`NetConfig::layout`] and the initialisation, which allocate what it
/// says, and `channels * side * side` could overflow.
const MAX_NET_PARAMS: u128 = 1 << 27;
const MAX_NET_DIM: usize = 1 << 16;

/// Checks a network read from `shown` before anything is built from it.
fn check_net(net: &NetConfig, shown: &str) -> Result<()> {
    let dims = [
        ("channels", net.channels),
        ("side", net.side),
        ("width", net.width),
        ("depth", net.depth),
        ("hidden", net.hidden),
        ("classes", net.classes),
    ];
    if let Some((name, v)) = dims.iter().find(|(_, v)| *v > MAX_NET_DIM) {
        user_bail!("{shown}: net.{name} = {v} is above {MAX_NET_DIM} (a damaged file?)");
    }
    net.validate().map_err(|e| reprolab_core::user_error(format!("{shown}: {e:#}")))?;
    // Bounded sizes: the u128 products below cannot overflow.
    let (c, s, w, d, h, k) = dims.map(|(_, v)| v as u128).into();
    let convs = w * c * 9 + w * w * 9 * d.saturating_sub(1) + 4 * w * d;
    let params = convs + h * w * (s + 4).pow(2) + h + k * h + k;
    if params > MAX_NET_PARAMS {
        user_bail!("{shown}: the network has about {params} parameters, above {MAX_NET_PARAMS} (a damaged file?)");
    }
    Ok(())
}

/// Reads a `distill` output folder: `distill.json`, `synthetic.npy`,
/// `labels.npy` and, for an attacked set, `trigger.npy`, each checked
/// against `distill.json`'s network (sizes, finite values, class
/// indices) before anything trains on them, so a damaged folder is one
/// user error naming the file.
pub fn read_synthetic(dir: &Path) -> Result<SyntheticFolder> {
    let meta_path = dir.join("distill.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        reprolab_core::user_error(format!(
            "{}: cannot read ({e}); is this a `distill` output folder?",
            meta_path.display()
        ))
    })?;
    let set: SyntheticSet =
        serde_json::from_str(&text).map_err(|e| reprolab_core::user_error(format!("{}: {e}", meta_path.display())))?;
    check_net(&set.net, &meta_path.display().to_string())?;
    // `size + 1 > side` in the patch mask must not overflow on a damaged size.
    set.attack.validate().map_err(|e| reprolab_core::user_error(format!("{}: {e:#}", meta_path.display())))?;
    if set.attack.size >= set.net.side {
        user_bail!(
            "{}: attack.size {} does not fit the {}x{} images",
            meta_path.display(),
            set.attack.size,
            set.net.side,
            set.net.side
        );
    }
    let images = load_npy(&dir.join("synthetic.npy"))?;
    let labels = load_npy(&dir.join("labels.npy"))?;
    let n = labels.data.len();
    if n == 0 {
        user_bail!("{}: no labels", dir.join("labels.npy").display());
    }
    if n.checked_mul(set.net.image_len()) != Some(images.data.len()) {
        user_bail!(
            "{}: {} values for {n} labels of {} values each (the images {} describes)",
            dir.join("synthetic.npy").display(),
            images.data.len(),
            set.net.image_len(),
            meta_path.display()
        );
    }
    if let Some(bad) = labels.data.iter().find(|&&y| !(y >= 0.0 && y.fract() == 0.0 && (y as usize) < set.net.classes))
    {
        user_bail!("{}: label {bad} is not a class index", dir.join("labels.npy").display());
    }
    if images.data.iter().any(|v| !v.is_finite()) {
        user_bail!("{}: non-finite values", dir.join("synthetic.npy").display());
    }
    let trigger = if set.attack.kind != AttackKind::None {
        let trigger = load_npy(&dir.join("trigger.npy"))?;
        if trigger.data.len() != set.net.image_len() {
            user_bail!(
                "{}: {} values, expected {} (one image as {} describes it)",
                dir.join("trigger.npy").display(),
                trigger.data.len(),
                set.net.image_len(),
                meta_path.display()
            );
        }
        if trigger.data.iter().any(|v| !v.is_finite()) {
            user_bail!("{}: non-finite values", dir.join("trigger.npy").display());
        }
        Some(trigger.data)
    } else {
        None
    };
    let labels = labels.data.iter().map(|&y| y as usize).collect();
    Ok(SyntheticFolder { set, images: images.data, labels, trigger })
}

/// Trains `networks` fresh networks on the synthetic set in `dir` and
/// measures clean accuracy and attack success on the test set.
pub fn evaluate_command(dir: &Path, data_dir: Option<&Path>, networks: usize) -> Result<(SyntheticSet, AttackMetrics)> {
    // A checkpoint (what a killed or NaN-stopped `distill` leaves) reads like a folder.
    let is_checkpoint = dir.join("state.json").exists() && !dir.join("distill.json").exists();
    let SyntheticFolder { set, images, labels, trigger } =
        if is_checkpoint { read_checkpoint_folder(dir)? } else { read_synthetic(dir)? };
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
    let mut poisoned = Poisoned::new(&data, &AttackConfig { kind: AttackKind::None, ..set.attack.clone() }, set.seed)?;
    if let Some(trigger) = trigger {
        poisoned.trigger = trigger;
    }
    let syn = Distilled {
        images,
        labels,
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
