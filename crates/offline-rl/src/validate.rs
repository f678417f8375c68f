//! Small checks the configs' [`reprolab_core::registry::Validate`] impls
//! share. Each nested config names its fields relative to itself
//! (`batch must ...`); its parent puts its own field name in front with
//! [`nested`], so an error names the whole path (`td3.batch must ...`).

/// `result` with `field.` put before its message: how a parent config
/// names the fields of a nested one (`td3` + `batch must ...` gives
/// `td3.batch must ...`).
pub(crate) fn nested(field: &str, result: anyhow::Result<()>) -> anyhow::Result<()> {
    result.map_err(|e| anyhow::anyhow!("{field}.{e:#}"))
}

/// `name` must be a finite number above 0.
pub(crate) fn positive(name: &str, v: f64) -> anyhow::Result<()> {
    anyhow::ensure!(v.is_finite() && v > 0.0, "{name} must be a positive number, got {v}");
    Ok(())
}

/// `name` must be a finite number of at least 0.
pub(crate) fn non_negative(name: &str, v: f64) -> anyhow::Result<()> {
    anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be a non-negative number, got {v}");
    Ok(())
}

/// `name` must list at least one layer width, each at least 1.
pub(crate) fn positive_widths(name: &str, widths: &[usize]) -> anyhow::Result<()> {
    anyhow::ensure!(
        !widths.is_empty() && widths.iter().all(|&h| h >= 1),
        "{name} must list at least one layer width, each at least 1, got {widths:?}"
    );
    Ok(())
}
