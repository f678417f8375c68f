//! Per-feature standardisation fitted on the training split only, so no
//! test statistics leak into training.

use serde::{Deserialize, Serialize};

/// Column means and standard deviations (population, like scikit-learn's
/// `StandardScaler`); constant columns get scale 1 so they map to 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardiser {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
}

impl Standardiser {
    /// Fits on row-major `features` with `n_features` columns.
    pub fn fit(features: &[f32], n_features: usize) -> Self {
        let n = (features.len() / n_features).max(1) as f64;
        let mut mean = vec![0f64; n_features];
        let mut sq = vec![0f64; n_features];
        for row in features.chunks(n_features) {
            for (j, &v) in row.iter().enumerate() {
                mean[j] += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        for row in features.chunks(n_features) {
            for (j, &v) in row.iter().enumerate() {
                sq[j] += (f64::from(v) - mean[j]).powi(2);
            }
        }
        let scale = sq
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 0.0 { sd as f32 } else { 1.0 }
            })
            .collect();
        Self { mean: mean.into_iter().map(|m| m as f32).collect(), scale }
    }

    /// Standardises `features` in place.
    pub fn transform(&self, features: &mut [f32]) {
        let d = self.mean.len();
        for row in features.chunks_mut(d) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - self.mean[j]) / self.scale[j];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sklearn_standard_scaler() {
        // StandardScaler().fit([[1, 5], [3, 5], [5, 5]]): mean [3, 5], scale [1.632993, 1]
        let x = [1.0, 5.0, 3.0, 5.0, 5.0, 5.0];
        let s = Standardiser::fit(&x, 2);
        assert_eq!(s.mean, vec![3.0, 5.0]);
        assert!((s.scale[0] - 1.632_993_2).abs() < 1e-6);
        assert_eq!(s.scale[1], 1.0);
        let mut y = x;
        s.transform(&mut y);
        assert!((y[0] + 1.224_744_9).abs() < 1e-6 && y[1] == 0.0);
    }
}
