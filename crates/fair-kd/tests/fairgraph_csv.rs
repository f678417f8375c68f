//! Core's CSV loader on the fairness graphs' tables under `$REPROLAB_DATA`
//! (docs/data.md says which files and where they come from). They live in
//! this crate, not in core, because the `cfg(reprolab_data)` gate reruns a
//! crate's build when REPROLAB_DATA changes, and rebuilding core rebuilds
//! everything. They run when REPROLAB_DATA is set (CI sets it) and are
//! listed as ignored otherwise.

use reprolab_core::data::csv::{LabelKind, load_csv};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    reprolab_core::data::real_data_dir(env!("CARGO_MANIFEST_DIR"))
}

#[test]
#[cfg_attr(not(reprolab_data), ignore = "needs REPROLAB_DATA (the real-data folder; .ci/run sets it)")]
fn real_data_bail_csv_loads_with_its_label_column_when_reprolab_data_is_set() {
    let dir = data_dir();
    let d = load_csv(&dir.join("fairgraph/bail.csv"), "RECID", LabelKind::Classes).unwrap();
    // 18,876 defendants; the header has 19 columns (18 features + RECID).
    assert_eq!(d.len(), 18_876);
    assert_eq!(d.n_features, 18);
    assert_eq!(d.n_classes(), 2);
    assert_eq!(d.feature_names[0], "WHITE");
}

#[test]
#[cfg_attr(not(reprolab_data), ignore = "needs REPROLAB_DATA (the real-data folder; .ci/run sets it)")]
fn real_data_credit_csv_loads_when_reprolab_data_is_set() {
    let dir = data_dir();
    let d = load_csv(&dir.join("fairgraph/credit.csv"), "NoDefaultNextMonth", LabelKind::Classes).unwrap();
    assert_eq!(d.len(), 30_000);
    assert_eq!(d.n_features, 14); // 15 columns, label included
}
