//! The claim check of papers/06-doorping.md at laptop scale: distil the
//! digits with DC (and DM) cleanly, under NAIVEATTACK and under DOORPING
//! at two poisoning ratios; train fresh networks on each synthetic set;
//! compare clean test accuracy (CTA) and attack success rate (ASR).

use crate::attack::{AttackConfig, AttackKind, Poisoned};
use crate::data::{ImageData, digits};
use crate::defences::{DefenceConfig, fine_tune, neural_cleanse, spectral};
use crate::distill::{DistillConfig, Distilled, Method, distill};
use crate::net::{NetConfig, Params};
use crate::train::{EvalConfig, accuracy, train_fresh};
use anyhow::Result;
use reprolab_core::registry::{Method as Registered, Preset, RunContext};
use reprolab_core::report::plot::{Bars, grouped_bars, image_grid};
use reprolab_core::report::{Report, Results, Verdict};
use reprolab_core::rng::derive_seed;
use serde::Deserialize;

pub const PAPER: &str =
    "Liu, Li, Backes, Shen, Zhang. Backdoor Attacks Against Dataset Distillation. NDSS 2023, arXiv 2301.01197";
pub const CLAIM: &str = "Poisoning the distillation plants a backdoor in every model trained on the synthetic set: DOORPING reaches an attack success rate near 1 while clean accuracy stays close to clean distillation, well above NAIVEATTACK.";
const RULE: &str = "Written before the run (the spec's rule, made exact). On DC, at every poisoning ratio, over seeds: DOORPING's mean ASR >= 0.90; DOORPING's mean ASR at least 0.10 above NAIVEATTACK's; DOORPING's mean CTA at most 2 points below clean DC's. Supported when all hold. DM arms are reported, not judged (the paper attacks DD and DC).";

