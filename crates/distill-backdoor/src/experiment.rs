//! The registered claim check at laptop scale: distil the digits with DC
//! (and DM) cleanly, under NAIVEATTACK and under DOORPING at two poisoning
//! ratios; train fresh networks on each synthetic set; compare clean test
//! accuracy (CTA) and attack success rate (ASR).
//!
//! # What the paper claims and what is checked
//!
//! The paper (Liu et al., NDSS 2023) attacks dataset distillation (DD and
//! DC, the official code's `liuyugeng/baadd`): poisoning the distillation
//! plants a backdoor in every model trained on the small synthetic set.
//! NAIVEATTACK (BadNets patches stamped on 1% of the training images
//! before distillation) reaches a decent ASR in some cases; DOORPING, which
//! re-optimises the trigger during distillation, reaches an ASR close to
//! 1.0 in all cases while CTA stays close to clean distillation, and
//! common defences do not remove it.
//!
//! The laptop experiment (the presets): the embedded 8x8 digits (10
//! classes, a stratified 75/25 split per seed), a 2x2 trigger one pixel in
//! from the bottom-right corner, target class 0, poisoning ratios 1% and
//! 5%; a small ConvNet (one block of 3x3 conv with 16 channels, padded 3
//! on the 1-channel input as the official net, ReLU, 2x2 average pool,
//! then FC 64, ReLU, FC 10; DM's with instance norm after the conv, as the
//! official DM's); DC with 10 images per class and
//! loops (outer 10, inner 10) for 200 iterations on 5 seeds (the `paper`
//! preset; `full` runs 15 iterations, 3 fresh networks, 3 seeds;
//! `quick` 6), DM with DSA for `dm_iterations`; arms clean,
//! NAIVEATTACK and DOORPING (post-ReLU neuron, the official read) at each
//! ratio; 5 fresh networks per synthetic set (300 epochs each), 5 seeds.
//! ASR counts triggered test images not of the target class classified as
//! the target; "ASR incl. target" is the official code's variant over all
//! triggered test images.
//!
//! The pass rule ([`RULE`], written before the rerun): on DC, at every
//! ratio the preset runs, DOORPING's mean ASR over seeds >= 0.90; the
//! per-seed ASR gap to NAIVEATTACK has a 95% t interval at or above 0.10;
//! the per-seed CTA loss against clean DC has a 95% t interval at or below
//! 2 points. The arms of a seed share every random number but the attack's
//! (common random numbers: the same distillation, evaluation and defence
//! seeds), so the differences are paired; an interval that contains its
//! margin leaves the verdict inconclusive (not a pass or a fail on a mean
//! that sits inside the seed-to-seed spread). The run is inconclusive
//! unless DC clean, NAIVEATTACK and DOORPING ran at some ratio on the same
//! at least 3 seeds with finite CTA and ASR and clean DC's mean CTA is at
//! least 0.50 (five times chance). DM arms,
//! the defences (fine-tuning on 10 clean images per class, reverse
//! engineering, the class-level spectral test, input clipping) and the
//! trigger-update counts are reported, not judged. Anchor numbers: the
//! paper reports DOORPING ASRs near 1.0 on every dataset it attacks; the
//! DC paper reaches 94.7% test accuracy with 10 images per class on MNIST,
//! which is why 0.50 only catches a distillation that failed.
//!
//! The paper's (official code's): the attacks, DC's loops and optimisers,
//! the evaluation schedule and the metrics, the network's padding. Ours:
//! the digits and the network size, DM as a third method and DOORPING on
//! DM, the defences' settings, the exact thresholds of the rule (the paper
//! says "close to 1" and "close to clean") and its intervals.
//!
//! # Plan
//!
//! The experiment is a map over units, one per (seed, arm), seed outer:
//! an arm is a distillation method (DC, DM) clean or under NAIVEATTACK or
//! DOORPING at one ratio, and its unit distils its own synthetic set from
//! the seed's digits split, evaluates fresh networks on it and runs the
//! defences, with the seeds of its method and run seed (common random
//! numbers across the attacks). The seed-0 units draw the synthetic-set and
//! trigger figures; `summarise` adds the defence notes, the verdict, the
//! trigger-update table and the CTA/ASR bars.
//!
//! Not as the official DM: its evaluation trains with DSA for 1000 epochs;
//! here every arm is evaluated the same way (300 epochs, no augmentation,
//! as the paper's DC evaluation on MNIST), so DM's and DC's rows compare
//! and the run fits its budget.

use crate::attack::{AttackConfig, AttackKind, Poisoned};
use crate::data::{ImageData, digits};
use crate::defences::{DefenceConfig, fine_tune, neural_cleanse, spectral};
use crate::distill::{DistillConfig, Distilled, Method, distill};
use crate::net::{NetConfig, Params};
use crate::train::{EvalConfig, accuracy, train_fresh};
use anyhow::Result;
use reprolab_core::plan::{Outputs, Unit, UnitOutput};
use reprolab_core::registry::{RunContext, Validate};
use reprolab_core::report::plot::{Bars, GridLabels, grouped_bars, labelled_image_grid};
use reprolab_core::report::{Figure, Report, Results, Verdict};
use reprolab_core::rng::derive_seed;
use serde::Deserialize;

