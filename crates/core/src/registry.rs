//! How a method plugs into the workbench: a [`Method`] value names the
//! method, its claim, its plan (units, `run_unit`, `summarise`) and its own
//! commands. The CLI collects `Method`s from the method crates and knows
//! nothing else about them; everything else a method needs to register is
//! looked up here by its name:
//!
//! - its paper (title and reference) in [`PAPERS`];
//! - its presets, the TOML files `configs/<name>/<preset>.toml`, embedded at
//!   build time (core's build script; a new method adds the folder, no code);
//! - its config, read with [`RunContext::config`] (or [`preset_config`]
//!   outside a run): the preset merged with `--config FILE.toml`,
//!   deserialised into the method's `Config`, whose
//!   `#[serde(deny_unknown_fields)]` turns a misspelt key into a user error,
//!   then checked by its [`Validate`] impl, so a bad value fails the same
//!   way from a preset, a user file or a worker's plan.

use crate::cli::Commands;
use crate::plan::{Outputs, Resources, Unit, UnitKey, UnitOutput};
use crate::report::{Report, Results, Verdict};
use anyhow::Result;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/presets.rs"));

/// Experiment scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Seconds; what the tests run. Verdicts are usually inconclusive.
    Smoke,
    /// A fast look: at most 3 minutes per method on 2 cores at `--jobs 1`;
    /// the default, what the README's main command runs.
    Quick,
    /// The registered evidence: every seed and arm the experiment's design asks for; meant
    /// for `--jobs N` or a Slurm cluster.
    Full,
    /// The paper's scale; a GPU is advised.
    Paper,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Preset::Smoke, Preset::Quick, Preset::Full, Preset::Paper];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Smoke => "smoke",
            Preset::Quick => "quick",
            Preset::Full => "full",
            Preset::Paper => "paper",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| crate::user_error(format!("unknown preset '{s}' (known: smoke, quick, full, paper)")))
    }
}

/// One of the ten papers reprolab implements.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Paper {
    pub number: u8,
    /// The method name every command takes (the crate name).
    pub method: &'static str,
    pub title: &'static str,
    pub reference: &'static str,
}

/// The ten papers, numbered as the project numbers them; the one table a
/// method's paper reference comes from.
pub const PAPERS: [Paper; 10] = [
    Paper {
        number: 1,
        method: "offline-rl",
        title: "TD3 with Reverse KL Regularizer for Offline RL from Mixed Datasets",
        reference: "Cai et al., ICDM 2022, arXiv 2212.02125",
    },
    Paper {
        number: 2,
        method: "satisfaction",
        title: "A Transformer-Based User Satisfaction Prediction for Proactive Interaction Mechanism in DuerOS",
        reference: "Shen et al., CIKM 2022, arXiv 2212.03817",
    },
    Paper {
        number: 3,
        method: "membership",
        title: "Membership Inference Attacks on Machine Learning: A Survey",
        reference: "Hu et al., ACM CSUR 2022, arXiv 2103.07853",
    },
    Paper {
        number: 4,
        method: "mim-distill",
        title: "TinyMIM: An Empirical Study of Distilling MIM Pre-trained Models",
        reference: "Ren et al., CVPR 2023, arXiv 2301.01296",
    },
    Paper {
        number: 5,
        method: "fusion3d",
        title: "Cross Modal Transformer: Towards Fast and Robust 3D Object Detection",
        reference: "Yan et al., ICCV 2023, arXiv 2301.01283",
    },
    Paper {
        number: 6,
        method: "distill-backdoor",
        title: "Backdoor Attacks Against Dataset Distillation",
        reference: "Liu et al., NDSS 2023, arXiv 2301.01197",
    },
    Paper {
        number: 7,
        method: "iqa",
        title: "PMT-IQA: Progressive Multi-Task Learning for Blind Image Quality Assessment",
        reference: "Pan et al., PRICAI 2023, arXiv 2301.01182",
    },
    Paper {
        number: 8,
        method: "drums",
        title: "Language Models are Drummers: Drum Composition with Natural Language Pre-Training",
        reference: "Zhang & Callison-Burch, AAAI-23 workshop, arXiv 2301.01162",
    },
    Paper {
        number: 9,
        method: "fewshot-seg",
        title: "Reference Twice: A Simple and Unified Baseline for Few-Shot Instance Segmentation",
        reference: "Han et al., arXiv 2301.01156",
    },
    Paper {
        number: 10,
        method: "fair-kd",
        title: "RELIANT: Fair Knowledge Distillation for Graph Neural Networks",
        reference: "Dong et al., SDM 2023, arXiv 2301.01150",
    },
];

