//! Writing reports and figures to disk without ever leaving a half-written
//! file: every file goes to a temporary sibling first and is renamed into
//! place.

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
    // A folder that cannot be made or written (a file in the way, no
    // permission) is the user's to fix: a user error, exit code 2.
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::user_error(format!("{}: cannot create the folder ({e})", dir.display())))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // tempfile creates private (0600) files; a report is an ordinary file:
    // 0666 less the umask, as `File::create` would make it.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| crate::user_error(format!("{}: cannot write into the folder ({e})", dir.display())))?;
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

/// Writes one figure as `dir/STEM.*`: a chart as `STEM.svg`, `STEM.png`
/// (drawn by the same code, text in the embedded font) and `STEM.csv`
/// (its numbers, [`super::plot::DataTable`]); an image grid as
/// `STEM.png`; an SVG without data (older reports) as `STEM.svg`. Each
/// file atomically. Returns the paths written, the SVG or PNG first.
pub fn write_figure(dir: &Path, stem: &str, content: &FigureContent) -> Result<Vec<PathBuf>> {
    let path = |ext: &str| dir.join(format!("{stem}.{ext}"));
    match content {
        FigureContent::Chart(chart) => {
            let (svg, png, csv) = (path("svg"), path("png"), path("csv"));
            write_bytes_atomic(&svg, chart.svg().with_context(|| format!("{}: drawing failed", svg.display()))?)?;
            write_bytes_atomic(&png, chart.png().with_context(|| format!("{}: drawing failed", png.display()))?)?;
            write_atomic(&csv, |w| chart.table().write_csv(w))?;
            Ok(vec![svg, png, csv])
        }
        FigureContent::Svg(text) => {
            write_bytes_atomic(&path("svg"), text)?;
            Ok(vec![path("svg")])
        }
        FigureContent::Png(bytes) => {
            write_bytes_atomic(&path("png"), bytes)?;
            Ok(vec![path("png")])
        }
    }
}

/// Writes `dir/REPORT.md`, `dir/report.json`, `dir/index.html` and every
/// figure under `dir/figures/` ([`write_figure`]). Returns the paths written.
pub fn write_reports(dir: &Path, repro: &Reproduction) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for report in &repro.reports {
        for fig in &report.figures {
            let path = dir.join(markdown::figure_path(&report.method, fig));
            let folder = path.parent().unwrap_or(dir);
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            written.extend(write_figure(folder, &stem, &fig.content)?);
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

    /// Reports are ordinary files other users and tools can read, not
    /// tempfile's private 0600 ones: the mode is what `File::create` gives.
    #[cfg(unix)]
    #[test]
    fn written_files_get_the_mode_file_create_gives() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        std::fs::File::create(&plain).unwrap();
        let atomic = dir.path().join("atomic.txt");
        write_bytes_atomic(&atomic, "x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain), "{:o} vs {:o}", mode(&atomic), mode(&plain));
    }

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

    #[test]
    fn a_chart_is_written_as_svg_png_and_the_csv_of_its_numbers() {
        use crate::report::plot::{Bars, Series, grouped_bars, lines_with_bands};
        let dir = tempfile::tempdir().unwrap();
        let series = vec![
            Series {
                name: "td3, bc".into(),
                x: vec![0.0, 10.0, 20.0],
                mean: vec![0.1, 0.45, 1.0 / 3.0],
                std: vec![0.01, 0.02, 0.03],
            },
            Series { name: "bc \"plain\"".into(), x: vec![0.0, 10.0], mean: vec![f64::NAN, 0.2], std: vec![] },
        ];
        let fig = lines_with_bands("Curves", "update", "return", &series).unwrap();
        let written = write_figure(dir.path(), "curves", &fig).unwrap();
        let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into()).collect();
        assert_eq!(names, ["curves.svg", "curves.png", "curves.csv"]);
        assert!(std::fs::read_to_string(dir.path().join("curves.svg")).unwrap().contains("Curves"));
        let png = image::open(dir.path().join("curves.png")).unwrap();
        assert_eq!((png.width(), png.height()), (720, 440));
        // The CSV read back holds exactly the drawn numbers, names quoted.
        let mut r = csv::Reader::from_path(dir.path().join("curves.csv")).unwrap();
        assert_eq!(r.headers().unwrap(), vec!["series", "x", "y", "low", "high"]);
        let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(rows.len(), 5);
        let f = |s: &str| s.parse::<f64>().unwrap();
        for (k, row) in rows[..3].iter().enumerate() {
            let s = &series[0];
            assert_eq!(&row[0], "td3, bc");
            assert_eq!((f(&row[1]), f(&row[2])), (s.x[k], s.mean[k]));
            assert_eq!((f(&row[3]), f(&row[4])), (s.mean[k] - s.std[k], s.mean[k] + s.std[k]));
        }
        assert_eq!(&rows[3][0], "bc \"plain\"");
        assert!(f(&rows[3][2]).is_nan() && rows[3][3].is_empty() && rows[3][4].is_empty(), "no band: empty low/high");
        assert_eq!(f(&rows[4][2]), 0.2);

        let bars = [Bars { name: "mlp".into(), mean: vec![0.9, 0.7], std: vec![0.02, 0.05] }];
        let fig = grouped_bars("Acc", "accuracy", &["digits".into(), "cifar".into()], &bars).unwrap();
        write_figure(dir.path(), "acc", &fig).unwrap();
        let text = std::fs::read_to_string(dir.path().join("acc.csv")).unwrap();
        assert_eq!(text, "group,bar,value,error\ndigits,mlp,0.9,0.02\ncifar,mlp,0.7,0.05\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 6, "svg, png, csv of two charts and nothing else");
    }

    #[test]
    fn an_image_grid_is_written_as_png_only() {
        let dir = tempfile::tempdir().unwrap();
        let fig = crate::report::plot::image_grid(&[vec![0.5; 4]], 2, 2, 1, 1, 2).unwrap();
        let written = write_figure(dir.path(), "samples", &fig).unwrap();
        assert_eq!(written, vec![dir.path().join("samples.png")]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
