//! The second-order term of dataset condensation without double backward.
//!
//! DC updates the synthetic images S along `d D(g_real, g_S) / d S`, where
//! `g_S = grad_theta l(S; theta)`. By the chain rule that is
//! `(d g_S / d S)^T v` with `v = d D / d g_S`, and by the exact identity
//! `(d g_S / d S)^T v = d/dS [v . grad_theta l(S; theta)]`, a mixed second
//! derivative, which a central finite difference in parameter space
//! evaluates with first-order gradients only (the DARTS trick):
//! `[grad_S l(S; theta + eps v) - grad_S l(S; theta - eps v)] / (2 eps)`,
//! `eps = 0.01 / |v|`.

use crate::net::Params;

/// `(d g_S / d S)^T v` from `input_grad(theta)` = `grad_S l(S; theta)`.
pub fn mixed_second_derivative(params: &Params, v: &Params, input_grad: impl Fn(&Params) -> Vec<f32>) -> Vec<f32> {
    let norm = v.iter().flatten().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if norm == 0.0 {
        return vec![0.0; input_grad(params).len()];
    }
    let eps = 0.01 / norm;
    let shifted = |sign: f64| -> Params {
        params
            .iter()
            .zip(v)
            .map(|(p, d)| p.iter().zip(d).map(|(a, b)| (f64::from(*a) + sign * eps * f64::from(*b)) as f32).collect())
            .collect()
    };
    let plus = input_grad(&shifted(1.0));
    let minus = input_grad(&shifted(-1.0));
    plus.iter().zip(&minus).map(|(a, b)| ((f64::from(*a) - f64::from(*b)) / (2.0 * eps)) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Softmax regression, logits = W x, one sample, cross-entropy: the
    /// input gradient is W^T (p - y), and the mixed derivative
    /// d/dx [v . (p - y) x^T] has the closed form
    /// `v^T (p - y) + sum_i u_i p_i (W_i - W^T p)` with `u = v x`.
    #[test]
    fn matches_the_analytic_mixed_derivative_of_softmax_regression() {
        let (k, d) = (3usize, 4usize);
        let w: Vec<f64> = (0..k * d).map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.3).collect();
        let x = [0.5, -1.0, 0.25, 2.0];
        let y = 1usize;
        let v: Vec<f64> = (0..k * d).map(|i| ((i * 3 % 7) as f64 - 3.0) * 0.2).collect();
        let probs = |w: &[f64]| -> Vec<f64> {
            let z: Vec<f64> = (0..k).map(|i| (0..d).map(|j| w[i * d + j] * x[j]).sum()).collect();
            let m = z.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        };
        let input_grad = |params: &Params| -> Vec<f32> {
            let w: Vec<f64> = params[0].iter().map(|v| f64::from(*v)).collect();
            let p = probs(&w);
            (0..d)
                .map(|j| (0..k).map(|i| w[i * d + j] * (p[i] - f64::from(u8::from(i == y)))).sum::<f64>() as f32)
                .collect()
        };
        let p = probs(&w);
        let u: Vec<f64> = (0..k).map(|i| (0..d).map(|j| v[i * d + j] * x[j]).sum()).collect();
        let wp: Vec<f64> = (0..d).map(|m| (0..k).map(|l| p[l] * w[l * d + m]).sum()).collect();
        let analytic: Vec<f64> = (0..d)
            .map(|m| {
                (0..k).map(|i| v[i * d + m] * (p[i] - f64::from(u8::from(i == y)))).sum::<f64>()
                    + (0..k).map(|i| u[i] * p[i] * (w[i * d + m] - wp[m])).sum::<f64>()
            })
            .collect();
        let params = vec![w.iter().map(|v| *v as f32).collect::<Vec<_>>()];
        let dir = vec![v.iter().map(|v| *v as f32).collect::<Vec<_>>()];
        let fd = mixed_second_derivative(&params, &dir, input_grad);
        let err = fd.iter().zip(&analytic).map(|(a, b)| (f64::from(*a) - b).powi(2)).sum::<f64>().sqrt();
        let scale = analytic.iter().map(|b| b * b).sum::<f64>().sqrt();
        assert!(err / scale < 1e-3, "relative error {}: {fd:?} vs {analytic:?}", err / scale);
    }
}