impl Paper {
    /// "Title (reference)", what a report names as its paper.
    pub fn citation(&self) -> String {
        format!("{} ({})", self.title, self.reference)
    }
}

/// The paper of the method called `method`, if it is one of [`PAPERS`].
pub fn paper(method: &str) -> Option<&'static Paper> {
    PAPERS.iter().find(|p| p.method == method)
}

/// A runnable experiment: a map over independent units and a reduce
/// (see [`crate::plan`]).
#[derive(Clone, Copy, Debug)]
pub struct Method {
    /// The name commands take (for papers, the crate name in [`PAPERS`]);
    /// its presets are `configs/<name>/*.toml`.
    pub name: &'static str,
    /// What the experiment checks when it is not one of [`PAPERS`] (the
    /// self-check); `None` for papers, whose reference is in [`PAPERS`].
    pub about: Option<&'static str>,
    /// The claim tested, in one sentence.
    pub claim: &'static str,
    /// The plan: every unit of the experiment under `ctx`, shared-stage
    /// units first. Must be cheap (no training) and deterministic.
    pub units: fn(&RunContext) -> Result<Vec<Unit>>,
    /// Computes one unit: a pure function of (config, unit key); it may read
    /// finished shared units with [`RunContext::shared`].
    pub run_unit: fn(&RunContext, &Unit) -> Result<UnitOutput>,
    /// Builds the report and the verdict from the units' outputs alone.
    pub summarise: fn(&RunContext, &Outputs) -> Result<Report>,
    /// What one unit asks a cluster for.
    pub resources: Resources,
    /// False while parts of the paper's spec are still missing (`list`
    /// then says "in progress"; the crate docs say what is missing).
    pub complete: bool,
    /// The method's own commands (`reprolab <name> ...`), if it has any.
    pub commands: Option<Commands>,
    /// `reprolab export --format pytorch`: converts the model checkpoint
    /// in the first path (a train command's `--out`) to a safetensors file
    /// at the second that the matching PyTorch module (bench/export/) loads
    /// with `load_state_dict(strict=True)`, and returns one line on what it
    /// wrote; `None` for methods whose commands save no model. The method
    /// converts because only it knows its model's layers.
    pub export: Option<fn(&Path, &Path) -> Result<String>>,
}

impl Method {
    /// The paper's citation from [`PAPERS`], or what a non-paper checks.
    pub fn reference(&self) -> String {
        match (paper(self.name), self.about) {
            (Some(p), _) => p.citation(),
            (None, Some(about)) => about.to_string(),
            (None, None) => self.name.to_string(),
        }
    }

    /// The presets this method has files for, in [`Preset::ALL`] order.
    pub fn presets(&self) -> Vec<Preset> {
        Preset::ALL.into_iter().filter(|p| preset_text(self.name, *p).is_some()).collect()
    }
}

/// The embedded text of `configs/<method>/<preset>.toml`.
pub fn preset_text(method: &str, preset: Preset) -> Option<&'static str> {
    #[cfg(test)]
    if let Some((_, _, text)) = TEST_PRESETS.iter().find(|(m, p, _)| *m == method && *p == preset.name()) {
        return Some(text);
    }
    PRESET_FILES.iter().find(|(m, p, _)| *m == method && *p == preset.name()).map(|(_, _, text)| *text)
}

/// The presets of core's test methods (a real method's are files under
/// `configs/`).
#[cfg(test)]
static TEST_PRESETS: &[(&str, &str, &str)] =
    &[("toy", "smoke", "seeds = 2\nlr = 0.1\nsteps = 5\n"), ("toy-shared", "smoke", "seeds = 3\nscale = 1.5\n")];

/// A preset's config as a table, without `seeds`, and the seed count.
fn preset_table(method: &str, preset: Preset) -> Result<toml::Table> {
    let Some(text) = preset_text(method, preset) else {
        crate::user_bail!("method '{method}' has no '{}' preset", preset.name());
    };
    text.parse().map_err(|e| anyhow::anyhow!("built-in preset {method}/{} is invalid: {e}", preset.name()))
}

