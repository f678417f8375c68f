//! Attacks on one target model, using the other models as shadows. Each
//! returns one membership score per example of the pool (higher means
//! "member"); the ROC against the target's IN mask measures the attack.
//! Every attack reads its outputs through [`Outputs`], so the experiment's
//! f32 logits and a user's f64 logits or probabilities go through the same
//! code.

use crate::scores::{self, Row};
use crate::shadow::{ModelOutputs, Outputs};

/// A per-example statistic of one model's output and the label.
pub type Statistic = fn(Row<'_>, usize) -> f64;

/// Membership scores per example, by attack name, in report order.
pub type NamedScores = Vec<(String, Vec<f64>)>;

/// The metric attacks of Song & Mittal (2021), by name.
pub const METRICS: [(&str, Statistic); 5] = [
    ("loss", |r, y| r.neg_loss(y)),
    ("confidence", |r, y| r.confidence(y)),
    ("entropy", |r, _| r.neg_entropy()),
    ("modified entropy", |r, y| r.neg_modified_entropy(y)),
    ("correctness", |r, y| r.correctness(y)),
];

/// The target's own statistic per example: a global-threshold attack (its
/// ROC sweeps every threshold).
pub fn metric(out: &dyn Outputs, target: usize, stat: Statistic) -> Vec<f64> {
    (0..out.n_examples()).map(|j| stat(out.row(target, j), out.label(j))).collect()
}

/// The same statistic with a per-class threshold calibrated on the shadow
/// models (Song & Mittal 2021, for each of their metric attacks): for class
/// c, tau_c maximises the shadows' TPR - FPR when separating their IN from
/// OUT examples of class c (their `_thre_setting`: the threshold with the
/// best (TPR + TNR) / 2); the score is `stat - tau_c`, so the one threshold
/// 0 applies all of them, and the ROC over the shifted scores sweeps
/// around it. A class with no IN or no OUT shadow example keeps tau 0.
pub fn metric_per_class(out: &dyn Outputs, target: usize, stat: Statistic) -> Vec<f64> {
    let taus = class_thresholds(out, target, stat);
    (0..out.n_examples()).map(|j| stat(out.row(target, j), out.label(j)) - taus[out.label(j)]).collect()
}

/// The per-class thresholds tau_c of [`metric_per_class`], from the shadows
/// (every model but `target`).
pub fn class_thresholds(out: &dyn Outputs, target: usize, stat: Statistic) -> Vec<f64> {
    let mut pairs: Vec<Vec<(f64, bool)>> = vec![Vec::new(); out.n_classes()];
    for m in (0..out.n_models()).filter(|&m| m != target) {
        for j in 0..out.n_examples() {
            let c = out.label(j);
            pairs[c].push((stat(out.row(m, j), c), out.is_member(m, j)));
        }
    }
    pairs.iter_mut().map(|p| best_threshold(p)).collect()
}

/// The threshold t maximising TPR - FPR of the rule "member when s >= t".
fn best_threshold(pairs: &mut [(f64, bool)]) -> f64 {
    let pos = pairs.iter().filter(|p| p.1).count() as f64;
    let neg = pairs.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.0;
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp, mut best, mut best_t) = (0.0, 0.0, f64::NEG_INFINITY, pairs[0].0);
    for (k, &(s, member)) in pairs.iter().enumerate() {
        if member {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let last_of_tie = pairs.get(k + 1).is_none_or(|n| n.0 != s);
        if last_of_tie && tp / pos - fp / neg > best {
            best = tp / pos - fp / neg;
            best_t = s;
        }
    }
    best_t
}

/// How LiRA estimates the Gaussians' spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variance {
    /// One standard deviation per example from its shadow values.
    PerExample,
    /// One global standard deviation, as LiRA's reference code computes it
    /// (`np.std` over all IN values; over all OUT values offline), which
    /// works better with few shadow models.
    Fixed,
}

/// Shadow statistics of LiRA's phi for each example.
struct ShadowPhi {
    mu_in: Vec<f64>,
    sd_in: Vec<f64>,
    mu_out: Vec<f64>,
    sd_out: Vec<f64>,
}

/// The median (NaN for no values: a side no shadow has, which the scores
/// that read it check for before running).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn pop_std(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
}

