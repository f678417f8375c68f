//! Per-example statistics of one model's output on one labelled example,
//! oriented so that **higher means "more likely a member"**.
//!
//! All take the model's logits (any scale) and the true label; softmax is
//! computed stably here, so callers never pass probabilities that have
//! lost precision.

/// Softmax of `logits` (max-subtracted, so large logits do not overflow).
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exp: Vec<f64> = logits.iter().map(|&z| (z as f64 - max).exp()).collect();
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

/// Negative cross-entropy, `log p_y` (the loss attack: members have low loss).
pub fn neg_loss(logits: &[f32], y: usize) -> f64 {
    logits[y] as f64 - log_sum_exp(logits.iter().map(|&z| z as f64))
}

/// Confidence in the true class, `p_y`.
pub fn confidence(logits: &[f32], y: usize) -> f64 {
    softmax(logits)[y]
}

/// Negative prediction entropy, `sum_i p_i log p_i` (members get peaked outputs).
pub fn neg_entropy(logits: &[f32]) -> f64 {
    softmax(logits).iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum()
}

/// Negative modified entropy (Song & Mittal 2021), which, unlike entropy,
/// uses the label: `Mentr = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)`.
/// It is 0 for a confident correct prediction and large for a confident
/// wrong one. Probabilities are clamped to [1e-30, 1 - 1e-16] as in the
/// reference code, to keep the logs finite.
pub fn neg_modified_entropy(logits: &[f32], y: usize) -> f64 {
    let p = softmax(logits);
    let clamp = |v: f64| v.clamp(1e-30, 1.0 - 1e-16);
    let mut m = -(1.0 - p[y]) * clamp(p[y]).ln();
    for (i, &pi) in p.iter().enumerate() {
        if i != y {
            m -= pi * clamp(1.0 - pi).ln();
        }
    }
    -m
}

/// 1 when the arg-max class is the label, else 0 (the gap attack).
pub fn correctness(logits: &[f32], y: usize) -> f64 {
    let argmax = logits.iter().enumerate().fold(0, |best, (i, &z)| if z > logits[best] { i } else { best });
    f64::from(u8::from(argmax == y))
}

/// LiRA's logit-scaled confidence
/// `phi = log(p_y / (1 - p_y)) = log p_y - log sum_{y' != y} p_y'`
/// (Carlini et al. 2022, eq. 4). Computed from logits as
/// `z_y - logsumexp_{y' != y} z_y'`: the softmax normaliser cancels, so it
/// stays exact when `p_y` rounds to 1.
pub fn lira_phi(logits: &[f32], y: usize) -> f64 {
    let others = logits.iter().enumerate().filter(|&(i, _)| i != y).map(|(_, &z)| z as f64);
    logits[y] as f64 - log_sum_exp(others)
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
