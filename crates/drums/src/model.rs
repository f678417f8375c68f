//! Training, saving, loading and using a groove Transformer outside the
//! experiment: what `reprolab drums train` and `reprolab drums generate`
//! call.

use crate::codec::{Groove, MEASURE};
use crate::config::{Config, PROMPT_TOKENS, PretrainConfig};
use crate::lm::{self, Lm, LmConfig, LmTrainConfig, SampleConfig};
use crate::tokens::{self, Decoded};
use anyhow::Result;
use burn::tensor::Device;
use reprolab_core::registry::{self, Preset};
use reprolab_core::rng::derive_seed;
use reprolab_core::run_folder::TrainFolder;
use reprolab_core::train::checkpoint::TrainState;
use reprolab_core::train::{Checkpoint, MetricsLog};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How one Transformer is built and trained: its size, its fine-tuning,
/// and the natural-language pre-training before it (`None`: from scratch).
#[derive(Debug, Clone, Copy)]
pub struct Recipe<'a> {
    pub model: &'a LmConfig,
    pub train: &'a LmTrainConfig,
    pub pretrain: Option<&'a PretrainConfig>,
    /// Early stopping of fine-tuning on the dev grooves: epochs without a
    /// lower dev loss before stopping (`train.epochs` is the most).
    pub patience: usize,
}

/// Corpus bytes after the pre-training bytes held out to measure it (in
/// windows of `pretrain.window` bytes).
const HELD_OUT_BYTES: usize = 32 * 288;

/// A trained model and what happened while training it.
pub struct Trained {
    /// The fine-tuned model at its lowest dev loss (the last epoch's
    /// weights without dev grooves).
    pub model: Lm,
    /// Fine-tuning loss per epoch (mean over the epoch's batches; the
    /// completion tokens only, see [`lm::sequence_loss`]).
    pub losses: Vec<f64>,
    /// Dev loss after each fine-tuning epoch (completion tokens; empty
    /// without dev grooves).
    pub dev_losses: Vec<f64>,
    /// The fine-tuning epoch (1-based) whose weights were kept.
    pub best_epoch: usize,
    /// Loss on held-out corpus windows before and after pre-training
    /// (nats per byte; a uniform guess is ln 256 = 5.55).
    pub pretrain_held_out: Option<(f64, f64)>,
    /// The same held-out loss for a unigram model of the pre-training bytes
    /// (the floor a pre-training that learnt anything must beat).
    pub pretrain_unigram: Option<f64>,
    /// One line on the corpus, when pre-trained.
    pub corpus_note: Option<String>,
}

/// Initialises a Transformer of `recipe.model` from `seed`, pre-trains it
/// on text when `recipe.pretrain` is given (then starts each groove token
/// from its bytes' weights, [`crate::transfer`]), then fine-tunes it on
/// `grooves` (token sequences) with the loss on the completion tokens,
/// early-stopped on `dev` when given. `device` must be an autodiff device. With `log`
/// (`drums train`; the experiment passes none), records each phase's
/// losses and learning rate (`pretrain/...`, `finetune/...`, one step
/// count over both phases) and the held-out text loss before and after
/// pre-training (`pretrain/eval/held_out_loss`).
pub fn train_transformer(
    recipe: &Recipe,
    grooves: &[Vec<usize>],
    dev: Option<&[Vec<usize>]>,
    seed: u64,
    device: &Device,
    label: &str,
    log: Option<&mut MetricsLog>,
) -> Result<Trained> {
    train_transformer_with(recipe, grooves, dev, seed, device, label, log, None)
}

