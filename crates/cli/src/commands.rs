//! The subcommands. Each returns an exit code or an error; `main` maps
//! errors to exit codes.

use crate::methods;
use anyhow::Result;
use reprolab_core::registry::{self, PAPERS};
use reprolab_core::report::{Reproduction, markdown, write_reports};
use std::path::PathBuf;
use std::process::ExitCode;

/// Writes to stdout; a closed pipe (`reprolab list | head`) ends output
/// quietly instead of panicking like `println!` would.
pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// `reprolab list`.
pub fn list(json: bool) -> Result<ExitCode> {
    let implemented = methods::all();
    let is_impl = |name: &str| implemented.iter().any(|m| m.name == name);
    let is_complete = |name: &str| implemented.iter().any(|m| m.name == name && m.complete);
    if json {
        let papers: Vec<serde_json::Value> = PAPERS
            .iter()
            .map(|p| serde_json::json!({"number": p.number, "method": p.method, "title": p.title, "reference": p.reference, "implemented": is_impl(p.method), "complete": is_complete(p.method)}))
            .collect();
        let others: Vec<serde_json::Value> = implemented
            .iter()
            .filter(|m| !PAPERS.iter().any(|p| p.method == m.name))
            .map(|m| serde_json::json!({"method": m.name, "description": m.paper, "claim": m.claim}))
            .collect();
        emit(&format!("{}\n", serde_json::json!({"papers": papers, "other_experiments": others})))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = format!("{:>2}  {:<17} {:<12} paper\n", "#", "method", "status");
    for p in &PAPERS {
        let status = match (is_impl(p.method), is_complete(p.method)) {
            (true, true) => "implemented",
            (true, false) => "in progress",
            _ => "planned",
        };
        table += &format!("{:>2}  {:<17} {:<12} {} ({})\n", p.number, p.method, status, p.title, p.reference);
    }
    for m in implemented.iter().filter(|m| !PAPERS.iter().any(|p| p.method == m.name)) {
        table += &format!(" -  {:<17} {:<12} {}\n", m.name, "implemented", m.paper);
    }
    emit(&table)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn finish(repro: &Reproduction, out: &std::path::Path, json: bool) -> Result<()> {
    write_reports(out, repro)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string(repro)?))
    } else {
        emit(&format!(
            "{}\nReport: {}\n        {}\n",
            markdown::terminal_summary(repro),
            out.join("REPORT.md").display(),
            out.join("index.html").display()
        ))
    }
}

