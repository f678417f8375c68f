//! Writing reports to disk without ever leaving a half-written file: every
//! file goes to a temporary sibling first and is renamed into place.

use super::{FigureContent, Reproduction, html, markdown};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `path` through `fill`, then renames it into place, so an
/// interrupted run leaves either the old file or the new one.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create directory", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot move into place", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// [`write_atomic`] of a whole buffer (text or binary).
pub fn write_bytes_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    write_atomic(path, |w| Ok(w.write_all(bytes.as_ref())?))
}

/// Writes `dir/REPORT.md`, `dir/report.json`, `dir/index.html` and every
/// figure under `dir/figures/`. Returns the paths written.
pub fn write_reports(dir: &Path, repro: &Reproduction) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for report in &repro.reports {
        for fig in &report.figures {
            let path = dir.join(markdown::figure_path(&report.method, fig));
            match &fig.content {
                FigureContent::Svg(svg) => write_bytes_atomic(&path, svg)?,
                FigureContent::Png(png) => write_atomic(&path, |w| Ok(w.write_all(png)?))?,
            }
            written.push(path);
        }
    }
    let json = serde_json::to_string_pretty(repro)?;
    for (name, text) in
        [("report.json", json), ("REPORT.md", markdown::render(repro)), ("index.html", html::render(repro))]
    {
        let path = dir.join(name);
        write_bytes_atomic(&path, &text)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_fill_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        let r = write_atomic(&p, |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("interrupted")
        });
        assert!(r.is_err());
        assert!(!p.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temporary file left behind");
        write_bytes_atomic(&p, "done").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "done");
    }
}