/// [`train_transformer`], checkpointed after every epoch of both phases
/// into `checkpoints` and continued from its last checkpoint when it holds
/// one (`drums train` and `--resume`). A run resumed in fine-tuning skips
/// pre-training (its held-out losses come from the checkpoint); values
/// logged before the checkpoint are not logged again.
#[allow(clippy::too_many_arguments)]
pub fn train_transformer_with(
    recipe: &Recipe,
    grooves: &[Vec<usize>],
    dev: Option<&[Vec<usize>]>,
    seed: u64,
    device: &Device,
    label: &str,
    mut log: Option<&mut MetricsLog>,
    mut checkpoints: Option<&mut Checkpoints>,
) -> Result<Trained> {
    let Recipe { model: cfg, train, pretrain, patience } = *recipe;
    let saved = checkpoints.as_deref().and_then(|c| c.saved.clone());
    let resumed_in = saved.as_ref().map(|s| s.phase);
    // Fine-tuning's steps follow pre-training's in the log.
    let mut finetune_from = 0;
    device.seed(derive_seed(seed, "lm-init"));
    let mut model = cfg.init(device);
    let (mut pretrain_held_out, mut pretrain_unigram, mut corpus_note) = (None, None, None);
    if let Some(p) = pretrain {
        let text = match p.corpus.as_str() {
            "cargo-readmes" => {
                let (text, n) = crate::corpus::cargo_readmes()?;
                corpus_note = Some(format!(
                    "the README files of {n} crates pinned in Cargo.lock ({:.2} MB; {:.2} MB used)",
                    text.len() as f64 / 1e6,
                    text.len().min(p.max_bytes) as f64 / 1e6
                ));
                text
            }
            path => {
                let text = crate::corpus::text_from(Path::new(path))?;
                corpus_note = Some(format!("{path} ({:.2} MB used)", text.len().min(p.max_bytes) as f64 / 1e6));
                text
            }
        };
        // The windows after max_bytes are held out to measure what pre-training learnt.
        let windows_held_out = (HELD_OUT_BYTES / p.window).max(1);
        let mut windows = crate::corpus::byte_windows(&text, p.window, p.max_bytes + windows_held_out * p.window);
        let held_out = windows.split_off(windows.len().saturating_sub(windows_held_out).max(1).min(windows.len()));
        if windows.is_empty() || held_out.is_empty() {
            reprolab_core::user_bail!(
                "pre-training corpus {}: shorter than two windows of {} bytes",
                p.corpus,
                p.window
            );
        }
        pretrain_unigram = Some(lm::unigram_loss(&windows, &held_out, 0..crate::tokens::BYTES, cfg.context, 0));
        finetune_from = lm::steps(windows.len(), &p.train);
        match saved.as_ref().filter(|s| s.phase == Phase::Finetune) {
            // Resumed in fine-tuning: pre-training is done and its weights are in the checkpoint.
            Some(s) => pretrain_held_out = s.pretrain_held_out,
            None => {
                let before = match &saved {
                    Some(s) => s.pretrain_before.unwrap_or(f64::NAN),
                    None => lm::evaluate(&model, &held_out, 0, device),
                };
                if let (Some(log), None) = (log.as_deref_mut(), resumed_in) {
                    log.log(0, "pretrain/eval/held_out_loss", before)?;
                }
                let clock = std::time::Instant::now();
                let m = {
                    let mut phase = log.as_deref_mut().map(|l| l.phase("pretrain", 0));
                    let run = lm::Run {
                        cfg: &p.train,
                        seed: derive_seed(seed, "pretrain"),
                        label: "pre-training on text",
                        loss_from: 0,
                        dev: None,
                    };
                    let mut hook = checkpoints.as_deref_mut().map(|c| c.phase(Phase::Pretrain, 0, Some(before), None));
                    let hook = hook.as_mut().map(|h| h as &mut dyn lm::EpochHook);
                    lm::fit_with(model, &windows, &run, device, phase.as_mut().map(|f| f as lm::StepLog), hook)?.model
                };
                tracing::info!(seconds = clock.elapsed().as_secs_f64(), windows = windows.len(), "pre-training done");
                let after = lm::evaluate(&m, &held_out, 0, device);
                model = crate::transfer::groove_tokens_from_bytes(m);
                if let Some(log) = log.as_deref_mut() {
                    log.log(finetune_from, "pretrain/eval/held_out_loss", after)?;
                }
                pretrain_held_out = Some((before, after));
            }
        }
    }
    let clock = std::time::Instant::now();
    let mut phase = log.map(|l| l.phase("finetune", finetune_from));
    let run = lm::Run {
        cfg: train,
        seed: derive_seed(seed, "finetune"),
        label,
        loss_from: PROMPT_TOKENS,
        dev: dev.map(|d| (d, patience)),
    };
    let mut hook =
        checkpoints.map(|c| c.phase(Phase::Finetune, finetune_from, pretrain_held_out.map(|p| p.0), pretrain_held_out));
    let hook = hook.as_mut().map(|h| h as &mut dyn lm::EpochHook);
    let fitted = lm::fit_with(model, grooves, &run, device, phase.as_mut().map(|f| f as lm::StepLog), hook)?;
    tracing::info!(seconds = clock.elapsed().as_secs_f64(), model = label, epoch = fitted.best_epoch, "training done");
    Ok(Trained {
        model: fitted.model,
        losses: fitted.train_losses,
        dev_losses: fitted.dev_losses,
        best_epoch: fitted.best_epoch,
        pretrain_held_out,
        pretrain_unigram,
        corpus_note,
    })
}

