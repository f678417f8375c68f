//! Adam on host vectors (PyTorch's update rule, bias-corrected), for the
//! small searches that optimise inputs rather than network parameters:
//! DOORPING's trigger and the reverse-engineered masks and patterns.

/// One Adam state over `n` values.
pub struct Adam {
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    pub fn new(n: usize, beta1: f64, beta2: f64, eps: f64) -> Self {
        Self { beta1, beta2, eps, m: vec![0.0; n], v: vec![0.0; n], t: 0 }
    }

    /// The step to subtract from each value for gradient `g`.
    pub fn updates(&mut self, g: &[f64], lr: f64) -> Vec<f64> {
        self.t += 1;
        let (c1, c2) = (1.0 - self.beta1.powi(self.t), 1.0 - self.beta2.powi(self.t));
        g.iter()
            .enumerate()
            .map(|(i, &gi)| {
                self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * gi;
                self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * gi * gi;
                lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + self.eps)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first step of bias-corrected Adam moves every value by lr in the
    /// gradient's sign; on a quadratic it converges.
    #[test]
    fn first_step_is_lr_times_sign_and_it_minimises_a_quadratic() {
        let mut adam = Adam::new(2, 0.9, 0.999, 1e-8);
        let u = adam.updates(&[3.0, -0.5], 0.1);
        // exactly lr * g / (|g| + eps)
        assert!(
            (u[0] - 0.1 * 3.0 / (3.0 + 1e-8)).abs() < 1e-12 && (u[1] + 0.1 * 0.5 / (0.5 + 1e-8)).abs() < 1e-12,
            "{u:?}"
        );
        let mut x = [5.0f64, -4.0];
        let mut adam = Adam::new(2, 0.9, 0.999, 1e-8);
        for _ in 0..2000 {
            let g = [2.0 * (x[0] - 1.0), 2.0 * (x[1] + 2.0)];
            let u = adam.updates(&g, 0.05);
            x[0] -= u[0];
            x[1] -= u[1];
        }
        assert!((x[0] - 1.0).abs() < 1e-2 && (x[1] + 2.0).abs() < 1e-2, "{x:?}");
    }
}
