//! The fuzz campaign every file loader runs.
//!
//! [`Campaign`] takes a valid file and the loader, and tries: the valid
//! file (it must load), every truncation (all offsets for files up to
//! 4 KiB times the scale, evenly spaced offsets beyond), seeded single-bit
//! flips, seeded random bytes, and the crafted cases a test adds (a header
//! claiming 10^12 elements, NaN values, a wrong dtype). For each it checks
//! that the loader returns within the time limit, never panics, and, when
//! it refuses, refuses with one line that names the file and is a user
//! error (exit code 2 at the CLI). Install [`crate::CappedAllocator`] in
//! the test binary to also catch loaders that allocate what a header
//! claims. [`check_bytes`] is the same check for one input, for proptest.

use rand::{RngExt, SeedableRng};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A loader under test: reads the file at the path, `Ok` when it accepts it.
pub type Loader = Arc<dyn Fn(&Path) -> anyhow::Result<()> + Send + Sync>;

/// Whether a crafted case must be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Must give an error (a NaN where the loader promises finite values).
    Refused,
    /// May load or be refused; must not panic or hang.
    Either,
}

/// What one campaign tried.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub cases: usize,
    pub refused: usize,
    pub loaded: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cases, {} refused with one line, {} loaded, 0 panics", self.cases, self.refused, self.loaded)
    }
}

/// One loader's campaign.
pub struct Campaign {
    name: String,
    file_name: String,
    valid: Vec<u8>,
    load: Loader,
    crafted: Vec<(String, Vec<u8>, Expect)>,
    truncations_refused: bool,
    timeout: Duration,
}

impl Campaign {
    /// `file_name` is the name the cases are written under (its extension
    /// may matter to the loader); `valid` must load.
    pub fn new(
        name: &str,
        file_name: &str,
        valid: Vec<u8>,
        load: impl Fn(&Path) -> anyhow::Result<()> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.to_string(),
            file_name: file_name.to_string(),
            valid,
            load: Arc::new(load),
            crafted: Vec::new(),
            truncations_refused: false,
            timeout: Duration::from_secs(30),
        }
    }

    /// Adds a crafted case.
    pub fn case(mut self, label: &str, bytes: Vec<u8>, expect: Expect) -> Self {
        self.crafted.push((label.to_string(), bytes, expect));
        self
    }

    /// Every strict truncation must be refused (binary formats that carry
    /// their own length; not CSV or text, where a cut at a line end is a
    /// valid shorter file).
    pub fn truncations_refused(mut self) -> Self {
        self.truncations_refused = true;
        self
    }

    /// Runs every case; panics (fails the test) on the first violation,
    /// naming the case; prints and returns the summary.
    pub fn run(self) -> Summary {
        let dir = tempfile::tempdir().expect("temp dir");
        let scale = crate::fuzz_scale();
        let mut summary = Summary::default();
        let mut record = |label: &str, bytes: &[u8], expect: Expect| {
            match check_in(dir.path(), &self.file_name, bytes, &self.load, self.timeout) {
                Ok(Loaded::Yes) if expect == Expect::Refused => {
                    panic!("{}: case '{label}' ({} bytes) loaded but must be refused", self.name, bytes.len())
                }
                Ok(Loaded::Yes) => summary.loaded += 1,
                Ok(Loaded::No) => summary.refused += 1,
                Err(problem) => panic!("{}: case '{label}' ({} bytes): {problem}", self.name, bytes.len()),
            }
            summary.cases += 1;
        };
        match check_in(dir.path(), &self.file_name, &self.valid, &self.load, self.timeout) {
            Ok(Loaded::Yes) => {}
            Ok(Loaded::No) => panic!("{}: the valid seed file does not load", self.name),
            Err(problem) => panic!("{}: the valid seed file: {problem}", self.name),
        }
        let n = self.valid.len();
        let limit = 4096 * scale;
        let offsets: Vec<usize> =
            if n <= limit { (0..n).collect() } else { (0..limit).map(|i| i * n / limit).collect() };
        let cut_expect = if self.truncations_refused { Expect::Refused } else { Expect::Either };
        for cut in offsets {
            record(&format!("truncated at {cut}"), &self.valid[..cut], cut_expect);
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
        for i in 0..256 * scale {
            if n == 0 {
                break;
            }
            let mut bytes = self.valid.clone();
            let at = rng.random_range(0..n);
            bytes[at] ^= 1 << rng.random_range(0..8u32);
            record(&format!("bit flip {i} at byte {at}"), &bytes, Expect::Either);
        }
        for i in 0..64 * scale {
            let len = rng.random_range(0..=2 * n.max(16));
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            record(&format!("random bytes {i}"), &bytes, Expect::Either);
        }
        // The valid header with garbage after it, and the valid file twice.
        let mut doubled = self.valid.clone();
        doubled.extend_from_slice(&self.valid);
        record("valid file twice", &doubled, Expect::Either);
        for (label, bytes, expect) in &self.crafted {
            record(label, bytes, *expect);
        }
        println!("loader campaign {}: {summary}", self.name);
        summary
    }
}

/// Whether a case loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    Yes,
    No,
}

/// One input through `load` under a fresh temporary folder: `Ok` when it
/// loaded or was refused properly, `Err` with the problem otherwise (for
/// proptest's `prop_assert`).
pub fn check_bytes(file_name: &str, bytes: &[u8], load: &Loader) -> Result<Loaded, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    check_in(dir.path(), file_name, bytes, load, Duration::from_secs(30))
}

fn check_in(dir: &Path, file_name: &str, bytes: &[u8], load: &Loader, timeout: Duration) -> Result<Loaded, String> {
    let path = dir.join(file_name);
    std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    let (tx, rx) = std::sync::mpsc::channel();
    let load = Arc::clone(load);
    let thread_path = path.clone();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(&thread_path)));
        let _ = tx.send(result.map(|r| r.map_err(|e| (format!("{e:#}"), reprolab_core::is_user_error(&e)))));
    });
    let outcome = match rx.recv_timeout(timeout) {
        Ok(outcome) => outcome,
        Err(_) => return Err(format!("the loader did not return within {timeout:?} (a hang)")),
    };
    match outcome {
        Err(_) => Err("the loader panicked".to_string()),
        Ok(Ok(())) => Ok(Loaded::Yes),
        Ok(Err((message, user))) => {
            if message.contains('\n') {
                return Err(format!("the error is not one line: {message:?}"));
            }
            if !message.contains(file_name) {
                return Err(format!("the error does not name the file {file_name}: {message}"));
            }
            if !user {
                return Err(format!("the error is not a user error (exit code 1, not 2): {message}"));
            }
            Ok(Loaded::No)
        }
    }
}