/// Medians and standard deviations of phi over the shadows (all models but
/// `target`), split by whether each shadow trained on the example. An
/// example no shadow saw IN (or OUT) takes the pooled median of that side,
/// which only happens with very few shadow models.
fn shadow_phi(out: &dyn Outputs, target: usize, variance: Variance, phi: impl Fn(usize, usize) -> f64) -> ShadowPhi {
    let n = out.n_examples();
    let (mut all_in, mut all_out) = (Vec::new(), Vec::new());
    let mut per: Vec<(Vec<f64>, Vec<f64>)> = Vec::with_capacity(n);
    for j in 0..n {
        let (mut ins, mut outs) = (Vec::new(), Vec::new());
        for m in (0..out.n_models()).filter(|&m| m != target) {
            let phi = phi(m, j);
            if out.is_member(m, j) { ins.push(phi) } else { outs.push(phi) }
        }
        all_in.extend(&ins);
        all_out.extend(&outs);
        per.push((ins, outs));
    }
    let (pooled_in, pooled_out) = (median(&mut all_in.clone()), median(&mut all_out.clone()));
    let (fixed_in, fixed_out) = (pop_std(&all_in), pop_std(&all_out));
    let mut s = ShadowPhi { mu_in: vec![], sd_in: vec![], mu_out: vec![], sd_out: vec![] };
    for (mut ins, mut outs) in per {
        let (sd_in, sd_out) = match variance {
            Variance::PerExample => (pop_std(&ins), pop_std(&outs)),
            Variance::Fixed => (fixed_in, fixed_out),
        };
        s.sd_in.push(if sd_in.is_finite() { sd_in } else { fixed_in });
        s.sd_out.push(if sd_out.is_finite() { sd_out } else { fixed_out });
        s.mu_in.push(if ins.is_empty() { pooled_in } else { median(&mut ins) });
        s.mu_out.push(if outs.is_empty() { pooled_out } else { median(&mut outs) });
    }
    s
}

/// log N(x; mu, sd), with LiRA's 1e-30 guard on sd.
pub fn normal_log_pdf(x: f64, mu: f64, sd: f64) -> f64 {
    let sd = sd + 1e-30;
    let z = (x - mu) / sd;
    -0.5 * z * z - sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

/// A Gaussian fitted on shadow values of LiRA's phi.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    pub mu: f64,
    pub sd: f64,
}

/// LiRA's online score of one example (Carlini et al. 2022, Algorithm 1):
/// the log-likelihood ratio of the target's logit-scaled confidence
/// `phi = log(p_y / (1 - p_y))` ([`scores::lira_phi`]) under the Gaussian
/// of the shadows that trained on the example (IN) and of those that did
/// not (OUT):
/// `Lambda = log N(phi; mu_in, sd_in^2) - log N(phi; mu_out, sd_out^2)`.
/// Higher means "member".
pub fn lira_online_score(phi: f64, inside: Gaussian, outside: Gaussian) -> f64 {
    normal_log_pdf(phi, inside.mu, inside.sd) - normal_log_pdf(phi, outside.mu, outside.sd)
}

/// LiRA's offline score of one example as the reference code computes it
/// (Carlini et al. 2022; `generate_ours_offline` in the official
/// `mi_lira_2021/plot.py`): OUT shadows only, and the membership score is
/// `-log N(phi; mu_out, sd_out^2)` (sd plus LiRA's 1e-30), a two-sided
/// test: a phi far from the OUT Gaussian on either side counts as "member".
/// LiRA's published offline numbers (e.g. CIFAR-10, fixed variance: AUC
/// 0.555, TPR@0.1%FPR 2.99%) use this score.
pub fn lira_offline_score(phi: f64, outside: Gaussian) -> f64 {
    -normal_log_pdf(phi, outside.mu, outside.sd)
}

/// LiRA's offline score as the paper writes it, a one-sided test:
/// `Lambda = Pr[Z < phi], Z ~ N(mu_out, sd_out^2)`, i.e.
/// `Phi((phi - mu_out) / sd_out)`. Monotone in the z-score, so the z-score
/// `(phi - mu_out) / (sd_out + 1e-30)` ranks examples the same and is what
/// this returns. Only a phi above the OUT Gaussian counts as "member".
pub fn lira_offline_one_sided_score(phi: f64, outside: Gaussian) -> f64 {
    (phi - outside.mu) / (outside.sd + 1e-30)
}

/// LiRA online (Carlini et al. 2022): each example's [`lira_online_score`],
/// the log-likelihood ratio of the target's phi under the IN and OUT
/// Gaussians fitted on the shadows (medians and standard deviations). With
/// fixed variance the reference code uses the IN spread for both
/// Gaussians; so does this.
pub fn lira_online(out: &dyn Outputs, target: usize, variance: Variance) -> Vec<f64> {
    online_ratio(out, target, variance, |m, j| out.row(m, j).lira_phi(out.label(j)))
}

/// LiRA online with query augmentations: the log-likelihood ratio computed
/// separately for the clean query and each noisy copy (each with its own
/// IN/OUT Gaussians), then averaged, as the reference code averages over
/// augmentations. `None` when the population has no query copies.
pub fn lira_online_queries(out: &ModelOutputs, target: usize, variance: Variance) -> Option<Vec<f64>> {
    if out.n_queries == 0 {
        return None;
    }
    let mut total = lira_online(out, target, variance);
    for q in 0..out.n_queries {
        let ratio =
            online_ratio(out, target, variance, |m, j| scores::lira_phi(out.query_logits(m, q, j), out.labels[j]));
        total.iter_mut().zip(ratio).for_each(|(t, r)| *t += r);
    }
    let queries = (out.n_queries + 1) as f64;
    Some(total.into_iter().map(|t| t / queries).collect())
}

