//! DC's gradient-matching distance, as the official code computes it: for
//! every weight matrix (conv kernels reshaped to `out x (in*h*w)`), the sum
//! over output rows of `1 - <g_real, g_syn> / (|g_real| |g_syn| + 1e-6)`;
//! 1-D parameters (biases, norm scales) contribute nothing.

use crate::net::{Params, Slot};

/// The constant in the denominator of the official code.
pub const EPS: f64 = 1e-6;

/// DC's gradient-matching distance between the parameter gradients of a
/// real batch and of the synthetic images,
/// `D(G_real, G_syn) = sum_l sum_r [1 - <a_lr, b_lr> / (|a_lr| |b_lr| + 1e-6)]`,
/// over the weight matrices `l` (conv kernels as `out x (in*h*w)`, FC
/// weights as `out x in`; 1-D parameters contribute nothing) and their
/// output rows `r`, with `a_lr`, `b_lr` row `r` of layer `l` of `real`
/// and `syn`. Returns `D` and its gradient with respect to `syn`,
/// `dD/db = -a / den + <a, b> |a| b / (|b| den^2)` with
/// `den = |a| |b| + 1e-6` (zero for the parameters that do not enter the
/// distance and for all-zero rows of `syn`, see below).
pub fn gradient_matching_distance(layout: &[Slot], real: &Params, syn: &Params) -> (f64, Params) {
    let mut total = 0.0;
    let mut grad: Params = syn.iter().map(|g| vec![0.0; g.len()]).collect();
    for (k, slot) in layout.iter().enumerate() {
        let Some((rows, len)) = slot.rows() else { continue };
        for r in 0..rows {
            let a = &real[k][r * len..(r + 1) * len];
            let b = &syn[k][r * len..(r + 1) * len];
            let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            let na = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            let nb = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            let den = na * nb + EPS;
            total += 1.0 - dot / den;
            if nb == 0.0 {
                // A row of exact zeros is a unit that no synthetic image
                // activates: its gradient row has zero derivative with
                // respect to the images, so its (huge, -a / 1e-6) entry of
                // dD/dg would contribute exactly nothing through the exact
                // second-order product, but would swamp the finite
                // difference's direction (and step) if kept.
                continue;
            }
            // d/db [1 - dot/den] = -a/den + dot * |a| * (b/|b|) / den^2
            let scale_b = dot * na / (nb * den * den);
            for (g, (x, y)) in grad[k][r * len..(r + 1) * len].iter_mut().zip(a.iter().zip(b)) {
                *g = (-f64::from(*x) / den + scale_b * f64::from(*y)) as f32;
            }
        }
    }
    (total, grad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Role;

    fn layout() -> Vec<Slot> {
        vec![
            Slot { role: Role::ConvWeight, shape: vec![2, 1, 1, 2] },
            Slot { role: Role::Bias, shape: vec![2] },
            Slot { role: Role::LinearWeight, shape: vec![1, 3] },
        ]
    }

    #[test]
    fn distance_by_hand() {
        // conv rows: ([1,0] vs [1,1]) and ([0,2] vs [0,-3]); bias ignored;
        // linear row ([1,2,2] vs [2,4,4]).
        let real = vec![vec![1.0, 0.0, 0.0, 2.0], vec![5.0, 5.0], vec![1.0, 2.0, 2.0]];
        let syn = vec![vec![1.0, 1.0, 0.0, -3.0], vec![-1.0, 0.0], vec![2.0, 4.0, 4.0]];
        let (d, _) = gradient_matching_distance(&layout(), &real, &syn);
        let expected = (1.0 - 1.0 / (2f64.sqrt() + EPS)) + (1.0 + 6.0 / (6.0 + EPS)) + (1.0 - 18.0 / (18.0 + EPS));
        assert!((d - expected).abs() < 1e-9, "{d} vs {expected}");
        assert!((d - (1.0 - 1.0 / 2f64.sqrt() + 2.0)).abs() < 1e-5);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let real = vec![vec![0.3, -1.0, 0.7, 2.0], vec![1.0, 1.0], vec![1.0, -2.0, 0.5]];
        let syn = vec![vec![1.2, 0.4, -0.5, 0.9], vec![0.0, 0.0], vec![0.1, 0.3, -0.8]];
        let (_, g) = gradient_matching_distance(&layout(), &real, &syn);
        for k in 0..3 {
            for j in 0..syn[k].len() {
                let h = 1e-3f32;
                let (mut plus, mut minus) = (syn.clone(), syn.clone());
                plus[k][j] += h;
                minus[k][j] -= h;
                let fd = (gradient_matching_distance(&layout(), &real, &plus).0
                    - gradient_matching_distance(&layout(), &real, &minus).0)
                    / f64::from(2.0 * h);
                assert!((fd - f64::from(g[k][j])).abs() < 1e-3, "{k}[{j}]: fd {fd} vs {}", g[k][j]);
            }
        }
        assert_eq!(g[1], vec![0.0, 0.0]);
    }

    #[test]
    fn a_dead_row_counts_fully_but_pushes_nothing() {
        let real = vec![vec![1.0, 2.0, 3.0, 4.0], vec![0.0, 0.0], vec![1.0, 1.0, 1.0]];
        let syn = vec![vec![0.0, 0.0, 1.0, 1.0], vec![0.0, 0.0], vec![1.0, 1.0, 1.0]];
        let (d, g) = gradient_matching_distance(&layout(), &real, &syn);
        let second_row = 1.0 - 7.0 / (5.0 * 2f64.sqrt() + EPS);
        assert!((d - (1.0 + second_row + (1.0 - 3.0 / (3.0 + EPS)))).abs() < 1e-9, "{d}");
        assert_eq!(&g[0][..2], &[0.0, 0.0]);
        assert!(g[0][2] != 0.0);
    }
}
