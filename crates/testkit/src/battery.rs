//! The bad-input battery: from each command's [`Fixture`] (the valid
//! inputs a method wrote, see [`reprolab_core::battery`]) it derives the
//! bad versions its formats allow, runs the binary on each, and checks
//! exit code 2, a single stderr line naming the bad file (or the folder),
//! no panic, and no output left behind. One code for every command of
//! every method.

use rand::{RngExt, SeedableRng};
use reprolab_core::battery::{Arg, Fixture, Format};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One row of the battery's table: a command, an argument, a bad input,
/// and what happened.
#[derive(Debug, Clone)]
pub struct Row {
    pub command: String,
    /// The flag the input follows (`--nodes`), or `FILE` for a positional one.
    pub argument: String,
    pub bad: String,
    /// `exit 2` or `accepted: <why>`.
    pub outcome: String,
}

/// A bad version of one input: its name and the path to pass instead.
struct Bad {
    name: &'static str,
    path: PathBuf,
    /// The name the error line must contain (the file or folder's name).
    named: String,
}

/// Runs every fixture's bad inputs against `binary`; panics on the first
/// violations (all of them, each with the command line and what went
/// wrong) after running every case; returns the rows.
pub fn run(binary: &Path, fixtures: &[Fixture], work: &Path, env: &[(&str, &str)]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut violations: Vec<String> = Vec::new();
    for (f, fixture) in fixtures.iter().enumerate() {
        let words: Vec<&str> = fixture.command.split_whitespace().collect();
        let base = argv(&fixture.args);
        let valid = run_once(binary, &words, &base, env);
        assert!(valid.0 == Some(0), "{}: the fixture itself fails (exit {:?}): {}", fixture.command, valid.0, valid.1);
        for (i, arg) in fixture.args.iter().enumerate() {
            let case_dir = |name: &str| {
                let d = work.join(format!("f{f}-a{i}-{name}"));
                std::fs::create_dir_all(&d).expect("case dir");
                d
            };
            let bads: Vec<Bad> = match arg {
                Arg::Input { path, format } => bad_inputs(path, format, &case_dir),
                Arg::Out { path } => {
                    let d = case_dir("out_unwritable");
                    std::fs::write(d.join("blocker"), b"a regular file").expect("blocker");
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    vec![Bad { name: "out_unwritable", path: d.join("blocker").join(&name), named: "blocker".into() }]
                }
                Arg::Text { .. } => Vec::new(),
            };
            for bad in bads {
                let mut args = base.clone();
                args[i] = bad.path.clone().into_os_string();
                // Fresh outputs beside the bad input, so leftovers are seen.
                let outs = fresh_outputs(&fixture.args, &mut args, &bad.path, i);
                let (code, stderr) = run_once(binary, &words, &args, env);
                let shown = format!("reprolab {} {:?} ({})", fixture.command, args, bad.name);
                let accepted = fixture.accepts.iter().find(|a| a.bad == bad.name && a.arg == i);
                let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
                let mut problems = Vec::new();
                if stderr.contains("internal error") || code == Some(101) {
                    problems.push(format!("panicked: {stderr}"));
                }
                let outcome = match accepted {
                    Some(a) => {
                        if code != Some(0) && code != Some(2) {
                            problems.push(format!("exit {code:?}: {stderr}"));
                        }
                        format!("accepted: {}", a.why)
                    }
                    None => {
                        if code != Some(2) {
                            problems.push(format!("expected exit 2, got {code:?}: {}", stderr.trim()));
                        } else if lines.len() != 1 {
                            problems.push(format!("stderr is not one line: {stderr}"));
                        } else if !lines[0].contains(&bad.named) {
                            problems.push(format!("the error does not name {}: {}", bad.named, lines[0]));
                        }
                        for out in &outs {
                            if out.exists() {
                                problems.push(format!("left an output behind at {}", out.display()));
                            }
                        }
                        "exit 2".to_string()
                    }
                };
                violations.extend(problems.into_iter().map(|p| format!("{shown}: {p}")));
                rows.push(Row {
                    command: fixture.command.clone(),
                    argument: argument_name(&fixture.args, i),
                    bad: bad.name.to_string(),
                    outcome,
                });
            }
            if let Arg::Input { path, format } = arg
                && !matches!(format, Format::Folder)
            {
                // The same valid file under a name that is not UTF-8 works.
                let d = case_dir("non_utf8_path");
                let odd = d.join(non_utf8_name(path));
                std::fs::copy(path, &odd).expect("copy under a non-UTF-8 name");
                let mut args = base.clone();
                args[i] = odd.into_os_string();
                fresh_outputs(&fixture.args, &mut args, &d.join("x"), i);
                let (code, stderr) = run_once(binary, &words, &args, env);
                // Commands that record their settings may refuse it, in one line.
                let refused_cleanly = code == Some(2) && stderr.trim().lines().count() == 1 && stderr.contains("UTF-8");
                if code != Some(0) && !refused_cleanly {
                    violations.push(format!(
                        "reprolab {} with a non-UTF-8 input path: exit {code:?}: {stderr}",
                        fixture.command
                    ));
                }
                rows.push(Row {
                    command: fixture.command.clone(),
                    argument: argument_name(&fixture.args, i),
                    bad: "non_utf8_path".into(),
                    outcome: if code == Some(0) { "runs (exit 0)" } else { "exit 2: must be UTF-8 (recorded)" }.into(),
                });
            }
        }
    }
    assert!(violations.is_empty(), "{} battery violations:\n{}", violations.len(), violations.join("\n"));
    rows
}