/// Per example, log N(phi_target; IN) - log N(phi_target; OUT) with the
/// Gaussians fitted on the shadows' `phi(model, example)`.
fn online_ratio(out: &dyn Outputs, target: usize, variance: Variance, phi: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let s = shadow_phi(out, target, variance, &phi);
    (0..out.n_examples())
        .map(|j| {
            let x = phi(target, j);
            let sd_out = if variance == Variance::Fixed { s.sd_in[j] } else { s.sd_out[j] };
            lira_online_score(x, Gaussian { mu: s.mu_in[j], sd: s.sd_in[j] }, Gaussian { mu: s.mu_out[j], sd: sd_out })
        })
        .collect()
}

/// LiRA offline as the reference code runs it: OUT shadows only, each
/// example scored by [`lira_offline_score`] (two-sided, `-log N(phi; OUT)`).
/// With fixed variance the spread is the standard deviation over all OUT
/// values, as the reference code computes it offline.
pub fn lira_offline(out: &dyn Outputs, target: usize, variance: Variance) -> Vec<f64> {
    offline(out, target, variance, lira_offline_score)
}

/// LiRA offline as the paper writes it: [`lira_offline_one_sided_score`],
/// the z-score against the OUT Gaussian.
pub fn lira_offline_one_sided(out: &dyn Outputs, target: usize, variance: Variance) -> Vec<f64> {
    offline(out, target, variance, lira_offline_one_sided_score)
}

fn offline(out: &dyn Outputs, target: usize, variance: Variance, score: fn(f64, Gaussian) -> f64) -> Vec<f64> {
    let phi = |m: usize, j: usize| out.row(m, j).lira_phi(out.label(j));
    let s = shadow_phi(out, target, variance, phi);
    (0..out.n_examples()).map(|j| score(phi(target, j), Gaussian { mu: s.mu_out[j], sd: s.sd_out[j] })).collect()
}

/// The fewest shadows (all models but `target`) that trained on one
/// example (IN) and that did not (OUT), over the examples: per-example
/// variance needs at least 2 of a side for a standard deviation.
pub fn fewest_shadows(out: &dyn Outputs, target: usize) -> (usize, usize) {
    let (mut fewest_in, mut fewest_out) = (usize::MAX, usize::MAX);
    for j in 0..out.n_examples() {
        let n_in = (0..out.n_models()).filter(|&m| m != target && out.is_member(m, j)).count();
        fewest_in = fewest_in.min(n_in);
        fewest_out = fewest_out.min(out.n_models() - 1 - n_in);
    }
    (fewest_in, fewest_out)
}

/// The label-only boundary attack (Choquette-Choo et al. 2021): the share
/// of noisy copies of each example that the target still labels correctly,
/// measured while training the population (`None` when it was not). The
/// attacker needs only labels. The `correctness` metric is the other
/// label-only attack, the gap attack.
pub fn boundary(out: &ModelOutputs, target: usize) -> Option<Vec<f64>> {
    (0..out.n_examples).map(|j| out.robustness(target, j).map(f64::from)).collect()
}

/// Where RMIA's population samples z come from.
#[derive(Clone, Copy)]
pub enum Population<'a> {
    /// The same models' outputs on examples none of them trained on (every
    /// member flag 0): ML Privacy Meter's default, a population split kept
    /// apart from all target and reference training data.
    Disjoint(&'a dyn Outputs),
    /// The attacked examples themselves, each x against all the others (x
    /// itself excluded). For an audit that has no separate population; the
    /// others include the target's members, so the scores are weaker than
    /// with a disjoint population.
    LeaveOneOut,
}

/// How RMIA estimates `p(x)`, the probability of x's label averaged over
/// models trained without a say in x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RmiaMode {
    /// The mean over all reference models (IN and OUT; Zarifzadeh et al.
    /// 2024, online).
    Online,
    /// Offline: only OUT reference models, and `p(x) = ((1 + a) p_OUT(x) +
    /// (1 - a)) / 2` (the paper's linear correction for the missing IN
    /// models; ML Privacy Meter's `offline_a`).
    Offline { a: f64 },
}

