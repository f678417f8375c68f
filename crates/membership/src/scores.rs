//! Per-example statistics of one model's output on one labelled example,
//! oriented so that **higher means "more likely a member"**.
//!
//! The functions on slices take the model's logits (any scale, f32 or f64)
//! and the true label; softmax is computed stably in f64 here, so callers
//! never pass probabilities that have lost precision. [`Row`] holds one
//! output as it was given, logits or probabilities: a user's rounded
//! probabilities are used as they are ([`Row::Probs`]), never turned into
//! logits and renormalised, so two examples with the same `p_y` get exactly
//! the same confidence and loss, and an exact tie stays a tie in the ROC.

/// Smallest probability the logs see (`ln 0` would make a score infinite).
pub const PROB_FLOOR: f64 = 1e-30;

/// Softmax of `logits` (max-subtracted, so large logits do not overflow).
pub fn softmax<T: Copy + Into<f64>>(logits: &[T]) -> Vec<f64> {
    let max = logits.iter().map(|&z| z.into()).fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|&z| (z.into() - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// log(sum(exp(z_i))) over `z`, stably.
fn log_sum_exp(z: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = z.clone().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + z.map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// Sum of `v` in ascending order: the same multiset of values gives the
/// same sum whatever the class order, so permuted outputs tie exactly.
fn sorted_sum(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.into_iter().sum()
}

/// Negative cross-entropy, `log p_y` (the loss attack: members have low loss).
pub fn neg_loss<T: Copy + Into<f64>>(logits: &[T], y: usize) -> f64 {
    logits[y].into() - log_sum_exp(logits.iter().map(|&z| z.into()))
}

/// Confidence in the true class, `p_y`.
pub fn confidence<T: Copy + Into<f64>>(logits: &[T], y: usize) -> f64 {
    softmax(logits)[y]
}

/// Negative prediction entropy, `sum_i p_i log p_i` (members get peaked outputs).
pub fn neg_entropy<T: Copy + Into<f64>>(logits: &[T]) -> f64 {
    neg_entropy_of_probs(&softmax(logits))
}

/// Negative modified entropy (Song & Mittal 2021), which, unlike entropy,
/// uses the label: `Mentr = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)`.
/// It is 0 for a confident correct prediction and large for a confident
/// wrong one. Probabilities are clamped to [1e-30, 1 - 1e-16] as in the
/// reference code, to keep the logs finite.
pub fn neg_modified_entropy<T: Copy + Into<f64>>(logits: &[T], y: usize) -> f64 {
    neg_modified_entropy_of_probs(&softmax(logits), y)
}

/// 1 when the arg-max class is the label, else 0 (the gap attack). On a
/// tie for the maximum the first class wins.
pub fn correctness<T: Copy + Into<f64>>(logits: &[T], y: usize) -> f64 {
    let v: Vec<f64> = logits.iter().map(|&z| z.into()).collect();
    correctness_of_probs(&v, y)
}

/// LiRA's logit-scaled confidence
/// `phi = log(p_y / (1 - p_y)) = log p_y - log sum_{y' != y} p_y'`
/// (Carlini et al. 2022, eq. 4). Computed from logits as
/// `z_y - logsumexp_{y' != y} z_y'`: the softmax normaliser cancels, so it
/// stays exact when `p_y` rounds to 1.
pub fn lira_phi<T: Copy + Into<f64>>(logits: &[T], y: usize) -> f64 {
    let others = logits.iter().enumerate().filter(|&(i, _)| i != y).map(|(_, &z)| z.into());
    logits[y].into() - log_sum_exp(others)
}

/// [`neg_entropy`] of probabilities as given (terms summed in ascending
/// order, so permuted rows tie exactly).
pub fn neg_entropy_of_probs(p: &[f64]) -> f64 {
    sorted_sum(p.iter().filter(|&&v| v > 0.0).map(|&v| v * v.ln()).collect())
}

/// [`neg_modified_entropy`] of probabilities as given.
pub fn neg_modified_entropy_of_probs(p: &[f64], y: usize) -> f64 {
    let clamp = |v: f64| v.clamp(PROB_FLOOR, 1.0 - 1e-16);
    let others = p.iter().enumerate().filter(|&(i, _)| i != y).map(|(_, &pi)| pi * clamp(1.0 - pi).ln());
    -(-(1.0 - p[y]) * clamp(p[y]).ln() - sorted_sum(others.collect()))
}

/// [`correctness`] of any scores whose arg-max is the prediction.
pub fn correctness_of_probs(p: &[f64], y: usize) -> f64 {
    let argmax = p.iter().enumerate().fold(0, |best, (i, &v)| if v > p[best] { i } else { best });
    f64::from(u8::from(argmax == y))
}

/// [`lira_phi`] of probabilities as given, as LiRA's reference code
/// computes it from softmax outputs: `log p_y - log sum_{y' != y} p_y'`
/// (both floored at [`PROB_FLOOR`]; the reference adds 1e-45). The sum of
/// the other classes, not `1 - p_y`, keeps precision when `p_y` is near 1.
pub fn lira_phi_of_probs(p: &[f64], y: usize) -> f64 {
    let wrong = sorted_sum(p.iter().enumerate().filter(|&(i, _)| i != y).map(|(_, &v)| v).collect());
    p[y].max(PROB_FLOOR).ln() - wrong.max(PROB_FLOOR).ln()
}

/// One model's output on one example, as it was given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row<'a> {
    /// Logits stored in f32 (the experiment's model populations).
    Logits(&'a [f32]),
    /// Logits read from a user's file, kept in f64.
    Logits64(&'a [f64]),
    /// Probabilities read from a user's file, used as given (not renormalised).
    Probs(&'a [f64]),
}

impl Row<'_> {
    /// The class probabilities: softmax of logits, or the given probabilities.
    pub fn probs(&self) -> Vec<f64> {
        match *self {
            Row::Logits(z) => softmax(z),
            Row::Logits64(z) => softmax(z),
            Row::Probs(p) => p.to_vec(),
        }
    }

    /// `log p_y` (for probabilities, `ln max(p_y, PROB_FLOOR)`).
    pub fn neg_loss(&self, y: usize) -> f64 {
        match *self {
            Row::Logits(z) => neg_loss(z, y),
            Row::Logits64(z) => neg_loss(z, y),
            Row::Probs(p) => p[y].max(PROB_FLOOR).ln(),
        }
    }

    /// `p_y`.
    pub fn confidence(&self, y: usize) -> f64 {
        match *self {
            Row::Probs(p) => p[y],
            _ => self.probs()[y],
        }
    }

    /// `sum_i p_i log p_i`.
    pub fn neg_entropy(&self) -> f64 {
        neg_entropy_of_probs(&self.probs())
    }

    /// Song & Mittal's negative modified entropy.
    pub fn neg_modified_entropy(&self, y: usize) -> f64 {
        neg_modified_entropy_of_probs(&self.probs(), y)
    }

    /// 1 when the arg-max is the label.
    pub fn correctness(&self, y: usize) -> f64 {
        match *self {
            Row::Logits(z) => correctness(z, y),
            Row::Logits64(z) => correctness_of_probs(z, y),
            Row::Probs(p) => correctness_of_probs(p, y),
        }
    }

    /// LiRA's logit-scaled confidence.
    pub fn lira_phi(&self, y: usize) -> f64 {
        match *self {
            Row::Logits(z) => lira_phi(z, y),
            Row::Logits64(z) => lira_phi(z, y),
            Row::Probs(p) => lira_phi_of_probs(p, y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    // logits [2, 1, 0]: p = e^2, e^1, e^0 over S = e^2 + e + 1
    fn p() -> [f64; 3] {
        let e = std::f64::consts::E;
        let s = e * e + e + 1.0;
        [e * e / s, e / s, 1.0 / s]
    }
    const Z: [f32; 3] = [2.0, 1.0, 0.0];

    #[test]
    fn softmax_and_loss_by_hand() {
        let p = p();
        let s = softmax(&Z);
        for i in 0..3 {
            close(s[i], p[i]);
        }
        close(neg_loss(&Z, 1), p[1].ln());
        close(confidence(&Z, 0), p[0]);
        // large logits do not overflow
        let big = softmax(&[1000.0, 0.0]);
        assert!((big[0] - 1.0).abs() < 1e-12 && big[1] >= 0.0);
    }

    #[test]
    fn entropies_by_hand() {
        let p = p();
        close(neg_entropy(&Z), p.iter().map(|v| v * v.ln()).sum());
        // Mentr for y = 1: -(1 - p1) ln p1 - p0 ln(1 - p0) - p2 ln(1 - p2)
        let m = -(1.0 - p[1]) * p[1].ln() - p[0] * (1.0 - p[0]).ln() - p[2] * (1.0 - p[2]).ln();
        close(neg_modified_entropy(&Z, 1), -m);
        // a confident correct prediction has modified entropy ~ 0, a confident wrong one is large
        assert!(neg_modified_entropy(&[20.0, 0.0], 0) > -1e-6);
        assert!(neg_modified_entropy(&[20.0, 0.0], 1) < -15.0);
    }

    /// Rows given as probabilities are scored as given: two rows with the
    /// same p_y but different other classes get bit-identical confidence
    /// and loss (through logits in f32 and a softmax they did not), and a
    /// permuted row the same entropy and modified entropy.
    #[test]
    fn probability_rows_keep_exact_ties() {
        let (a, b) = ([0.7, 0.2, 0.1], [0.7, 0.15, 0.15]);
        let (ra, rb) = (Row::Probs(&a), Row::Probs(&b));
        assert_eq!(ra.confidence(0).to_bits(), rb.confidence(0).to_bits());
        assert_eq!(ra.neg_loss(0).to_bits(), rb.neg_loss(0).to_bits());
        assert_eq!(ra.confidence(0), 0.7);
        assert_eq!(ra.neg_loss(0), 0.7f64.ln());
        let c = [0.1, 0.7, 0.2];
        let rc = Row::Probs(&c);
        assert_eq!(ra.neg_entropy().to_bits(), rc.neg_entropy().to_bits());
        assert_eq!(ra.neg_modified_entropy(0).to_bits(), rc.neg_modified_entropy(1).to_bits());
        assert_eq!(ra.correctness(0), 1.0);
        assert_eq!(rc.correctness(0), 0.0);
        // phi = ln p_y - ln(sum of the others), summed smallest first
        assert_eq!(ra.lira_phi(0), 0.7f64.ln() - (0.1f64 + 0.2).ln());
        // the old path: log-probabilities in f32, then a softmax
        let old = |p: &[f64]| p.iter().map(|&v| v.ln() as f32).collect::<Vec<f32>>();
        assert_ne!(confidence(&old(&a), 0).to_bits(), confidence(&old(&b), 0).to_bits());
        // logits in f64 match the f32 path on values f32 holds exactly
        let z = [2.0f64, 1.0, 0.0];
        assert!((Row::Logits64(&z).lira_phi(1) - Row::Logits(&Z).lira_phi(1)).abs() < 1e-12);
        assert!((Row::Logits64(&z).neg_modified_entropy(1) - neg_modified_entropy(&Z, 1)).abs() < 1e-12);
    }

    #[test]
    fn correctness_and_lira_phi_by_hand() {
        assert_eq!(correctness(&Z, 0), 1.0);
        assert_eq!(correctness(&Z, 2), 0.0);
        let p = p();
        close(lira_phi(&Z, 1), p[1].ln() - (p[0] + p[2]).ln());
        // stays finite and exact when p_y rounds to 1 in f64
        close(lira_phi(&[50.0, 0.0, 0.0], 0), 50.0 - 2f64.ln());
    }
}
