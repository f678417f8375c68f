//! `reprolab export`: finds which method wrote a checkpoint and hands the
//! conversion to it ([`Method::export`]); the CLI knows no model.

use anyhow::Result;
use reprolab_core::registry::Method;
use std::path::Path;
use std::process::ExitCode;

/// What `reprolab export` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// safetensors that the PyTorch modules of bench/export/reprolab_torch.py load with load_state_dict(strict=True).
    Pytorch,
}

/// The method named by `--method`, else by the `"method"` field of the
/// checkpoint's `report.json` (what every train command writes beside it).
fn checkpoint_method(dir: &Path, method: Option<&str>) -> Result<String> {
    if let Some(m) = method {
        return Ok(m.to_string());
    }
    // Only the method field, not a whole `TrainRecord`: a record from an
    // older build still names its method.
    let report = dir.join(reprolab_core::run_folder::REPORT);
    let text = std::fs::read_to_string(&report).map_err(|_| {
        reprolab_core::user_error(format!(
            "{}: missing; pass --method to say which method wrote the checkpoint",
            report.display()
        ))
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| reprolab_core::user_error(format!("{}: not JSON ({e}); pass --method", report.display())))?;
    match json.get("method").and_then(|m| m.as_str()) {
        Some(m) => Ok(m.to_string()),
        None => reprolab_core::user_bail!("{}: has no \"method\" field; pass --method", report.display()),
    }
}

/// `reprolab export --checkpoint DIR --format pytorch --out FILE [--method M]`.
pub fn export(methods: &[Method], dir: &Path, format: Format, out: &Path, method: Option<&str>) -> Result<ExitCode> {
    if !dir.is_dir() {
        reprolab_core::user_bail!("{}: no such checkpoint directory", dir.display());
    }
    if same_file(out, &reprolab_core::train::Checkpoint::new(dir).model_path()) {
        reprolab_core::user_bail!("{}: is the checkpoint's own model; choose another --out", out.display());
    }
    let name = checkpoint_method(dir, method)?;
    let exporting: Vec<&str> = methods.iter().filter(|m| m.export.is_some()).map(|m| m.name).collect();
    let Some(m) = methods.iter().find(|m| m.name == name) else {
        reprolab_core::user_bail!("unknown method '{name}' (methods with models to export: {})", exporting.join(", "));
    };
    let Some(convert) = m.export else {
        reprolab_core::user_bail!(
            "'{name}' saves no model checkpoint to export (methods that do: {})",
            exporting.join(", ")
        );
    };
    match format {
        Format::Pytorch => {
            let line = convert(dir, out)?;
            reprolab_core::cli::emit(&format!("{line}\n"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `a` names the existing file `b` (the checkpoint's model, which
/// an export must not overwrite with PyTorch's layout).
fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}
