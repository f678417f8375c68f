//! Correlation coefficients with scipy's definitions (IQA papers report
//! PLCC = Pearson, SRCC = Spearman, KRCC = Kendall).

use crate::error::check_same_len;
use crate::stats::average_ranks;
use anyhow::Result;

/// Pearson's r (`scipy.stats.pearsonr`). Errors on constant input, where r
/// is undefined.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    check_same_len("pearson", x.len(), y.len())?;
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        crate::user_bail!("pearson: an input is constant, correlation is undefined");
    }
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Spearman's rho (`scipy.stats.spearmanr`): Pearson's r of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check_same_len("spearman", x.len(), y.len())?;
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Kendall's tau-b (`scipy.stats.kendalltau(variant="b")`), which corrects
/// for ties in either input. O(n^2): fine for the few thousand pairs an
/// evaluation set has.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Result<f64> {
    check_same_len("kendall_tau_b", x.len(), y.len())?;
    let n = x.len();
    let (mut concordant, mut discordant, mut tie_x, mut tie_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[i] - x[j];
            let dy = y[i] - y[j];
            match (dx == 0.0, dy == 0.0) {
                (true, true) => {}
                (true, false) => tie_x += 1,
                (false, true) => tie_y += 1,
                (false, false) if (dx > 0.0) == (dy > 0.0) => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let denom = (((concordant + discordant + tie_x) as f64) * ((concordant + discordant + tie_y) as f64)).sqrt();
    if denom == 0.0 {
        crate::user_bail!("kendall_tau_b: an input is constant, correlation is undefined");
    }
    Ok((concordant - discordant) as f64 / denom)
}