/// The registry entry.
pub const METHOD: Registered = Registered {
    name: "distill-backdoor",
    paper: PAPER,
    claim: CLAIM,
    presets: &[
        (Preset::Smoke, include_str!("../../../configs/distill-backdoor/smoke.toml")),
        (Preset::Quick, include_str!("../../../configs/distill-backdoor/quick.toml")),
        (Preset::Paper, include_str!("../../../configs/distill-backdoor/paper.toml")),
    ],
    run,
    complete: true,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub methods: Vec<Method>,
    /// Poisoning ratios of both attacks.
    pub ratios: Vec<f64>,
    pub net: NetConfig,
    pub distill: DistillConfig,
    /// DM's iterations (cheap ones, one matching step each).
    pub dm_iterations: usize,
    pub eval: EvalConfig,
    /// Patch size, target and DOORPING's optimiser (kind and ratio are set per arm).
    pub attack: AttackConfig,
    pub defence: DefenceConfig,
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

/// What seed 0 produced, for the figures.
struct Pictures {
    sets: Vec<(String, Vec<f32>)>,
    triggers: Vec<Vec<f32>>,
}

pub fn run(ctx: &RunContext) -> Result<Report> {
    let cfg: Config = ctx.config()?;
    cfg.net.validate()?;
    let mut results = Results::default();
    let mut pictures = Pictures { sets: Vec::new(), triggers: Vec::new() };
    let mut notes = Vec::new();
    for &seed in &ctx.seeds {
        let data = digits(seed)?;
        for &method in &cfg.methods {
            let dcfg = DistillConfig {
                iterations: if method == Method::Dm { cfg.dm_iterations } else { cfg.distill.iterations },
                ..cfg.distill.clone()
            };
            let mut arms = vec![(AttackKind::None, 0.0)];
            for &r in &cfg.ratios {
                arms.push((AttackKind::Naive, r));
                arms.push((AttackKind::Doorping, r));
            }
            for (kind, ratio) in arms {
                let name = arm(method, kind, ratio);
                tracing::info!(seed, arm = name.as_str(), "distilling");
                let attack = AttackConfig { kind, ratio, ..cfg.attack.clone() };
                let mut poisoned = Poisoned::new(&data, &attack, derive_seed(seed, "attack"))?;
                let bar = reprolab_core::progress::bar(dcfg.iterations as u64, &name);
                let syn = distill(method, &cfg.net, &dcfg, &mut poisoned, derive_seed(seed, &name), &bar)?;
                bar.finish_and_clear();
                // Clean arms are measured with the BadNets patch (their ASR is the base rate).
                let (m, nets) = evaluate(&cfg.net, &syn, &poisoned, &data, &cfg.eval, derive_seed(seed, &name))?;
                results.record(&name, "CTA", m.cta);
                results.record(&name, "ASR", m.asr);
                results.record(&name, "ASR incl. target", m.asr_with_target);
                defend(&cfg, &data, &poisoned, &syn, &nets, derive_seed(seed, &name), &name, &mut results)?;
                if kind == AttackKind::Doorping && !syn.trigger_updates.is_empty() {
                    let capped = syn.trigger_updates.iter().filter(|u| u.steps == attack.max_steps).count();
                    let idle = syn.trigger_updates.iter().filter(|u| u.steps == 0).count();
                    results.record(
                        &name,
                        "trigger updates at the step cap",
                        capped as f64 / syn.trigger_updates.len() as f64,
                    );
                    if seed == ctx.seeds[0] {
                        notes.push(format!(
                            "{name}, seed {seed}: {} trigger updates, {idle} stopped at once (loss already < {}), {capped} hit the {}-step cap.",
                            syn.trigger_updates.len(),
                            attack.stop_below,
                            attack.max_steps
                        ));
                    }
                }
                if seed == ctx.seeds[0] && (ratio == *cfg.ratios.last().unwrap_or(&0.0) || kind == AttackKind::None) {
                    let images: Vec<f32> = (0..syn.labels.len())
                        .flat_map(|i| syn.images[i * cfg.net.image_len()..(i + 1) * cfg.net.image_len()].to_vec())
                        .collect();
                    pictures.sets.push((name.clone(), images));
                    if kind == AttackKind::Doorping && method == cfg.methods[0] {
                        pictures.triggers = syn.triggers.clone();
                    }
                }
            }
        }
    }
    for name in results.arms.clone() {
        let seeds = results.values(&name, "reverse engineering flags the target").len();
        let flagged = |metric: &str| results.values(&name, metric).iter().filter(|&&v| v == 1.0).count();
        notes.push(format!(
            "Defences on {name}: fine-tuning on {} clean images per class takes ASR {:.3} -> {:.3} and CTA {:.3} -> {:.3}; clipping inputs to the pixel range leaves ASR {:.3}; reverse engineering flags the target class in {}/{seeds} seeds, the spectral test in {}/{seeds}.",
            cfg.defence.clean_per_class,
            results.mean(&name, "ASR"),
            results.mean(&name, "ASR after fine-tuning"),
            results.mean(&name, "CTA"),
            results.mean(&name, "CTA after fine-tuning"),
            results.mean(&name, "ASR on inputs clipped to the pixel range"),
            flagged("reverse engineering flags the target"),
            flagged("spectral test flags the target"),
        ));
    }
    let verdict = judge(&cfg, &results);
    let mut report =
        Report::new(METHOD.name, PAPER, CLAIM, ctx.preset.name(), ctx.seeds.clone(), results.clone(), verdict);
    report = add_figures(report, &cfg, &results, &pictures, &digits(ctx.seeds[0])?)?;
    for n in notes {
        report = report.note(n);
    }
    Ok(report.note(format!(
        "Digits 8x8, stratified 75/25 split per seed; ConvNet width {} depth {} hidden {}; {} images per class; DC {} iterations with loops ({}, {}); DM {} iterations; {} fresh networks per synthetic set, {} epochs each; patch {}x{}, target class {}.",
        cfg.net.width, cfg.net.depth, cfg.net.hidden, cfg.distill.ipc, cfg.distill.iterations, cfg.distill.outer_loop,
        cfg.distill.inner_loop, cfg.dm_iterations, cfg.eval.networks, cfg.eval.epochs, cfg.attack.size, cfg.attack.size, cfg.attack.target
    )))
}

/// The defences against one arm: fine-tuning every evaluation network on
/// a small clean set, reverse engineering and the spectral test on the
/// first one.
#[allow(clippy::too_many_arguments)]
fn defend(
    cfg: &Config,
    data: &ImageData,
    poisoned: &Poisoned,
    syn: &Distilled,
    nets: &[Params],
    seed: u64,
    name: &str,
    results: &mut Results,
) -> Result<()> {
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
        let tuned = fine_tune(&cfg.net, params, &x, &y, &cfg.defence, derive_seed(seed, &format!("finetune-{k}")))?;
        cta += accuracy(&cfg.net, &tuned, &data.test.values, &data.test.labels);
        asr += accuracy(&cfg.net, &tuned, &triggered, &vec![target; others.len()]);
    }
    let n = nets.len().max(1) as f64;
    results.record(name, "CTA after fine-tuning", cta / n);
    results.record(name, "ASR after fine-tuning", asr / n);
    // Input-level check: a deployed model sees only valid pixels, so clip
    // every triggered input to the data's intensity range [0, 1].
    let clipped = data.clip_to_pixel_range(&triggered);
    let clipped_asr: f64 =
        nets.iter().map(|p| accuracy(&cfg.net, p, &clipped, &vec![target; others.len()])).sum::<f64>() / n;
    results.record(name, "ASR on inputs clipped to the pixel range", clipped_asr);
    if let Some(first) = nets.first() {
        let cleanse = neural_cleanse(&cfg.net, first, &x, &cfg.defence, derive_seed(seed, "cleanse"));
        results.record(
            name,
            "reverse engineering flags the target",
            f64::from(u8::from(cleanse.flagged.contains(&target))),
        );
        results.record(name, "reverse engineering anomaly index of the target", cleanse.anomaly[target]);
        let sp = spectral(&cfg.net, first, &syn.images, &syn.labels);
        results.record(name, "spectral test flags the target", f64::from(u8::from(sp.flagged == Some(target))));
    }
    Ok(())
}

