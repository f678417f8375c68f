//! `reprolab fair-kd bias`: the group-fairness gaps of any binary
//! classifier's predictions, from a CSV with the columns `label` (0/1),
//! `sensitive` (0/1) and `prediction` (0/1) or `probability` (in [0, 1],
//! thresholded at 0.5: positive when >= 0.5).

use crate::data::{number, zero_one};
use anyhow::Result;
use reprolab_core::metrics::{demographic_parity_gap, equal_opportunity_gap};
use reprolab_core::user_bail;
use serde::Serialize;
use std::path::Path;

/// The report, one JSON object with `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bias {
    pub n: usize,
    pub accuracy: f64,
    pub delta_sp: f64,
    pub delta_eo: f64,
}

/// Reads `path` and measures its predictions.
pub fn bias_of_file(path: &Path) -> Result<Bias> {
    let shown = path.display();
    let (mut reader, headers) = reprolab_core::data::csv::open(path)?;
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(label), Some(sensitive)) = (column("label"), column("sensitive")) else {
        user_bail!("{shown}: needs the columns 'label' and 'sensitive' (and 'prediction' or 'probability')");
    };
    let (prediction, probability) = (column("prediction"), column("probability"));
    if prediction.is_none() && probability.is_none() {
        user_bail!("{shown}: needs a 'prediction' (0/1) or a 'probability' column");
    }
    let (mut y, mut s, mut yhat) = (Vec::new(), Vec::new(), Vec::new());
    for (k, record) in reader.records().enumerate() {
        let line = k + 2;
        let record = record.map_err(|e| reprolab_core::user_error(format!("{shown}: line {line}: {e}")))?;
        let at = format!("{shown}: line {line}");
        let field = |i: usize, name: &str| number(record.get(i).unwrap_or(""), name, &at);
        let binary = |i: usize, name: &str| zero_one(field(i, name)?, name, &at);
        y.push(binary(label, "label")?);
        s.push(binary(sensitive, "sensitive")?);
        yhat.push(match (prediction, probability) {
            (Some(i), _) => binary(i, "prediction")?,
            (None, Some(i)) => match field(i, "probability")? {
                p if (0.0..=1.0).contains(&p) => p >= 0.5,
                p => user_bail!("{shown}: line {line}: 'probability' must be in [0, 1], got {p}"),
            },
            (None, None) => unreachable!("checked above"),
        });
    }
    if y.is_empty() {
        user_bail!("{shown}: no rows");
    }
    let with_context = |e: anyhow::Error| reprolab_core::user_error(format!("{shown}: {e}"));
    Ok(Bias {
        n: y.len(),
        accuracy: y.iter().zip(&yhat).filter(|(a, b)| a == b).count() as f64 / y.len() as f64,
        delta_sp: demographic_parity_gap(&yhat, &s).map_err(with_context)?,
        delta_eo: equal_opportunity_gap(&yhat, &y, &s).map_err(with_context)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_by_hand_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pred.csv");
        // s=0: rows 1-4 (predicted positive 3/4; among y=1 rows 1,2: 2/2)
        // s=1: rows 5-8 (predicted positive 1/4; among y=1 rows 5,6: 1/2)
        std::fs::write(
            &p,
            "label,sensitive,probability\n1,0,0.9\n1,0,0.7\n0,0,0.6\n0,0,0.1\n1,1,0.8\n1,1,0.2\n0,1,0.3\n0,1,0.4\n",
        )
        .unwrap();
        let b = bias_of_file(&p).unwrap();
        assert_eq!(b, Bias { n: 8, accuracy: 6.0 / 8.0, delta_sp: 0.5, delta_eo: 0.5 });
        std::fs::write(&p, "label,sensitive,prediction\n1,0,2\n").unwrap();
        let err = bias_of_file(&p).unwrap_err().to_string();
        assert!(err.ends_with("pred.csv: line 2: 'prediction' must be 0 or 1, got 2"), "{err}");
        std::fs::write(&p, "label,group,prediction\n1,0,1\n").unwrap();
        assert!(bias_of_file(&p).unwrap_err().to_string().contains("needs the columns 'label' and 'sensitive'"));
        std::fs::write(&p, "label,sensitive,prediction\n1,0,1\n0,0,1\n").unwrap();
        assert!(bias_of_file(&p).unwrap_err().to_string().contains("group is empty"));
        std::fs::write(&p, "label,sensitive,probability\n1,0,NaN\n").unwrap();
        assert!(bias_of_file(&p).unwrap_err().to_string().contains("'probability' is not a number"));
    }
}
