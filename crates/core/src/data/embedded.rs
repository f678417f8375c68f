//! Datasets that always work offline: the copies of scikit-learn's digits
//! (1,797 8x8 images, 10 classes) and Wisconsin breast cancer (569 rows, 30
//! features, 2 classes) bundled in the `smartcore` crate.

use super::Dataset;
use anyhow::Result;

/// scikit-learn's `load_digits`: pixel intensities 0..16, labels 0..9.
pub fn digits() -> Result<Dataset> {
    let d = smartcore::dataset::digits::load_dataset();
    let labels = d.target.iter().map(|&y| y as usize).collect();
    let names = (0..10).map(|c| c.to_string()).collect();
    let mut ds = Dataset::classification("digits", d.data, d.num_features, labels, names)?;
    ds.feature_names = (0..64).map(|i| format!("pixel_{}_{}", i / 8, i % 8)).collect();
    Ok(ds)
}

/// scikit-learn's `load_breast_cancer`: 30 real features; class 0 =
/// malignant, 1 = benign (sklearn's coding).
pub fn breast_cancer() -> Result<Dataset> {
    let d = smartcore::dataset::breast_cancer::load_dataset();
    let labels = d.target.iter().map(|&y| y as usize).collect();
    let mut ds = Dataset::classification(
        "breast-cancer",
        d.data,
        d.num_features,
        labels,
        vec!["malignant".into(), "benign".into()],
    )?;
    if d.feature_names.len() == ds.n_features {
        ds.feature_names = d.feature_names;
    }
    Ok(ds)
}

/// A named embedded dataset (`digits`, `breast-cancer`).
pub fn by_name(name: &str) -> Result<Dataset> {
    match name {
        "digits" => digits(),
        "breast-cancer" | "breast_cancer" => breast_cancer(),
        other => crate::user_bail!("unknown embedded dataset '{other}' (known: digits, breast-cancer)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_has_sklearns_shape_and_class_counts() {
        let d = digits().unwrap();
        assert_eq!((d.len(), d.n_features, d.n_classes()), (1797, 64, 10));
        // sklearn: np.bincount(load_digits().target)
        let mut counts = [0usize; 10];
        d.labels().iter().for_each(|&l| counts[l] += 1);
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert!(d.features.iter().all(|&v| (0.0..=16.0).contains(&v)));
    }

    #[test]
    fn breast_cancer_has_sklearns_shape_and_class_counts() {
        let d = breast_cancer().unwrap();
        assert_eq!((d.len(), d.n_features), (569, 30));
        let benign = d.labels().iter().filter(|&&l| l == 1).count();
        assert_eq!(benign, 357);
    }
}