/// The phase of `drums train` a checkpoint was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Pretrain,
    Finetune,
}

/// What a training checkpoint's `state.json` holds in `extra`: the model's
/// config (so a checkpoint loads like a saved model, [`load`]) and what a
/// resumed run needs beyond the weights and Adam's moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedRun {
    pub model: LmConfig,
    pub phase: Phase,
    /// The phase's fit after its last epoch (batch-shuffler position,
    /// counters, losses, early stopping).
    pub fit: lm::FitState,
    /// Held-out text loss before pre-training (with `--pretrained`).
    pub pretrain_before: Option<f64>,
    /// Held-out text loss before and after pre-training (fine-tuning phase).
    pub pretrain_held_out: Option<(f64, f64)>,
    /// Lines of `metrics.jsonl` written when the checkpoint was.
    pub metrics_lines: usize,
}

/// The folder of a run's checkpoints (`DIR/checkpoint`).
pub const CHECKPOINTS: &str = "checkpoint";

/// The checkpoints of one `drums train` run, one folder per epoch of either
/// phase, `DIR/checkpoint/step-N` (N the steps taken over both phases):
/// the model, Adam's moments and `state.json`, and `best/`, the best dev
/// epoch's weights so far. A folder is complete once its `state.json` is
/// written (last); the older ones are deleted after that, so a kill at any
/// moment leaves the last complete checkpoint. Each loads with [`load`]
/// (`drums generate --model DIR/checkpoint/step-N`).
pub struct Checkpoints {
    dir: PathBuf,
    metrics: PathBuf,
    cfg: LmConfig,
    /// The last complete checkpoint found when opened, to resume from.
    saved: Option<SavedRun>,
    saved_dir: Option<PathBuf>,
}

impl Checkpoints {
    /// The checkpoints of the run in `run_dir`, the last complete one read.
    pub fn open(run_dir: &Path, cfg: &LmConfig) -> Result<Self> {
        let dir = run_dir.join(CHECKPOINTS);
        let (saved, saved_dir) = match last_checkpoint(&dir)? {
            Some((path, state)) => {
                let saved: SavedRun = serde_json::from_value(state.extra).map_err(|e| {
                    reprolab_core::user_error(format!("{}: not a drums train checkpoint ({e})", path.display()))
                })?;
                if saved.model != *cfg {
                    reprolab_core::user_bail!("{}: holds another model size than config.toml", path.display());
                }
                (Some(saved), Some(path))
            }
            None => (None, None),
        };
        Ok(Self { dir, metrics: run_dir.join("metrics.jsonl"), cfg: cfg.clone(), saved, saved_dir })
    }

    /// What the last complete checkpoint holds (None: the run starts afresh).
    pub fn saved(&self) -> Option<&SavedRun> {
        self.saved.as_ref()
    }

