//! The kill harness: start a command, SIGKILL it at a seeded point, and
//! check that every file it left is complete.

use rand::{RngExt, SeedableRng};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `n` kill delays in `[min, max)`, from `seed` (the same points every run).
pub fn seeded_delays(seed: u64, n: usize, min: Duration, max: Duration) -> Vec<Duration> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| min + (max - min).mul_f64(rng.random::<f64>())).collect()
}

/// Runs `cmd`; kills it with SIGKILL after `delay` if it is still running.
/// `Some(status)` when it finished first, `None` when it was killed.
pub fn run_killed_after(cmd: &mut Command, delay: Duration) -> Option<ExitStatus> {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn the command");
    let start = Instant::now();
    while start.elapsed() < delay {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    child.wait().expect("reap");
    None
}

/// Checks that every file under `dir` is complete: no temporary file of
/// an atomic write left visible under its final name, every `.json` and
/// `.toml` parses, every line of a `.jsonl` but a torn last one parses
/// (an append log may lose its last line), every `.safetensors` header
/// parses. Returns the files checked; panics naming the first bad one.
pub fn assert_files_complete(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut checked = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return checked };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            checked.extend(assert_files_complete(&path));
            continue;
        }
        let bytes = std::fs::read(&path).expect("read a left file");
        let shown = path.display();
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_else(|e| panic!("{shown}: torn ({e})"));
            }
            Some("toml") => {
                let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{shown}: torn ({e})"));
                text.parse::<toml::Table>().unwrap_or_else(|e| panic!("{shown}: torn ({e})"));
            }
            Some("jsonl") => {
                let text = String::from_utf8_lossy(&bytes);
                let complete: Vec<&str> =
                    if text.ends_with('\n') { text.lines().collect() } else { text.lines().rev().skip(1).collect() };
                for line in complete {
                    serde_json::from_str::<serde_json::Value>(line)
                        .unwrap_or_else(|e| panic!("{shown}: a torn line inside the log ({e})"));
                }
            }
            Some("safetensors") => {
                safetensors::SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{shown}: torn ({e})"));
            }
            _ => {}
        }
        checked.push(path);
    }
    checked
}