fn judge(cfg: &Config, results: &Results) -> Verdict {
    if !cfg.methods.contains(&Method::Dc) {
        return Verdict::inconclusive(RULE, "DC was not run".into());
    }
    let clean_cta = results.mean(&arm(Method::Dc, AttackKind::None, 0.0), "CTA");
    let mut failures = Vec::new();
    let mut evidence = Vec::new();
    for &r in &cfg.ratios {
        let door = arm(Method::Dc, AttackKind::Doorping, r);
        let naive = arm(Method::Dc, AttackKind::Naive, r);
        let (d_asr, n_asr, d_cta) =
            (results.mean(&door, "ASR"), results.mean(&naive, "ASR"), results.mean(&door, "CTA"));
        evidence.push(format!(
            "{}%: DOORPING ASR {d_asr:.3} vs NAIVEATTACK {n_asr:.3}, CTA {d_cta:.3} vs clean {clean_cta:.3}",
            r * 100.0
        ));
        if d_asr < 0.9 {
            failures.push(format!("DOORPING ASR {d_asr:.3} < 0.90 at {}%", r * 100.0));
        }
        if d_asr - n_asr < 0.1 {
            failures.push(format!("DOORPING not 0.10 above NAIVEATTACK at {}%", r * 100.0));
        }
        if d_cta < clean_cta - 0.02 {
            failures.push(format!("CTA {:.1} points below clean at {}%", (clean_cta - d_cta) * 100.0, r * 100.0));
        }
    }
    let text = if failures.is_empty() {
        evidence.join("; ")
    } else {
        format!("{}; fails: {}", evidence.join("; "), failures.join(", "))
    };
    Verdict::from_rule(failures.is_empty(), RULE, text)
}

fn add_figures(
    mut report: Report,
    cfg: &Config,
    results: &Results,
    pics: &Pictures,
    data: &ImageData,
) -> Result<Report> {
    let side = cfg.net.side;
    let channels = cfg.net.channels;
    let to_pixels = |img: &[f32]| data.display_pixels(img);
    for (name, images) in &pics.sets {
        let cells: Vec<Vec<f32>> = images.chunks(cfg.net.image_len()).map(to_pixels).collect();
        // "DC DOORPING 5%" -> "dc-doorping-5pct"
        let slug: String = name
            .to_lowercase()
            .replace('%', "pct")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        report = report.figure(
            &format!("synthetic-{slug}"),
            &format!("{name}, seed 0: the synthetic set, one row per class (class 0 on top, the target), {} images per class.", cfg.distill.ipc),
            image_grid(&cells, side, side, channels, cfg.distill.ipc, 4)?,
        );
    }
    if !pics.triggers.is_empty() {
        let n = pics.triggers.len();
        let k = 10.min(n);
        let picks: Vec<usize> = (0..k).map(|j| if k == 1 { 0 } else { j * (n - 1) / (k - 1) }).collect();
        let cells: Vec<Vec<f32>> = picks.iter().map(|&i| to_pixels(&pics.triggers[i])).collect();
        report = report.figure(
            "trigger",
            &format!("DOORPING's trigger image during DC at the largest ratio, seed 0, after iterations {picks:?} (intensities clipped to [0, 1]; the patch is the only part stamped)."),
            image_grid(&cells, side, side, channels, cells.len(), 6)?,
        );
    }
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
            .map(|m| Bars {
                name: (*m).to_string(),
                mean: arms.iter().map(|a| results.mean(a, m)).collect(),
                std: arms.iter().map(|a| results.cell(a, m).map_or(0.0, |c| c.std)).collect(),
            })
            .collect();
        report = report.figure(
            &format!("asr-cta-{}", method.name().to_lowercase()),
            &format!("{}: clean test accuracy (CTA) and attack success rate (ASR) per arm, mean and std over seeds (each seed averages its fresh networks).", method.name()),
            grouped_bars(&format!("{}: CTA and ASR", method.name()), "share of test images", &labels, &bars)?,
        );
    }
    Ok(report)
}