    fn phase(
        &mut self,
        phase: Phase,
        offset: usize,
        pretrain_before: Option<f64>,
        pretrain_held_out: Option<(f64, f64)>,
    ) -> PhaseHook<'_> {
        PhaseHook { ck: self, phase, offset, pretrain_before, pretrain_held_out }
    }
}

/// The complete checkpoint with the most steps under `dir`, with its state.
pub fn last_checkpoint(dir: &Path) -> Result<Option<(PathBuf, TrainState)>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(None) };
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(n) = name.strip_prefix("step-").and_then(|n| n.parse::<usize>().ok()) else { continue };
        if entry.path().join("state.json").exists() && best.as_ref().is_none_or(|b| n > b.0) {
            best = Some((n, entry.path()));
        }
    }
    match best {
        Some((_, path)) => Ok(Checkpoint::new(&path).state()?.map(|s| (path, s))),
        None => Ok(None),
    }
}

/// One phase's view of [`Checkpoints`], what [`lm::fit_with`] calls.
struct PhaseHook<'a> {
    ck: &'a mut Checkpoints,
    phase: Phase,
    /// Steps of the phases before this one.
    offset: usize,
    pretrain_before: Option<f64>,
    pretrain_held_out: Option<(f64, f64)>,
}

impl lm::EpochHook for PhaseHook<'_> {
    fn restore(
        &mut self,
        model: Lm,
        optim: burn::optim::ModuleOptimizer,
    ) -> Result<(Lm, burn::optim::ModuleOptimizer, Option<(lm::FitState, Option<Lm>)>)> {
        let (Some(saved), Some(dir)) = (self.ck.saved.as_ref(), self.ck.saved_dir.as_ref()) else {
            return Ok((model, optim, None));
        };
        if saved.phase != self.phase {
            return Ok((model, optim, None));
        }
        let ck = Checkpoint::new(dir);
        let model = ck.load_model(model)?;
        let optim = ck.load_optimizer(optim)?;
        let best = if saved.fit.best_epoch > 0 {
            Some(Checkpoint::new(dir.join("best")).load_model(model.clone())?)
        } else {
            None
        };
        Ok((model, optim, Some((saved.fit.clone(), best))))
    }

    fn save(
        &mut self,
        model: &Lm,
        optim: &burn::optim::ModuleOptimizer,
        fit: &lm::FitState,
        best: Option<&Lm>,
    ) -> Result<()> {
        let step = self.offset + fit.step;
        let dir = self.ck.dir.join(format!("step-{step:08}"));
        let _ = std::fs::remove_dir_all(&dir); // an incomplete one from a killed run
        if let Some(best) = best {
            let state =
                TrainState { epoch: fit.best_epoch, extra: serde_json::to_value(&self.ck.cfg)?, ..Default::default() };
            Checkpoint::new(dir.join("best")).save(best, None, &state)?;
        }
        let metrics_lines =
            std::fs::read(&self.ck.metrics).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0);
        let saved = SavedRun {
            model: self.ck.cfg.clone(),
            phase: self.phase,
            fit: fit.clone(),
            pretrain_before: self.pretrain_before,
            pretrain_held_out: self.pretrain_held_out,
            metrics_lines,
        };
        let best_dev = fit.dev_losses.iter().copied().reduce(f64::min);
        let state = TrainState {
            step,
            epoch: fit.epochs,
            best: best_dev,
            extra: serde_json::to_value(&saved)?,
            param_ids: vec![],
        };
        Checkpoint::new(&dir).save(model, Some(optim), &state)?;
        // The new one is complete: the older ones (and leftovers of a killed run) go.
        for entry in std::fs::read_dir(&self.ck.dir)?.flatten() {
            if entry.path() != dir && entry.file_name().to_string_lossy().starts_with("step-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }
}

/// Saves `model` with its config (safetensors + state.json) into `dir`.
pub fn save(model: &Lm, cfg: &LmConfig, dir: &Path) -> Result<()> {
    let state = TrainState { extra: serde_json::to_value(cfg)?, ..Default::default() };
    Checkpoint::new(dir).save(model, None, &state)
}

/// Loads a model saved by [`save`].
pub fn load(dir: &Path, device: &Device) -> Result<(Lm, LmConfig)> {
    let checkpoint = Checkpoint::new(dir);
    let Some(state) = checkpoint.state()? else {
        reprolab_core::user_bail!("{}: not a saved drums model (no state.json)", dir.display())
    };
    // A training checkpoint holds the config beside its resume state.
    let extra = match state.extra.get("phase").and(state.extra.get("model")) {
        Some(model) => model.clone(),
        None => state.extra,
    };
    let cfg: LmConfig = serde_json::from_value(extra)
        .map_err(|e| reprolab_core::user_error(format!("{}: state.json has no model config ({e})", dir.display())))?;
    let model = checkpoint.load_model(cfg.init(device))?;
    Ok((model, cfg))
}

/// The prompt of a groove as the paper builds it: leading empty measures
/// stripped, then the first `measures` measures.
pub fn prompt_lines(groove: &Groove, measures: usize) -> Result<Vec<[bool; 6]>> {
    let lines = groove.without_leading_empty_measures();
    if lines.len() < measures * MEASURE {
        reprolab_core::user_bail!(
            "the prompt needs {measures} measures ({} lines) after leading empty measures, the groove has {}",
            measures * MEASURE,
            lines.len()
        );
    }
    Ok(lines[..measures * MEASURE].to_vec())
}

/// Continues a 2-measure prompt by up to `measures` measures.
pub fn continue_groove(
    model: &Lm,
    prompt: &[[bool; 6]],
    measures: usize,
    sample: &SampleConfig,
    seed: u64,
    device: &Device,
) -> Decoded {
    let max_tokens = (measures * (MEASURE + 1)).min(sample.max_tokens.max(measures * (MEASURE + 1)));
    let cfg = SampleConfig { max_tokens, ..sample.clone() };
    let generated = lm::generate(model, &[tokens::measures_with_seps(prompt)], &cfg, seed, device);
    tokens::decode(prompt, &generated[0])
}

/// Training sequences from a folder of grooves (`.mid` files, encoded,
/// or `.txt` files in the groove text format), in the paper's LM format;
/// grooves the paper's filter drops (128 lines or fewer after stripping
/// leading empty measures) and MIDI files the official encoder skips (no
/// time signature, or not x/4; each named on stderr) are skipped and
/// counted.
pub fn sequences_from_folder(dir: &Path) -> Result<(Vec<Vec<usize>>, usize)> {
    let shown = dir.display();
    let files = reprolab_core::data::files_in(dir, &["mid", "midi", "txt"])?;
    let (mut seqs, mut skipped) = (Vec::new(), 0);
    for f in &files {
        let groove = if f.extension().is_some_and(|x| x == "txt") {
            let text = std::fs::read_to_string(f)
                .map_err(|e| reprolab_core::user_error(format!("{}: cannot read ({e})", f.display())))?;
            Groove::parse(&text, &f.display().to_string())?
        } else {
            match crate::codec::encode_file_or_skip(f)? {
                Ok(groove) => groove,
                Err(why) => {
                    eprintln!("{why}");
                    skipped += 1;
                    continue;
                }
            }
        };
        match crate::codec::lm_example(&groove) {
            Some((prompt, completion)) => {
                seqs.push(tokens::example_tokens(&prompt, &completion).expect("lm_example writes groove tokens"))
            }
            None => skipped += 1,
        }
    }
    if seqs.is_empty() {
        reprolab_core::user_bail!("{shown}: no usable grooves (.mid or .txt with more than 8 measures)");
    }
    Ok((seqs, skipped))
}

/// What `reprolab drums train` did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    pub grooves: usize,
    pub skipped: usize,
    pub pretrained_on: Option<String>,
    pub final_loss: f64,
    pub out: PathBuf,
}