pub const CLAIM: &str = "Poisoning the distillation plants a backdoor in every model trained on the synthetic set: DOORPING reaches an attack success rate near 1 while clean accuracy stays close to clean distillation, well above NAIVEATTACK.";
/// The verdict's rule, as the report prints it.
pub const RULE: &str = "Written before the rerun of session 9 (the laptop experiment's pass criterion, made exact; arms of a seed share their distillation, evaluation and defence seeds, so differences are paired by seed). On DC, at every poisoning ratio the preset runs (full and paper: 1% and 5%; quick: 5%): (a) DOORPING's mean ASR over seeds >= 0.90; (b) the ASR gap, DOORPING minus NAIVEATTACK per seed, has a 95% t interval over seeds whose lower end is >= 0.10 (fails when its upper end is < 0.10); (c) the CTA loss, clean DC minus DOORPING per seed, has a 95% t interval whose upper end is <= 0.02 (fails when its lower end is > 0.02). Supported when all hold at every ratio; not supported when any fails; inconclusive when none fails but an interval contains its margin (these seeds cannot settle it). Precondition (else inconclusive): DC clean, NAIVEATTACK and DOORPING were run at some ratio, each judged arm has finite CTA and ASR on the same seeds, at least 3, and clean DC's mean CTA is at least 0.50 (five times chance on ten classes: the synthetic set teaches the classes, so a CTA loss and an ASR are measured on working classifiers). DM arms are reported, not judged (the paper attacks DD and DC).";

/// Seeds every judged arm needs: the rule compares means over seeds, and
/// with fewer than 3 there is no seed-to-seed spread to read a 2-point CTA
/// margin against (the seeds' std is 1.5 to 3 points at this scale).
const MIN_SEEDS: usize = 3;
/// Clean DC's mean CTA the CTA comparison needs: five times chance on ten
/// classes. Below it the clean synthetic set does not teach the classes,
/// so "DOORPING's CTA within 2 points of clean" holds for a set that
/// teaches nothing; it is far under what DC reaches with 10 images per
/// class on digit data (the DC paper: 94.7% on MNIST), so it only catches
/// a distillation that failed, not a weak one.
const MIN_CLEAN_CTA: f64 = 0.5;
/// The command whose run can decide when a precondition fails.
const DECIDE: &str = "run `reprolab run distill-backdoor --preset full --jobs 2` (or --executor slurm)";

/// Every hyper-parameter of the experiment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Distillation methods, each run clean and under both attacks (paper:
    /// DD and DC; here `dc`, and `dm`, ours).
    pub methods: Vec<Method>,
    /// Poisoning ratios of both attacks, each in (0, 1] (paper: 1% by
    /// default; the laptop experiment: 1% and 5%).
    pub ratios: Vec<f64>,
    /// The ConvNet (the laptop experiment: conv 16 channels, FC 64, on 8x8
    /// digits).
    pub net: NetConfig,
    /// DC's loops and optimisers (DM uses `ipc`, its image optimiser and
    /// the batches).
    pub distill: DistillConfig,
    /// DM's iterations, cheap ones, one matching step each (paper: not
    /// stated, DM is ours).
    pub dm_iterations: usize,
    /// DM's networks (distillation, evaluation, defences) with instance
    /// norm after each conv, as the official DM's default ConvNet
    /// (`net_norm='instancenorm'`); DC's stay as `net` says (the paper's
    /// code builds its ConvNet without norm).
    pub dm_instance_norm: bool,
    /// How a synthetic set is evaluated with fresh networks.
    pub eval: EvalConfig,
    /// Patch size, target and DOORPING's optimiser (kind and ratio are set per arm).
    pub attack: AttackConfig,
    /// The defences' settings (ours).
    pub defence: DefenceConfig,
}

impl Validate for Config {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(!self.methods.is_empty(), "methods must list at least one of \"dc\", \"dm\"");
        for (i, m) in self.methods.iter().enumerate() {
            anyhow::ensure!(!self.methods[..i].contains(m), "methods lists {} twice", m.name());
        }
        for (i, &r) in self.ratios.iter().enumerate() {
            anyhow::ensure!(r > 0.0 && r <= 1.0, "ratios must each be in (0, 1], got {r}");
            anyhow::ensure!(!self.ratios[..i].contains(&r), "ratios lists {r} twice");
        }
        self.net.validate()?;
        self.distill.validate()?;
        anyhow::ensure!(self.dm_iterations >= 1, "dm_iterations must be at least 1");
        self.eval.validate()?;
        self.attack.validate()?;
        anyhow::ensure!(
            self.attack.target < self.net.classes,
            "attack.target {} is not among the net.classes = {} classes",
            self.attack.target,
            self.net.classes
        );
        anyhow::ensure!(
            self.attack.size < self.net.side,
            "attack.size {} does not fit a net.side = {} image (the patch sits one pixel in from the corner: at most {})",
            self.attack.size,
            self.net.side,
            self.net.side.saturating_sub(1)
        );
        self.defence.validate()
    }
}

/// Test metrics of one synthetic set, averaged over fresh networks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackMetrics {
    pub cta: f64,
    /// Triggered test images not of the target class classified as the target.
    pub asr: f64,
    /// The official code's variant: all triggered test images.
    pub asr_with_target: f64,
}

