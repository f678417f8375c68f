//! Group-fairness gaps for a binary sensitive attribute, as used by fair
//! graph learning papers (RELIANT reports Delta_SP and Delta_EO):
//! Delta_SP = |P(yhat=1 | s=0) - P(yhat=1 | s=1)|,
//! Delta_EO = |P(yhat=1 | y=1, s=0) - P(yhat=1 | y=1, s=1)|.

use crate::error::check_same_len;
use anyhow::Result;

fn positive_rate(y_pred: &[bool], keep: impl Fn(usize) -> bool, what: &str) -> Result<f64> {
    let (mut n, mut pos) = (0usize, 0usize);
    for (i, &p) in y_pred.iter().enumerate() {
        if keep(i) {
            n += 1;
            pos += usize::from(p);
        }
    }
    if n == 0 {
        crate::user_bail!("{what}: group is empty, the gap is undefined");
    }
    Ok(pos as f64 / n as f64)
}

/// Statistical (demographic) parity gap Delta_SP.
pub fn demographic_parity_gap(y_pred: &[bool], sensitive: &[bool]) -> Result<f64> {
    check_same_len("demographic_parity_gap", y_pred.len(), sensitive.len())?;
    let r0 = positive_rate(y_pred, |i| !sensitive[i], "demographic_parity_gap (s=0)")?;
    let r1 = positive_rate(y_pred, |i| sensitive[i], "demographic_parity_gap (s=1)")?;
    Ok((r0 - r1).abs())
}

/// Equal-opportunity gap Delta_EO: the parity gap among the truly positive.
pub fn equal_opportunity_gap(y_pred: &[bool], y_true: &[bool], sensitive: &[bool]) -> Result<f64> {
    check_same_len("equal_opportunity_gap", y_pred.len(), sensitive.len())?;
    check_same_len("equal_opportunity_gap", y_pred.len(), y_true.len())?;
    let r0 = positive_rate(y_pred, |i| y_true[i] && !sensitive[i], "equal_opportunity_gap (y=1, s=0)")?;
    let r1 = positive_rate(y_pred, |i| y_true[i] && sensitive[i], "equal_opportunity_gap (y=1, s=1)")?;
    Ok((r0 - r1).abs())
}
