//! `reprolab drums ...`: the groove text codec (`encode`, `decode`), the
//! structural evaluation (`eval`), and training and sampling a groove
//! Transformer (`train`, `generate`).

use crate::lm::SampleConfig;
use crate::model::{GenerateRequest, TrainRequest};
use anyhow::Result;
use reprolab_core::cli::{MethodCli, emit, emit_json_or_text, existing};
use reprolab_core::registry::Preset;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Structural metrics of text grooves (the paper's table): mean measure stability, gap between
    /// the 2-means centres and spread within clusters.
    Eval {
        /// Groove text files, or folders of .txt grooves.
        #[arg(required = true, value_name = "DIR_OR_FILES")]
        paths: Vec<PathBuf>,
        /// Print one JSON object {"grooves", "mean_stability", "centre_gap", "spread"}.
        #[arg(long)]
        json: bool,
    },
    /// Encode a drum MIDI file as the paper's text (16 measures of 16th-note lines).
    Encode {
        /// A drum MIDI file in an x/4 time signature.
        #[arg(value_name = "FILE.mid")]
        input: PathBuf,
        /// Write the text here (default: stdout).
        #[arg(long, value_name = "FILE.txt")]
        out: Option<PathBuf>,
    },
    /// Train the groove Transformer of the experiment (optionally pre-trained on English text) and save it.
    Train {
        /// Where to save the model (safetensors + state.json), with config.toml, metrics.jsonl,
        /// report.json and a checkpoint after every epoch (checkpoint/step-N).
        #[arg(long, value_name = "DIR", required_unless_present = "resume")]
        out: Option<PathBuf>,
        /// Continue the killed run in DIR from its last checkpoint, with the settings DIR records
        /// (no other flag).
        #[arg(
            long,
            value_name = "DIR",
            conflicts_with_all = ["out", "overwrite", "preset", "pretrained", "grooves", "data", "seed"]
        )]
        resume: Option<PathBuf>,
        /// Write into a non-empty --out.
        #[arg(long)]
        overwrite: bool,
        /// Model and training settings of this experiment preset: smoke, quick or paper.
        #[arg(long, value_enum, default_value = "quick")]
        preset: Preset,
        /// Pre-train on natural-language text first (the preset's corpus).
        #[arg(long)]
        pretrained: bool,
        /// Train on this folder of .mid or .txt grooves instead of the paper's 372.
        #[arg(long, value_name = "DIR")]
        grooves: Option<PathBuf>,
        /// Directory with real datasets, holding groove/ (default: $REPROLAB_DATA).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Continue a groove's first two measures with a trained model and write a playable MIDI file.
    Generate {
        /// A model saved by `drums train`.
        #[arg(long, value_name = "DIR")]
        model: PathBuf,
        /// The prompt: a drum MIDI file or a text groove (its first two non-empty measures are used).
        #[arg(long, value_name = "FILE.mid|FILE.txt")]
        prompt: PathBuf,
        /// Measures to add.
        #[arg(long, default_value_t = 14)]
        measures: usize,
        #[arg(long, default_value_t = 0.9)]
        temperature: f64,
        /// Nucleus sampling threshold (1 = off).
        #[arg(long, default_value_t = 1.0)]
        top_p: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Tempo (default: from the prompt's file name, else 120).
        #[arg(long)]
        bpm: Option<f64>,
        /// The MIDI file to write (the text groove goes next to it, as .txt).
        #[arg(long, value_name = "FILE.mid")]
        out: PathBuf,
    },
    /// Decode a text groove into a playable MIDI file (General MIDI drums, channel 10).
    Decode {
        /// A groove in the paper's text format (SEP / END lines are allowed).
        #[arg(value_name = "FILE.txt")]
        input: PathBuf,
        #[arg(long, value_name = "FILE.mid")]
        out: PathBuf,
        /// Tempo (default: from a Groove MIDI Dataset file name, else 120).
        #[arg(long)]
        bpm: Option<f64>,
    },
}