/// Trains `cfg.networks` fresh networks on the synthetic set and measures them.
pub fn evaluate(
    net: &NetConfig,
    syn: &Distilled,
    poisoned: &Poisoned,
    data: &ImageData,
    cfg: &EvalConfig,
    seed: u64,
) -> Result<(AttackMetrics, Vec<Params>)> {
    let target = poisoned.config.target;
    let others: Vec<usize> = (0..data.test.len()).filter(|&i| data.test.labels[i] != target).collect();
    let triggered_all = poisoned.triggered(&data.test.values);
    let triggered_others = poisoned.triggered(&data.test.gather(&others));
    let mut sums = [0.0; 3];
    let mut nets = Vec::new();
    for k in 0..cfg.networks {
        let params = train_fresh(net, &syn.images, &syn.labels, cfg, derive_seed(seed, &format!("eval-{k}")))?;
        sums[0] += accuracy(net, &params, &data.test.values, &data.test.labels);
        sums[1] += accuracy(net, &params, &triggered_others, &vec![target; others.len()]);
        sums[2] += accuracy(net, &params, &triggered_all, &vec![target; data.test.len()]);
        nets.push(params);
    }
    let n = cfg.networks.max(1) as f64;
    Ok((AttackMetrics { cta: sums[0] / n, asr: sums[1] / n, asr_with_target: sums[2] / n }, nets))
}

/// An arm's name in the table.
pub fn arm(method: Method, kind: AttackKind, ratio: f64) -> String {
    match kind {
        AttackKind::None => format!("{} clean", method.name()),
        _ => format!("{} {} {}%", method.name(), kind.name(), ratio * 100.0),
    }
}

/// One arm of the plan: a distillation method under an attack at a ratio
/// (`AttackKind::None` with ratio 0 for the clean arm).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Arm {
    method: Method,
    kind: AttackKind,
    ratio: f64,
}

impl Arm {
    fn name(self) -> String {
        arm(self.method, self.kind, self.ratio)
    }

    /// The arm's unit part and figure slug: "DC DOORPING 5%" -> "dc-doorping-5pct".
    fn slug(self) -> String {
        slug(&self.name())
    }
}

