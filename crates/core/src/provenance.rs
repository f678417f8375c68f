//! What produced a run: the reprolab version and commit, the exact command
//! line, the backend, the thread count, the CPU, and the start and end
//! times. `run` and `reproduce` put it in `report.json` and at the top of
//! REPORT.md and index.html, so a number can be traced to the build and the
//! machine that measured it (figures from different CPUs do not compare).

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The commit the running binary was built from, set once by the binary
/// (core is a library and has no build script that knows the checkout).
static BUILD_COMMIT: OnceLock<String> = OnceLock::new();

/// Records the binary's git commit, for [`Provenance::now`]. Later calls
/// are ignored: one process has one build.
pub fn set_build_commit(commit: &str) {
    let _ = BUILD_COMMIT.set(commit.to_string());
}

/// The commit given to [`set_build_commit`], "unknown" before (tests, libraries).
pub fn build_commit() -> &'static str {
    BUILD_COMMIT.get().map_or("unknown", String::as_str)
}

/// The provenance of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The crate version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The git commit the binary was built from ("unknown" outside a checkout).
    pub git_commit: String,
    /// The command line, program name first, as given.
    pub command_line: Vec<String>,
    /// The burn backend (`--device`, `REPROLAB_DEVICE`, else flex).
    pub backend: String,
    /// Threads a unit's tensor work may use (`RAYON_NUM_THREADS`, else the cores).
    pub threads: usize,
    /// The CPU model (Linux: /proc/cpuinfo's "model name"; else the architecture).
    pub cpu: String,
    /// UTC start, RFC 3339.
    pub started: String,
    /// UTC end, RFC 3339 (set when the reports are written).
    pub finished: Option<String>,
}

impl Provenance {
    /// This process's provenance, started at `started`, built from `git_commit`.
    pub fn capture(git_commit: &str, started: &str) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit.to_string(),
            command_line: std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect(),
            backend: crate::device::chosen_name(),
            threads: threads(),
            cpu: cpu_model(),
            started: started.to_string(),
            finished: None,
        }
    }

    /// This process's provenance, started now, with the binary's commit.
    pub fn now() -> Self {
        Self::capture(build_commit(), &crate::cli::now_rfc3339())
    }

    /// Marks the end of the run now.
    pub fn finish(&mut self) {
        self.finished = Some(crate::cli::now_rfc3339());
    }

    /// One line for the top of a report.
    pub fn summary(&self) -> String {
        format!(
            "reprolab {} (commit {}), backend {}, {} threads on {}; started {}{}; command: {}",
            self.version,
            self.git_commit,
            self.backend,
            self.threads,
            self.cpu,
            self.started,
            self.finished.as_deref().map(|f| format!(", finished {f}")).unwrap_or_default(),
            self.command_line.join(" ")
        )
    }
}

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The CPU's model name, for naming the machine beside every timing.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_names_the_build_the_machine_and_the_command() {
        let mut p = Provenance::capture("abc123", "2026-12-01T00:00:00Z");
        assert_eq!((p.version.as_str(), p.git_commit.as_str()), (env!("CARGO_PKG_VERSION"), "abc123"));
        assert!(!p.command_line.is_empty() && p.threads >= 1 && !p.cpu.is_empty());
        assert_eq!(p.backend, "flex");
        assert!(p.finished.is_none());
        p.finish();
        let line = p.summary();
        assert!(line.contains("commit abc123") && line.contains("finished 20") && line.contains(&p.cpu), "{line}");
        let back: Provenance = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
