//! Differential privacy accounting for DP-SGD (Abadi et al. 2016): the
//! Rényi-DP of the sampled Gaussian mechanism (Mironov, Talwar & Zhang
//! 2019), composed over steps and converted to (epsilon, delta) with the
//! bound of Balle et al. 2020 (Theorem 21), as Opacus 1.6 does.
//!
//! Orders are the integers 2..=256, where the RDP has the exact binomial
//! form. Opacus's default also tries fractional orders, which can give a
//! slightly smaller epsilon; an integer-order epsilon is still a valid upper
//! bound. Golden values in the tests come from Opacus 1.6 restricted to the
//! same orders.
//!
//! DP-SGD training itself (per-example clipping and noise) is not
//! implemented yet; this accountant is its first piece.

/// The RDP orders the accountant tries.
pub fn orders() -> impl Iterator<Item = u32> {
    2..=256
}

fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY { hi } else { hi + (lo - hi).exp().ln_1p() }
}

/// RDP at integer order `alpha` of one step of the sampled Gaussian
/// mechanism with sampling rate `q` and noise multiplier `sigma`:
/// `log(A_alpha) / (alpha - 1)` with
/// `A_alpha = sum_i C(alpha, i) (1 - q)^(alpha - i) q^i exp((i^2 - i) / (2 sigma^2))`.
pub fn rdp_sampled_gaussian(q: f64, sigma: f64, alpha: u32) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 {
        return f64::INFINITY;
    }
    let a = f64::from(alpha);
    if q == 1.0 {
        return a / (2.0 * sigma * sigma);
    }
    let mut log_a = f64::NEG_INFINITY;
    let mut log_binom = 0.0; // ln C(alpha, 0)
    for i in 0..=alpha {
        let fi = f64::from(i);
        if i > 0 {
            log_binom += ((a - fi + 1.0) / fi).ln();
        }
        let term = log_binom + fi * q.ln() + (a - fi) * (1.0 - q).ln() + (fi * fi - fi) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, term);
    }
    log_a / (a - 1.0)
}

/// (epsilon, best order) after `steps` DP-SGD steps at sampling rate `q`
/// and noise multiplier `sigma`, for the target `delta`.
pub fn epsilon(q: f64, sigma: f64, steps: u64, delta: f64) -> (f64, u32) {
    orders()
        .map(|alpha| {
            let a = f64::from(alpha);
            let rdp = rdp_sampled_gaussian(q, sigma, alpha) * steps as f64;
            let eps = rdp - (delta.ln() + a.ln()) / (a - 1.0) + ((a - 1.0) / a).ln();
            (eps, alpha)
        })
        .filter(|(e, _)| !e.is_nan())
        .fold((f64::INFINITY, 0), |best, cur| if cur.0 < best.0 { cur } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_step_rdp_matches_opacus() {
        // opacus.accountants.analysis.rdp.compute_rdp(q=0.01, noise_multiplier=1.1, steps=1, orders=[2, 8, 32])
        for (alpha, want) in [(2, 1.28510082e-04), (8, 5.84070336e-04), (32, 8.46941643e+00)] {
            let got = rdp_sampled_gaussian(0.01, 1.1, alpha);
            assert!((got - want).abs() / want < 1e-7, "alpha {alpha}: {got} vs {want}");
        }
        assert_eq!(rdp_sampled_gaussian(0.0, 1.0, 4), 0.0);
        assert_eq!(rdp_sampled_gaussian(1.0, 2.0, 4), 4.0 / 8.0);
    }

    #[test]
    fn epsilon_matches_opacus_on_integer_orders() {
        // get_privacy_spent(orders=range(2, 257), rdp=compute_rdp(q, sigma, steps, orders), delta)
        let golden = [
            (0.01, 1.1, 10_000, 1e-5, 5.654308000149469, 5),
            (0.05, 0.8, 1_000, 1e-5, 19.509308748574785, 2),
            (0.256, 1.0, 100, 1e-6, 23.10001554889718, 2),
            (0.001, 4.0, 100_000, 1e-5, 0.29665596224702134, 49),
            (0.142, 1.0, 420, 1e-5, 24.432136011052, 2),
        ];
        for (q, sigma, steps, delta, want, alpha) in golden {
            let (eps, best) = epsilon(q, sigma, steps, delta);
            assert!((eps - want).abs() / want < 1e-9, "q {q} sigma {sigma}: {eps} vs {want}");
            assert_eq!(best, alpha);
        }
    }

    #[test]
    fn more_noise_or_fewer_steps_means_less_epsilon() {
        assert!(epsilon(0.01, 2.0, 1000, 1e-5).0 < epsilon(0.01, 1.0, 1000, 1e-5).0);
        assert!(epsilon(0.01, 1.0, 100, 1e-5).0 < epsilon(0.01, 1.0, 1000, 1e-5).0);
    }
}
