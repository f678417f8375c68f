//! Attacks on one target model, using the other models as shadows. Each
//! returns one membership score per example of the pool (higher means
//! "member"); the ROC against the target's IN mask measures the attack.

use crate::scores;
use crate::shadow::ModelOutputs;

/// A per-example statistic of one model's logits and the label.
pub type Statistic = fn(&[f32], usize) -> f64;

/// Membership scores per example, by attack name, in report order.
pub type NamedScores = Vec<(String, Vec<f64>)>;

/// The metric attacks of Song & Mittal (2021), by name.
pub const METRICS: [(&str, Statistic); 5] = [
    ("loss", scores::neg_loss),
    ("confidence", scores::confidence),
    ("entropy", |z, _| scores::neg_entropy(z)),
    ("modified entropy", scores::neg_modified_entropy),
    ("correctness", scores::correctness),
];

/// The target's own statistic per example: a global-threshold attack (its
/// ROC sweeps every threshold).
pub fn metric(out: &ModelOutputs, target: usize, stat: Statistic) -> Vec<f64> {
    (0..out.n_examples).map(|j| stat(out.logits(target, j), out.labels[j])).collect()
}

/// The same statistic with a per-class threshold calibrated on the shadow
/// models (Song & Mittal): for class c, tau_c maximises the shadows'
/// TPR - FPR when separating their IN from OUT examples of class c; the
/// score is `stat - tau_c`, so one threshold at 0 applies all of them.
pub fn metric_per_class(out: &ModelOutputs, target: usize, stat: Statistic) -> Vec<f64> {
    let mut taus = vec![0.0; out.n_classes];
    for (c, tau) in taus.iter_mut().enumerate() {
        let mut pairs: Vec<(f64, bool)> = Vec::new();
        for m in (0..out.n_models).filter(|&m| m != target) {
            for j in (0..out.n_examples).filter(|&j| out.labels[j] == c) {
                pairs.push((stat(out.logits(m, j), c), out.is_member(m, j)));
            }
        }
        *tau = best_threshold(&mut pairs);
    }
    (0..out.n_examples).map(|j| stat(out.logits(target, j), out.labels[j]) - taus[out.labels[j]]).collect()
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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn pop_std(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
}

/// Medians and standard deviations of phi over the shadows (all models but
/// `target`), split by whether each shadow trained on the example. An
/// example no shadow saw IN (or OUT) takes the pooled median of that side,
/// which only happens with very few shadow models.
fn shadow_phi(out: &ModelOutputs, target: usize, variance: Variance, phi: impl Fn(usize, usize) -> f64) -> ShadowPhi {
    let n = out.n_examples;
    let (mut all_in, mut all_out) = (Vec::new(), Vec::new());
    let mut per: Vec<(Vec<f64>, Vec<f64>)> = Vec::with_capacity(n);
    for j in 0..n {
        let (mut ins, mut outs) = (Vec::new(), Vec::new());
        for m in (0..out.n_models).filter(|&m| m != target) {
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

/// LiRA's offline score of one example (Carlini et al. 2022):
/// OUT shadows only, a one-sided test. The paper's
/// `Lambda = Pr[Z < phi], Z ~ N(mu_out, sd_out^2)` is `Phi((phi - mu_out) /
/// sd_out)`, monotone in the z-score, so the z-score
/// `(phi - mu_out) / (sd_out + 1e-30)` ranks examples the same and is what
/// this returns.
pub fn lira_offline_score(phi: f64, outside: Gaussian) -> f64 {
    (phi - outside.mu) / (outside.sd + 1e-30)
}

/// LiRA online (Carlini et al. 2022): each example's [`lira_online_score`],
/// the log-likelihood ratio of the target's phi under the IN and OUT
/// Gaussians fitted on the shadows (medians and standard deviations). With
/// fixed variance the reference code uses the IN spread for both
/// Gaussians; so does this.
pub fn lira_online(out: &ModelOutputs, target: usize, variance: Variance) -> Vec<f64> {
    online_ratio(out, target, variance, |m, j| scores::lira_phi(out.logits(m, j), out.labels[j]))
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
fn online_ratio(out: &ModelOutputs, target: usize, variance: Variance, phi: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let s = shadow_phi(out, target, variance, &phi);
    (0..out.n_examples)
        .map(|j| {
            let x = phi(target, j);
            let sd_out = if variance == Variance::Fixed { s.sd_in[j] } else { s.sd_out[j] };
            lira_online_score(x, Gaussian { mu: s.mu_in[j], sd: s.sd_in[j] }, Gaussian { mu: s.mu_out[j], sd: sd_out })
        })
        .collect()
}

/// LiRA offline: OUT shadows only, each example scored by
/// [`lira_offline_score`] (the one-sided test's z-score).
pub fn lira_offline(out: &ModelOutputs, target: usize, variance: Variance) -> Vec<f64> {
    let phi = |m: usize, j: usize| scores::lira_phi(out.logits(m, j), out.labels[j]);
    let s = shadow_phi(out, target, variance, phi);
    (0..out.n_examples)
        .map(|j| lira_offline_score(phi(target, j), Gaussian { mu: s.mu_out[j], sd: s.sd_out[j] }))
        .collect()
}

/// The label-only boundary attack (Choquette-Choo et al. 2021): the share
/// of noisy copies of each example that the target still labels correctly,
/// measured while training the population (`None` when it was not). The
/// attacker needs only labels. The `correctness` metric is the other
/// label-only attack, the gap attack.
pub fn boundary(out: &ModelOutputs, target: usize) -> Option<Vec<f64>> {
    (0..out.n_examples).map(|j| out.robustness(target, j).map(f64::from)).collect()
}

/// RMIA (Zarifzadeh et al. 2024), online: with `p(x|m)` model m's
/// probability of x's label, and `p(x)` its mean over the reference models
/// (all shadows), the likelihood ratio of x against a population sample z is
/// `LR(x, z) = [p(x|target) / p(x)] / [p(z|target) / p(z)]`. The score is the
/// share of `population` examples z with `LR(x, z) >= gamma` (the paper's
/// default gamma = 1). `population` stands for data the attacker holds (here
/// pool examples, whose target membership the attacker does not know).
pub fn rmia(out: &ModelOutputs, target: usize, population: &[usize], gamma: f64) -> Vec<f64> {
    let ratio = |j: usize| {
        let label = out.labels[j];
        let p_target = scores::confidence(out.logits(target, j), label);
        let refs: Vec<f64> =
            (0..out.n_models).filter(|&m| m != target).map(|m| scores::confidence(out.logits(m, j), label)).collect();
        rmia_ratio(p_target, &refs)
    };
    let mut rz: Vec<f64> = population.iter().map(|&z| ratio(z)).collect();
    rz.sort_by(f64::total_cmp);
    (0..out.n_examples).map(|j| rmia_score(ratio(j), &rz, gamma)).collect()
}

/// RMIA's per-example ratio `p(x|target) / p(x)`, with `p(x)` the mean of
/// the reference models' probabilities `p_refs` of x's label (floored at
/// 1e-300 against a zero mean).
pub fn rmia_ratio(p_target: f64, p_refs: &[f64]) -> f64 {
    p_target / (p_refs.iter().sum::<f64>() / p_refs.len() as f64).max(1e-300)
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

fn attack_features(logits: &[f32], kind: AttackFeatures) -> Vec<f32> {
    let mut p: Vec<f32> = scores::softmax(logits).into_iter().map(|v| v as f32).collect();
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
    out: &ModelOutputs,
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
        AttackFeatures::FullVectorPerClass => (0..out.n_classes).map(Some).collect(),
    };
    let device = reprolab_core::device::default_device();
    let ad = device.clone().autodiff();
    let mut scores = vec![0.0; out.n_examples];
    for group in groups {
        let in_group = |j: usize| group.is_none_or(|c| out.labels[j] == c);
        let (mut feats, mut labels) = (Vec::new(), Vec::new());
        for m in (0..out.n_models).filter(|&m| m != target) {
            for j in (0..out.n_examples).filter(|&j| in_group(j)) {
                feats.extend(attack_features(out.logits(m, j), kind));
                labels.push(usize::from(out.is_member(m, j)));
            }
        }
        let targets: Vec<usize> = (0..out.n_examples).filter(|&j| in_group(j)).collect();
        if labels.is_empty() || targets.is_empty() {
            continue;
        }
        let d = feats.len() / labels.len();
        let train = Dataset::classification("shadow outputs", feats, d, labels, vec!["out".into(), "in".into()])?;
        let rows: Vec<usize> = (0..train.len()).collect();
        device.seed(reprolab_core::rng::derive_seed(seed, "attack-model"));
        let model = MlpConfig::new(&[d, hidden, 2]).init(&ad);
        let (model, _) = fit(model, &train, &rows, fit_cfg, seed, &ad, "attack model")?;
        let tfeats: Vec<f32> = targets.iter().flat_map(|&j| attack_features(out.logits(target, j), kind)).collect();
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
    fn lira_offline_is_the_z_score_against_out_shadows() {
        let mut o = toy();
        // make model 2 OUT as well: OUT phis {2, -1} -> median 0.5, std 1.5
        o.members[2] = false;
        let z = lira_offline(&o, 0, Variance::PerExample)[0];
        assert!((z - (3.0 - 0.5) / 1.5).abs() < 1e-12, "{z}");
    }

    /// Two classes; ratio(x) = p_target(x) / mean_ref p(x). Hand values:
    /// example 0: p_t = 0.8, refs 0.4 -> 2; example 1: p_t = 0.3, refs 0.6 -> 0.5;
    /// example 2: p_t = 0.5, refs 0.5 -> 1. Population = all three.
    #[test]
    fn rmia_counts_population_samples_it_dominates() {
        let logit = |p: f32| [0.0f32, (1.0 / p - 1.0).ln()]; // softmax(.)[0] = p
        let mut logits = Vec::new();
        for p in [0.8, 0.3, 0.5] {
            logits.extend(logit(p)); // target (model 0)
        }
        for p in [0.4, 0.6, 0.5] {
            logits.extend(logit(p)); // the one reference model
        }
        let o = ModelOutputs {
            n_models: 2,
            n_examples: 3,
            n_classes: 2,
            logits,
            members: vec![true, false, true, false, true, false],
            labels: vec![0, 0, 0],
            robustness: vec![],
            n_queries: 0,
            query_logits: vec![],
        };
        let s = rmia(&o, 0, &[0, 1, 2], 1.0);
        // ratios 2, 0.5, 1: example 0 dominates all 3, example 1 only itself, example 2 itself and example 1
        let want = [1.0, 1.0 / 3.0, 2.0 / 3.0];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{s:?}");
        }
    }

    #[test]
    fn attack_features_are_sorted_top3_or_the_full_vector() {
        let z = [0.0f32, 2.0, 1.0, -1.0];
        let top3 = attack_features(&z, AttackFeatures::Top3Sorted);
        assert_eq!(top3.len(), 3);
        assert!(top3[0] >= top3[1] && top3[1] >= top3[2]);
        let full = attack_features(&z, AttackFeatures::FullVectorPerClass);
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