/// The most seeds a config may ask for. Each seed is a whole run, so a
/// larger count is a typo; refusing it also keeps a damaged `seeds =
/// 1000000000000` from allocating the list of 10^12 seeds.
const MAX_SEEDS: i64 = 100_000;

/// A config's `seeds`: a count `n` (seeds 0..n, n at most [`MAX_SEEDS`])
/// or a list of distinct seeds (`[3, 7]`).
fn seeds_of(value: &toml::Value) -> Result<Vec<u64>> {
    let bad =
        || anyhow::anyhow!("'seeds' must be a positive count or a list of distinct non-negative seeds, got {value}");
    let seeds: Vec<u64> = match value {
        toml::Value::Integer(n) if *n > MAX_SEEDS => {
            anyhow::bail!("'seeds' = {n} is more than {MAX_SEEDS} runs; list the seeds or ask for fewer")
        }
        toml::Value::Integer(n) if *n > 0 => (0..*n as u64).collect(),
        toml::Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_integer().and_then(|i| u64::try_from(i).ok()).ok_or_else(bad))
            .collect::<Result<_>>()?,
        _ => return Err(bad()),
    };
    anyhow::ensure!(all_distinct(&seeds), bad());
    Ok(seeds)
}

/// Whether no seed appears twice (a repeated seed would count one run twice
/// in every interval): the check of a config's `seeds` and of `--seed-list`.
pub fn all_distinct(seeds: &[u64]) -> bool {
    let mut sorted = seeds.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.len() == seeds.len()
}

/// `seeds` as a config writes it back: the count when they are 0..n.
pub fn seeds_value(seeds: &[u64]) -> toml::Value {
    if seeds.iter().copied().eq(0..seeds.len() as u64) {
        toml::Value::Integer(seeds.len() as i64)
    } else {
        toml::Value::Array(seeds.iter().map(|&s| toml::Value::Integer(s as i64)).collect())
    }
}

/// The checks a config makes of its values after deserialising, whatever
/// its source (preset, `--config` file, a worker's plan). Errors say which
/// field is wrong and why; [`RunContext::config`] turns them into user
/// errors naming the source.
pub trait Validate {
    fn validate(&self) -> Result<()>;
}

/// Deserialises and validates `table` as `C`, errors naming `source`.
fn typed_config<C: DeserializeOwned + Validate>(table: &toml::Table, source: &str) -> Result<C> {
    let mut table = table.clone();
    table.remove("seeds");
    let config = C::deserialize(toml::Value::Table(table))
        .map_err(|e: toml::de::Error| crate::user_error(format!("{source}: {}", e.message().trim())))?;
    config.validate().map_err(|e| crate::user_error(format!("{source}: {e:#}")))?;
    Ok(config)
}

/// The config of `method`'s `preset`, typed and validated: for commands
/// that take a preset's settings outside an experiment run.
pub fn preset_config<C: DeserializeOwned + Validate>(method: &str, preset: Preset) -> Result<C> {
    typed_config(&preset_table(method, preset)?, &format!("preset {method}/{}", preset.name()))
}

/// `rel` under `data_dir`, else under `$REPROLAB_DATA`, with an error that
/// says how to provide it when neither is set or the path is missing.
pub fn data_path(who: &str, data_dir: Option<&Path>, rel: &str) -> Result<PathBuf> {
    existing_under(who, data_dir_or_env(data_dir.map(Path::to_path_buf)), rel)
}

/// `--data` if given, else `$REPROLAB_DATA`.
fn data_dir_or_env(data_dir: Option<PathBuf>) -> Option<PathBuf> {
    data_dir.or_else(|| std::env::var_os("REPROLAB_DATA").map(PathBuf::from))
}

/// `rel` under `base`, with the user errors of [`data_path`].
fn existing_under(who: &str, base: Option<PathBuf>, rel: &str) -> Result<PathBuf> {
    let Some(base) = base else {
        crate::user_bail!("{who}: needs real data '{rel}'; pass --data DIR or set REPROLAB_DATA");
    };
    let path = base.join(rel);
    if !path.exists() {
        crate::user_bail!("{}: missing", path.display());
    }
    Ok(path)
}

