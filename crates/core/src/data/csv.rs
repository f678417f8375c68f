//! CSV loader for "bring your own data": a header row, numeric feature
//! columns, and an optional label column (numbers or strings; strings become
//! classes in sorted order). Every problem is reported as one line naming
//! the file, the line and the column.

use super::{Dataset, Targets};
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

/// How to read the label column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// Distinct values become classes.
    Classes,
    /// Values are real-valued targets.
    Values,
}

/// Opens `path` as a CSV with a header row (fields trimmed): the reader,
/// positioned at the first record, and the header. Errors are one line
/// naming the file.
pub fn open(path: &Path) -> Result<(::csv::Reader<std::fs::File>, ::csv::StringRecord)> {
    let shown = path.display();
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(::csv::Trim::All)
        .from_path(path)
        .map_err(|e| crate::user_error(format!("{shown}: cannot open ({})", io_reason(&e))))?;
    let headers =
        reader.headers().map_err(|e| crate::user_error(format!("{shown}: cannot read the header row ({e})")))?.clone();
    Ok((reader, headers))
}

/// The header's names for an error message: the first 20, then a count.
pub fn column_list(headers: &::csv::StringRecord) -> String {
    let mut names: Vec<String> = headers.iter().take(20).map(|h| h.chars().take(40).collect()).collect();
    if headers.len() > 20 {
        names.push(format!("... {} more", headers.len() - 20));
    }
    names.join(", ")
}

/// Loads `path`. `label` names the target column (it must exist).
pub fn load_csv(path: &Path, label: &str, kind: LabelKind) -> Result<Dataset> {
    let shown = path.display();
    let (mut reader, headers) = open(path)?;
    let Some(label_col) = headers.iter().position(|h| h == label) else {
        crate::user_bail!("{shown}: no column named '{label}' (columns: {})", column_list(&headers));
    };
    let feature_names: Vec<String> =
        headers.iter().enumerate().filter(|(i, _)| *i != label_col).map(|(_, h)| h.to_string()).collect();
    let n_features = feature_names.len();
    let mut features = Vec::new();
    let mut raw_labels = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| crate::user_error(format!("{shown}: line {line}: {e}")))?;
        if record.len() != headers.len() {
            crate::user_bail!("{shown}: line {line}: {} fields, the header has {}", record.len(), headers.len());
        }
        for (i, field) in record.iter().enumerate() {
            if i == label_col {
                raw_labels.push(field.to_string());
                continue;
            }
            let v: f32 = field.parse().map_err(|_| {
                crate::user_error(format!("{shown}: line {line}, column '{}': '{field}' is not a number", &headers[i]))
            })?;
            if !v.is_finite() {
                crate::user_bail!("{shown}: line {line}, column '{}': non-finite value '{field}'", &headers[i]);
            }
            features.push(v);
        }
    }
    if raw_labels.is_empty() {
        crate::user_bail!("{shown}: no data rows after the header");
    }
    let targets = match kind {
        LabelKind::Classes => class_targets(&raw_labels),
        LabelKind::Values => {
            let mut v = Vec::with_capacity(raw_labels.len());
            for (row, s) in raw_labels.iter().enumerate() {
                let x: f32 = s.parse().map_err(|_| {
                    crate::user_error(format!("{shown}: line {}, column '{label}': '{s}' is not a number", row + 2))
                })?;
                v.push(x);
            }
            Targets::Values(v)
        }
    };
    let name = path.file_stem().map_or_else(|| shown.to_string(), |s| s.to_string_lossy().into_owned());
    let ds = Dataset { name, features, n_features, feature_names, targets, groups: None };
    ds.validate().map_err(|e| crate::user_error(format!("{shown}: {e}")))?;
    Ok(ds)
}

/// Distinct label strings become classes; numeric labels sort numerically
/// (so "10" follows "9").
fn class_targets(raw: &[String]) -> Targets {
    let distinct: BTreeSet<&str> = raw.iter().map(String::as_str).collect();
    let mut names: Vec<String> = distinct.into_iter().map(str::to_string).collect();
    if names.iter().all(|n| n.parse::<f64>().is_ok()) {
        names.sort_by(|a, b| a.parse::<f64>().unwrap().total_cmp(&b.parse::<f64>().unwrap()));
    }
    let labels = raw.iter().map(|s| names.iter().position(|n| n == s).expect("label was collected")).collect();
    Targets::Classes { labels, names }
}

fn io_reason(e: &::csv::Error) -> String {
    match e.kind() {
        ::csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => "no such file".into(),
        ::csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn loads_features_and_string_labels() {
        let f = write("a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n");
        let d = load_csv(f.path(), "label", LabelKind::Classes).unwrap();
        assert_eq!(d.n_features, 2);
        assert_eq!(d.features, vec![1., 2., 3., 4., 5., 6.]);
        assert_eq!(d.labels(), &[0, 1, 0]);
        assert_eq!(d.feature_names, vec!["a", "b"]);
    }

    #[test]
    fn numeric_labels_sort_numerically() {
        let f = write("x,y\n1,10\n2,9\n3,10\n");
        let d = load_csv(f.path(), "y", LabelKind::Classes).unwrap();
        assert_eq!(d.labels(), &[1, 0, 1]);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let f = write("a,label\n1,x\noops,y\n");
        let msg = load_csv(f.path(), "label", LabelKind::Classes).unwrap_err().to_string();
        assert!(msg.contains("line 3, column 'a': 'oops' is not a number"), "{msg}");
        assert!(msg.contains(&f.path().display().to_string()));
        let msg = load_csv(f.path(), "target", LabelKind::Classes).unwrap_err().to_string();
        assert!(msg.contains("no column named 'target'"), "{msg}");
        let msg = load_csv(Path::new("/nonexistent/x.csv"), "y", LabelKind::Classes).unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/x.csv: cannot open (no such file)"), "{msg}");
        let f = write("a,label\n");
        assert!(load_csv(f.path(), "label", LabelKind::Classes).unwrap_err().to_string().contains("no data rows"));
        let f = write("a,label\nnan,1\n");
        assert!(load_csv(f.path(), "label", LabelKind::Classes).unwrap_err().to_string().contains("non-finite"));
    }
}
