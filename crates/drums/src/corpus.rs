//! The natural-language pre-training corpus: the README files of the
//! crates this workspace pins in Cargo.lock, as cargo downloads them from
//! crates.io into `$CARGO_HOME/registry/src` (any machine that built
//! reprolab has them). The text is English prose about software, with
//! code and Markdown; each crate's README is under that crate's licence
//! (MIT / Apache-2.0 for nearly all). Or any text file or folder of text
//! files the user names.

use anyhow::Result;
use reprolab_core::user_bail;
use std::path::{Path, PathBuf};

const LOCKFILE: &str = include_str!("../../../Cargo.lock");

/// `(name, version)` of every registry package in the workspace lockfile.
pub fn locked_packages() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name = None;
    for line in LOCKFILE.lines() {
        if let Some(n) = line.strip_prefix("name = \"") {
            name = Some(n.trim_end_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = \""), &name) {
            out.push((n.clone(), v.trim_end_matches('"').to_string()));
            name = None;
        }
    }
    out
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// The README corpus: (text, number of READMEs found).
pub fn cargo_readmes() -> Result<(String, usize)> {
    let Some(home) = cargo_home() else { user_bail!("pre-training corpus: neither CARGO_HOME nor HOME is set") };
    let registries: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    let (mut text, mut found) = (String::new(), 0);
    for (name, version) in locked_packages() {
        let dir = registries.iter().map(|r| r.join(format!("{name}-{version}"))).find(|d| d.is_dir());
        let Some(dir) = dir else { continue };
        for file in ["README.md", "readme.md", "README"] {
            if let Ok(t) = std::fs::read_to_string(dir.join(file)) {
                text.push_str(&t);
                text.push('\n');
                found += 1;
                break;
            }
        }
    }
    if text.len() < 100_000 {
        user_bail!(
            "pre-training corpus: only {} bytes of crate READMEs under {}/registry/src; run `cargo fetch` in the \
             repository, or set drums.pretrain.corpus to a text file or folder",
            text.len(),
            home.display()
        );
    }
    Ok((text, found))
}

/// The text of a file, or of every file in a folder (name order).
pub fn text_from(path: &Path) -> Result<String> {
    let shown = path.display();
    if path.is_dir() {
        let mut text = String::new();
        for f in reprolab_core::data::files_in(path, &[])? {
            // A file that cannot be read is named, as the user's to fix.
            let bytes = std::fs::read(&f)
                .map_err(|e| reprolab_core::user_error(format!("{}: cannot read ({e})", f.display())))?;
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
        Ok(text)
    } else {
        std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read ({e})")))
    }
}

/// Non-overlapping byte windows of `len` tokens (the pre-training sequences).
pub fn byte_windows(text: &str, len: usize, max_bytes: usize) -> Vec<Vec<usize>> {
    let bytes = &text.as_bytes()[..text.len().min(max_bytes)];
    bytes.chunks_exact(len).map(|c| c.iter().map(|&b| usize::from(b)).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lockfile_lists_burn_and_windows_tile() {
        let packages = locked_packages();
        assert!(packages.iter().any(|(n, v)| n == "burn" && v == "0.22.0"), "{}", packages.len());
        let w = byte_windows("abcdefg", 3, 100);
        assert_eq!(w, vec![vec![97, 98, 99], vec![100, 101, 102]]);
        assert_eq!(byte_windows("abcdefg", 3, 4).len(), 1);
    }
}
