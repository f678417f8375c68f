//! The data pools of the experiment, named by a spec string: an embedded
//! dataset (`digits`, `breast-cancer`) or `csv:PATH:LABEL_COLUMN`, and the
//! checks the configs make of such names and of population sizes.

use anyhow::Result;
use reprolab_core::data::csv::{LabelKind, load_csv};
use reprolab_core::data::{Dataset, embedded, scale::Standardiser};

/// A CSV pool spec `csv:PATH:LABEL_COLUMN` as (path, label column); `None`
/// for an embedded dataset's name.
pub(crate) fn csv_spec(name: &str) -> Result<Option<(&str, &str)>> {
    match name.strip_prefix("csv:") {
        Some(spec) => match spec.rsplit_once(':') {
            Some(parts) => Ok(Some(parts)),
            None => reprolab_core::user_bail!("dataset '{name}': write csv:PATH:LABEL_COLUMN"),
        },
        None => Ok(None),
    }
}

/// A data pool by name: an embedded dataset (`digits`, `breast-cancer`) or
/// `csv:PATH:LABEL_COLUMN` for any CSV with numeric features and a class
/// column. Features are standardised over the pool.
pub(crate) fn standardised(name: &str) -> Result<Dataset> {
    let mut data = match csv_spec(name)? {
        Some((path, label)) => load_csv(std::path::Path::new(path), label, LabelKind::Classes)?,
        None => embedded::by_name(name)?,
    };
    // The pool's statistics are public knowledge to the attacker; every
    // model sees the same preprocessing.
    Standardiser::fit(&data.features, data.n_features).transform(&mut data.features);
    Ok(data)
}

/// Checks a pool spec without loading a CSV: an embedded dataset's name,
/// or a well-formed `csv:PATH:LABEL_COLUMN` (the file is read by the unit
/// that uses it).
pub(crate) fn check_spec(spec: &str) -> Result<()> {
    if csv_spec(spec)?.is_none() {
        embedded::by_name(spec)?;
    }
    Ok(())
}

/// A population of `n` models with each the target in turn needs at least
/// one shadow.
pub(crate) fn check_models(n: usize) -> Result<()> {
    anyhow::ensure!(n >= 2, "n_models must be at least 2 (a target and a shadow), got {n}");
    Ok(())
}
