//! Embeds every preset under `configs/<method>/<preset>.toml` into core, so
//! a method finds its presets by name and a new method needs no
//! `include_str!` of its own: adding `configs/<name>/` is enough.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // Read at run time, not `env!` at compile time: a cached build script
    // compiled in another checkout of the same target dir must still look here.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let configs = Path::new(&manifest).join("../../configs");
    // A directory here makes cargo rerun the script when anything below it changes.
    println!("cargo:rerun-if-changed={}", configs.display());
    let mut entries = Vec::new();
    for method in std::fs::read_dir(&configs).expect("configs/ next to the crates") {
        let method = method.expect("readable configs/ entry").path();
        if !method.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&method).expect("readable configs/<method>/") {
            let file = file.expect("readable preset entry").path();
            if file.extension().is_some_and(|e| e == "toml") {
                let name = method.file_name().unwrap().to_string_lossy().into_owned();
                let preset = file.file_stem().unwrap().to_string_lossy().into_owned();
                entries.push((name, preset, file.canonicalize().expect("preset path")));
            }
        }
    }
    entries.sort();
    let mut out = String::from("/// (method, preset, TOML text) of every file under `configs/`.\n");
    out += "pub(crate) static PRESET_FILES: &[(&str, &str, &str)] = &[\n";
    for (method, preset, path) in entries {
        writeln!(out, "    ({method:?}, {preset:?}, include_str!({:?})),", path.display().to_string()).unwrap();
    }
    out += "];\n";
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("presets.rs");
    std::fs::write(dest, out).expect("write presets.rs");
}