/// "DC DOORPING 5%" -> "dc-doorping-5pct".
fn slug(name: &str) -> String {
    name.to_lowercase().replace('%', "pct").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// Every arm in table order: per method, clean, then NAIVEATTACK and
/// DOORPING at each ratio.
fn arms(cfg: &Config) -> Vec<Arm> {
    let mut out = Vec::new();
    for &method in &cfg.methods {
        out.push(Arm { method, kind: AttackKind::None, ratio: 0.0 });
        for &ratio in &cfg.ratios {
            out.push(Arm { method, kind: AttackKind::Naive, ratio });
            out.push(Arm { method, kind: AttackKind::Doorping, ratio });
        }
    }
    out
}

/// The map: one unit per (seed, arm), seed outer and arms in table order
/// (the old loop's nesting, so the cells' per-seed order is kept). Each
/// unit distils its own synthetic set from the seed's digits split, with
/// the seeds every arm of its method shares at that run seed.
pub fn units(ctx: &RunContext) -> Result<Vec<Unit>> {
    let cfg: Config = ctx.config()?;
    let arms = arms(&cfg);
    Ok(ctx.seeds.iter().flat_map(|&seed| arms.iter().map(move |a| Unit::main(a.slug(), seed))).collect())
}

/// One (seed, arm): distil, evaluate fresh networks, run the defences. The
/// seed-0 units also draw their synthetic set (clean arms and the largest
/// ratio) and, for the first method's DOORPING, the trigger figure, and
/// note DOORPING's trigger-update counts.
pub fn run_unit(ctx: &RunContext, unit: &Unit) -> Result<UnitOutput> {
    let cfg: Config = ctx.config()?;
    let seed = unit.key.seed;
    let Some(a) = arms(&cfg).into_iter().find(|a| a.slug() == unit.key.part) else {
        anyhow::bail!("no arm '{}' in this config", unit.key.part);
    };
    let Arm { method, kind, ratio } = a;
    let data = digits(seed)?;
    let net = arm_net(&cfg, method);
    let net = &net;
    let dcfg = DistillConfig {
        iterations: if method == Method::Dm { cfg.dm_iterations } else { cfg.distill.iterations },
        ..cfg.distill.clone()
    };
    let name = a.name();
    let mut out = UnitOutput::default();
    tracing::info!(seed, arm = name.as_str(), "distilling");
    let attack = AttackConfig { kind, ratio, ..cfg.attack.clone() };
    let mut poisoned = Poisoned::new(&data, &attack, derive_seed(seed, "attack"))?;
    let bar = reprolab_core::progress::bar(dcfg.iterations as u64, &name);
    // Common random numbers: every arm of a seed distils, evaluates and
    // defends with the same seeds (per method), so the arms of a seed differ
    // only in the attack and their differences are paired.
    let arm_seed = derive_seed(seed, method.name());
    let syn = distill(method, net, &dcfg, &mut poisoned, derive_seed(arm_seed, "distill"), &bar, None)?;
    bar.finish_and_clear();
    // Clean arms are measured with the BadNets patch (their ASR is the base rate).
    let (m, nets) = evaluate(net, &syn, &poisoned, &data, &cfg.eval, derive_seed(arm_seed, "evaluate"))?;
    out.record(&name, "CTA", m.cta);
    out.record(&name, "ASR", m.asr);
    out.record(&name, "ASR incl. target", m.asr_with_target);
    let attacked = Attacked {
        name: &name,
        net,
        seed: derive_seed(arm_seed, "defend"),
        data: &data,
        poisoned: &poisoned,
        syn: &syn,
        nets: &nets,
    };
    defend(&cfg, &attacked, &mut out)?;
    // Seeds are 0..n, so seed 0 is the first seed of every run.
    let first_seed = seed == 0;
    if kind == AttackKind::Doorping && !syn.trigger_updates.is_empty() {
        let capped = syn.trigger_updates.iter().filter(|u| u.steps == attack.max_steps).count();
        let idle = syn.trigger_updates.iter().filter(|u| u.steps == 0).count();
        let total = syn.trigger_updates.len() as f64;
        let steps = syn.trigger_updates.iter().map(|u| u.steps as f64).sum::<f64>();
        for (metric, v) in [
            ("updates per iteration", total / syn.updates_per_iteration.len().max(1) as f64),
            ("share that stop at once", idle as f64 / total),
            ("share at the step cap", capped as f64 / total),
            ("mean Adam steps per update", steps / total),
        ] {
            out.record_in(TRIGGER_TABLE, &name, metric, v);
        }
        if first_seed {
            out.note(format!(
                "{name}, seed {seed}: {} trigger updates, {idle} stopped at once (loss already < {}), {capped} hit the {}-step cap.",
                syn.trigger_updates.len(),
                attack.stop_below,
                attack.max_steps
            ));
        }
    }
    if first_seed && (ratio == *cfg.ratios.last().unwrap_or(&0.0) || kind == AttackKind::None) {
        let images: Vec<f32> = (0..syn.labels.len())
            .flat_map(|i| syn.images[i * net.image_len()..(i + 1) * net.image_len()].to_vec())
            .collect();
        out.figure(synthetic_figure(&cfg, &name, &images, &data)?);
        if kind == AttackKind::Doorping && method == cfg.methods[0] && !syn.triggers.is_empty() {
            out.figure(trigger_figure(&cfg, &syn.triggers, &data)?);
        }
    }
    Ok(out)
}

/// The reduce: the defence notes per arm, the verdict, the CTA/ASR bars
/// (after the seed-0 units' synthetic-set figures and the trigger figure).
pub fn summarise(ctx: &RunContext, outputs: &Outputs) -> Result<Report> {
    let cfg: Config = ctx.config()?;
    let results = outputs.results("");
    let mut notes = outputs.notes();
    for name in results.arms.clone() {
        let cell = |metric: &str| results.require(&name, metric);
        let flagged =
            |metric: &str| -> Result<usize> { Ok(cell(metric)?.values.iter().filter(|&&v| v == 1.0).count()) };
        let seeds = cell("reverse engineering flags the target")?.values.len();
        notes.push(format!(
            "Defences on {name}: fine-tuning on {} clean images per class takes ASR {:.3} -> {:.3} and CTA {:.3} -> {:.3}; clipping inputs to the pixel range leaves ASR {:.3}; reverse engineering flags the target class in {}/{seeds} seeds, the spectral test in {}/{seeds}.",
            cfg.defence.clean_per_class,
            cell("ASR")?.mean,
            cell("ASR after fine-tuning")?.mean,
            cell("CTA")?.mean,
            cell("CTA after fine-tuning")?.mean,
            cell("ASR on inputs clipped to the pixel range")?.mean,
            flagged("reverse engineering flags the target")?,
            flagged("spectral test flags the target")?,
        ));
    }
    let verdict = judge(&cfg.methods, &cfg.ratios, &results)?;
    let mut report = ctx.report(results.clone(), verdict);
    let triggers = outputs.results(TRIGGER_TABLE);
    if !triggers.arms.is_empty() {
        report = report.table(TRIGGER_TABLE, triggers);
    }
    // The synthetic sets in unit order, then the trigger (drawn by its unit
    // between the sets, shown after all of them).
    let (triggers, sets): (Vec<Figure>, Vec<Figure>) = outputs.figures().into_iter().partition(|f| f.name == "trigger");
    for f in sets.into_iter().chain(triggers) {
        report.figures.push(f);
    }
    report = add_bars(report, &cfg, &results)?;
    for n in notes {
        report = report.note(n);
    }
    Ok(report.note(format!(
        "Digits 8x8, stratified 75/25 split per seed; ConvNet width {} depth {} hidden {}; {} images per class; DC {} iterations with loops ({}, {}); DM {} iterations; {} fresh networks per synthetic set, {} epochs each; patch {}x{}, target class {}.",
        cfg.net.width, cfg.net.depth, cfg.net.hidden, cfg.distill.ipc, cfg.distill.iterations, cfg.distill.outer_loop,
        cfg.distill.inner_loop, cfg.dm_iterations, cfg.eval.networks, cfg.eval.epochs, cfg.attack.size, cfg.attack.size, cfg.attack.target
    )))
}

/// The network of a method's arms: `cfg.net`, with instance norm for DM
/// when `dm_instance_norm` is set.
pub(crate) fn arm_net(cfg: &Config, method: Method) -> NetConfig {
    NetConfig {
        instance_norm: cfg.net.instance_norm || (method == Method::Dm && cfg.dm_instance_norm),
        ..cfg.net.clone()
    }
}

/// The table of DOORPING's trigger-update counts.
const TRIGGER_TABLE: &str = "DOORPING trigger updates";

/// One arm's synthetic set and the networks trained on it: what the
/// defences are tried against.
struct Attacked<'a> {
    /// The arm's name, the table row its defence metrics go to.
    name: &'a str,
    /// The arm's network.
    net: &'a NetConfig,
    /// The defences' seed (the same for every arm of a method and seed).
    seed: u64,
    data: &'a ImageData,
    poisoned: &'a Poisoned,
    syn: &'a Distilled,
    /// The fresh networks trained on `syn`.
    nets: &'a [Params],
}