/// What `reprolab drums train` is asked to do.
#[derive(Debug, Clone)]
pub struct TrainRequest<'a> {
    /// Whose model, training and pre-training settings to use.
    pub preset: Preset,
    /// The data directory holding `groove/` (else `$REPROLAB_DATA`).
    pub data: Option<&'a Path>,
    /// A folder of `.mid` / `.txt` grooves to train on instead of the
    /// paper's 372 training grooves.
    pub grooves: Option<&'a Path>,
    /// Pre-train on the preset's text corpus first.
    pub pretrained: bool,
    pub seed: u64,
    /// Where to save the model.
    pub out: &'a Path,
    /// Write into `out` even when it holds files.
    pub overwrite: bool,
}

/// `config.toml` of a `drums train` folder: the flags and the preset's
/// model, fine-tuning and (with `--pretrained`) pre-training settings the
/// model was trained with, so the folder says how to train it again.
#[derive(Debug, Serialize)]
struct TrainSettings<'a> {
    preset: Preset,
    pretrained: bool,
    seed: u64,
    out: &'a Path,
    /// `--grooves`, when given.
    grooves: Option<&'a Path>,
    /// `--data`, when given.
    data: Option<&'a Path>,
    /// The paper's training grooves read, when not `--grooves`.
    train_file: Option<PathBuf>,
    model: &'a LmConfig,
    train: &'a LmTrainConfig,
    /// Only with `--pretrained`.
    pretrain: Option<&'a PretrainConfig>,
}