impl MethodCli for Command {
    fn run(self) -> Result<ExitCode> {
        match self {
            Command::Eval { paths, json } => eval(&paths, json)?,
            Command::Encode { input, out } => encode(&input, out.as_deref())?,
            Command::Decode { input, out, bpm } => decode(&input, &out, bpm)?,
            Command::Train { resume: Some(dir), .. } => resume(&dir)?,
            Command::Train { out, overwrite, preset, pretrained, grooves, data, seed, resume: None } => {
                let out = out.expect("clap requires --out without --resume");
                train(&TrainRequest {
                    preset,
                    data: data.as_deref(),
                    grooves: grooves.as_deref(),
                    pretrained,
                    seed,
                    out: &out,
                    overwrite,
                })?
            }
            Command::Generate { model, prompt, measures, temperature, top_p, seed, bpm, out } => {
                let sample = SampleConfig { temperature, top_p, max_tokens: measures * 17 };
                generate(&GenerateRequest {
                    model_dir: &model,
                    prompt: &prompt,
                    measures,
                    sample: &sample,
                    seed,
                    bpm,
                    out: &out,
                })?
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `reprolab drums eval`.
fn eval(paths: &[PathBuf], json: bool) -> Result<()> {
    let summary = crate::eval::evaluate(paths)?;
    emit_json_or_text(json, &summary, || crate::eval::summary_markdown(&summary))
}

/// `reprolab drums encode`.
fn encode(input: &Path, out: Option<&Path>) -> Result<()> {
    existing([input])?;
    let text = crate::codec::encode_file(input)?.to_text();
    match out {
        Some(path) => {
            reprolab_core::report::write_bytes_atomic(path, &text)?;
            eprintln!("Written to {}", path.display());
            Ok(())
        }
        None => emit(&text),
    }
}

/// `reprolab drums decode`.
fn decode(input: &Path, out: &Path, bpm: Option<f64>) -> Result<()> {
    existing([input])?;
    let shown = input.display().to_string();
    let text = std::fs::read_to_string(input)
        .map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read as UTF-8 text ({e})")))?;
    let groove = crate::codec::Groove::parse(&text, &shown)?;
    let bpm = crate::codec::write_midi(&groove, out, bpm, &shown)?;
    emit(&format!("Written {} ({} lines at {bpm} bpm)\n", out.display(), groove.lines.len()))
}

/// `reprolab drums train`.
fn train(req: &TrainRequest) -> Result<()> {
    existing(req.data.into_iter().chain(req.grooves))?;
    print_trained(&crate::model::train_command(req)?)
}

/// `reprolab drums train --resume DIR`.
fn resume(dir: &Path) -> Result<()> {
    existing([dir])?;
    match crate::model::resume_command(dir)? {
        crate::model::Resumed::Trained(summary) => print_trained(&summary),
        crate::model::Resumed::Finished(result) => emit(&format!(
            "{}: the run already finished (final loss {}); nothing to resume\n",
            dir.display(),
            result["final_loss"].as_f64().map_or("unknown".into(), |l| format!("{l:.3}"))
        )),
    }
}

fn print_trained(summary: &crate::model::TrainSummary) -> Result<()> {
    emit(&format!(
        "Trained on {} grooves ({} skipped: 8 measures or fewer, or not x/4){}; final loss {:.3}. Saved to {}\n",
        summary.grooves,
        summary.skipped,
        summary.pretrained_on.as_ref().map(|c| format!(", pre-trained on {c}")).unwrap_or_default(),
        summary.final_loss,
        summary.out.display()
    ))
}

/// `reprolab drums generate`.
fn generate(req: &GenerateRequest) -> Result<()> {
    existing([req.model_dir, req.prompt])?;
    let decoded = crate::model::generate_command(req)?;
    emit(&format!(
        "Written {} and {} ({} lines; {}{})\n",
        req.out.display(),
        req.out.with_extension("txt").display(),
        decoded.groove.lines.len(),
        if decoded.well_formed { "well formed" } else { "not well formed: measure layout or END missing" },
        if decoded.invalid_tokens > 0 {
            format!(", {} invalid tokens skipped", decoded.invalid_tokens)
        } else {
            String::new()
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        reprolab_core::cli::parse(args)
    }

    #[test]
    fn train_defaults_to_the_quick_preset_and_refuses_an_unknown_one() {
        match parse(&["train", "--out", "m"]).unwrap() {
            Command::Train { preset, pretrained, seed, overwrite, resume, .. } => {
                assert_eq!((preset, pretrained, seed, overwrite, resume), (Preset::Quick, false, 0, false, None))
            }
            other => panic!("{other:?}"),
        }
        match parse(&["train", "--out", "m", "--preset", "smoke", "--pretrained", "--overwrite"]).unwrap() {
            Command::Train { preset, pretrained, overwrite, .. } => {
                assert_eq!((preset, pretrained, overwrite), (Preset::Smoke, true, true))
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["train", "--out", "m", "--overwrite=no"]).is_err(), "--overwrite takes no value");
        match parse(&["train", "--resume", "m"]).unwrap() {
            Command::Train { resume, out, .. } => assert_eq!((resume, out), (Some(PathBuf::from("m")), None)),
            other => panic!("{other:?}"),
        }
        for extra in [&["--seed", "1"][..], &["--out", "n"], &["--pretrained"], &["--preset", "smoke"]] {
            let mut args = vec!["train", "--resume", "m"];
            args.extend_from_slice(extra);
            let err = parse(&args).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict, "{extra:?}");
        }
        assert!(parse(&["train"]).is_err(), "--out or --resume is required");
        let err = parse(&["train", "--out", "m", "--preset", "huge"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(err.to_string().contains("quick"), "{err}");
    }

    #[test]
    fn generate_samples_at_the_papers_temperature_by_default() {
        match parse(&["generate", "--model", "m", "--prompt", "p.mid", "--out", "o.mid"]).unwrap() {
            Command::Generate { measures, temperature, top_p, bpm, .. } => {
                assert_eq!((measures, temperature, top_p, bpm), (14, 0.9, 1.0, None))
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["eval"]).is_err(), "eval needs a path");
    }

    #[test]
    fn generate_refuses_a_measure_count_the_context_cannot_hold() {
        let sample = SampleConfig { temperature: 0.9, top_p: 1.0, max_tokens: 15 * 17 };
        let dir = tempfile::tempdir().unwrap();
        let req = GenerateRequest {
            model_dir: dir.path(),
            prompt: dir.path(),
            measures: 15,
            sample: &sample,
            seed: 0,
            bpm: None,
            out: &dir.path().join("x.mid"),
        };
        let err = crate::model::generate_command(&req).unwrap_err();
        assert!(reprolab_core::is_user_error(&err));
        assert!(err.to_string().starts_with("--measures must be 1..14"), "{err}");
    }
}