/// The defences against one arm: fine-tuning every evaluation network on
/// a small clean set, reverse engineering and the spectral test on the
/// first one.
fn defend(cfg: &Config, arm: &Attacked, out: &mut UnitOutput) -> Result<()> {
    let Attacked { name, net, seed, data, poisoned, syn, nets } = *arm;
    use rand::seq::SliceRandom;
    let mut r = reprolab_core::rng::rng(derive_seed(seed, "clean-set"));
    let clean: Vec<usize> = data
        .train
        .by_class()
        .into_iter()
        .flat_map(|mut idx| {
            idx.shuffle(&mut r);
            idx.truncate(cfg.defence.clean_per_class);
            idx
        })
        .collect();
    let (x, y) = (data.train.gather(&clean), clean.iter().map(|&i| data.train.labels[i]).collect::<Vec<_>>());
    let target = poisoned.config.target;
    let others: Vec<usize> = (0..data.test.len()).filter(|&i| data.test.labels[i] != target).collect();
    let triggered = poisoned.triggered(&data.test.gather(&others));
    let (mut cta, mut asr) = (0.0, 0.0);
    for (k, params) in nets.iter().enumerate() {
        let tuned = fine_tune(net, params, &x, &y, &cfg.defence, derive_seed(seed, &format!("finetune-{k}")))?;
        cta += accuracy(net, &tuned, &data.test.values, &data.test.labels);
        asr += accuracy(net, &tuned, &triggered, &vec![target; others.len()]);
    }
    let n = nets.len().max(1) as f64;
    out.record(name, "CTA after fine-tuning", cta / n);
    out.record(name, "ASR after fine-tuning", asr / n);
    // Input-level check: a deployed model sees only valid pixels, so clip
    // every triggered input to the data's intensity range [0, 1].
    let clipped = data.clip_to_pixel_range(&triggered);
    let clipped_asr: f64 =
        nets.iter().map(|p| accuracy(net, p, &clipped, &vec![target; others.len()])).sum::<f64>() / n;
    out.record(name, "ASR on inputs clipped to the pixel range", clipped_asr);
    if let Some(first) = nets.first() {
        let cleanse = neural_cleanse(net, first, &x, data, &cfg.defence, derive_seed(seed, "cleanse"));
        out.record(
            name,
            "reverse engineering flags the target",
            f64::from(u8::from(cleanse.flagged.contains(&target))),
        );
        out.record(name, "reverse engineering anomaly index of the target", cleanse.anomaly[target]);
        let sp = spectral(net, first, &syn.images, &syn.labels);
        out.record(name, "spectral test flags the target", f64::from(u8::from(sp.flagged == Some(target))));
    }
    Ok(())
}

/// How one condition of the rule came out on its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Holds,
    Fails,
    /// The interval straddles the margin: these seeds cannot settle it.
    Undecided,
}