/// `reprolab drums train`: the experiment's Transformer (model, training
/// and pre-training settings of the preset), trained on the paper's 372
/// training grooves under the data directory (`groove/gpt3_train.jsonl`)
/// or on a folder of `.mid` / `.txt` grooves, saved to `out` with
/// `config.toml`, `metrics.jsonl` and `report.json` beside the model.
/// `out` must be empty or new unless `req.overwrite`; it is claimed once
/// the grooves are read, before any training.
pub fn train_command(req: &TrainRequest) -> Result<TrainSummary> {
    train_in(req, None)
}

/// What `drums train --resume DIR` found.
#[derive(Debug, Clone)]
pub enum Resumed {
    /// The run continued from its last checkpoint (or from the start, when
    /// it died before its first) and finished.
    Trained(TrainSummary),
    /// The run had finished already; its `report.json` result.
    Finished(serde_json::Value),
}

/// The flags a `drums train` folder's `config.toml` records.
#[derive(Debug, serde::Deserialize)]
struct Recorded {
    preset: Preset,
    pretrained: bool,
    seed: u64,
    grooves: Option<PathBuf>,
    data: Option<PathBuf>,
}

/// `reprolab drums train --resume DIR`: continues the run in `dir` from its
/// last complete checkpoint with the settings the folder records; its
/// final model, losses and `metrics.jsonl` are the uninterrupted run's.
/// Refuses a folder that is not a `drums train` folder, or whose settings
/// the preset no longer gives.
pub fn resume_command(dir: &Path) -> Result<Resumed> {
    use reprolab_core::run_folder::{Resume, TrainRecord};
    let (r, record): (Recorded, _) = match TrainRecord::for_resume(dir, crate::METHOD.name, "train")? {
        Resume::Finished(result) => return Ok(Resumed::Finished(result)),
        Resume::Unfinished(r, record) => (r, record),
    };
    let req = TrainRequest {
        preset: r.preset,
        data: r.data.as_deref(),
        grooves: r.grooves.as_deref(),
        pretrained: r.pretrained,
        seed: r.seed,
        out: dir,
        overwrite: true,
    };
    train_in(&req, Some(&*record)).map(Resumed::Trained)
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

fn train_in(req: &TrainRequest, resume: Option<&reprolab_core::run_folder::TrainRecord>) -> Result<TrainSummary> {
    let cfg: Config = registry::preset_config("drums", req.preset)?;
    // The paper's grooves come with its dev split (early stopping); a
    // folder of grooves has none, so it trains every epoch.
    let (seqs, skipped, train_file, dev) = match req.grooves {
        Some(dir) => {
            let (seqs, skipped) = sequences_from_folder(dir)?;
            (seqs, skipped, None, None)
        }
        None => {
            let path = registry::data_path("drums", req.data, "groove/gpt3_train.jsonl")?;
            let dev_path = registry::data_path("drums", req.data, "groove/gpt3_dev.jsonl")?;
            let tokens = |p: &Path| -> Result<Vec<Vec<usize>>> {
                Ok(crate::data::read_jsonl(p)?.into_iter().map(|e| e.tokens).collect())
            };
            (tokens(&path)?, 0, Some(path), Some(tokens(&dev_path)?))
        }
    };
    let pretrain = req.pretrained.then_some(&cfg.pretrain);
    let settings = TrainSettings {
        preset: req.preset,
        pretrained: req.pretrained,
        seed: req.seed,
        out: req.out,
        grooves: req.grooves,
        data: req.data,
        train_file,
        model: &cfg.model,
        train: &cfg.train,
        pretrain,
    };
    let (folder, mut metrics, mut checkpoints) = match resume {
        None => {
            let folder =
                TrainFolder::open(crate::METHOD.name, "train", req.out, req.overwrite, &settings, &[req.seed])?;
            // --overwrite: an earlier run's checkpoints must not be resumed from.
            let _ = std::fs::remove_dir_all(req.out.join(CHECKPOINTS));
            let metrics = folder.metrics()?;
            (folder, metrics, Checkpoints::open(req.out, &cfg.model)?)
        }
        Some(record) => {
            let mut now = serde_json::to_value(&settings)?;
            now["out"] = record.config["out"].clone();
            if now != record.config {
                reprolab_core::user_bail!(
                    "{}: trained with settings the {:?} preset no longer gives (see its config.toml); train it afresh",
                    req.out.display(),
                    req.preset
                );
            }
            let checkpoints = Checkpoints::open(req.out, &cfg.model)?;
            let n = checkpoints.saved().map_or(0, |s| s.metrics_lines);
            let kept = logged_before(&req.out.join("metrics.jsonl"), n)?;
            let folder = TrainFolder::open(crate::METHOD.name, "train", req.out, true, &settings, &[req.seed])?;
            let mut metrics = folder.metrics()?;
            for r in kept {
                metrics.log(r.step, &r.name, r.value.unwrap_or(f64::NAN))?;
            }
            (folder, metrics, checkpoints)
        }
    };
    let ad = reprolab_core::device::default_device().autodiff();
    let recipe = Recipe { model: &cfg.model, train: &cfg.train, pretrain, patience: cfg.patience };
    let trained = train_transformer_with(
        &recipe,
        &seqs,
        dev.as_deref(),
        req.seed,
        &ad,
        "training",
        Some(&mut metrics),
        Some(&mut checkpoints),
    )?;
    save(&trained.model, &cfg.model, req.out)?;
    let summary = TrainSummary {
        grooves: seqs.len(),
        skipped,
        pretrained_on: trained.corpus_note,
        final_loss: trained.losses.last().copied().unwrap_or(f64::NAN),
        out: req.out.to_path_buf(),
    };
    folder.finish(&summary)?;
    Ok(summary)
}

/// What `reprolab drums generate` is asked to do.
#[derive(Debug, Clone)]
pub struct GenerateRequest<'a> {
    /// A model saved by [`save`] (`reprolab drums train`).
    pub model_dir: &'a Path,
    /// The prompt groove, a `.mid` or `.txt` file.
    pub prompt: &'a Path,
    /// Measures to add after the 2-measure prompt (1..14).
    pub measures: usize,
    pub sample: &'a SampleConfig,
    pub seed: u64,
    /// Tempo of the MIDI file (default: from the prompt's file name, else 120).
    pub bpm: Option<f64>,
    /// The MIDI file to write; the text groove goes next to it (`.txt`).
    pub out: &'a Path,
}