/// The rows as a Markdown table: per command and argument, the bad inputs tried.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| command | argument | bad inputs tried | result |\n|---|---|---|---|\n");
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        let key = (r.command.clone(), r.argument.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (command, argument) in keys {
        let these: Vec<&Row> = rows.iter().filter(|r| r.command == command && r.argument == argument).collect();
        let names: Vec<&str> = these.iter().map(|r| r.bad.as_str()).collect();
        let accepted: Vec<String> = these
            .iter()
            .filter(|r| r.outcome.starts_with("accepted"))
            .map(|r| format!("{} {}", r.bad, r.outcome))
            .collect();
        let mut result = if accepted.is_empty() {
            "exit 2, one line, no output".to_string()
        } else {
            format!("exit 2 but {}", accepted.join("; "))
        };
        if let Some(odd) = these.iter().find(|r| r.bad == "non_utf8_path") {
            result += &format!("; non_utf8_path {}", odd.outcome);
        }
        out.push_str(&format!("| `{command}` | `{argument}` | {} | {result} |\n", names.join(", ")));
    }
    out
}

fn argv(args: &[Arg]) -> Vec<OsString> {
    args.iter()
        .map(|a| match a {
            Arg::Text { value } => OsString::from(value),
            Arg::Input { path, .. } | Arg::Out { path } => path.clone().into_os_string(),
        })
        .collect()
}

fn argument_name(args: &[Arg], i: usize) -> String {
    match i.checked_sub(1).map(|p| &args[p]) {
        Some(Arg::Text { value }) if value.starts_with("--") => value.clone(),
        _ => match &args[i] {
            Arg::Out { .. } => "OUT".into(),
            _ => "FILE".into(),
        },
    }
}

/// Points every output but argument `skip` at a fresh path under the bad
/// input's folder; returns them.
fn fresh_outputs(args: &[Arg], argv: &mut [OsString], near: &Path, skip: usize) -> Vec<PathBuf> {
    let base = near.parent().unwrap_or(near).join("outputs");
    let mut outs = Vec::new();
    for (j, a) in args.iter().enumerate() {
        if let (Arg::Out { path }, true) = (a, j != skip) {
            let fresh = base.join(path.file_name().unwrap_or_default());
            argv[j] = fresh.clone().into_os_string();
            outs.push(fresh);
        }
    }
    outs
}

