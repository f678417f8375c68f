//! RELIANT's differentiable fairness regulariser, as the official code
//! writes it: a Legendre-polynomial surrogate H(p) of the indicator
//! "p is predicted positive" ([`h`], [`h_tensor`]), the groups each
//! regulariser compares ([`parity_groups`] for R_SP,
//! [`opportunity_groups`] for R_EO) and the squared group gaps of the
//! surrogate's mean ([`disparity`]).

use burn::tensor::Tensor;

/// Legendre polynomials P1, P3, P5, P7, P9 at x.
fn legendre_odd(x: f64) -> [f64; 5] {
    let x2 = x * x;
    [
        x,
        (5.0 * x2 * x - 3.0 * x) / 2.0,
        (63.0 * x2 * x2 * x - 70.0 * x2 * x + 15.0 * x) / 8.0,
        (429.0 * x2.powi(3) * x - 693.0 * x2 * x2 * x + 315.0 * x2 * x - 35.0 * x) / 16.0,
        (12155.0 * x2.powi(4) * x - 25740.0 * x2.powi(3) * x + 18018.0 * x2 * x2 * x - 4620.0 * x2 * x + 315.0 * x)
            / 128.0,
    ]
}

/// Coefficients of P1, P3, P5, P7, P9 in H.
const COEFFICIENTS: [f64; 5] = [0.5, -1.0 / 8.0, 1.0 / 16.0, -5.0 / 128.0, 7.0 / 256.0];

/// RELIANT's surrogate of the indicator 1[p >= 1/2]:
///
/// H(p) = 1/2 + 1/2 P1(x) - 1/8 P3(x) + 1/16 P5(x) - 5/128 P7(x) + 7/256 P9(x),
/// x = 2p - 1,
///
/// P_k the Legendre polynomials. H(0) = 0.074, H(1/2) = 1/2, H(1) = 0.926
/// and H(p) + H(1 - p) = 1.
pub fn h(p: f64) -> f64 {
    let x = 2.0 * p - 1.0;
    0.5 + legendre_odd(x).iter().zip(COEFFICIENTS).map(|(l, c)| l * c).sum::<f64>()
}

/// [`h`] elementwise on a tensor of probabilities, differentiable (a
/// polynomial): H(p) = 1/2 + c1 x + c3 x^3 + c5 x^5 + c7 x^7 + c9 x^9,
/// x = 2p - 1, the same polynomial expanded into monomials.
pub fn h_tensor<const D: usize>(p: Tensor<D>) -> Tensor<D> {
    let x = p.mul_scalar(2.0).sub_scalar(1.0);
    let x2 = x.clone().powi_scalar(2);
    let x3 = x2.clone() * x.clone();
    let x5 = x3.clone() * x2.clone();
    let x7 = x5.clone() * x2.clone();
    let x9 = x7.clone() * x2;
    // The odd polynomial expanded into monomials: c1 x + c3 x^3 + ... + c9 x^9.
    let [c1, c3, c5, c7, c9] = monomial_coefficients();
    x.mul_scalar(c1) + x3.mul_scalar(c3) + x5.mul_scalar(c5) + x7.mul_scalar(c7) + x9.mul_scalar(c9).add_scalar(0.5)
}

/// The monomial coefficients of H(p) - 1/2 in x (x, x^3, ..., x^9).
fn monomial_coefficients() -> [f64; 5] {
    // Legendre P_k as monomials of x^1, x^3, ..., x^9.
    let p = [
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [-1.5, 2.5, 0.0, 0.0, 0.0],
        [15.0 / 8.0, -70.0 / 8.0, 63.0 / 8.0, 0.0, 0.0],
        [-35.0 / 16.0, 315.0 / 16.0, -693.0 / 16.0, 429.0 / 16.0, 0.0],
        [315.0 / 128.0, -4620.0 / 128.0, 18018.0 / 128.0, -25740.0 / 128.0, 12155.0 / 128.0],
    ];
    let mut out = [0.0; 5];
    for (row, c) in p.iter().zip(COEFFICIENTS) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += c * v;
        }
    }
    out
}

/// The two groups a regulariser compares, as node masks: `group0` the
/// nodes with s = 0, `group1` those with s = 1, both restricted to the
/// nodes the regulariser reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    pub group0: Vec<bool>,
    pub group1: Vec<bool>,
}

/// R_SP's groups: the non-training nodes, by s,
///
/// G_s = { i not in V_train : s_i = s },  s = 0, 1,
///
/// so that R_SP = [`disparity`] over (G_0, G_1).
pub fn parity_groups(sensitive: &[bool], in_training: &[bool]) -> Groups {
    opportunity_groups(sensitive, in_training, &vec![true; sensitive.len()])
}

