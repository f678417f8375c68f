//! The unit cache: one JSON file per finished unit under
//! `RUN_DIR/units/<method>/`, written atomically (temporary file, then
//! rename), so a killed worker leaves either a whole result or none.
//!
//! A file's name carries a SHA-256 of everything the unit's result depends
//! on: the method, reprolab's version, the preset, the resolved config, the
//! data directory and the unit's key and stage. A resumed run looks up that
//! exact name, so a changed config or preset can never pick up a stale unit.

use super::{Unit, UnitOutput};
use crate::registry::RunContext;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A finished unit as stored on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub method: String,
    pub unit: Unit,
    /// The hash in the file name, repeated for readers of the file.
    pub hash: String,
    /// Seconds the unit took to compute.
    pub wall_s: f64,
    pub output: UnitOutput,
}

/// The hash of (method, version, preset, resolved config, data dir, unit).
pub fn unit_hash(ctx: &RunContext, unit: &Unit) -> String {
    let identity = serde_json::json!({
        "method": ctx.method,
        "version": env!("CARGO_PKG_VERSION"),
        "preset": ctx.preset.name(),
        "config": ctx.config_table(),
        "data_dir": ctx.data_dir().map(|d| d.display().to_string()),
        "unit": unit,
    });
    let digest = Sha256::digest(identity.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Where the units of `method` live under `run_dir`.
pub fn method_dir(run_dir: &Path, method: &str) -> PathBuf {
    run_dir.join("units").join(method)
}

/// The cache file of `unit` under `ctx`.
pub fn path(ctx: &RunContext, unit: &Unit) -> PathBuf {
    method_dir(&ctx.run_dir, ctx.method).join(format!(
        "{}-{}-{}.json",
        unit.stage.name(),
        unit.key.file_stem(),
        unit_hash(ctx, unit)
    ))
}

/// The cached entry of `unit`, if a whole one exists.
pub fn load(ctx: &RunContext, unit: &Unit) -> Result<Option<Entry>> {
    let p = path(ctx, unit);
    // Bytes, not a String: a damaged entry that is not UTF-8 is "not a unit result" like any other.
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => crate::user_bail!("{}: cannot read ({e})", p.display()),
    };
    let damaged =
        |why: String| crate::user_error(format!("{}: not a unit result ({why}); delete it to recompute", p.display()));
    let entry: Entry = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
    // The name's hash chose this file; an entry saying it is another unit's was damaged or copied.
    if entry.method != ctx.method || entry.unit != *unit || entry.hash != unit_hash(ctx, unit) {
        return Err(damaged(format!(
            "it is the entry of {} unit {} {}",
            entry.method,
            entry.unit.stage.name(),
            entry.unit.key
        )));
    }
    Ok(Some(entry))
}

/// Stores `output` of `unit` atomically.
pub fn store(ctx: &RunContext, unit: &Unit, output: UnitOutput, wall_s: f64) -> Result<Entry> {
    let entry = Entry { method: ctx.method.into(), unit: unit.clone(), hash: unit_hash(ctx, unit), wall_s, output };
    let p = path(ctx, unit);
    std::fs::create_dir_all(p.parent().expect("cache files live in a folder"))?;
    crate::report::write_bytes_atomic(&p, serde_json::to_string(&entry)?.as_bytes())?;
    Ok(entry)
}