fn run_once(binary: &Path, words: &[&str], args: &[OsString], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(binary);
    cmd.arg("--quiet").args(words).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the binary");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn non_utf8_name(path: &Path) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    let mut bytes = b"odd-\xff\xfe-".to_vec();
    bytes.extend_from_slice(path.file_name().unwrap_or_default().as_encoded_bytes());
    OsString::from_vec(bytes)
}

fn name_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The bad versions of one input its format allows.
fn bad_inputs(path: &Path, format: &Format, case_dir: &dyn Fn(&str) -> PathBuf) -> Vec<Bad> {
    let name = name_of(path);
    let mut bads = Vec::new();
    let mut put = |bad: &'static str, write: &dyn Fn(&Path)| {
        let p = case_dir(bad).join(&name);
        write(&p);
        bads.push(Bad { name: bad, path: p, named: name.clone() });
    };
    put("missing", &|_| {});
    if let Format::Folder = format {
        put("empty_folder", &|p| std::fs::create_dir_all(p).unwrap());
        put("file_not_folder", &|p| std::fs::write(p, b"not a folder").unwrap());
        put("truncated_files", &|p| copy_folder(path, p, &|b| b[..b.len() / 2].to_vec()));
        put("garbage_files", &|p| copy_folder(path, p, &|b| garbage(b.len().max(64), 7)));
        return bads;
    }
    let valid = std::fs::read(path).expect("read the fixture's input");
    put("empty", &|p| std::fs::write(p, b"").unwrap());
    put("directory", &|p| std::fs::create_dir_all(p).unwrap());
    put("garbage", &|p| std::fs::write(p, garbage(512, 1)).unwrap());
    match format {
        Format::Csv { numeric, named, id } => {
            let text = String::from_utf8(valid.clone()).expect("a CSV fixture is UTF-8");
            let csv = CsvText::parse(&text);
            put("truncated", &|p| std::fs::write(p, csv.torn_last_row()).unwrap());
            put("header_only", &|p| std::fs::write(p, csv.rows(0)).unwrap());
            put("one_row", &|p| std::fs::write(p, csv.rows(1)).unwrap());
            put("wrong_shape", &|p| std::fs::write(p, csv.short_row()).unwrap());
            if let Some(col) = numeric.first() {
                put("nan", &|p| std::fs::write(p, csv.with_cell(col, "NaN")).unwrap());
                put("inf", &|p| std::fs::write(p, csv.with_cell(col, "inf")).unwrap());
                put("wrong_dtype", &|p| std::fs::write(p, csv.with_cell(col, "abc")).unwrap());
            }
            if let Some(col) = named.first() {
                put("unknown_column", &|p| std::fs::write(p, csv.renamed(col)).unwrap());
            }
            if let Some(col) = id {
                put("duplicate_ids", &|p| std::fs::write(p, csv.duplicate_id(col)).unwrap());
            }
        }
        Format::Npz => {
            put("truncated", &|p| std::fs::write(p, &valid[..valid.len() / 2]).unwrap());
            let members = npz_members(path);
            let first = members[0].0.clone();
            let edit = |replace: &dyn Fn(&reprolab_core::data::npy::Array) -> Option<Vec<u8>>| {
                let rebuilt: Vec<(&str, Vec<u8>)> = members
                    .iter()
                    .filter_map(|(n, a)| {
                        if *n == first {
                            replace(a).map(|b| (n.as_str(), b))
                        } else {
                            Some((
                                n.as_str(),
                                crate::npy::npy_bytes("<f4", &dims(&a.shape), &crate::npy::f32_payload(&a.data)),
                            ))
                        }
                    })
                    .collect();
                crate::npy::npz_bytes(&rebuilt)
            };
            let with_value = |v: f32| {
                edit(&|a| {
                    let mut data = a.data.clone();
                    data[0] = v;
                    Some(crate::npy::npy_bytes("<f4", &dims(&a.shape), &crate::npy::f32_payload(&data)))
                })
            };
            put("nan", &|p| std::fs::write(p, with_value(f32::NAN)).unwrap());
            put("inf", &|p| std::fs::write(p, with_value(f32::INFINITY)).unwrap());
            put("wrong_dtype", &|p| {
                std::fs::write(
                    p,
                    edit(&|a| Some(crate::npy::npy_bytes("<U3", &dims(&a.shape), &vec![b'a'; 12 * a.data.len()]))),
                )
                .unwrap()
            });
            put("wrong_shape", &|p| {
                std::fs::write(
                    p,
                    edit(&|a| {
                        let row = a.data.len() / a.shape[0].max(1);
                        let mut shape = a.shape.clone();
                        shape[0] -= 1;
                        Some(crate::npy::npy_bytes("<f4", &dims(&shape), &crate::npy::f32_payload(&a.data[row..])))
                    }),
                )
                .unwrap()
            });
            put("missing_key", &|p| std::fs::write(p, edit(&|_| None)).unwrap());
        }
        Format::Binary | Format::Text => {
            put("truncated", &|p| std::fs::write(p, &valid[..valid.len() / 2]).unwrap());
        }
        Format::Folder => unreachable!(),
    }
    bads
}

