//! Loaders on the real datasets in ../shared/data. These run when
//! REPROLAB_DATA is set (CI sets it) and are skipped, saying so, otherwise.

use reprolab_core::data::csv::{LabelKind, load_csv};
use std::path::PathBuf;

/// REPROLAB_DATA, with a relative path (CI's `../shared/data`) taken from
/// the workspace root, since cargo runs tests from the crate directory.
fn data_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("REPROLAB_DATA").map(PathBuf::from) else {
        eprintln!("REPROLAB_DATA is not set: skipping the real-data test");
        return None;
    };
    if dir.is_absolute() {
        return Some(dir);
    }
    Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir))
}

#[test]
fn real_data_bail_csv_loads_with_its_label_column_when_reprolab_data_is_set() {
    let Some(dir) = data_dir() else { return };
    let d = load_csv(&dir.join("fairgraph/bail.csv"), "RECID", LabelKind::Classes).unwrap();
    // 18,876 defendants; the header has 19 columns (18 features + RECID).
    assert_eq!(d.len(), 18_876);
    assert_eq!(d.n_features, 18);
    assert_eq!(d.n_classes(), 2);
    assert_eq!(d.feature_names[0], "WHITE");
}

#[test]
fn real_data_credit_csv_loads_when_reprolab_data_is_set() {
    let Some(dir) = data_dir() else { return };
    let d = load_csv(&dir.join("fairgraph/credit.csv"), "NoDefaultNextMonth", LabelKind::Classes).unwrap();
    assert_eq!(d.len(), 30_000);
    assert_eq!(d.n_features, 14); // 15 columns, label included
}