/// The per-seed paired differences `a - b` (seed k of every arm is value k:
/// units run seed outer, and the arms of a seed share their random
/// numbers), their mean and 95% t interval (`reprolab_core::stats::mean_ci95`).
fn paired(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64)> {
    if a.len() != b.len() {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (lo, hi) = reprolab_core::stats::mean_ci95(&d)?;
    Some((reprolab_core::stats::mean(&d), lo, hi))
}

/// "The difference is at least `margin`": holds when the interval's lower
/// end is at or above it, fails when its upper end is below it.
fn at_least(lo: f64, hi: f64, margin: f64) -> Condition {
    if lo >= margin {
        Condition::Holds
    } else if hi < margin {
        Condition::Fails
    } else {
        Condition::Undecided
    }
}

/// "The difference is at most `margin`": holds when the interval's upper
/// end is at or below it, fails when its lower end is above it.
fn at_most(lo: f64, hi: f64, margin: f64) -> Condition {
    if hi <= margin {
        Condition::Holds
    } else if lo > margin {
        Condition::Fails
    } else {
        Condition::Undecided
    }
}

/// The verdict: the preconditions (every judged arm on `MIN_SEEDS` seeds,
/// the same seeds for all, clean DC at `MIN_CLEAN_CTA`), then the rule at
/// every ratio: the ASR level on the mean, the ASR gap and the CTA loss on
/// their paired intervals.
fn judge(methods: &[Method], ratios: &[f64], results: &Results) -> Result<Verdict> {
    if !methods.contains(&Method::Dc) {
        return Ok(Verdict::inconclusive(RULE, format!("precondition failed: DC was not run; {DECIDE}")));
    }
    if ratios.is_empty() {
        return Ok(Verdict::inconclusive(RULE, format!("precondition failed: no poisoning ratio was run; {DECIDE}")));
    }
    let clean = arm(Method::Dc, AttackKind::None, 0.0);
    let clean_cta = results.require(&clean, "CTA")?;
    let mut judged = vec![clean.clone()];
    for &r in ratios {
        judged.push(arm(Method::Dc, AttackKind::Naive, r));
        judged.push(arm(Method::Dc, AttackKind::Doorping, r));
    }
    let mut unmet = Vec::new();
    let seeds = clean_cta.values.len();
    for a in &judged {
        let (cta, asr) = (results.require(a, "CTA")?, results.require(a, "ASR")?);
        let n = cta.values.len().min(asr.values.len());
        let finite = cta.values.iter().chain(&asr.values).all(|v| v.is_finite());
        if n < MIN_SEEDS {
            unmet.push(format!("{a} has {n} seeds (< {MIN_SEEDS})"));
        } else if !finite {
            unmet.push(format!("{a} has a non-finite CTA or ASR"));
        } else if cta.values.len() != seeds || asr.values.len() != seeds {
            unmet.push(format!("{a} has {n} seeds, {clean} {seeds} (the differences are paired by seed)"));
        }
    }
    // Checked only when clean DC has a CTA (else the loop above names it).
    if clean_cta.mean.is_finite() && clean_cta.mean < MIN_CLEAN_CTA {
        unmet.push(format!(
            "clean DC's CTA {:.3} < {MIN_CLEAN_CTA:.2} (the clean synthetic set does not teach the classes)",
            clean_cta.mean
        ));
    }
    let mut failures = Vec::new();
    let mut undecided = Vec::new();
    let mut evidence = Vec::new();
    for &r in ratios {
        let pct = r * 100.0;
        let door = arm(Method::Dc, AttackKind::Doorping, r);
        let naive = arm(Method::Dc, AttackKind::Naive, r);
        let (d_asr, n_asr, d_cta) =
            (results.require(&door, "ASR")?, results.require(&naive, "ASR")?, results.require(&door, "CTA")?);
        let gap = paired(&d_asr.values, &n_asr.values);
        let loss = paired(&clean_cta.values, &d_cta.values);
        let show = |p: Option<(f64, f64, f64)>| {
            p.map_or("no interval".to_string(), |(m, lo, hi)| format!("{m:+.3} [{lo:+.3}, {hi:+.3}]"))
        };
        evidence.push(format!(
            "{pct}%: DOORPING ASR {:.3} vs NAIVEATTACK {:.3} (paired gap {}), CTA {:.3} vs clean {:.3} (paired loss {})",
            d_asr.mean,
            n_asr.mean,
            show(gap),
            d_cta.mean,
            clean_cta.mean,
            show(loss)
        ));
        if d_asr.mean < 0.9 {
            failures.push(format!("DOORPING's mean ASR {:.3} < 0.90 at {pct}%", d_asr.mean));
        }
        match gap.map(|(_, lo, hi)| at_least(lo, hi, 0.1)) {
            Some(Condition::Holds) => {}
            Some(Condition::Fails) => failures.push(format!("the ASR gap's interval lies below 0.10 at {pct}%")),
            Some(Condition::Undecided) => undecided.push(format!("the ASR gap's interval contains 0.10 at {pct}%")),
            None => undecided.push(format!("no ASR gap interval at {pct}%")),
        }
        match loss.map(|(_, lo, hi)| at_most(lo, hi, 0.02)) {
            Some(Condition::Holds) => {}
            Some(Condition::Fails) => failures.push(format!("the CTA loss's interval lies above 2 points at {pct}%")),
            Some(Condition::Undecided) => {
                undecided.push(format!("the CTA loss's interval contains 2 points at {pct}%"))
            }
            None => undecided.push(format!("no CTA loss interval at {pct}%")),
        }
    }
    if !unmet.is_empty() {
        return Ok(Verdict::inconclusive(
            RULE,
            format!("{}; precondition failed: {}; {DECIDE}", evidence.join("; "), unmet.join(", ")),
        ));
    }
    if !failures.is_empty() {
        return Ok(Verdict::from_rule(false, RULE, format!("{}; fails: {}", evidence.join("; "), failures.join(", "))));
    }
    if !undecided.is_empty() {
        return Ok(Verdict::inconclusive(
            RULE,
            format!(
                "{}; undecided: {} (more seeds narrow the intervals: `--seeds`, or the paper preset)",
                evidence.join("; "),
                undecided.join(", ")
            ),
        ));
    }
    Ok(Verdict::from_rule(true, RULE, evidence.join("; ")))
}

/// The synthetic set of one arm (seed 0) as an image grid, one row per class.
fn synthetic_figure(cfg: &Config, name: &str, images: &[f32], data: &ImageData) -> Result<Figure> {
    let side = cfg.net.side;
    let cells: Vec<Vec<f32>> = images.chunks(cfg.net.image_len()).map(|img| data.display_pixels(img)).collect();
    Ok(Figure {
        name: format!("synthetic-{}", slug(name)),
        caption: format!(
            "{name}, seed 0: the synthetic set, one row per class (class 0 on top; the target class is marked), {} images per class.",
            cfg.distill.ipc
        ),
        content: labelled_image_grid(
            &cells,
            side,
            side,
            cfg.net.channels,
            cfg.distill.ipc,
            4,
            &synthetic_labels(
                &format!("{name}: synthetic set (seed 0)"),
                cells.len() / cfg.distill.ipc.max(1),
                Some(cfg.attack.target),
            ),
        )?,
    })
}

/// DOORPING's trigger after up to ten evenly spaced iterations.
fn trigger_figure(cfg: &Config, triggers: &[Vec<f32>], data: &ImageData) -> Result<Figure> {
    let side = cfg.net.side;
    let n = triggers.len();
    let k = 10.min(n);
    let picks: Vec<usize> = (0..k).map(|j| if k == 1 { 0 } else { j * (n - 1) / (k - 1) }).collect();
    let cells: Vec<Vec<f32>> = picks.iter().map(|&i| data.display_pixels(&triggers[i])).collect();
    Ok(Figure {
        name: "trigger".into(),
        caption: format!(
            "DOORPING's trigger image during DC at the largest ratio, seed 0, after iterations {picks:?} (intensities clipped to [0, 1]; the patch is the only part stamped)."
        ),
        content: labelled_image_grid(
            &cells,
            side,
            side,
            cfg.net.channels,
            cells.len(),
            6,
            &GridLabels {
                title: "DOORPING's trigger after distillation iteration".into(),
                rows: Vec::new(),
                cols: picks.iter().map(|i| i.to_string()).collect(),
            },
        )?,
    })
}

/// Labels of a synthetic set's picture: one row per class, the backdoor's
/// target class marked when there is one.
pub(crate) fn synthetic_labels(title: &str, classes: usize, target: Option<usize>) -> GridLabels {
    GridLabels {
        title: title.into(),
        rows: (0..classes)
            .map(|c| if Some(c) == target { format!("class {c} (target)") } else { format!("class {c}") })
            .collect(),
        cols: Vec::new(),
    }
}

/// One CTA/ASR bar chart per distillation method.
fn add_bars(mut report: Report, cfg: &Config, results: &Results) -> Result<Report> {
    for &method in &cfg.methods {
        let prefix = format!("{} ", method.name());
        let arms: Vec<String> = results.arms.iter().filter(|a| a.starts_with(&prefix)).cloned().collect();
        // Short group labels: "clean", "naive 1%", "DoorPing 1%", ...
        let labels: Vec<String> = arms
            .iter()
            .map(|a| a[prefix.len()..].replace("NAIVEATTACK", "naive").replace("DOORPING", "DoorPing"))
            .collect();
        let bars: Vec<Bars> = ["CTA", "ASR"]
            .iter()
            .map(|m| -> Result<Bars> {
                let cells: Vec<_> = arms.iter().map(|a| results.require(a, m)).collect::<Result<_>>()?;
                Ok(Bars {
                    name: (*m).to_string(),
                    mean: cells.iter().map(|c| c.mean).collect(),
                    std: cells.iter().map(|c| c.std).collect(),
                })
            })
            .collect::<Result<_>>()?;
        report = report.figure(
            &format!("asr-cta-{}", method.name().to_lowercase()),
            &format!("{}: clean test accuracy (CTA) and attack success rate (ASR) per arm, mean and std over seeds (each seed averages its fresh networks).", method.name()),
            grouped_bars(&format!("{}: CTA and ASR", method.name()), "share of test images", &labels, &bars)?,
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprolab_core::registry::{self, Preset};
    use reprolab_core::report::Outcome;

    /// Results of the DC arms at 5% over `seeds` seeds: clean CTA `clean`,
    /// DOORPING ASR `door` and CTA `clean - 0.01`, NAIVEATTACK ASR 0.1.
    fn results(seeds: usize, clean: f64, door: f64) -> Results {
        let mut r = Results::default();
        for _ in 0..seeds {
            for (a, cta, asr) in [
                (arm(Method::Dc, AttackKind::None, 0.0), clean, 0.01),
                (arm(Method::Dc, AttackKind::Naive, 0.05), clean, 0.1),
                (arm(Method::Dc, AttackKind::Doorping, 0.05), clean - 0.01, door),
            ] {
                r.record(&a, "CTA", cta);
                r.record(&a, "ASR", asr);
            }
        }
        r
    }

    /// Per-seed results of the DC arms at 5%: clean CTA 0.87, NAIVEATTACK
    /// ASR 0.1, DOORPING's CTA and ASR per seed as given.
    fn paired_results(door_cta: &[f64], door_asr: &[f64]) -> Results {
        let mut r = Results::default();
        for (&cta, &asr) in door_cta.iter().zip(door_asr) {
            for (a, c, s) in [
                (arm(Method::Dc, AttackKind::None, 0.0), 0.87, 0.01),
                (arm(Method::Dc, AttackKind::Naive, 0.05), 0.87, 0.1),
                (arm(Method::Dc, AttackKind::Doorping, 0.05), cta, asr),
            ] {
                r.record(&a, "CTA", c);
                r.record(&a, "ASR", s);
            }
        }
        r
    }

    /// A CTA loss whose mean (1.5 points) is under the 2-point line but
    /// whose paired interval contains it is undecided: inconclusive (the
    /// old rule, a mean against the line, called it supported).
    #[test]
    fn a_cta_loss_interval_containing_two_points_is_inconclusive() {
        let v = judge(&[Method::Dc], &[0.05], &paired_results(&[0.87, 0.84, 0.855], &[1.0; 3])).unwrap();
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.evidence);
        assert!(v.evidence.contains("the CTA loss's interval contains 2 points at 5%"), "{}", v.evidence);
        // mean +0.015, t(0.975, 2) = 4.3027, sd 0.015: half-width 0.0373
        assert!(v.evidence.contains("paired loss +0.015 [-0.022, +0.052]"), "{}", v.evidence);
    }

    /// A CTA loss whose whole interval lies above 2 points fails the rule,
    /// and one whose whole interval lies below passes it.
    #[test]
    fn a_cta_loss_interval_decides_on_either_side_of_two_points() {
        let v = judge(&[Method::Dc], &[0.05], &paired_results(&[0.83, 0.82, 0.825], &[1.0; 3])).unwrap();
        assert_eq!(v.outcome, Outcome::NotSupported, "{}", v.evidence);
        assert!(v.evidence.contains("the CTA loss's interval lies above 2 points at 5%"), "{}", v.evidence);
        let v = judge(&[Method::Dc], &[0.05], &paired_results(&[0.87, 0.865, 0.868], &[1.0; 3])).unwrap();
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.evidence);
    }

    /// The ASR gap is judged on its paired interval too: DOORPING 0.15 to
    /// 0.25 against NAIVEATTACK's 0.1 is a gap whose interval contains 0.10
    /// (and the mean ASR fails the 0.90 level).
    #[test]
    fn the_asr_gap_is_judged_on_its_interval() {
        let v = judge(&[Method::Dc], &[0.05], &paired_results(&[0.87; 3], &[0.15, 0.25, 0.2])).unwrap();
        assert_eq!(v.outcome, Outcome::NotSupported, "{}", v.evidence);
        assert!(v.evidence.contains("DOORPING's mean ASR 0.200 < 0.90"), "{}", v.evidence);
        assert!(v.evidence.contains("paired gap +0.100 [-0.024, +0.224]"), "{}", v.evidence);
    }

    #[test]
    fn arms_of_a_seed_with_different_seed_counts_are_inconclusive() {
        let mut r = paired_results(&[0.87; 3], &[1.0; 3]);
        r.record(&arm(Method::Dc, AttackKind::Doorping, 0.05), "CTA", 0.87);
        r.record(&arm(Method::Dc, AttackKind::Doorping, 0.05), "ASR", 1.0);
        let v = judge(&[Method::Dc], &[0.05], &r).unwrap();
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.evidence);
        assert!(v.evidence.contains("paired by seed"), "{}", v.evidence);
    }

    #[test]
    fn supported_when_the_rule_holds_on_enough_seeds() {
        let v = judge(&[Method::Dc], &[0.05], &results(3, 0.87, 1.0)).unwrap();
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.evidence);
    }

    #[test]
    fn inconclusive_below_three_seeds() {
        let v = judge(&[Method::Dc], &[0.05], &results(2, 0.87, 1.0)).unwrap();
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.evidence);
        assert!(v.evidence.contains("DC clean has 2 seeds (< 3)"), "{}", v.evidence);
        assert!(v.evidence.ends_with("(or --executor slurm)"), "{}", v.evidence);
    }

    #[test]
    fn inconclusive_when_clean_dc_does_not_learn() {
        // The pass criterion alone would say supported: DOORPING's CTA is
        // within 2 points of a clean CTA that is itself near chance.
        let v = judge(&[Method::Dc], &[0.05], &results(5, 0.2, 1.0)).unwrap();
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.evidence);
        assert!(v.evidence.contains("clean DC's CTA 0.200 < 0.50"), "{}", v.evidence);
    }

    #[test]
    fn a_judged_arm_without_results_is_an_error() {
        // The 1% arms were never run: the rule names the missing cell
        // instead of reading a NaN.
        let err = judge(&[Method::Dc], &[0.01, 0.05], &results(3, 0.87, 1.0)).unwrap_err().to_string();
        assert!(err.contains("no result for arm 'DC NAIVEATTACK 1%', metric 'CTA'"), "{err}");
    }

    #[test]
    fn inconclusive_without_dc_or_a_ratio() {
        let v = judge(&[Method::Dm], &[0.05], &Results::default()).unwrap();
        assert!(v.evidence.contains("DC was not run"), "{}", v.evidence);
        let v = judge(&[Method::Dc], &[], &Results::default()).unwrap();
        assert!(v.evidence.contains("no poisoning ratio"), "{}", v.evidence);
        assert_eq!(v.outcome, Outcome::Inconclusive);
    }

    #[test]
    fn every_shipped_preset_validates() {
        for preset in Preset::ALL {
            let cfg: Config = registry::preset_config("distill-backdoor", preset)
                .unwrap_or_else(|e| panic!("{}: {e:#}", preset.name()));
            assert!(!arms(&cfg).is_empty());
        }
    }

    /// A bad value in a user's `--config` file fails when the config is
    /// read, as a user error naming the field.
    #[test]
    fn a_bad_value_in_a_config_file_is_a_user_error_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        for (text, field) in [
            ("[distill]\nipc = 0\n", "distill.ipc must be at least 1"),
            ("[eval.sgd]\nlr = 0.0\n", "eval.sgd: lr must be a positive number"),
            ("[distill.dc_images]\nmomentum = 1.0\n", "distill.dc_images: momentum must be in [0, 1)"),
            ("ratios = [0.05, 1.5]\n", "ratios must each be in (0, 1], got 1.5"),
            ("methods = [\"dc\", \"dc\"]\n", "methods lists DC twice"),
            ("[attack]\ntarget = 10\n", "attack.target 10 is not among the net.classes = 10 classes"),
            ("[attack]\nsize = 8\n", "attack.size 8 does not fit"),
            ("[net]\ndepth = 4\n", "net.side 8 cannot be halved net.depth = 4 times"),
            ("[defence]\ncleanse_lr = -1.0\n", "defence.cleanse_lr must be a positive number"),
        ] {
            std::fs::write(&file, text).unwrap();
            let ctx = RunContext::with_config_file(&crate::METHOD, Preset::Smoke, &file).unwrap();
            let err = units(&ctx).unwrap_err();
            assert!(reprolab_core::is_user_error(&err), "{err:#}");
            let msg = err.to_string();
            assert!(msg.contains("bad.toml") && msg.contains(field), "{text}: {msg}");
        }
    }

    #[test]
    fn not_supported_when_doorping_misses_on_a_valid_run() {
        let v = judge(&[Method::Dc], &[0.05], &results(3, 0.87, 0.75)).unwrap();
        assert_eq!(v.outcome, Outcome::NotSupported, "{}", v.evidence);
        assert!(v.evidence.contains("DOORPING's mean ASR 0.750 < 0.90"), "{}", v.evidence);
    }
}
