//! Writing reports to disk without ever leaving a half-written file: every
//! file goes to a temporary sibling first and is renamed into place.

use super::{FigureContent, Reproduction, html, markdown};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// Writes `path` through `fill`, then renames it into place, so an
/// interrupted run leaves either the old file or the new one. The temporary
/// file is a uniquely named sibling (`tempfile`), so two threads or
/// processes writing the same path never share one; the file is synced
/// before the rename and the folder after it, so a power cut cannot leave
/// the name pointing at an empty file.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut BufWriter<NamedTempFile>) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create directory", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    let mut w = BufWriter::new(tmp);
    fill(&mut w)?; // on error the temporary file is removed when dropped
    w.flush()?;
    let tmp = w.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("{}: cannot move into place", path.display()))?;
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable (POSIX: fsync of the folder). Best
/// effort: not every platform or filesystem lets a folder be synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
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

    #[test]
    fn threads_writing_one_path_never_collide_or_leave_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shared.txt");
        let contents: Vec<String> = (0..8).map(|t| format!("thread {t} ").repeat(20_000)).collect();
        std::thread::scope(|s| {
            for text in &contents {
                let p = &p;
                s.spawn(move || write_bytes_atomic(p, text).unwrap());
            }
        });
        let written = std::fs::read_to_string(&p).unwrap();
        assert!(contents.contains(&written), "a mixed or partial file");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temporary files left behind");
    }
}
