//! `reprolab drums eval`: the structural summary of any set of text
//! grooves (files, or folders of `.txt` files), computed exactly as the
//! paper's table.

use crate::structure::{GrooveStructure, Summary, groove_structure, summarise};
use anyhow::Result;
use reprolab_core::user_bail;
use std::path::{Path, PathBuf};

/// The `.txt` files named by `paths`: files as given, folders expanded to
/// their `.txt` files in name order.
pub fn groove_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = reprolab_core::data::files_in(path, &["txt"])?;
            if found.is_empty() {
                user_bail!("{}: no .txt grooves in this folder", path.display());
            }
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            user_bail!("{}: no such file or folder", path.display());
        }
    }
    if files.is_empty() {
        user_bail!("drums eval: give at least one groove file or folder");
    }
    Ok(files)
}

/// Each file's structure. A file must hold at least three measures (48
/// lines) of text, or the stability is undefined.
pub fn evaluate_files(files: &[PathBuf]) -> Result<Vec<(PathBuf, GrooveStructure)>> {
    files
        .iter()
        .map(|f| {
            let text = read_text(f)?;
            let g = groove_structure(&text);
            if g.stabilities.is_empty() {
                user_bail!("{}: fewer than 3 measures (48 lines); stability needs a measure on each side", f.display());
            }
            Ok((f.clone(), g))
        })
        .collect()
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| reprolab_core::user_error(format!("{}: cannot read as UTF-8 text ({e})", path.display())))
}

/// The summary of the grooves under `paths`.
pub fn evaluate(paths: &[PathBuf]) -> Result<Summary> {
    let per = evaluate_files(&groove_files(paths)?)?;
    Ok(summarise(&per.into_iter().map(|(_, g)| g).collect::<Vec<_>>()))
}

/// The summary as a Markdown table, in the paper's rows.
pub fn summary_markdown(summary: &Summary) -> String {
    format!(
        "| grooves | mean stability s | gap between centres | spread within clusters |\n|---|---|---|---|\n| {} | {:.2} | {:.2} | {:.2} |\n",
        summary.grooves, summary.mean_stability, summary.centre_gap, summary.spread
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_expand_and_bad_paths_are_user_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = "------\n".repeat(16);
        let b = "o-----\n".to_string() + &"------\n".repeat(15);
        std::fs::write(dir.path().join("g1.txt"), format!("{a}{b}{a}")).unwrap();
        std::fs::write(dir.path().join("notes.md"), "ignored").unwrap();
        let s = evaluate(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!((s.grooves, s.mean_stability, s.centre_gap, s.spread), (1, 1.0, 0.0, 0.0));
        std::fs::write(dir.path().join("short.txt"), "------\n").unwrap();
        let err = evaluate(&[dir.path().join("short.txt")]).unwrap_err().to_string();
        assert!(err.ends_with("short.txt: fewer than 3 measures (48 lines); stability needs a measure on each side"));
        let err = evaluate(&[dir.path().join("missing")]).unwrap_err().to_string();
        assert!(err.ends_with("missing: no such file or folder"), "{err}");
    }
}