/// RMIA's `p(x)` for example `j` of `out`: the mean probability of its
/// label over `refs` (offline: the refs OUT for j; with none OUT, all refs).
fn rmia_p_x(p: &Signals, refs: &[usize], j: usize, mode: RmiaMode) -> f64 {
    match mode {
        RmiaMode::Online => mean(refs.iter().map(|&m| p.at(m, j))),
        RmiaMode::Offline { a } => {
            let outs: Vec<f64> = refs.iter().filter(|&&m| !p.member(m, j)).map(|&m| p.at(m, j)).collect();
            let p_out = if outs.is_empty() { mean(refs.iter().map(|&m| p.at(m, j))) } else { mean(outs.into_iter()) };
            ((1.0 + a) * p_out + (1.0 - a)) / 2.0
        }
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n.max(1) as f64
}

/// Every model's probability of the label on every example, and the IN
/// mask: what RMIA reads, computed once per population.
struct Signals {
    n: usize,
    p: Vec<f64>,
    members: Vec<bool>,
}

impl Signals {
    fn of(out: &dyn Outputs) -> Self {
        let n = out.n_examples();
        let mut s = Signals { n, p: Vec::with_capacity(out.n_models() * n), members: Vec::new() };
        for m in 0..out.n_models() {
            for j in 0..n {
                s.p.push(out.row(m, j).confidence(out.label(j)));
                s.members.push(out.is_member(m, j));
            }
        }
        s
    }
    fn at(&self, m: usize, j: usize) -> f64 {
        self.p[m * self.n + j]
    }
    fn member(&self, m: usize, j: usize) -> bool {
        self.members[m * self.n + j]
    }
    /// `p(x|attacked) / p(x)` for every example.
    fn ratios(&self, attacked: usize, refs: &[usize], mode: RmiaMode) -> Vec<f64> {
        (0..self.n).map(|j| rmia_ratio(self.at(attacked, j), rmia_p_x(self, refs, j, mode))).collect()
    }
}

/// RMIA's scores of every example of `x` when attacking model `attacked`
/// with `refs` as reference models.
fn rmia_scores(
    x: &Signals,
    pop: Option<&Signals>,
    attacked: usize,
    refs: &[usize],
    mode: RmiaMode,
    gamma: f64,
) -> Vec<f64> {
    let rx = x.ratios(attacked, refs, mode);
    match pop {
        Some(pop) => {
            let mut rz = pop.ratios(attacked, refs, mode);
            rz.sort_by(f64::total_cmp);
            rx.iter().map(|&r| rmia_score(r, &rz, gamma)).collect()
        }
        None => {
            let mut rz = rx.clone();
            rz.sort_by(f64::total_cmp);
            let others = (rz.len() - 1).max(1) as f64;
            rx.iter()
                .map(|&r| {
                    let dominated = rmia_score(r, &rz, gamma) * rz.len() as f64;
                    // x is not its own population sample
                    (dominated - f64::from(u8::from(r <= r / gamma))) / others
                })
                .collect()
        }
    }
}

/// RMIA (Zarifzadeh et al. 2024): with `p(x|m)` model m's probability of
/// x's label and `p(x)` its average over the reference models (all models
/// but `target`; see [`RmiaMode`]), the likelihood ratio of x against a
/// population sample z is
/// `LR(x, z) = [p(x|target) / p(x)] / [p(z|target) / p(z)]`, and the score
/// is the share of the population with `LR(x, z) >= gamma` (the paper's
/// definition; ML Privacy Meter counts `> 1`, the same but on exact ties).
pub fn rmia(out: &dyn Outputs, target: usize, population: Population<'_>, mode: RmiaMode, gamma: f64) -> Vec<f64> {
    let refs: Vec<usize> = (0..out.n_models()).filter(|&m| m != target).collect();
    let x = Signals::of(out);
    let pop = match population {
        Population::Disjoint(p) => Some(Signals::of(p)),
        Population::LeaveOneOut => None,
    };
    rmia_scores(&x, pop.as_ref(), target, &refs, mode, gamma)
}

/// The grid offline RMIA's `a` is chosen from: 0, 0.1, ..., 1 (ML Privacy
/// Meter's `tune_offline_a`).
pub const RMIA_A_GRID: [f64; 11] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// `a` when it cannot be tuned (fewer than two shadows, or no shadow with
/// both IN and OUT examples): 1, so `p(x) = p_OUT(x)`, the value the RMIA
/// authors' research code documents for "when unknown" (its CIFAR-10
/// configs fix 0.3; ML Privacy Meter tunes it, as [`rmia_offline_tuned`]
/// does).
pub const RMIA_A_UNTUNED: f64 = 1.0;

/// RMIA's settings in the experiment.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RmiaConfig {
    /// Share of each attacked pool held out as RMIA's population, rows no
    /// target or reference model trains on (paper: population data from the
    /// same distribution, size not fixed; ML Privacy Meter keeps the
    /// dataset's test split apart, e.g. CIFAR-10's 10,000 of 60,000 and a
    /// quarter of Purchase-100; presets: 0.2, the default).
    #[serde(default = "default_population_share")]
    pub population_share: f64,
}

fn default_population_share() -> f64 {
    0.2
}

impl Default for RmiaConfig {
    fn default() -> Self {
        Self { population_share: default_population_share() }
    }
}

impl reprolab_core::registry::Validate for RmiaConfig {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.population_share > 0.0 && self.population_share < 1.0,
            "population_share must be in (0, 1), got {}",
            self.population_share
        );
        Ok(())
    }
}

