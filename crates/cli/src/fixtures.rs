//! `reprolab fixtures --dir DIR` (hidden): writes every registered
//! method's battery fixtures ([`reprolab_core::battery`]) and the
//! workbench's own into DIR and lists them, with every command the binary
//! offers, in DIR/fixtures.json. The bad-input battery
//! (tests/battery.rs) reads that list, so a method registered later is
//! checked without new test code, and a command without a fixture fails
//! the battery.

use anyhow::Result;
use reprolab_core::battery::{Arg, Fixture, Format};
use reprolab_core::registry::{Method, Preset, preset_text};
use std::path::Path;
use std::process::ExitCode;

pub fn write(methods: &[Method], dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir)?;
    let mut fixtures = Vec::new();
    let mut commands = vec!["run".to_string(), "export".to_string()];
    for method in methods {
        let Some(cmds) = method.commands else { continue };
        let own = dir.join(method.name);
        std::fs::create_dir_all(&own)?;
        fixtures.extend((cmds.fixtures)(&own)?);
        commands.extend((cmds.build)().get_subcommands().map(|s| format!("{} {}", method.name, s.get_name())));
    }
    fixtures.extend(workbench(methods, &fixtures, dir)?);
    let listing = serde_json::json!({ "fixtures": fixtures, "commands": commands });
    reprolab_core::report::write_bytes_atomic(&dir.join("fixtures.json"), serde_json::to_vec_pretty(&listing)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `run --config` on the self-check's smoke preset, and `export` of the
/// first model folder a method with an exporter wrote for its fixtures.
fn workbench(methods: &[Method], written: &[Fixture], dir: &Path) -> Result<Vec<Fixture>> {
    let config = dir.join("selfcheck.toml");
    let text = preset_text("selfcheck", Preset::Smoke).ok_or_else(|| anyhow::anyhow!("no selfcheck smoke preset"))?;
    std::fs::write(&config, text)?;
    let mut out = vec![
        Fixture::new("run")
            .text(&["selfcheck", "--preset", "smoke", "--config"])
            .input(&config, Format::Text)
            .accepts("empty", "an empty config file keeps every preset value")
            .text(&["--out"])
            .out(dir.join("selfcheck-run")),
    ];
    let exporters: Vec<&str> = methods.iter().filter(|m| m.export.is_some()).map(|m| m.name).collect();
    let model = written.iter().find_map(|f| {
        let method = f.command.split_whitespace().next()?;
        exporters.contains(&method).then(|| {
            f.args.iter().find_map(|a| match a {
                Arg::Input { path, format: Format::Folder } if path.join("model.safetensors").exists() => {
                    Some(path.clone())
                }
                _ => None,
            })
        })?
    });
    if let Some(model) = model {
        out.push(
            Fixture::new("export")
                .text(&["--format", "pytorch", "--checkpoint"])
                .input(model, Format::Folder)
                .text(&["--out"])
                .out(dir.join("exported.safetensors")),
        );
    }
    Ok(out)
}