/// `reprolab drums generate`: continues the first two measures of the
/// prompt groove (after leading empty measures) by `measures` measures and
/// writes the MIDI file `out` and the text next to it (`.txt`).
pub fn generate_command(req: &GenerateRequest) -> Result<Decoded> {
    let GenerateRequest { model_dir, prompt, measures, sample, seed, bpm, out } = *req;
    if measures == 0 || measures > 14 {
        reprolab_core::user_bail!("--measures must be 1..14 (the model's context holds 16 measures), got {measures}");
    }
    let device = reprolab_core::device::default_device();
    let (model, _) = load(model_dir, &device)?;
    let prompt_groove = read_groove(prompt)?;
    let lines =
        prompt_lines(&prompt_groove, 2).map_err(|e| reprolab_core::user_error(format!("{}: {e}", prompt.display())))?;
    let decoded = continue_groove(&model, &lines, measures, sample, seed, &device);
    crate::codec::write_midi(&decoded.groove, out, bpm, &prompt.display().to_string())?;
    reprolab_core::report::write_bytes_atomic(&out.with_extension("txt"), decoded.groove.to_text())?;
    Ok(decoded)
}

/// Reads a prompt groove from a `.mid` or `.txt` file.
pub fn read_groove(path: &Path) -> Result<Groove> {
    let shown = path.display().to_string();
    if path.extension().is_some_and(|x| x == "txt") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read ({e})")))?;
        Groove::parse(&text, &shown)
    } else {
        let groove = crate::codec::encode_file(path)?;
        if groove.lines.iter().all(|l| l.iter().all(|&hit| !hit)) {
            reprolab_core::user_bail!("{shown}: not a drum track: none of its notes is a drum the encoding keeps");
        }
        Ok(groove)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder trains on its usable grooves and skips, counting them, the
    /// MIDI files the official encoder skips (here one in 4/8) and grooves
    /// of 8 measures or fewer.
    #[test]
    fn a_folder_skips_what_the_official_encoder_skips() {
        let dir = tempfile::tempdir().unwrap();
        let groove = Groove { lines: vec![[false, false, false, true, true, false]; 16 * MEASURE] };
        let midi = crate::codec::decode_midi(&groove, 120.0).unwrap();
        std::fs::write(dir.path().join("a.mid"), &midi).unwrap();
        // The time-signature meta event is FF 58 04 nn dd cc bb; dd = 3 makes it 4/8.
        let at = midi.windows(3).position(|w| w == [0xFF, 0x58, 0x04]).expect("a time signature") + 4;
        let mut eighths = midi.clone();
        eighths[at] = 3;
        std::fs::write(dir.path().join("b.mid"), &eighths).unwrap();
        let short = Groove { lines: groove.lines[..8 * MEASURE].to_vec() };
        std::fs::write(dir.path().join("c.txt"), short.to_text()).unwrap();
        let (seqs, skipped) = sequences_from_folder(dir.path()).unwrap();
        assert_eq!((seqs.len(), skipped), (1, 2));
    }

    #[test]
    fn save_load_round_trip_and_prompt_stripping() {
        let device = reprolab_core::device::default_device();
        let cfg = LmConfig { d_model: 16, n_heads: 2, n_layers: 1, context: 40 };
        let model = cfg.init(&device);
        let dir = tempfile::tempdir().unwrap();
        save(&model, &cfg, dir.path()).unwrap();
        let (loaded, loaded_cfg) = load(dir.path(), &device).unwrap();
        assert_eq!(loaded_cfg, cfg);
        let sample = SampleConfig { temperature: 0.9, top_p: 1.0, max_tokens: 5 };
        let prompt = vec![[true, false, false, true, false, false]; 32];
        let a = continue_groove(&model, &prompt, 1, &sample, 7, &device);
        let b = continue_groove(&loaded, &prompt, 1, &sample, 7, &device);
        assert_eq!(a, b, "same weights, same seed, same groove");
        let err = load(&dir.path().join("none"), &device).unwrap_err().to_string();
        assert!(err.contains("not a saved drums model"), "{err}");

        let mut lines = vec![[false; 6]; 16];
        lines.extend(vec![[true; 6]; 32]);
        assert_eq!(prompt_lines(&Groove { lines: lines.clone() }, 2).unwrap(), vec![[true; 6]; 32]);
        assert!(prompt_lines(&Groove { lines: lines[..40].to_vec() }, 2).is_err());
    }
}
