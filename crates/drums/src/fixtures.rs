//! The bad-input battery's fixtures for paper 8's commands
//! ([`reprolab_core::battery`]): two grooves, their MIDI file, a model
//! trained on them at the smoke preset, and the command lines.

use crate::cli::Command;
use anyhow::Result;
use reprolab_core::battery::{Fixture, Format, arg, run_command};
use std::path::Path;

pub fn fixtures(dir: &Path) -> Result<Vec<Fixture>> {
    let grooves = dir.join("grooves");
    std::fs::create_dir_all(&grooves)?;
    for (k, hit) in ["o--o--", "--o-o-"].iter().enumerate() {
        let measure = format!("{hit}\n") + &"----o-\n".repeat(15);
        std::fs::write(grooves.join(format!("g{k}.txt")), measure.repeat(10))?;
    }
    let groove = grooves.join("g0.txt");
    let midi = dir.join("g0.mid");
    let model = dir.join("model");
    run_command::<Command>(&["decode", arg(&groove), "--out", arg(&midi)])?;
    run_command::<Command>(&["train", "--preset", "smoke", "--grooves", arg(&grooves), "--out", arg(&model)])?;
    let free_text = "a groove file is read leniently by eval: unreadable lines count as unstable measures";
    Ok(vec![
        Fixture::new("drums eval")
            .input(&groove, Format::Text)
            .accepts("garbage", free_text)
            .accepts("truncated", "a groove cut in half is a shorter groove"),
        Fixture::new("drums encode").input(&midi, Format::Binary).text(&["--out"]).out(dir.join("encoded.txt")),
        Fixture::new("drums decode")
            .input(&groove, Format::Text)
            .accepts("truncated", "a groove cut in half is a shorter groove")
            .text(&["--out"])
            .out(dir.join("decoded.mid")),
        Fixture::new("drums train")
            .text(&["--preset", "smoke", "--grooves"])
            .input(&grooves, Format::Folder)
            .text(&["--out"])
            .out(dir.join("trained")),
        Fixture::new("drums generate")
            .text(&["--measures", "2", "--model"])
            .input(&model, Format::Folder)
            .text(&["--prompt"])
            .input(&groove, Format::Text)
            .accepts("truncated", "a prompt cut in half still holds its first two measures")
            .text(&["--out"])
            .out(dir.join("new.mid")),
    ])
}