/// `reprolab membership audit`.
pub fn membership_audit(
    input: &std::path::Path,
    shadows: &[PathBuf],
    out: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    for p in std::iter::once(input).chain(shadows.iter().map(PathBuf::as_path)) {
        registry::existing_path(p)?;
    }
    let out = out.unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-audit", now_rfc3339().replace(':', "-"))));
    let audit = membership::audit::audit(input, shadows, &out)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string(&audit)?))?;
    } else {
        emit(&format!("{}\nWritten to {}\n", membership::audit::summary_markdown(&audit), out.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `reprolab drums eval`.
pub fn drums_eval(paths: &[PathBuf], json: bool) -> Result<ExitCode> {
    let summary = drums::eval::evaluate(paths)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string(&summary)?))?;
    } else {
        emit(&drums::eval::summary_markdown(&summary))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `reprolab drums encode`.
pub fn drums_encode(input: &std::path::Path, out: Option<&std::path::Path>) -> Result<ExitCode> {
    registry::existing_path(input)?;
    let text = drums::codec::encode_file(input)?.to_text();
    match out {
        Some(path) => {
            reprolab_core::report::write_bytes_atomic(path, &text)?;
            eprintln!("Written to {}", path.display());
        }
        None => emit(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `reprolab drums decode`.
pub fn drums_decode(input: &std::path::Path, out: &std::path::Path, bpm: Option<f64>) -> Result<ExitCode> {
    registry::existing_path(input)?;
    let shown = input.display().to_string();
    let text = std::fs::read_to_string(input)
        .map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read as UTF-8 text ({e})")))?;
    let groove = drums::codec::Groove::parse(&text, &shown)?;
    let bpm = drums::codec::write_midi(&groove, out, bpm, &shown)?;
    emit(&format!("Written {} ({} lines at {bpm} bpm)\n", out.display(), groove.lines.len()))?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab drums train`.
pub fn drums_train(
    preset: &str,
    data: Option<&std::path::Path>,
    grooves: Option<&std::path::Path>,
    pretrained: bool,
    seed: u64,
    out: &std::path::Path,
) -> Result<ExitCode> {
    for p in data.into_iter().chain(grooves) {
        registry::existing_path(p)?;
    }
    let summary = drums::model::train_command(preset.parse()?, data, grooves, pretrained, seed, out)?;
    emit(&format!(
        "Trained on {} grooves ({} skipped: 8 measures or fewer){}; final loss {:.3}. Saved to {}\n",
        summary.grooves,
        summary.skipped,
        summary.pretrained_on.map(|c| format!(", pre-trained on {c}")).unwrap_or_default(),
        summary.final_loss,
        summary.out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab drums generate`.
pub fn drums_generate(
    model: &std::path::Path,
    prompt: &std::path::Path,
    measures: usize,
    sample: &drums::lm::SampleConfig,
    seed: u64,
    bpm: Option<f64>,
    out: &std::path::Path,
) -> Result<ExitCode> {
    registry::existing_path(model)?;
    registry::existing_path(prompt)?;
    let decoded = drums::model::generate_command(model, prompt, measures, sample, seed, bpm, out)?;
    emit(&format!(
        "Written {} and {} ({} lines; {}{})\n",
        out.display(),
        out.with_extension("txt").display(),
        decoded.groove.lines.len(),
        if decoded.well_formed { "well formed" } else { "not well formed: measure layout or END missing" },
        if decoded.invalid_tokens > 0 {
            format!(", {} invalid tokens skipped", decoded.invalid_tokens)
        } else {
            String::new()
        }
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab fair-kd bias`.
pub fn fair_kd_bias(predictions: &std::path::Path, json: bool) -> Result<ExitCode> {
    registry::existing_path(predictions)?;
    let b = fair_kd::bias::bias_of_file(predictions)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string(&b)?))?;
    } else {
        emit(&format!(
            "| n | accuracy | delta SP | delta EO |\n|---|---|---|---|\n| {} | {:.4} | {:.4} | {:.4} |\n",
            b.n, b.accuracy, b.delta_sp, b.delta_eo
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The arguments of `reprolab fair-kd train`, as typed.
#[derive(clap::Args, Debug)]
pub struct FairKdTrain {
    #[arg(long, value_name = "FILE")]
    pub nodes: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub edges: PathBuf,
    #[arg(long, value_name = "COL")]
    pub label: String,
    #[arg(long, value_name = "COL")]
    pub sensitive: String,
    /// gcn or sage.
    #[arg(long, default_value = "gcn")]
    pub teacher: String,
    /// mlp, sgc or plp.
    #[arg(long, default_value = "mlp")]
    pub student: String,
    /// sp, eo or none (plain distillation).
    #[arg(long, default_value = "sp")]
    pub objective: String,
    #[arg(long, default_value_t = 100.0)]
    pub alpha: f64,
    /// Train the adversarial proxy of the last two feature columns.
    #[arg(long)]
    pub proxy: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (default: runs/<UTC timestamp>-fair-kd).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `reprolab fair-kd train`.
pub fn fair_kd_train(a: FairKdTrain, json: bool) -> Result<ExitCode> {
    use fair_kd::reliant::Objective;
    use fair_kd::students::StudentKind;
    use fair_kd::teachers::TeacherKind;
    registry::existing_path(&a.nodes)?;
    registry::existing_path(&a.edges)?;
    let teacher = match a.teacher.as_str() {
        "gcn" => TeacherKind::Gcn,
        "sage" => TeacherKind::Sage,
        t => reprolab_core::user_bail!("--teacher must be gcn or sage, got '{t}'"),
    };
    let student = match a.student.as_str() {
        "mlp" => StudentKind::Mlp,
        "sgc" => StudentKind::Sgc,
        "plp" => StudentKind::Plp,
        s => reprolab_core::user_bail!("--student must be mlp, sgc or plp, got '{s}'"),
    };
    let objective = match a.objective.as_str() {
        "sp" => Objective::Sp,
        "eo" => Objective::Eo,
        "none" => Objective::None,
        o => reprolab_core::user_bail!("--objective must be sp, eo or none, got '{o}'"),
    };
    if !(a.alpha.is_finite() && a.alpha >= 0.0) {
        reprolab_core::user_bail!("--alpha must be a non-negative number, got {}", a.alpha);
    }
    let out =
        a.out.unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-fair-kd", now_rfc3339().replace(':', "-"))));
    let args = fair_kd::train::TrainArgs {
        nodes: a.nodes,
        edges: a.edges,
        label: a.label,
        sensitive: a.sensitive,
        teacher,
        student,
        objective,
        alpha: a.alpha,
        proxy: a.proxy,
        seed: a.seed,
        out: out.clone(),
    };
    let report = fair_kd::train::train_command(&args)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string(&report)?))?;
    } else {
        let row = |name: &str, m: &fair_kd::reliant::Metrics| {
            format!(
                "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
                m.accuracy, m.auc, m.f1, m.delta_sp, m.delta_eo
            )
        };
        emit(&format!(
            "{} nodes, {} edges, {} test nodes\n| model | accuracy | AUC | F1 | delta SP | delta EO |\n|---|---|---|---|---|---|\n{}{}Written to {}\n",
            report.nodes,
            report.edges,
            report.test_nodes,
            row("teacher", &report.teacher),
            row("student", &report.student),
            out.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `reprolab offline-rl dataset`.
pub fn offline_rl_dataset(env: &str, episodes: usize, seed: u64, out: &std::path::Path) -> Result<ExitCode> {
    let d = offline_rl::tools::dataset_command(env, episodes, seed, out)?;
    emit(&format!(
        "{env}: {} transitions ({} episodes) written to {}\n",
        d.len(),
        d.episode_returns().len(),
        out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The arguments of `reprolab offline-rl train`, as typed.
#[derive(clap::Args, Debug)]
pub struct OfflineRlTrain {
    /// Environment to evaluate in while training: point-obstacle, point-obstacle-up, point-gap,
    /// point-obstacle-gap, pendulum. Leave it out for a task without a simulator here (e.g. a
    /// MuJoCo dataset): the policy then trains from the files alone and is checkpointed unevaluated.
    #[arg(long)]
    pub env: Option<String>,
    /// Dataset file(s), .hdf5/.h5 (D4RL, Minari) or .npz; several are concatenated into a mixed dataset.
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    pub dataset: Vec<PathBuf>,
    /// bc, td3-bc, td3-rkl (the paper's method), td3-rkl-global or td3-mse-adaptive.
    #[arg(long, default_value = "td3-rkl")]
    pub algo: String,
    /// Gradient updates.
    #[arg(long, default_value_t = 100_000)]
    pub steps: usize,
    /// TD3+BC's alpha (lambda = alpha / mean|Q|).
    #[arg(long, default_value_t = 2.5)]
    pub alpha: f64,
    /// Hidden layer width of actor, critics and behaviour model (two layers; CORL: 256).
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// Behaviour model (MDN) fitting steps.
    #[arg(long, default_value_t = 10_000)]
    pub mdn_steps: usize,
    /// Evaluate and checkpoint every this many updates.
    #[arg(long, default_value_t = 5_000)]
    pub eval_every: usize,
    #[arg(long, default_value_t = 10)]
    pub eval_episodes: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (default: runs/<UTC timestamp>-offline-rl).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `reprolab offline-rl train`.
pub fn offline_rl_train(a: OfflineRlTrain) -> Result<ExitCode> {
    for d in &a.dataset {
        registry::existing_path(d)?;
    }
    if a.steps == 0 || a.hidden == 0 {
        reprolab_core::user_bail!("--steps and --hidden must be at least 1");
    }
    let algo = offline_rl::td3::Algo::parse(&a.algo)?;
    let out = a.out.unwrap_or_else(|| PathBuf::from(format!("runs/{}-offline-rl", now_rfc3339().replace(':', "-"))));
    let req = offline_rl::tools::TrainRequest {
        env: a.env,
        datasets: a.dataset,
        algo,
        steps: a.steps,
        seed: a.seed,
        td3: offline_rl::td3::Td3Config { alpha: a.alpha, hidden: vec![a.hidden; 2], ..Default::default() },
        mdn: offline_rl::behaviour::MdnConfig { hidden: vec![a.hidden; 2], steps: a.mdn_steps, ..Default::default() },
        eval_every: a.eval_every,
        eval_episodes: a.eval_episodes,
        out: out.clone(),
    };
    let meta = offline_rl::tools::train_command(&req)?;
    let what = match (&meta.env, meta.curve.last()) {
        (Some(env), Some((_, ret))) => format!("on {env}: {} updates, last evaluation return {ret:.2}", req.steps),
        _ => format!("on {}: {} updates, not evaluated (no --env)", meta.datasets.join(" + "), req.steps),
    };
    emit(&format!("{} {what}; checkpoint and curve.svg in {}\n", meta.algo.name(), out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab offline-rl eval`.
pub fn offline_rl_eval(
    checkpoint: &std::path::Path,
    env: &str,
    episodes: usize,
    seed: u64,
    json: bool,
) -> Result<ExitCode> {
    registry::existing_path(checkpoint)?;
    let s = offline_rl::tools::eval_command(checkpoint, env, episodes, seed)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string(&s)?))?;
    } else {
        emit(&format!(
            "{} on {}: mean return {:.2} +- {:.2} over {} episodes, normalised score {:.1} (0 = {:.1}, 100 = {:.1})\n",
            s.algo, s.env, s.mean_return, s.std_return, s.episodes, s.normalised_score, s.references.0, s.references.1
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The arguments of `reprolab distill-backdoor distill`, as typed.
#[derive(clap::Args, Debug)]
pub struct DistillArgs {
    /// MNIST/Fashion-MNIST IDX or CIFAR-10 binary folder (default: the embedded digits).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// dc (gradient matching) or dm (distribution matching).
    #[arg(long, default_value = "dc")]
    pub method: String,
    /// Synthetic images per class.
    #[arg(long, default_value_t = 10)]
    pub ipc: usize,
    /// none, naive (NAIVEATTACK) or doorping.
    #[arg(long, default_value = "none")]
    pub attack: String,
    /// Share of the training images poisoned.
    #[arg(long, default_value_t = 0.01)]
    pub ratio: f64,
    /// Distillation iterations (default: the quick preset's, 25 for DC and 200 for DM).
    #[arg(long)]
    pub iterations: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (default: runs/<UTC timestamp>-distill-backdoor).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `reprolab distill-backdoor distill`.
pub fn distill_backdoor_distill(a: DistillArgs) -> Result<ExitCode> {
    use distill_backdoor::attack::AttackKind;
    use distill_backdoor::distill::Method;
    let method = match a.method.as_str() {
        "dc" => Method::Dc,
        "dm" => Method::Dm,
        m => reprolab_core::user_bail!("--method must be dc or dm, got '{m}'"),
    };
    let attack = match a.attack.as_str() {
        "none" => AttackKind::None,
        "naive" => AttackKind::Naive,
        "doorping" => AttackKind::Doorping,
        k => reprolab_core::user_bail!("--attack must be none, naive or doorping, got '{k}'"),
    };
    if let Some(d) = &a.data {
        registry::existing_path(d)?;
    }
    let out = a.out.unwrap_or_else(|| distill_backdoor::tools::default_out(&now_rfc3339()));
    let set = distill_backdoor::tools::distill_command(&distill_backdoor::tools::DistillRequest {
        data_dir: a.data,
        method,
        ipc: a.ipc,
        attack,
        ratio: a.ratio,
        iterations: a.iterations,
        seed: a.seed,
        out: out.clone(),
    })?;
    emit(&format!(
        "{} {} on {}: {} images per class written to {} (final matching loss {:.3})\n",
        method.name(),
        attack.name(),
        set.data,
        set.ipc,
        out.display(),
        set.loss.last().copied().unwrap_or(f64::NAN)
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab distill-backdoor evaluate`.
pub fn distill_backdoor_evaluate(
    synthetic: &std::path::Path,
    data: Option<&std::path::Path>,
    networks: usize,
    json: bool,
) -> Result<ExitCode> {
    registry::existing_path(synthetic)?;
    let (set, m) = distill_backdoor::tools::evaluate_command(synthetic, data, networks)?;
    if json {
        let obj = serde_json::json!({
            "data": set.data,
            "method": set.method,
            "attack": set.attack.kind,
            "networks": networks.max(1),
            "cta": m.cta,
            "asr": m.asr,
            "asr_with_target": m.asr_with_target,
        });
        emit(&format!("{obj}\n"))?;
    } else {
        emit(&format!(
            "{} {} on {}, {} fresh networks: CTA {:.3}, ASR {:.3} (incl. target-class images {:.3})\n",
            set.method.name(),
            set.attack.kind.name(),
            set.data,
            networks.max(1),
            m.cta,
            m.asr,
            m.asr_with_target
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