/// R_EO's groups: the non-training nodes with y = 1, by s,
///
/// G_s = { i not in V_train : y_i = 1, s_i = s },  s = 0, 1,
///
/// so that R_EO = [`disparity`] over (G_0, G_1). `positive` is y_i = 1;
/// the distillation passes the teacher's predicted label (a student has no
/// labels outside the training nodes; ours, not the paper's).
pub fn opportunity_groups(sensitive: &[bool], in_training: &[bool], positive: &[bool]) -> Groups {
    let in_r: Vec<bool> = (0..sensitive.len()).map(|i| !in_training[i] && positive[i]).collect();
    Groups {
        group0: (0..sensitive.len()).map(|i| in_r[i] && !sensitive[i]).collect(),
        group1: (0..sensitive.len()).map(|i| in_r[i] && sensitive[i]).collect(),
    }
}

/// RELIANT's disparity regulariser of class probabilities `probs`
/// `[n, classes]` between two groups of nodes G_0 and G_1:
///
/// R = sum_c ( mean_{i in G_0} H(p_ic) - mean_{i in G_1} H(p_ic) )^2,
///
/// H the surrogate [`h_tensor`]. The groups are 0/1 float columns `[n, 1]`
/// (each group non-empty): R_SP over [`parity_groups`], R_EO over
/// [`opportunity_groups`].
pub fn disparity(probs: Tensor<2>, group0: Tensor<2>, group1: Tensor<2>) -> Tensor<1> {
    let hp = h_tensor(probs);
    let n0 = group0.clone().sum();
    let n1 = group1.clone().sum();
    let mean0 = (hp.clone() * group0).sum_dim(0).div(n0.unsqueeze());
    let mean1 = (hp * group1).sum_dim(0).div(n1.unsqueeze());
    (mean0 - mean1).powi_scalar(2).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn the_surrogate_matches_the_papers_check_values_and_is_symmetric() {
        assert_eq!((h(0.0) * 1000.0).round() / 1000.0, 0.074);
        assert!((h(0.5) - 0.5).abs() < 1e-12);
        assert_eq!((h(1.0) * 1000.0).round() / 1000.0, 0.926);
        for p in [0.0, 0.1, 0.3, 0.45] {
            assert!((h(p) + h(1.0 - p) - 1.0).abs() < 1e-12, "H(p) + H(1-p) = 1 at {p}");
        }
        // monotone on [0, 1]
        let values: Vec<f64> = (0..=100).map(|k| h(k as f64 / 100.0)).collect();
        assert!(values.windows(2).all(|w| w[1] >= w[0] - 1e-12));
        // the tensor form is the same polynomial
        let dev = reprolab_core::device::default_device();
        let ps = [0.0f32, 0.2, 0.5, 0.9, 1.0];
        let t: Vec<f32> =
            h_tensor(Tensor::<1>::from_data(TensorData::new(ps.to_vec(), [5]), &dev)).into_data().try_to_vec().unwrap();
        for (p, v) in ps.iter().zip(t) {
            assert!((f64::from(v) - h(f64::from(*p))).abs() < 1e-5, "{p}: {v}");
        }
    }

    #[test]
    fn the_groups_leave_out_training_nodes_and_for_eo_the_negatives() {
        let s = [false, false, true, true, false];
        let train = [true, false, false, false, false];
        let sp = parity_groups(&s, &train);
        assert_eq!(sp.group0, vec![false, true, false, false, true]);
        assert_eq!(sp.group1, vec![false, false, true, true, false]);
        let eo = opportunity_groups(&s, &train, &[true, true, false, true, false]);
        assert_eq!(eo.group0, vec![false, true, false, false, false]);
        assert_eq!(eo.group1, vec![false, false, false, true, false]);
    }

    #[test]
    fn disparity_by_hand() {
        let dev = reprolab_core::device::default_device();
        // two classes; group 0 = nodes 0, 1; group 1 = node 2
        let probs = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0, 0.5, 0.5], [3, 2]), &dev);
        let g0 = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0, 0.0], [3, 1]), &dev);
        let g1 = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0, 1.0], [3, 1]), &dev);
        let r: f32 = disparity(probs, g0, g1).into_scalar();
        // class means over group 0: (H(1) + H(0)) / 2 = 0.5 for both classes; group 1: 0.5 -> R = 0
        assert!(r.abs() < 1e-6, "{r}");
        let probs = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0], [3, 2]), &dev);
        let g0 = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0, 0.0], [3, 1]), &dev);
        let g1 = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0, 1.0], [3, 1]), &dev);
        let r: f32 = disparity(probs, g0, g1).into_scalar();
        let gap = h(1.0) - h(0.0);
        assert!((f64::from(r) - 2.0 * gap * gap).abs() < 1e-5, "{r}");
    }
}