/// What a method's functions get: the preset, the seeds, the merged config
/// and where data, outputs and the unit cache live.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub method: &'static str,
    /// The paper's citation (or what a non-paper checks), for the report.
    pub paper: String,
    /// The claim tested, for the report.
    pub claim: &'static str,
    pub preset: Preset,
    pub seeds: Vec<u64>,
    config: toml::Table,
    config_source: String,
    data_dir: Option<PathBuf>,
    /// The run directory (reports, the unit cache, cluster scripts).
    pub run_dir: PathBuf,
    /// A directory the method may write artifacts into (checkpoints, caches).
    pub out_dir: PathBuf,
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub preset: Option<Preset>,
    /// The seeds to run (`--seeds N` is 0..N, `--seed-list` any), overriding
    /// the preset's `seeds`.
    pub seeds: Option<Vec<u64>>,
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub out_dir: PathBuf,
}

impl RunContext {
    /// Builds the context of `method` under `opts`: picks the preset, reads
    /// and merges the config file, resolves the seeds.
    pub fn new(method: &Method, opts: &RunOptions) -> Result<Self> {
        let preset = opts.preset.unwrap_or(Preset::Quick);
        let mut config = preset_table(method.name, preset)?;
        let mut source = format!("preset {}/{}", method.name, preset.name());
        if let Some(path) = &opts.config_file {
            let shown = path.display();
            let user_text =
                std::fs::read_to_string(path).map_err(|e| crate::user_error(format!("{shown}: cannot read ({e})")))?;
            let user: toml::Table = user_text
                .parse()
                .map_err(|e: toml::de::Error| crate::user_error(format!("{shown}: invalid TOML: {}", e.message())))?;
            merge(&mut config, user);
            source = format!("{source} + {shown}");
        }
        let preset_seeds = match config.remove("seeds") {
            None => vec![0],
            Some(v) => seeds_of(&v).map_err(|e| crate::user_error(format!("{source}: {e}")))?,
        };
        let seeds = opts.seeds.clone().unwrap_or(preset_seeds);
        if seeds.is_empty() {
            crate::user_bail!("--seeds must be at least 1");
        }
        Ok(Self {
            method: method.name,
            paper: method.reference(),
            claim: method.claim,
            preset,
            seeds,
            config,
            config_source: source,
            data_dir: data_dir_or_env(opts.data_dir.clone()),
            run_dir: opts.out_dir.clone(),
            out_dir: opts.out_dir.join(method.name),
        })
    }

    /// Where the config came from ("preset m/quick + FILE").
    pub fn config_source(&self) -> &str {
        &self.config_source
    }

    /// The resolved config (preset merged with the user's file, without
    /// `seeds`): what the unit cache's hash covers.
    pub fn config_table(&self) -> &toml::Table {
        &self.config
    }

    /// The context of `method` at `preset` overridden by the user's config
    /// `file`, as `reprolab run --config FILE` builds it (artifacts go to
    /// the file's folder): what a method's tests of its validation read.
    pub fn with_config_file(method: &Method, preset: Preset, file: &Path) -> Result<Self> {
        let out_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let opts =
            RunOptions { preset: Some(preset), config_file: Some(file.to_path_buf()), out_dir, ..Default::default() };
        Self::new(method, &opts)
    }

    /// The context as a worker process rebuilds it from a plan file.
    pub fn from_plan(method: &Method, plan: &PlanFile, run_dir: &Path) -> Result<Self> {
        let config: toml::Table =
            plan.config.parse().map_err(|e| anyhow::anyhow!("{}: plan config is invalid: {e}", run_dir.display()))?;
        Ok(Self {
            method: method.name,
            paper: method.reference(),
            claim: method.claim,
            preset: plan.preset,
            seeds: plan.seeds.clone(),
            config,
            config_source: plan.config_source.clone(),
            data_dir: plan.data_dir.clone(),
            run_dir: run_dir.to_path_buf(),
            out_dir: run_dir.join(method.name),
        })
    }

    /// What a worker needs to rebuild this context.
    pub fn plan_file(&self, units: Vec<Unit>) -> PlanFile {
        PlanFile {
            method: self.method.into(),
            preset: self.preset,
            seeds: self.seeds.clone(),
            config: toml::to_string(&self.config).unwrap_or_default(),
            config_source: self.config_source.clone(),
            data_dir: self.data_dir.clone(),
            units,
        }
    }