/// Offline RMIA with its `a` chosen as ML Privacy Meter chooses it: attack
/// one shadow (the first after `target`, cyclically, with both IN and OUT
/// examples) with the remaining shadows as references, for each `a` of
/// [`RMIA_A_GRID`], and keep the `a` with the highest AUC (the first on a
/// tie). The target model is never used to choose. Returns `(a, tuned,
/// scores)`, `tuned` false when `a` fell back to [`RMIA_A_UNTUNED`].
pub fn rmia_offline_tuned(
    out: &dyn Outputs,
    target: usize,
    population: Population<'_>,
    gamma: f64,
) -> (f64, bool, Vec<f64>) {
    let x = Signals::of(out);
    let pop = match population {
        Population::Disjoint(p) => Some(Signals::of(p)),
        Population::LeaveOneOut => None,
    };
    let (a, tuned) = tune_a(out, &x, pop.as_ref(), target, gamma);
    let refs: Vec<usize> = (0..out.n_models()).filter(|&m| m != target).collect();
    (a, tuned, rmia_scores(&x, pop.as_ref(), target, &refs, RmiaMode::Offline { a }, gamma))
}

/// The `a` of [`rmia_offline_tuned`] and whether it was tuned.
fn tune_a(out: &dyn Outputs, x: &Signals, pop: Option<&Signals>, target: usize, gamma: f64) -> (f64, bool) {
    let n = out.n_models();
    let has_both = |m: usize| {
        let n_in = (0..out.n_examples()).filter(|&j| out.is_member(m, j)).count();
        n_in > 0 && n_in < out.n_examples()
    };
    let Some(pair) = (1..n).map(|k| (target + k) % n).find(|&m| has_both(m)).filter(|_| n >= 3) else {
        return (RMIA_A_UNTUNED, false);
    };
    let refs: Vec<usize> = (0..n).filter(|&m| m != target && m != pair).collect();
    let members: Vec<bool> = (0..out.n_examples()).map(|j| out.is_member(pair, j)).collect();
    let mut best = (RMIA_A_UNTUNED, f64::NEG_INFINITY);
    for a in RMIA_A_GRID {
        let s = rmia_scores(x, pop, pair, &refs, RmiaMode::Offline { a }, gamma);
        let auc = reprolab_core::metrics::roc_auc(&members, &s).unwrap_or(f64::NEG_INFINITY);
        if auc > best.1 {
            best = (a, auc);
        }
    }
    (best.0, best.1.is_finite())
}

/// RMIA's per-example ratio `p(x|target) / p(x)`, with `p(x)` the
/// reference models' average of x's label probability as [`RmiaMode`]
/// defines it (floored at 1e-300 against a zero mean).
pub fn rmia_ratio(p_target: f64, p_x: f64) -> f64 {
    p_target / p_x.max(1e-300)
}

/// RMIA's score of x (Zarifzadeh et al. 2024): the share of
/// population samples z it dominates,
/// `Score(x) = Pr_z[ LR(x, z) >= gamma ]` with
/// `LR(x, z) = [p(x|target) / p(x)] / [p(z|target) / p(z)]`.
/// `ratio_x` is x's [`rmia_ratio`] and `sorted_ratios` the population's,
/// in ascending order; since `LR(x, z) >= gamma` exactly when
/// `ratio(z) <= ratio(x) / gamma`, the share is one binary search.
pub fn rmia_score(ratio_x: f64, sorted_ratios: &[f64], gamma: f64) -> f64 {
    let bound = ratio_x / gamma;
    sorted_ratios.partition_point(|&r| r <= bound) as f64 / sorted_ratios.len().max(1) as f64
}

/// Features the shadow attack classifier sees for one model's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackFeatures {
    /// The three largest probabilities, sorted (ML-Leaks, Salem et al. 2019):
    /// one class-agnostic attack model.
    Top3Sorted,
    /// The full probability vector, one attack model per class (Shokri et al. 2017).
    FullVectorPerClass,
}

fn attack_features(row: Row<'_>, kind: AttackFeatures) -> Vec<f32> {
    let mut p: Vec<f32> = row.probs().into_iter().map(|v| v as f32).collect();
    if kind == AttackFeatures::Top3Sorted {
        p.sort_by(|a, b| b.total_cmp(a));
        p.resize(3, 0.0);
    }
    p
}

