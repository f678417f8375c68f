//! Datasets in memory, splits, batching, standardisation and loaders.
//!
//! A [`Dataset`] is a row-major `f32` feature matrix with one target per row
//! (a class or a real value) and optional group ids (for grouped splits:
//! e.g. dialogues, users, recordings that must not straddle a split).

pub mod batch;
pub mod csv;
pub mod embedded;
pub mod npy;
pub mod scale;
pub mod split;

use anyhow::Result;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// What each row is labelled with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Targets {
    /// Class ids `0..n_classes` with their names.
    Classes { labels: Vec<usize>, names: Vec<String> },
    /// Real-valued targets.
    Values(Vec<f32>),
}

/// The real-data directory for tests: `REPROLAB_DATA`, a relative path
/// taken from the workspace root (as `.ci/run` sets it), which is
/// `crate_dir/../..` for a crate under `crates/`. `None`, with a note on
/// stderr, when it is not set (commands run by tests then get no data).
pub fn test_data_dir(crate_dir: &str) -> Option<std::path::PathBuf> {
    let Some(dir) = std::env::var_os("REPROLAB_DATA").map(std::path::PathBuf::from) else {
        eprintln!("REPROLAB_DATA is not set: no real data for this test");
        return None;
    };
    if dir.is_absolute() {
        return Some(dir);
    }
    Some(std::path::Path::new(crate_dir).join("../..").join(dir))
}

/// The real-data directory for a test gated on `cfg(reprolab_data)` (set by
/// the crate's build script when REPROLAB_DATA is set; see
/// `build/real_data_cfg.rs`): REPROLAB_DATA resolved as in [`test_data_dir`].
/// Such a test is ignored, so reported as skipped, without the variable.
///
/// # Panics
/// When REPROLAB_DATA is not set (the gate makes that a build mismatch).
pub fn real_data_dir(crate_dir: &str) -> std::path::PathBuf {
    test_data_dir(crate_dir).expect("REPROLAB_DATA must be set for a test gated on cfg(reprolab_data)")
}

/// The files directly in `dir` whose extension is one of `extensions`
/// (any file when empty), in name order; an unreadable folder is a user
/// error naming it.
pub fn files_in(dir: &std::path::Path, extensions: &[&str]) -> Result<Vec<std::path::PathBuf>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| crate::user_error(format!("{}: cannot list ({e})", dir.display())))?;
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| extensions.is_empty() || p.extension().is_some_and(|x| extensions.iter().any(|e| x == *e)))
        .collect();
    files.sort();
    Ok(files)
}

/// An in-memory tabular dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub name: String,
    /// Row-major, `len() * n_features` values.
    pub features: Vec<f32>,
    pub n_features: usize,
    pub feature_names: Vec<String>,
    pub targets: Targets,
    /// Optional group id per row (for [`split::group_split`]).
    pub groups: Option<Vec<usize>>,
}

impl Dataset {
    /// A classification dataset; checks shapes, finiteness and label range.
    pub fn classification(
        name: &str,
        features: Vec<f32>,
        n_features: usize,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let ds = Self {
            name: name.to_string(),
            features,
            n_features,
            feature_names: (0..n_features).map(|i| format!("x{i}")).collect(),
            targets: Targets::Classes { labels, names: class_names },
            groups: None,
        };
        ds.validate()?;
        Ok(ds)
    }

    /// A regression dataset; checks shapes and finiteness.
    pub fn regression(name: &str, features: Vec<f32>, n_features: usize, values: Vec<f32>) -> Result<Self> {
        let ds = Self {
            name: name.to_string(),
            features,
            n_features,
            feature_names: (0..n_features).map(|i| format!("x{i}")).collect(),
            targets: Targets::Values(values),
            groups: None,
        };
        ds.validate()?;
        Ok(ds)
    }