fn dims(shape: &[usize]) -> Vec<u64> {
    shape.iter().map(|&d| d as u64).collect()
}

fn garbage(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random()).collect()
}

fn copy_folder(from: &Path, to: &Path, change: &dyn Fn(&[u8]) -> Vec<u8>) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            std::fs::write(to.join(entry.file_name()), change(&bytes)).unwrap();
        }
    }
}

fn npz_members(path: &Path) -> Vec<(String, reprolab_core::data::npy::Array)> {
    let arrays = reprolab_core::data::npy::load_npz(path).expect("the fixture's npz loads");
    arrays.into_iter().collect()
}

/// A CSV fixture as lines, for the text edits.
struct CsvText {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl CsvText {
    fn parse(text: &str) -> Self {
        let mut lines = text.lines().filter(|l| !l.is_empty());
        let split = |l: &str| l.split(',').map(str::to_string).collect::<Vec<_>>();
        let header = split(lines.next().expect("a CSV fixture has a header"));
        Self { header, rows: lines.map(split).collect() }
    }

    fn render(header: &[String], rows: &[Vec<String>]) -> String {
        let mut out = header.join(",") + "\n";
        for r in rows {
            out += &(r.join(",") + "\n");
        }
        out
    }

    fn col(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("fixture CSV has no column {name}"))
    }

    fn rows(&self, n: usize) -> String {
        Self::render(&self.header, &self.rows[..n.min(self.rows.len())])
    }

    fn torn_last_row(&self) -> String {
        let mut text = Self::render(&self.header, &self.rows);
        text.pop(); // the newline
        let cut = text.rfind(',').expect("a CSV row with two fields");
        text.truncate(cut + 1);
        text
    }

    fn short_row(&self) -> String {
        let mut rows = self.rows.clone();
        rows[0].pop();
        Self::render(&self.header, &rows)
    }

    fn with_cell(&self, col: &str, value: &str) -> String {
        let c = self.col(col);
        let mut rows = self.rows.clone();
        rows[0][c] = value.to_string();
        Self::render(&self.header, &rows)
    }

    fn renamed(&self, col: &str) -> String {
        let c = self.col(col);
        let mut header = self.header.clone();
        header[c] = format!("{col}_renamed");
        Self::render(&header, &self.rows)
    }

    fn duplicate_id(&self, col: &str) -> String {
        let c = self.col(col);
        let mut rows = self.rows.clone();
        rows[1][c] = rows[0][c].clone();
        Self::render(&self.header, &rows)
    }
}