    /// The output of the finished shared-stage unit `key` (the executor
    /// runs every shared unit before any main unit).
    pub fn shared(&self, key: &UnitKey) -> Result<UnitOutput> {
        let unit = Unit { key: key.clone(), stage: crate::plan::Stage::Shared };
        match crate::plan::cache::load(self, &unit)? {
            Some(entry) => Ok(entry.output),
            None => anyhow::bail!("{}: shared unit '{key}' has not run (no cache entry)", self.method),
        }
    }

    /// The merged config as the method's `Config` type, validated; errors
    /// are user errors naming the config's source.
    pub fn config<C: DeserializeOwned + Validate>(&self) -> Result<C> {
        typed_config(&self.config, &self.config_source)
    }

    /// A report of this run (method, paper, claim, preset, seeds) with the
    /// main table and the verdict; figures, notes and tables are added to it.
    pub fn report(&self, results: Results, verdict: Verdict) -> Report {
        Report::new(self.method, &self.paper, self.claim, self.preset.name(), self.seeds.clone(), results, verdict)
    }

    /// `rel` under the data directory (`--data`, else `REPROLAB_DATA`),
    /// with an error that says how to provide it when neither is set or the
    /// path is missing.
    pub fn data_path(&self, rel: &str) -> Result<PathBuf> {
        // The context resolved REPROLAB_DATA when it was built (a worker's
        // comes from the plan): no second look at the environment here.
        existing_under(self.method, self.data_dir.clone(), rel)
    }

    /// The data directory if one was given (methods use it to decide
    /// whether to add real-data arms).
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir.clone()
    }
}

/// A method's plan as written to `RUN_DIR/plan/<method>.json`: everything a
/// worker process (`reprolab unit`, a Slurm array task) needs to rebuild the
/// [`RunContext`] and run one unit by index.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PlanFile {
    pub method: String,
    pub preset: Preset,
    pub seeds: Vec<u64>,
    /// The resolved config as TOML text.
    pub config: String,
    pub config_source: String,
    pub data_dir: Option<PathBuf>,
    pub units: Vec<Unit>,
}

/// Overrides `base` with `over`, recursing into tables.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

pub use crate::plan::executor::run_method;

/// Finds a method by name among `methods`, with a helpful error.
pub fn find<'a>(methods: &'a [Method], name: &str) -> Result<&'a Method> {
    if let Some(m) = methods.iter().find(|m| m.name == name) {
        return Ok(m);
    }
    let known: Vec<&str> = methods.iter().map(|m| m.name).collect();
    if PAPERS.iter().any(|p| p.method == name) {
        crate::user_bail!("method '{name}' is not implemented yet (implemented: {})", known.join(", "));
    }
    crate::user_bail!(
        "unknown method '{name}' (implemented: {}; `reprolab list` shows all ten papers)",
        known.join(", ")
    )
}