    /// Checks the invariants; every loader calls it so bad data is reported
    /// once, with the dataset's name, before any training starts.
    pub fn validate(&self) -> Result<()> {
        let name = &self.name;
        if self.n_features == 0 {
            crate::user_bail!("{name}: no feature columns");
        }
        if !self.features.len().is_multiple_of(self.n_features) {
            crate::user_bail!(
                "{name}: {} values do not fill rows of {} features",
                self.features.len(),
                self.n_features
            );
        }
        let n = self.features.len() / self.n_features;
        if n == 0 {
            crate::user_bail!("{name}: no rows");
        }
        if let Some(i) = self.features.iter().position(|v| !v.is_finite()) {
            crate::user_bail!(
                "{name}: non-finite value (NaN or inf) at row {}, column {}",
                i / self.n_features,
                i % self.n_features
            );
        }
        let n_targets = match &self.targets {
            Targets::Classes { labels, names } => {
                if let Some(&l) = labels.iter().find(|&&l| l >= names.len()) {
                    crate::user_bail!("{name}: label {l} is outside the {} known classes", names.len());
                }
                labels.len()
            }
            Targets::Values(v) => {
                if v.iter().any(|x| !x.is_finite()) {
                    crate::user_bail!("{name}: non-finite target value");
                }
                v.len()
            }
        };
        if n_targets != n {
            crate::user_bail!("{name}: {n} rows but {n_targets} targets");
        }
        if let Some(g) = &self.groups
            && g.len() != n
        {
            crate::user_bail!("{name}: {n} rows but {} group ids", g.len());
        }
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.features.len() / self.n_features.max(1)
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.n_features..(i + 1) * self.n_features]
    }

    /// Class labels (empty for regression data).
    pub fn labels(&self) -> &[usize] {
        match &self.targets {
            Targets::Classes { labels, .. } => labels,
            Targets::Values(_) => &[],
        }
    }

    /// Number of classes (0 for regression data).
    pub fn n_classes(&self) -> usize {
        match &self.targets {
            Targets::Classes { names, .. } => names.len(),
            Targets::Values(_) => 0,
        }
    }

    /// The rows at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let mut features = Vec::with_capacity(idx.len() * self.n_features);
        for &i in idx {
            features.extend_from_slice(self.row(i));
        }
        let targets = match &self.targets {
            Targets::Classes { labels, names } => {
                Targets::Classes { labels: idx.iter().map(|&i| labels[i]).collect(), names: names.clone() }
            }
            Targets::Values(v) => Targets::Values(idx.iter().map(|&i| v[i]).collect()),
        };
        Dataset {
            name: self.name.clone(),
            features,
            n_features: self.n_features,
            feature_names: self.feature_names.clone(),
            targets,
            groups: self.groups.as_ref().map(|g| idx.iter().map(|&i| g[i]).collect()),
        }
    }

    /// Features of the rows at `idx` as a `[idx.len(), n_features]` tensor.
    pub fn features_tensor(&self, idx: &[usize], device: &Device) -> Tensor<2> {
        let mut buf = Vec::with_capacity(idx.len() * self.n_features);
        for &i in idx {
            buf.extend_from_slice(self.row(i));
        }
        Tensor::from_data(TensorData::new(buf, [idx.len(), self.n_features]), device)
    }

    /// Class labels of the rows at `idx` as an int tensor.
    pub fn labels_tensor(&self, idx: &[usize], device: &Device) -> Tensor<1, Int> {
        let labels = self.labels();
        let buf: Vec<i64> = idx.iter().map(|&i| labels[i] as i64).collect();
        Tensor::from_data(TensorData::new(buf, [idx.len()]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::classification("tiny", vec![0., 1., 2., 3., 4., 5.], 2, vec![0, 1, 0], vec!["a".into(), "b".into()])
            .unwrap()
    }

    #[test]
    fn subset_keeps_rows_and_labels_aligned() {
        let s = tiny().subset(&[2, 0]);
        assert_eq!(s.features, vec![4., 5., 0., 1.]);
        assert_eq!(s.labels(), &[0, 0]);
    }

    #[test]
    fn invalid_data_is_rejected_with_its_name() {
        let err = Dataset::classification("bad", vec![0., f32::NAN], 2, vec![0], vec!["a".into()]).unwrap_err();
        assert!(err.to_string().contains("bad: non-finite value"), "{err}");
        let err =
            Dataset::classification("bad", vec![0., 1.], 2, vec![0, 1], vec!["a".into(), "b".into()]).unwrap_err();
        assert!(err.to_string().contains("1 rows but 2 targets"), "{err}");
        let err = Dataset::classification("bad", vec![0., 1.], 2, vec![3], vec!["a".into()]).unwrap_err();
        assert!(err.to_string().contains("label 3"), "{err}");
    }

    #[test]
    fn tensors_have_the_right_shape() {
        let d = tiny();
        let dev = crate::device::default_device();
        assert_eq!(d.features_tensor(&[0, 2], &dev).dims(), [2, 2]);
        assert_eq!(d.labels_tensor(&[0, 1, 2], &dev).dims(), [3]);
    }
}
