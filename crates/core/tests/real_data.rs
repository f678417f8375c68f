//! Loaders on the real datasets under `$REPROLAB_DATA` (docs/data.md
//! says which files and where they come from). These run when
//! REPROLAB_DATA is set (CI sets it) and are skipped, saying so, otherwise.

use reprolab_core::data::csv::{LabelKind, load_csv};
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    reprolab_core::data::test_data_dir(env!("CARGO_MANIFEST_DIR"))
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