/// The shadow-model attack (Shokri et al. 2017): an attack classifier
/// learns IN vs OUT from the shadows' outputs, then scores the target's
/// outputs with its probability of "member". `fit_cfg` trains the attack
/// MLP (`hidden` units, one hidden layer).
pub fn shadow_classifier(
    out: &dyn Outputs,
    target: usize,
    kind: AttackFeatures,
    hidden: usize,
    fit_cfg: &reprolab_core::train::classifier::FitConfig,
    seed: u64,
) -> anyhow::Result<Vec<f64>> {
    use reprolab_core::data::Dataset;
    use reprolab_core::nn::MlpConfig;
    use reprolab_core::train::classifier::{fit, predict_logits};
    let groups: Vec<Option<usize>> = match kind {
        AttackFeatures::Top3Sorted => vec![None],
        AttackFeatures::FullVectorPerClass => (0..out.n_classes()).map(Some).collect(),
    };
    let device = reprolab_core::device::default_device();
    let ad = device.clone().autodiff();
    let mut scores = vec![0.0; out.n_examples()];
    for group in groups {
        let in_group = |j: usize| group.is_none_or(|c| out.label(j) == c);
        let (mut feats, mut labels) = (Vec::new(), Vec::new());
        for m in (0..out.n_models()).filter(|&m| m != target) {
            for j in (0..out.n_examples()).filter(|&j| in_group(j)) {
                feats.extend(attack_features(out.row(m, j), kind));
                labels.push(usize::from(out.is_member(m, j)));
            }
        }
        let targets: Vec<usize> = (0..out.n_examples()).filter(|&j| in_group(j)).collect();
        if labels.is_empty() || targets.is_empty() {
            continue;
        }
        let d = feats.len() / labels.len();
        let train = Dataset::classification("shadow outputs", feats, d, labels, vec!["out".into(), "in".into()])?;
        let rows: Vec<usize> = (0..train.len()).collect();
        device.seed(reprolab_core::rng::derive_seed(seed, "attack-model"));
        let model = MlpConfig::new(&[d, hidden, 2]).init(&ad);
        let (model, _) = fit(model, &train, &rows, fit_cfg, seed, &ad, "attack model")?;
        let tfeats: Vec<f32> = targets.iter().flat_map(|&j| attack_features(out.row(target, j), kind)).collect();
        let test = Dataset::classification(
            "target outputs",
            tfeats,
            d,
            vec![0; targets.len()],
            vec!["out".into(), "in".into()],
        )?;
        let logits = predict_logits(&model, &test, &(0..targets.len()).collect::<Vec<_>>(), &ad);
        for (k, &j) in targets.iter().enumerate() {
            // P(member) = sigmoid(z_in - z_out)
            scores[j] = 1.0 / (1.0 + (-(logits[2 * k + 1] - logits[2 * k]) as f64).exp());
        }
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three models, one example of class 0 with 2 classes; logits chosen
    /// so phi = z0 - z1 is 4 and 2 for the IN shadows and -1 for the OUT one.
    fn toy() -> ModelOutputs {
        ModelOutputs {
            n_models: 4,
            n_examples: 1,
            n_classes: 2,
            logits: vec![3.0, 0.0, 4.0, 0.0, 2.0, 0.0, -1.0, 0.0],
            members: vec![true, true, true, false],
            labels: vec![0],
            robustness: vec![],
            n_queries: 0,
            query_logits: vec![],
        }
    }

    #[test]
    fn lira_online_matches_a_direct_gaussian_computation() {
        let o = toy();
        // target 0 (phi 3): IN shadows {4, 2} -> median 3, std 1; OUT {-1} -> median -1, std 0
        let s = lira_online(&o, 0, Variance::PerExample)[0];
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        let log_in = -0.5 * 0.0 - 1f64.ln() - 0.5 * ln2pi;
        let log_out = -0.5 * (4.0 / 1e-30f64).powi(2) - (1e-30f64).ln() - 0.5 * ln2pi;
        assert!((s - (log_in - log_out)).abs() / s.abs() < 1e-12, "{s}");
        // fixed variance: std over all IN values {4, 2} = 1 for both Gaussians
        let f = lira_online(&o, 0, Variance::Fixed)[0];
        let want = normal_log_pdf(3.0, 3.0, 1.0) - normal_log_pdf(3.0, -1.0, 1.0);
        assert!((f - want).abs() < 1e-12 && (want - 8.0).abs() < 1e-12, "{f} vs {want}");
    }

    #[test]
    fn lira_with_queries_averages_the_per_query_ratios() {
        let mut o = toy();
        assert!(lira_online_queries(&o, 0, Variance::Fixed).is_none());
        // One noisy copy with phi 1 (target), IN shadows {2, 0}, OUT {-1}:
        // fixed std 1, ratio log N(1; 1, 1) - log N(1; -1, 1) = 2. Clean: 8.
        o.n_queries = 1;
        o.query_logits = vec![1.0, 0.0, 2.0, 0.0, 0.0, 0.0, -1.0, 0.0];
        let s = lira_online_queries(&o, 0, Variance::Fixed).unwrap()[0];
        assert!((s - (8.0 + 2.0) / 2.0).abs() < 1e-12, "{s}");
    }

    #[test]
    fn lira_offline_one_sided_is_the_z_score_against_out_shadows() {
        let mut o = toy();
        // make model 2 OUT as well: OUT phis {2, -1} -> median 0.5, std 1.5
        o.members[2] = false;
        let z = lira_offline_one_sided(&o, 0, Variance::PerExample)[0];
        assert!((z - (3.0 - 0.5) / 1.5).abs() < 1e-12, "{z}");
        // two-sided: -log N(3; 0.5, 1.5^2)
        // = 0.5 (2.5 / 1.5)^2 + ln 1.5 + 0.5 ln(2 pi), by hand
        let two = lira_offline(&o, 0, Variance::PerExample)[0];
        let want = 0.5 * (2.5f64 / 1.5).powi(2) + 1.5f64.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((two - want).abs() < 1e-12, "{two} vs {want}");
    }

    /// Two classes, a target (model 0) and one reference model, on three
    /// examples whose p(label) is what `logit` encodes.
    fn two_model_outputs(p_target: [f32; 3], p_ref: [f32; 3], ref_members: [bool; 3]) -> ModelOutputs {
        let logit = |p: f32| [0.0f32, (1.0 / p - 1.0).ln()]; // softmax(.)[0] = p
        let mut logits = Vec::new();
        for p in p_target.into_iter().chain(p_ref) {
            logits.extend(logit(p));
        }
        let mut members = vec![true, false, true];
        members.extend(ref_members);
        ModelOutputs {
            n_models: 2,
            n_examples: 3,
            n_classes: 2,
            logits,
            members,
            labels: vec![0, 0, 0],
            robustness: vec![],
            n_queries: 0,
            query_logits: vec![],
        }
    }

    /// ratio(x) = p_target(x) / mean_ref p(x). Hand values: example 0:
    /// p_t = 0.8, ref 0.4 -> 2; example 1: 0.3 / 0.6 -> 0.5; example 2:
    /// 0.5 / 0.5 -> 1. Leave-one-out: each x against the other two.
    #[test]
    fn rmia_counts_population_samples_it_dominates_leaving_x_out() {
        let o = two_model_outputs([0.8, 0.3, 0.5], [0.4, 0.6, 0.5], [false, true, false]);
        let s = rmia(&o, 0, Population::LeaveOneOut, RmiaMode::Online, 1.0);
        // ratios 2, 0.5, 1: example 0 dominates both others, example 1 neither, example 2 one of two
        let want = [1.0, 0.0, 0.5];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{s:?}");
        }
    }

    /// Offline RMIA against a hand computation. Target p = (0.8, 0.3, 0.5);
    /// the one reference model is OUT for examples 0 and 2 (p 0.4, 0.5) and
    /// IN for example 1 (p 0.6, so example 1 has no OUT reference and uses
    /// all references, 0.6). With a = 0.5, p(x) = (1.5 p_OUT + 0.5) / 2:
    /// 0.55, 0.7, 0.625, so ratios 0.8/0.55 = 1.4545, 0.3/0.7 = 0.4286,
    /// 0.5/0.625 = 0.8. A disjoint population of two examples, both OUT for
    /// the reference: target p (0.6, 0.4), reference p (0.5, 0.5) ->
    /// p(z) = 0.625 both, ratios 0.96 and 0.64.
    #[test]
    fn rmia_offline_by_hand_against_a_disjoint_population() {
        let o = two_model_outputs([0.8, 0.3, 0.5], [0.4, 0.6, 0.5], [false, true, false]);
        let logit = |p: f32| [0.0f32, (1.0 / p - 1.0).ln()];
        let pop = ModelOutputs {
            n_models: 2,
            n_examples: 2,
            n_classes: 2,
            logits: [0.6f32, 0.4, 0.5, 0.5].into_iter().flat_map(logit).collect(),
            members: vec![false; 4],
            labels: vec![0, 0],
            robustness: vec![],
            n_queries: 0,
            query_logits: vec![],
        };
        let s = rmia(&o, 0, Population::Disjoint(&pop), RmiaMode::Offline { a: 0.5 }, 1.0);
        // 1.4545 dominates both (0.96, 0.64); 0.4286 neither; 0.8 dominates 0.64
        assert_eq!(s, [1.0, 0.0, 0.5]);
        // gamma 2: LR >= 2 iff ratio(z) <= ratio(x) / 2: only 1.4545 / 2 = 0.727 >= 0.64
        assert_eq!(rmia(&o, 0, Population::Disjoint(&pop), RmiaMode::Offline { a: 0.5 }, 2.0), [0.5, 0.0, 0.0]);
        // the ratios themselves
        let x = Signals::of(&o);
        let r = x.ratios(0, &[1], RmiaMode::Offline { a: 0.5 });
        for (got, want) in r.iter().zip([0.8 / 0.55, 0.3 / 0.7, 0.5 / 0.625]) {
            assert!((got - want).abs() < 1e-6, "{r:?}");
        }
        // a = 1: p(x) = p_OUT(x); a = 0: p(x) = (p_OUT + 1) / 2
        let r1 = x.ratios(0, &[1], RmiaMode::Offline { a: 1.0 });
        assert!((r1[0] - 2.0).abs() < 1e-6 && (r1[2] - 1.0).abs() < 1e-6, "{r1:?}");
        let r0 = x.ratios(0, &[1], RmiaMode::Offline { a: 0.0 });
        assert!((r0[0] - 0.8 / 0.7).abs() < 1e-6, "{r0:?}");
    }

    /// The tuning attacks a shadow, never the target: on five models with
    /// noisy per-example difficulty, the chosen `a` is the grid's best AUC
    /// on shadow 1 (attacked with shadows 2 to 4 as references), and the
    /// target's own membership cannot change it.
    #[test]
    fn rmia_offline_tunes_a_on_a_shadow_not_the_target() {
        let n = 80;
        let jitter = |m: usize, j: usize| ((m * 31 + j * 17) % 23) as f32 / 23.0 - 0.5;
        let mut logits = Vec::new();
        let mut members = Vec::new();
        for m in 0..5 {
            for j in 0..n {
                let member = (j * 7 + m * 3) % 5 < 2;
                let base = 0.1 + 0.7 * ((j * 13) % n) as f32 / n as f32;
                let p = (base + if member { 0.12 } else { 0.0 } + 0.15 * jitter(m, j)).clamp(0.02, 0.98);
                logits.extend([0.0f32, (1.0 / p - 1.0).ln()]);
                members.push(member);
            }
        }
        let mut o = ModelOutputs {
            n_models: 5,
            n_examples: n,
            n_classes: 2,
            logits,
            members,
            labels: vec![0; n],
            robustness: vec![],
            n_queries: 0,
            query_logits: vec![],
        };
        let (a, tuned, s) = rmia_offline_tuned(&o, 0, Population::LeaveOneOut, 1.0);
        assert!(tuned && RMIA_A_GRID.contains(&a), "{a}");
        // the same a by brute force on shadow 1 with shadows 2 to 4 as references
        let x = Signals::of(&o);
        let shadow1: Vec<bool> = (0..n).map(|j| o.is_member(1, j)).collect();
        let aucs: Vec<f64> = RMIA_A_GRID
            .iter()
            .map(|&a| {
                let s = rmia_scores(&x, None, 1, &[2, 3, 4], RmiaMode::Offline { a }, 1.0);
                reprolab_core::metrics::roc_auc(&shadow1, &s).unwrap()
            })
            .collect();
        assert!(aucs.iter().any(|&v| v != aucs[0]), "a must matter here: {aucs:?}");
        let best = aucs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(a, RMIA_A_GRID[aucs.iter().position(|&v| v == best).unwrap()]);
        assert_eq!(s, rmia(&o, 0, Population::LeaveOneOut, RmiaMode::Offline { a }, 1.0));
        // flipping the target's own membership leaves the choice alone
        for j in 0..n {
            o.members[j] = !o.members[j];
        }
        assert_eq!(rmia_offline_tuned(&o, 0, Population::LeaveOneOut, 1.0).0, a);
        // two models: nothing to tune on
        let small = two_model_outputs([0.8, 0.3, 0.5], [0.4, 0.6, 0.5], [false, true, false]);
        let (a, tuned, _) = rmia_offline_tuned(&small, 0, Population::LeaveOneOut, 1.0);
        assert_eq!((a, tuned), (RMIA_A_UNTUNED, false));
    }

    #[test]
    fn rmia_config_defaults_to_a_fifth_and_refuses_shares_outside_0_1() {
        use reprolab_core::registry::Validate;
        let c: RmiaConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c.population_share, 0.2);
        assert!(c.validate().is_ok());
        for bad in [0.0, 1.0, -0.1] {
            let err = RmiaConfig { population_share: bad }.validate().unwrap_err().to_string();
            assert!(err.contains("population_share must be in (0, 1)"), "{err}");
        }
    }

    #[test]
    fn attack_features_are_sorted_top3_or_the_full_vector() {
        let z = [0.0f32, 2.0, 1.0, -1.0];
        let top3 = attack_features(Row::Logits(&z), AttackFeatures::Top3Sorted);
        assert_eq!(top3.len(), 3);
        assert!(top3[0] >= top3[1] && top3[1] >= top3[2]);
        let full = attack_features(Row::Logits(&z), AttackFeatures::FullVectorPerClass);
        assert_eq!(full.len(), 4);
        assert!((full.iter().sum::<f32>() - 1.0).abs() < 1e-6 && full[1] == top3[0]);
    }

    #[test]
    fn boundary_scores_are_the_targets_robustness() {
        let mut o = toy();
        assert!(boundary(&o, 0).is_none());
        o.robustness = vec![0.9, 0.5, 0.7, 0.1];
        assert_eq!(boundary(&o, 2), Some(vec![0.7f32 as f64]));
    }

    #[test]
    fn per_class_threshold_maximises_shadow_separation() {
        let mut pairs = vec![(0.9, true), (0.8, true), (0.7, false), (0.6, true), (0.1, false)];
        // best rule: s >= 0.8 -> TPR 2/3, FPR 0 (gap 0.667) beats s >= 0.6 (TPR 1, FPR 1/2)
        assert_eq!(best_threshold(&mut pairs), 0.8);
    }
}