/// Reads the path of a `--data`-style argument, checking it exists.
pub fn existing_path(path: &Path) -> Result<PathBuf> {
    if !path.exists() {
        crate::user_bail!("{}: no such file or directory", path.display());
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        lr: f64,
        steps: usize,
    }

    impl Validate for Cfg {
        fn validate(&self) -> Result<()> {
            anyhow::ensure!(self.lr > 0.0, "lr must be positive, got {}", self.lr);
            Ok(())
        }
    }

    fn units(ctx: &RunContext) -> Result<Vec<Unit>> {
        // Parse the config while planning, so a bad key fails before any unit runs.
        let _: Cfg = ctx.config()?;
        Ok(ctx.seeds.iter().map(|&s| Unit::main("", s)).collect())
    }

    fn run_unit(ctx: &RunContext, _unit: &Unit) -> Result<UnitOutput> {
        let c: Cfg = ctx.config()?;
        let mut out = UnitOutput::default();
        out.record("a", "lr", c.lr);
        out.record("a", "steps", c.steps as f64);
        Ok(out)
    }

    fn summarise(ctx: &RunContext, outputs: &Outputs) -> Result<Report> {
        Ok(ctx.report(outputs.results(""), Verdict::inconclusive("rule", "test".into())))
    }

    const M: Method = Method {
        name: "toy",
        about: Some("p"),
        claim: "c",
        units,
        run_unit,
        summarise,
        resources: Resources::SMALL,
        complete: true,
        commands: None,
        export: None,
    };

    #[test]
    fn preset_and_user_config_merge() {
        let _seeding = crate::rng::global_seed_lock();
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "steps = 9\n").unwrap();
        let opts = RunOptions {
            preset: Some(Preset::Smoke),
            config_file: Some(f),
            out_dir: dir.path().into(),
            ..Default::default()
        };
        let rep = run_method(&M, &opts).unwrap();
        assert_eq!(rep.results.require("a", "steps").unwrap().mean, 9.0);
        assert_eq!(rep.results.require("a", "lr").unwrap().mean, 0.1);
        assert_eq!(rep.seeds, vec![0, 1]);
        assert_eq!((rep.paper.as_str(), rep.claim.as_str()), ("p", "c"));
    }

    #[test]
    fn invalid_values_fail_from_any_source_naming_it() {
        let _seeding = crate::rng::global_seed_lock();
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("neg.toml");
        std::fs::write(&f, "lr = -1.0\n").unwrap();
        let opts = RunOptions {
            preset: Some(Preset::Smoke),
            config_file: Some(f.clone()),
            out_dir: dir.path().into(),
            ..Default::default()
        };
        let err = run_method(&M, &opts).unwrap_err();
        assert!(crate::is_user_error(&err));
        let msg = err.to_string();
        assert!(msg.contains("neg.toml") && msg.contains("lr must be positive, got -1"), "{msg}");
        // The typed preset reader validates too, and names the preset.
        let cfg: Cfg = preset_config("toy", Preset::Smoke).unwrap();
        assert_eq!(cfg.steps, 5);
        let err = preset_config::<Cfg>("toy", Preset::Paper).unwrap_err();
        assert!(err.to_string().contains("no 'paper' preset"), "{err}");
    }

    #[test]
    fn every_preset_file_is_embedded_and_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut files = 0;
        for method in std::fs::read_dir(&root).unwrap() {
            let method = method.unwrap().path();
            let name = method.file_name().unwrap().to_string_lossy().into_owned();
            for preset in Preset::ALL {
                let on_disk = std::fs::read_to_string(method.join(format!("{}.toml", preset.name()))).ok();
                assert_eq!(preset_text(&name, preset), on_disk.as_deref(), "{name}/{}", preset.name());
                if let Some(text) = on_disk {
                    text.parse::<toml::Table>().unwrap();
                    files += 1;
                }
            }
        }
        assert!(files >= 24, "{files} preset files");
        assert!(preset_text("selfcheck", Preset::Quick).is_some());
    }

    #[test]
    fn the_paper_reference_comes_from_the_table() {
        let m = Method { name: "drums", about: None, ..M };
        assert!(m.reference().starts_with("Language Models are Drummers"), "{}", m.reference());
        assert!(m.reference().contains("arXiv 2301.01162"));
        assert_eq!(M.reference(), "p");
    }

    #[test]
    fn config_errors_are_user_errors_naming_the_key() {
        let _seeding = crate::rng::global_seed_lock();
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.toml");
        std::fs::write(&f, "stepz = 9\n").unwrap();
        let opts = RunOptions {
            preset: Some(Preset::Smoke),
            config_file: Some(f.clone()),
            out_dir: dir.path().into(),
            ..Default::default()
        };
        let err = run_method(&M, &opts).unwrap_err();
        assert!(crate::is_user_error(&err));
        assert!(err.to_string().contains("stepz"), "{err}");
        std::fs::write(&f, "steps = [").unwrap();
        assert!(run_method(&M, &opts).unwrap_err().to_string().contains("invalid TOML"));
        let opts = RunOptions { preset: Some(Preset::Paper), out_dir: dir.path().into(), ..Default::default() };
        assert!(run_method(&M, &opts).unwrap_err().to_string().contains("no 'paper' preset"));
    }

    #[test]
    fn unknown_and_unimplemented_methods_are_told_apart() {
        assert!(find(&[M], "toy").is_ok());
        assert!(find(&[M], "drums").unwrap_err().to_string().contains("not implemented yet"));
        assert!(find(&[M], "nope").unwrap_err().to_string().contains("unknown method"));
    }
}
