//! RELIANT's claim checked at laptop scale: a student distilled from a
//! GNN teacher inherits the teacher's bias, and RELIANT removes much of it
//! at little accuracy cost, whatever the student's architecture.
//!
//! # The paper's claim
//!
//! Dong et al. (SDM 2023) report that a student distilled from a GNN
//! teacher inherits, and can exaggerate, the teacher's bias, and that
//! RELIANT (distillation plus a differentiable disparity regulariser, see
//! [`crate::reliant::reliant_loss`]) reduces the student's bias while
//! keeping its utility, independently of the teacher's and the student's
//! architecture. Bias is measured on the test nodes, for a binary label y
//! and a binary sensitive attribute s:
//!
//! - delta SP = |P(yhat = 1 | s = 0) - P(yhat = 1 | s = 1)|,
//! - delta EO = |P(yhat = 1 | y = 1, s = 0) - P(yhat = 1 | y = 1, s = 1)|,
//!
//! with accuracy, AUC and F1 for utility.
//!
//! Anchor numbers (the official code's README, one seed; accuracy / delta
//! SP / delta EO, SP objective): credit with a GraphSAGE teacher and the
//! CPF student, teacher 0.781 / 0.142 / 0.115, RELIANT student
//! 0.780 / 0.025 / 0.017; bail with a GCN teacher and the CPF student,
//! teacher 0.923 / 0.062 / 0.023, RELIANT student 0.893 / 0.057 / 0.023.
//!
//! # The experiment
//!
//! Datasets: the embedded synthetic graph (ours, [`crate::data::synthetic`])
//! and, with a data directory, the paper's bail (18,876 nodes; sensitive
//! WHITE, label RECID) and credit (30,000 nodes; sensitive Age, label
//! NoDefaultNextMonth) from `fairgraph/bail.csv` and `fairgraph/credit.csv`
//! under `--data` or `$REPROLAB_DATA`, their edges rebuilt with the
//! official rule ([`crate::graph`]), their features scaled as
//! [`crate::data::FeatureScaling`] says (bail row-normalised as the official
//! `normalize`; credit standardised, ours) and split with the official sizes ([`crate::data::SplitConfig`]: bail 30 /
//! 20 / 50 per class, credit at most 500 training nodes per class).
//! Teachers: 2-layer GCN and GraphSAGE. Students: MLP, 1-hop SGC and a
//! PLP-style label propagation (ours: the paper distils into CPF and
//! GraphAKD students), each kept at its best validation epoch. Arms per
//! (dataset, teacher, student): the teacher, the vanilla KD student,
//! RELIANT-SP and RELIANT-EO in the official configuration (the regulariser
//! with the learnable proxy) at each alpha of the grid (presets: 100, 1000,
//! 10000, the official CPF default 1e3 and a decade either side), and both
//! objectives at `ablation_alpha` without the proxy (the ablation).
//!
//! # The rule (written before the run)
//!
//! Judged on the real datasets only; the synthetic graph, whose label
//! itself depends on s (so parity must cost accuracy there), is a reported
//! stress case, not judged.
//!
//! 1. Bias is inherited: on at least one real dataset, some vanilla
//!    student's test delta SP is at least its teacher's.
//! 2. RELIANT works for every student: on every real dataset, for every
//!    teacher, student and objective (SP: delta SP, EO: delta EO), alpha is
//!    chosen on validation (seed means: the lowest validation gap among the
//!    alphas whose validation accuracy is at most 2 points below the
//!    vanilla student's; if none is, the highest validation accuracy), and
//!    that alpha's test gap must be at most half the vanilla student's at
//!    no more than 2 points of test accuracy lost. A vanilla gap under
//!    0.02 is already fair: the case passes when RELIANT's gap stays under
//!    0.02 at no more than 2 points of accuracy lost.
//! 3. The no-proxy ablation and the synthetic graph are reported, not
//!    judged.
//!
//! All on seed means. Supported when (1) and (2) hold. Preconditions (ours,
//! else inconclusive): a real dataset was run; every real dataset has at
//! least 3 seeds; (1) counts only teachers whose delta SP exceeds 2
//! standard errors of a zero gap on the test nodes (SE = sqrt(q (1 - q)
//! (1/n0 + 1/n1)), q the pooled positive rate, n0 and n1 the group sizes;
//! mean of the per-seed SEs) and needs one such teacher; a case of (2) with
//! a vanilla gap of 0.02 or more is measurable when that gap exceeds 4
//! such SEs (already-fair cases have an absolute target and are always
//! measurable). Not supported when (1) fails with a measurably biased
//! teacher or a measurable case of (2) fails.
//!
//! Ours, not the paper's: the synthetic graph and its 50/25/25 split, the
//! per-seed shuffles of the official split sizes, the PLP-style student,
//! the teacher's predicted labels in R_EO on unlabelled nodes (the official
//! code reads the true labels there), the alpha grid's ends, the seed
//! counts, the validation choice of alpha, the 0.02 floor and the
//! preconditions.
//!
//! # How it runs
//!
//! A map over units and a reduce: one unit per (graph, teacher, seed), the
//! synthetic graph with every run seed, then (with a data directory) bail
//! and credit with their first `seeds` run seeds each. A unit builds its
//! graph (the synthetic one from the run's first seed: one dataset for all
//! seeds), trains the teacher on the seed's split and distils every
//! student and arm from it; it returns the test metrics as the table and,
//! as its data, the validation metrics of every student arm (what alpha is
//! chosen on) and the zero-gap standard errors of its teacher and vanilla
//! students. [`summarise`] chooses alpha on validation, judges the real
//! datasets on the seed means and draws the figures.

use crate::data::{FairGraph, FeatureScaling, NodeSplit, SplitConfig, SyntheticConfig, from_csv, synthetic};
use crate::reliant::{DistillConfig, DistillSetup, Metrics, Objective, StudentSpec, distill, metrics};
use crate::students::StudentKind;
use crate::teachers::{
    GraphTensors, TeacherConfig, TeacherInputs, TeacherKind, init_gcn, init_sage, positive_probability, train_teacher,
};
use anyhow::Result;
use reprolab_core::cli::Commands;
use reprolab_core::plan::{Outputs, Resources, Unit, UnitOutput};
use reprolab_core::registry::{Method, RunContext, Validate};
use reprolab_core::report::plot::{Bars, grouped_bars};
use reprolab_core::report::{Cell, Report, Results, Verdict};
use reprolab_core::rng::derive_seed;
use serde::{Deserialize, Serialize};

mod figures;

pub const CLAIM: &str = "A student distilled from a GNN teacher inherits the teacher's bias; RELIANT cuts the student's bias while keeping its utility, whatever the student's architecture.";
const RULE: &str = "Written before the run, from the paper's claim and the official code. RELIANT is the official configuration: the regulariser with the learnable proxy. Judged on the real datasets (bail, credit) only; the synthetic graph, whose label itself depends on s, is a reported stress case. (1) Bias is inherited: on at least one real dataset, some vanilla student's test delta SP is at least its teacher's. (2) RELIANT works for every student: on every real dataset, for every teacher, student and objective (SP: delta SP, EO: delta EO), alpha is chosen on validation (seed means: the lowest validation gap among the alphas whose validation accuracy is at most 2 points below the vanilla student's; if none is, the highest validation accuracy), and its test gap must be at most half the vanilla student's at no more than 2 points of test accuracy lost; a vanilla gap under 0.02 is already fair and the case passes when RELIANT's gap stays under 0.02 at no more than 2 points of accuracy lost. Supported when (1) and (2) hold. (3) The regulariser without the proxy (an ablation) and the synthetic graph are reported, not judged. Preconditions (else inconclusive): a real dataset was run; every real dataset has at least 3 seeds; (1) counts only teachers whose delta SP exceeds 2 standard errors of a zero gap on the test nodes (SE = sqrt(q(1-q)(1/n0+1/n1)), q the pooled positive rate, n0 and n1 the group sizes; mean of the per-seed SEs), and needs one such teacher; a case of (2) with a vanilla gap of 0.02 or more is measurable when it exceeds 4 such SEs (so half of it is still 2 SEs above zero); already-fair cases are always measurable. Not supported when (1) fails with a measurably biased teacher or a measurable case of (2) fails; supported only when (1) holds and every case of (2) is measurable and passes.";

/// The registry entry.
pub const METHOD: Method = Method {
    name: "fair-kd",
    about: None,
    claim: CLAIM,
    units,
    run_unit,
    summarise,
    resources: Resources::SMALL,
    complete: true,
    commands: Some(
        Commands::of::<crate::cli::Command>("Paper 10 tools: group-fairness gaps of a classifier's predictions.")
            .with_fixtures(crate::fixtures::fixtures),
    ),
    export: None,
};

/// A real benchmark: its CSV under the data directory and the teachers run on it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealDataset {
    /// The CSV file under `<data>/fairgraph/` (paper: bail.csv and
    /// credit.csv); the graph is named after its stem.
    pub file: String,
    /// The 0/1 label column (paper: RECID for bail, NoDefaultNextMonth for
    /// credit).
    pub label: String,
    /// The 0/1 sensitive column (paper: WHITE for bail, Age for credit).
    pub sensitive: String,
    /// The edge rule's threshold in (0, 1]: node i keeps j when their
    /// similarity exceeds thresh times i's largest (official loaders: 0.6
    /// for bail, 0.7 for credit).
    pub thresh: f64,
    /// Teachers run on this graph (paper's anchors: GCN on bail, GraphSAGE
    /// on credit); empty: the graph is only built and described.
    pub teachers: Vec<TeacherKind>,
    /// Seeds on this dataset, the run's first n, at least 1 (paper: one
    /// seed in the official README; ours 3).
    pub seeds: usize,
    /// The split sizes (official: bail train 0.3, validation 0.2; credit
    /// train 0.5 capped at 500 per class, validation 0.25).
    pub split: SplitConfig,
    /// How the features are scaled after the edges are built (official
    /// bail: `normalize`, row sums; credit: standardised, ours, see
    /// [`FeatureScaling`]).
    pub features: FeatureScaling,
}

impl Validate for RealDataset {
    fn validate(&self) -> Result<()> {
        for (name, v) in [("file", &self.file), ("label", &self.label), ("sensitive", &self.sensitive)] {
            anyhow::ensure!(!v.is_empty(), "{name} must not be empty");
        }
        anyhow::ensure!(self.thresh > 0.0 && self.thresh <= 1.0, "thresh must be in (0, 1], got {}", self.thresh);
        no_duplicates("teachers", &self.teachers)?;
        anyhow::ensure!(self.seeds >= 1, "seeds must be at least 1, got {}", self.seeds);
        within("split", self.split.validate())
    }
}

/// Every setting of the experiment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The embedded synthetic graph (ours; the paper has none).
    pub synthetic: SyntheticConfig,
    /// Teachers run on the synthetic graph, at least one (paper: GCN and
    /// GraphSAGE; ours both).
    pub synthetic_teachers: Vec<TeacherKind>,
    /// The real benchmarks, used when a data directory is given (paper:
    /// bail and credit; may be empty).
    pub real: Vec<RealDataset>,
    /// Student architectures, at least one (paper: CPF and GraphAKD
    /// students; ours MLP, SGC and PLP).
    pub students: Vec<StudentKind>,
    /// The grid of regulariser weights alpha of RELIANT (regulariser +
    /// proxy), at least one, each > 0 (official default 1e3 with the CPF
    /// student, the scale of its un-averaged Frobenius distillation loss;
    /// ours 100, 1000, 10000). Alpha is chosen on validation.
    pub alphas: Vec<f64>,
    /// Alpha of the no-proxy ablation (the regulariser alone), positive
    /// (ours 1000, the official default).
    pub ablation_alpha: f64,
    /// The teachers' size and training.
    pub teacher: TeacherConfig,
    /// The students' size and training.
    pub student: DistillConfig,
}

impl Validate for Config {
    fn validate(&self) -> Result<()> {
        within("synthetic", self.synthetic.validate())?;
        anyhow::ensure!(!self.synthetic_teachers.is_empty(), "synthetic_teachers must list at least one teacher");
        no_duplicates("synthetic_teachers", &self.synthetic_teachers)?;
        for (i, r) in self.real.iter().enumerate() {
            within(&format!("real[{i}]"), r.validate())?;
        }
        anyhow::ensure!(!self.students.is_empty(), "students must list at least one student");
        no_duplicates("students", &self.students)?;
        anyhow::ensure!(!self.alphas.is_empty(), "alphas must list at least one alpha");
        for a in &self.alphas {
            anyhow::ensure!(a.is_finite() && *a > 0.0, "alphas must be positive numbers, got {a}");
        }
        no_duplicates("alphas", &self.alphas)?;
        anyhow::ensure!(
            self.ablation_alpha.is_finite() && self.ablation_alpha > 0.0,
            "ablation_alpha must be a positive number, got {}",
            self.ablation_alpha
        );
        within("teacher", self.teacher.validate())?;
        within("student", self.student.validate())
    }
}

/// A nested config's error with its field path in front ("teacher.epochs ...").
fn within(path: &str, checked: Result<()>) -> Result<()> {
    checked.map_err(|e| anyhow::anyhow!("{path}.{e:#}"))
}

/// An error naming `field` when `items` lists a value twice.
fn no_duplicates<T: PartialEq + std::fmt::Debug>(field: &str, items: &[T]) -> Result<()> {
    for (i, item) in items.iter().enumerate() {
        anyhow::ensure!(!items[..i].contains(item), "{field} lists {item:?} twice");
    }
    Ok(())
}

fn record(out: &mut UnitOutput, arm: &str, dataset: &str, m: &Metrics) {
    for (metric, v) in
        [("accuracy", m.accuracy), ("AUC", m.auc), ("F1", m.f1), ("delta SP", m.delta_sp), ("delta EO", m.delta_eo)]
    {
        out.record(arm, &format!("{dataset} {metric}"), v);
    }
}

/// Trains a teacher of `kind` on `split` (seeded by `seed`) and returns its
/// P(y = 1) of every node; `log` as in [`train_teacher`] (the experiment
/// passes none).
pub(crate) fn teacher_probability(
    g: &FairGraph,
    split: &NodeSplit,
    kind: TeacherKind,
    cfg: &TeacherConfig,
    seed: u64,
    log: Option<crate::teachers::StepLog>,
) -> Result<Vec<f32>> {
    let plain = reprolab_core::device::default_device();
    let ad = plain.clone().autodiff();
    ad.seed(derive_seed(seed, "teacher"));
    let (graph, eval) = (GraphTensors::new(g, &ad)?, GraphTensors::new(g, &plain)?);
    let inputs = TeacherInputs { graph: g, train_graph: &graph, eval_graph: &eval, split };
    let label = format!("{} teacher on {}", kind.name(), g.name);
    Ok(match kind {
        TeacherKind::Gcn => {
            positive_probability(&train_teacher(init_gcn(g.d, cfg, &ad), &inputs, cfg, &label, log)?, &eval)
        }
        TeacherKind::Sage => {
            positive_probability(&train_teacher(init_sage(g.d, cfg, &ad), &inputs, cfg, &label, log)?, &eval)
        }
    })
}

fn arm(teacher: TeacherKind, student: Option<StudentKind>, what: &str) -> String {
    match student {
        None => format!("{} teacher", teacher.name()),
        Some(s) => format!("{} -> {}: {what}", teacher.name(), s.name()),
    }
}

/// The arm of RELIANT in the official configuration (regulariser + proxy).
fn reliant_arm(objective: Objective, alpha: f64) -> String {
    format!("{} alpha {alpha}", objective_name(objective))
}

/// The ablation arm: the regulariser without the proxy.
fn ablation_arm(objective: Objective, alpha: f64) -> String {
    format!("{} alpha {alpha}, no proxy", objective_name(objective))
}

fn objective_name(o: Objective) -> &'static str {
    match o {
        Objective::None => "vanilla KD",
        Objective::Sp => "RELIANT-SP",
        Objective::Eo => "RELIANT-EO",
    }
}

/// Fewest seeds per dataset for a verdict: the rule compares seed means,
/// and a mean over fewer than 3 seeds has no usable spread (the full preset runs 5).
const MIN_SEEDS: usize = 3;
/// A teacher is measurably biased when its delta SP exceeds this many
/// standard errors of a zero gap: two SEs, the usual two-sided 5% level.
/// The SE is a per-seed one and is not divided by sqrt(seeds): a gap is an
/// absolute value, so under a zero true gap each seed's gap is half-normal
/// with mean 0.8 SE and the seed mean stays near 0.8 SE however many seeds
/// there are.
const TEACHER_SE: f64 = 2.0;
/// A case of rule (2) is measurable when the vanilla student's gap exceeds
/// this many SEs of a zero gap: then the halving target (half the gap) is
/// still two SEs above zero, so a student with no true gap at all (the best
/// RELIANT can do) measures below the target in at least 95% of seeds;
/// below it, whether the case passes is decided by test-set noise.
const HALVING_SE: f64 = 4.0;

/// Standard errors of a zero delta SP and a zero delta EO of the hard
/// predictions `p >= 0.5` on nodes `idx`: sqrt(q (1 - q) (1/n0 + 1/n1)),
/// q the pooled positive rate, n0 and n1 the sizes of the two groups (for
/// EO, among the truly positive). NaN when a group is empty.
pub(crate) fn zero_gap_se(g: &FairGraph, p: &[f32], idx: &[usize]) -> (f64, f64) {
    let se = |nodes: &mut dyn Iterator<Item = usize>| {
        let (mut n, mut pos) = ([0usize; 2], 0usize);
        for i in nodes {
            n[usize::from(g.sensitive[i])] += 1;
            pos += usize::from(p[i] >= 0.5);
        }
        if n[0] == 0 || n[1] == 0 {
            return f64::NAN;
        }
        let q = pos as f64 / (n[0] + n[1]) as f64;
        (q * (1.0 - q) * (1.0 / n[0] as f64 + 1.0 / n[1] as f64)).sqrt()
    };
    (se(&mut idx.iter().copied()), se(&mut idx.iter().copied().filter(|&i| g.labels[i])))
}

/// The zero-gap standard errors of one arm (the teacher or a vanilla
/// student) in one unit: what the preconditions compare gaps with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Floor {
    dataset: String,
    arm: String,
    #[serde(with = "reprolab_core::plan::json_f64")]
    sp: f64,
    #[serde(with = "reprolab_core::plan::json_f64")]
    eo: f64,
}

/// The validation metrics of one student arm in one unit: what alpha is
/// chosen on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ValidationRow {
    dataset: String,
    arm: String,
    #[serde(with = "reprolab_core::plan::json_f64")]
    accuracy: f64,
    #[serde(with = "reprolab_core::plan::json_f64")]
    delta_sp: f64,
    #[serde(with = "reprolab_core::plan::json_f64")]
    delta_eo: f64,
}

/// A unit's method-specific data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UnitData {
    floors: Vec<Floor>,
    validation: Vec<ValidationRow>,
}

/// Rule (1) for one (dataset, teacher, student): seed means.
#[derive(Debug, Clone)]
pub(crate) struct Inheritance {
    pub case: String,
    pub teacher_sp: f64,
    /// Mean over seeds of the teacher's zero-gap SE of delta SP.
    pub teacher_se: f64,
    pub vanilla_sp: f64,
}

/// Rule (2) for one (dataset, teacher, student, objective): seed means.
#[derive(Debug, Clone)]
pub(crate) struct Halving {
    /// E.g. "bail GCN->MLP RELIANT-SP".
    pub case: String,
    /// "delta SP" or "delta EO".
    pub metric: &'static str,
    pub vanilla_gap: f64,
    /// Mean over seeds of the vanilla student's zero-gap SE of `metric`.
    pub vanilla_se: f64,
    /// The alpha chosen on validation and its test gap and accuracy drop
    /// (vanilla minus RELIANT).
    pub alpha: f64,
    pub gap: f64,
    pub accuracy_drop: f64,
}

/// Accuracy RELIANT may lose against the vanilla student: 2 points.
const ACCURACY_TOLERANCE: f64 = 0.02;
/// A vanilla gap under this is already fair (the absolute floor of rule
/// (2)): halving a gap of a point or two is below what the test sets
/// resolve, and RELIANT need only keep it small.
const FAIR_FLOOR: f64 = 0.02;

impl Halving {
    /// The vanilla gap is under [`FAIR_FLOOR`].
    fn already_fair(&self) -> bool {
        self.vanilla_gap < FAIR_FLOOR
    }

    /// The case's test target: half the vanilla gap, or the floor when the
    /// vanilla student is already fair.
    fn target(&self) -> f64 {
        if self.already_fair() { FAIR_FLOOR } else { self.vanilla_gap / 2.0 }
    }

    /// Rule (2) for this case, on the test metrics of the chosen alpha.
    fn passed(&self) -> bool {
        let gap_ok = if self.already_fair() { self.gap < FAIR_FLOOR } else { self.gap <= self.target() };
        gap_ok && self.accuracy_drop <= ACCURACY_TOLERANCE
    }

    /// Whether the case can decide: already fair (an absolute target), or a
    /// vanilla gap above [`HALVING_SE`] zero-gap SEs.
    fn measurable(&self) -> bool {
        self.already_fair() || self.vanilla_gap > HALVING_SE * self.vanilla_se
    }

    /// One line of the report: chosen alpha, gaps and accuracy drop.
    fn line(&self) -> String {
        format!(
            "{} alpha {} {} {:.3} vs vanilla {:.3} (target {:.3}{}), accuracy drop {:.3}: {}",
            self.case,
            self.alpha,
            self.metric,
            self.gap,
            self.vanilla_gap,
            self.target(),
            if self.already_fair() { ", already fair" } else { "" },
            self.accuracy_drop,
            if self.passed() { "passed" } else { "failed" }
        )
    }
}

/// The alpha chosen on validation from `(alpha, validation accuracy,
/// validation gap)` seed means: the lowest gap among those whose accuracy
/// is at most [`ACCURACY_TOLERANCE`] below the vanilla student's
/// `vanilla_accuracy`; if none is, the highest accuracy. Ties go to the
/// first in grid order. `None` for an empty grid.
pub(crate) fn choose_alpha(grid: &[(f64, f64, f64)], vanilla_accuracy: f64) -> Option<f64> {
    let within = grid.iter().filter(|c| c.1 >= vanilla_accuracy - ACCURACY_TOLERANCE);
    let best_gap = within.fold(None::<&(f64, f64, f64)>, |b, c| match b {
        Some(b) if b.2 <= c.2 => Some(b),
        _ => Some(c),
    });
    let best_accuracy = || {
        grid.iter().fold(None::<&(f64, f64, f64)>, |b, c| match b {
            Some(b) if b.1 >= c.1 => Some(b),
            _ => Some(c),
        })
    };
    best_gap.or_else(best_accuracy).map(|c| c.0)
}

const DECIDE: &str = "run `reprolab run fair-kd --preset full --jobs 2 --data DIR` (or --executor slurm)";

/// The verdict from rules (1) and (2) and their preconditions (see RULE),
/// over the real datasets' `seeds` and cases (the synthetic graph's are
/// not passed here).
pub(crate) fn judge(seeds: &[(String, usize)], inheritance: &[Inheritance], halving: &[Halving]) -> Verdict {
    if seeds.is_empty() {
        return Verdict::inconclusive(
            RULE,
            format!(
                "precondition failed: no real dataset was run (the rule judges bail and credit only). To decide, {DECIDE}."
            ),
        );
    }
    let biased = |i: &&Inheritance| i.teacher_sp > TEACHER_SE * i.teacher_se;
    let inherited: Vec<String> = inheritance
        .iter()
        .filter(biased)
        .filter(|i| i.vanilla_sp >= i.teacher_sp)
        .map(|i| format!("{} ({:.3} vs teacher {:.3})", i.case, i.vanilla_sp, i.teacher_sp))
        .collect();
    let any_biased = inheritance.iter().any(|i| biased(&i));
    let failed: Vec<&Halving> = halving.iter().filter(|h| !h.passed()).collect();
    let failed_measurable = failed.iter().filter(|h| h.measurable()).count();
    let unmeasurable: Vec<String> = halving
        .iter()
        .filter(|h| !h.measurable())
        .map(|h| {
            format!(
                "{} vanilla {} {:.3} vs {HALVING_SE} SE {:.3}{}",
                h.case,
                h.metric,
                h.vanilla_gap,
                HALVING_SE * h.vanilla_se,
                if h.passed() { " (passed)" } else { " (failed)" }
            )
        })
        .collect();
    let evidence = format!(
        "(1) bias inherited: {}; (2) {}",
        if inherited.is_empty() {
            "no vanilla student reaches the delta SP of a measurably biased teacher".to_string()
        } else {
            inherited.join(", ")
        },
        if failed.is_empty() {
            format!(
                "every student's bias halved (or kept under {FAIR_FLOOR} where already fair) within 2 points of accuracy at the alpha chosen on validation ({} cases)",
                halving.len()
            )
        } else {
            let names = |m: bool| {
                let v: Vec<&str> = failed.iter().filter(|h| h.measurable() == m).map(|h| h.case.as_str()).collect();
                if v.is_empty() { "none".to_string() } else { v.join(", ") }
            };
            format!(
                "failed at the alpha chosen on validation for {} of the {} cases, {failed_measurable} of them measurable ({}), the others with a vanilla gap under {HALVING_SE} SE ({})",
                failed.len(),
                halving.len(),
                names(true),
                names(false)
            )
        }
    );
    let few: Vec<String> =
        seeds.iter().filter(|(_, k)| *k < MIN_SEEDS).map(|(ds, k)| format!("{ds} has {k}")).collect();
    if !few.is_empty() {
        return Verdict::inconclusive(
            RULE,
            format!(
                "precondition failed: fewer than {MIN_SEEDS} seeds ({}). Measured: {evidence}. To decide, {DECIDE}.",
                few.join(", ")
            ),
        );
    }
    if (any_biased && inherited.is_empty()) || failed_measurable > 0 {
        return Verdict::from_rule(false, RULE, evidence);
    }
    let mut why = Vec::new();
    if !any_biased {
        why.push(format!(
            "no teacher's delta SP exceeds {TEACHER_SE} SE of a zero gap ({})",
            inheritance
                .iter()
                .map(|i| format!("{} teacher {:.3} vs {:.3}", i.case, i.teacher_sp, TEACHER_SE * i.teacher_se))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !unmeasurable.is_empty() {
        why.push(format!(
            "{} of the {} cases of (2) have a vanilla gap below {HALVING_SE} SE of a zero gap: {}",
            unmeasurable.len(),
            halving.len(),
            unmeasurable.join(", ")
        ));
    }
    if why.is_empty() {
        Verdict::from_rule(true, RULE, evidence)
    } else {
        Verdict::inconclusive(
            RULE,
            format!("precondition failed: {}. Measured: {evidence}. To decide, {DECIDE}.", why.join("; ")),
        )
    }
}

/// One graph of the plan: the synthetic one or a real benchmark (its index
/// in `Config::real`), the teachers run on it and its seeds.
struct GraphPlan {
    name: String,
    real: Option<usize>,
    teachers: Vec<TeacherKind>,
    seeds: Vec<u64>,
}

impl GraphPlan {
    /// The part name of the unit of `teacher` on this graph (`None`: a real
    /// graph without teachers, whose one unit only builds the graph).
    fn part(&self, teacher: Option<TeacherKind>) -> String {
        match teacher {
            Some(t) => format!("{}-{}", self.name, t.name().to_lowercase()),
            None => self.name.clone(),
        }
    }

    /// The teachers as unit parts (`[None]` when there are none).
    fn teacher_parts(&self) -> Vec<Option<TeacherKind>> {
        if self.teachers.is_empty() { vec![None] } else { self.teachers.iter().copied().map(Some).collect() }
    }
}

/// The graphs in run order, from the config and the data directory alone
/// (nothing is loaded): the synthetic graph with every run seed, then each
/// real benchmark with its first `seeds` run seeds when a data directory is
/// given.
fn graph_plan(cfg: &Config, ctx: &RunContext) -> Vec<GraphPlan> {
    let mut graphs = vec![GraphPlan {
        name: "synthetic".into(),
        real: None,
        teachers: cfg.synthetic_teachers.clone(),
        seeds: ctx.seeds.clone(),
    }];
    if ctx.data_dir().is_some() {
        for (i, r) in cfg.real.iter().enumerate() {
            // `from_csv` names the graph after the file's stem.
            let name = std::path::Path::new(&r.file)
                .file_stem()
                .map_or_else(|| "graph".into(), |s| s.to_string_lossy().to_string());
            let n_seeds = r.seeds.min(ctx.seeds.len()).max(1);
            graphs.push(GraphPlan {
                name,
                real: Some(i),
                teachers: r.teachers.clone(),
                seeds: ctx.seeds.iter().copied().take(n_seeds).collect(),
            });
        }
    }
    graphs
}

/// The map: one unit per (graph, teacher, seed), graph outer, then teacher,
/// then seed (the tables replay in that order, which gives the same arm,
/// metric and per-seed value order as one loop over seeds and teachers).
/// Parts are `synthetic-gcn`, `bail-gcn`, `credit-sage`, ...
pub fn units(ctx: &RunContext) -> Result<Vec<Unit>> {
    let cfg: Config = ctx.config()?;
    let mut units: Vec<Unit> = Vec::new();
    for g in graph_plan(&cfg, ctx) {
        if let Some(i) = g.real {
            ctx.data_path(&format!("fairgraph/{}", cfg.real[i].file))?;
        }
        for t in g.teacher_parts() {
            let part = g.part(t);
            if units.iter().any(|u| u.key.part == part) {
                reprolab_core::user_bail!(
                    "fair-kd: '{part}' appears twice in the config (graph and teacher names must be unique)"
                );
            }
            // A real graph without teachers has one unit (its note and edges).
            let seeds = if t.is_some() { &g.seeds[..] } else { &g.seeds[..1] };
            units.extend(seeds.iter().map(|&seed| Unit::main(part.clone(), seed)));
        }
    }
    Ok(units)
}

/// One (graph, teacher, seed): build the graph (the synthetic one from the
/// run's first seed, as one dataset for all seeds), split it with the seed,
/// train the teacher and distil every student and arm from it. The graph's
/// first unit also notes a real graph's statistics and writes its edge list
/// to the output directory.
pub fn run_unit(ctx: &RunContext, unit: &Unit) -> Result<UnitOutput> {
    let cfg: Config = ctx.config()?;
    let seed = unit.key.seed;
    let graphs = graph_plan(&cfg, ctx);
    let Some((plan, teacher)) =
        graphs.iter().find_map(|g| g.teacher_parts().into_iter().find(|&t| g.part(t) == unit.key.part).map(|t| (g, t)))
    else {
        anyhow::bail!("fair-kd: no unit part '{}' in this config", unit.key.part);
    };
    let first = seed == plan.seeds[0] && teacher == plan.teacher_parts()[0];
    let mut out = UnitOutput::default();
    let g = match plan.real {
        None => synthetic(&cfg.synthetic, ctx.seeds[0])?,
        Some(i) => {
            let r = &cfg.real[i];
            let path = ctx.data_path(&format!("fairgraph/{}", r.file))?;
            let clock = std::time::Instant::now();
            let g = from_csv(&path, &r.label, &r.sensitive, r.thresh, r.features)?;
            if first {
                let stats = crate::graph::degree_stats(g.n, &g.edges);
                out.note(format!(
                    "{}: {} nodes, {} undirected edges (thresh {}), mean degree {:.1}, median {}, max {}, {} isolated; built in {:.1} s.",
                    g.name, stats.nodes, stats.edges, r.thresh, stats.mean, stats.median, stats.max, stats.isolated, clock.elapsed().as_secs_f64()
                ));
                write_edges(&g, &ctx.out_dir.join(format!("{}-edges.csv", g.name)))?;
            }
            g
        }
    };
    let Some(t) = teacher else { return Ok(out) };
    let ds = g.name.as_str();
    // The official split sizes on a real graph, ours (50 / 25 / 25) on the synthetic one.
    let split = match plan.real {
        Some(i) => g.split_with(&cfg.real[i].split, seed)?,
        None => g.split(seed)?,
    };
    tracing::info!(dataset = ds, seed, teacher = t.name(), "distilling");
    let tp = teacher_probability(&g, &split, t, &cfg.teacher, seed, None)?;
    let mut data = UnitData::default();
    let mut floor = |arm: String, p: &[f32]| {
        let (sp, eo) = zero_gap_se(&g, p, &split.test);
        data.floors.push(Floor { dataset: ds.to_string(), arm, sp, eo });
    };
    record(&mut out, &arm(t, None, ""), ds, &metrics(&g, &tp, &split.test)?);
    floor(arm(t, None, ""), &tp);
    let setup = DistillSetup { graph: &g, split: &split, teacher_p: &tp, config: &cfg.student };
    let mut validation = Vec::new();
    let mut keep = |arm: String, d: &crate::reliant::Distilled| {
        let m = &d.validation;
        validation.push(ValidationRow {
            dataset: ds.to_string(),
            arm,
            accuracy: m.accuracy,
            delta_sp: m.delta_sp,
            delta_eo: m.delta_eo,
        });
    };
    for &s in &cfg.students {
        let run = |objective: Objective, alpha: f64, proxy: bool| {
            distill(&setup, &StudentSpec { kind: s, objective, alpha, proxy }, derive_seed(seed, "student"))
        };
        let vanilla = run(Objective::None, 0.0, false)?;
        let name = arm(t, Some(s), "vanilla KD");
        record(&mut out, &name, ds, &vanilla.metrics);
        floor(name.clone(), &vanilla.probability);
        keep(name, &vanilla);
        for objective in [Objective::Sp, Objective::Eo] {
            // RELIANT as the official code runs it: regulariser + proxy.
            for &alpha in &cfg.alphas {
                let d = run(objective, alpha, true)?;
                let name = arm(t, Some(s), &reliant_arm(objective, alpha));
                record(&mut out, &name, ds, &d.metrics);
                keep(name, &d);
            }
            let d = run(objective, cfg.ablation_alpha, false)?;
            let name = arm(t, Some(s), &ablation_arm(objective, cfg.ablation_alpha));
            record(&mut out, &name, ds, &d.metrics);
            keep(name, &d);
        }
    }
    data.validation = validation;
    out.with_data(&data)
}

/// What the units returned beside the table, per (dataset, arm) and one
/// value per seed: the zero-gap standard errors (what the preconditions
/// compare gaps with) and the validation metrics (what alpha is chosen on).
#[derive(Default)]
struct UnitTables {
    floors: std::collections::BTreeMap<(String, String), (Vec<f64>, Vec<f64>)>,
    validation: std::collections::BTreeMap<(String, String), [Vec<f64>; 3]>,
}

impl UnitTables {
    /// The tables the units returned.
    fn from_outputs(outputs: &Outputs) -> Result<Self> {
        let mut tables = Self::default();
        for (unit, out) in &outputs.units {
            if out.data.is_null() {
                continue; // a real graph's unit without a teacher
            }
            let data: UnitData = out.data().map_err(|e| {
                anyhow::anyhow!(
                    "fair-kd: unit '{}' has no test-group or validation data ({e}); rerun it with a fresh --out",
                    unit.key
                )
            })?;
            for f in data.floors {
                let entry = tables.floors.entry((f.dataset, f.arm)).or_default();
                entry.0.push(f.sp);
                entry.1.push(f.eo);
            }
            for v in data.validation {
                let entry = tables.validation.entry((v.dataset, v.arm)).or_default();
                entry[0].push(v.accuracy);
                entry[1].push(v.delta_sp);
                entry[2].push(v.delta_eo);
            }
        }
        Ok(tables)
    }

    /// Mean over seeds of the SE of a zero delta SP (`eo` false) or delta
    /// EO of `arm` on `ds`; NaN when the units returned none.
    fn se(&self, ds: &str, arm: &str, eo: bool) -> f64 {
        self.floors
            .get(&(ds.to_string(), arm.to_string()))
            .map_or(f64::NAN, |(sp, e)| reprolab_core::stats::mean(if eo { e } else { sp }))
    }

    /// Seed means of `arm`'s validation accuracy and gap (delta EO when
    /// `eo`) on `ds`; an error naming the arm when the units returned none.
    fn validation(&self, ds: &str, arm: &str, eo: bool) -> Result<(f64, f64)> {
        let Some(v) = self.validation.get(&(ds.to_string(), arm.to_string())) else {
            anyhow::bail!("fair-kd: no validation metrics for '{arm}' on {ds}; rerun with a fresh --out");
        };
        let mean = reprolab_core::stats::mean;
        Ok((mean(&v[0]), mean(if eo { &v[2] } else { &v[1] })))
    }
}

/// What rules (1) and (2) and the notes read from the results: the real
/// datasets' cases (judged) and the synthetic graph's (the stress case).
#[derive(Default)]
struct Cases {
    inheritance: Vec<Inheritance>,
    halving: Vec<Halving>,
    stress_inheritance: Vec<Inheritance>,
    stress_halving: Vec<Halving>,
    /// Per teacher: its delta SP vs 2 SE of a zero gap, as text.
    teacher_floors: Vec<String>,
    /// Per (teacher, student, objective): RELIANT (with the proxy) vs the
    /// regulariser alone at `ablation_alpha`, as text.
    ablation_lines: Vec<String>,
}

/// The cases of the rule from the seed means of `results` and the units'
/// validation metrics; a missing cell is an error naming it.
fn read_cases(cfg: &Config, graphs: &[GraphPlan], results: &Results, tables: &UnitTables) -> Result<Cases> {
    let mut cases = Cases::default();
    for g in graphs {
        let ds = g.name.as_str();
        let mean =
            |arm: &str, metric: &str| -> Result<f64> { Ok(results.require(arm, &format!("{ds} {metric}"))?.mean) };
        for &t in &g.teachers {
            let teacher_sp = mean(&arm(t, None, ""), "delta SP")?;
            let teacher_se = tables.se(ds, &arm(t, None, ""), false);
            cases.teacher_floors.push(format!("{ds} {} {teacher_sp:.3} vs {:.3}", t.name(), TEACHER_SE * teacher_se));
            for &s in &cfg.students {
                let vanilla = arm(t, Some(s), "vanilla KD");
                let (v_acc, v_sp, v_eo) =
                    (mean(&vanilla, "accuracy")?, mean(&vanilla, "delta SP")?, mean(&vanilla, "delta EO")?);
                let case = format!("{ds} {}->{}", t.name(), s.name());
                let inheritance = Inheritance { case: case.clone(), teacher_sp, teacher_se, vanilla_sp: v_sp };
                for (objective, metric, base) in [(Objective::Sp, "delta SP", v_sp), (Objective::Eo, "delta EO", v_eo)]
                {
                    let eo = objective == Objective::Eo;
                    let v_val_acc = tables.validation(ds, &vanilla, eo)?.0;
                    let grid = cfg
                        .alphas
                        .iter()
                        .map(|&alpha| {
                            let (acc, gap) =
                                tables.validation(ds, &arm(t, Some(s), &reliant_arm(objective, alpha)), eo)?;
                            Ok((alpha, acc, gap))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let alpha = choose_alpha(&grid, v_val_acc).expect("the grid has at least one alpha");
                    let chosen = arm(t, Some(s), &reliant_arm(objective, alpha));
                    let halving = Halving {
                        case: format!("{case} {}", objective_name(objective)),
                        metric,
                        vanilla_gap: base,
                        vanilla_se: tables.se(ds, &vanilla, eo),
                        alpha,
                        gap: mean(&chosen, metric)?,
                        accuracy_drop: v_acc - mean(&chosen, "accuracy")?,
                    };
                    if g.real.is_some() { &mut cases.halving } else { &mut cases.stress_halving }.push(halving);
                    let with = arm(t, Some(s), &reliant_arm(objective, cfg.ablation_alpha));
                    let without = arm(t, Some(s), &ablation_arm(objective, cfg.ablation_alpha));
                    // The ablation compares with RELIANT at the same alpha,
                    // when the grid has it.
                    if results.cell(&with, &format!("{ds} {metric}")).is_some() {
                        cases.ablation_lines.push(format!(
                            "{ds} {}->{} {}: {metric} {:.3} with the proxy vs {:.3} without, accuracy {:.3} vs {:.3}",
                            t.name(),
                            s.name(),
                            objective_name(objective),
                            mean(&with, metric)?,
                            mean(&without, metric)?,
                            mean(&with, "accuracy")?,
                            mean(&without, "accuracy")?,
                        ));
                    }
                }
                if g.real.is_some() { &mut cases.inheritance } else { &mut cases.stress_inheritance }.push(inheritance);
            }
        }
    }
    Ok(cases)
}

/// The reduce: alpha chosen on validation, the real datasets judged on the
/// seed means (rules (1) and (2)), the no-proxy ablation and the synthetic
/// stress case as notes, and the figures.
pub fn summarise(ctx: &RunContext, outputs: &Outputs) -> Result<Report> {
    let cfg: Config = ctx.config()?;
    let graphs = graph_plan(&cfg, ctx);
    let results = outputs.results("");
    let mut notes = outputs.notes();
    if ctx.data_dir().is_none() {
        notes.push(
            "No data directory: only the synthetic graph (pass --data or set REPROLAB_DATA for bail and credit)."
                .into(),
        );
    }
    let tables = UnitTables::from_outputs(outputs)?;
    let Cases { inheritance, halving, stress_inheritance, stress_halving, teacher_floors, ablation_lines } =
        read_cases(&cfg, &graphs, &results, &tables)?;
    let seeds: Vec<(String, usize)> = graphs
        .iter()
        .filter(|g| g.real.is_some() && !g.teachers.is_empty())
        .map(|g| (g.name.clone(), g.seeds.len()))
        .collect();
    let verdict = judge(&seeds, &inheritance, &halving);
    if !halving.is_empty() {
        notes.push(format!(
            "Rule (2), alpha chosen on validation: {}.",
            halving.iter().map(Halving::line).collect::<Vec<_>>().join("; ")
        ));
    }
    notes.push(format!(
        "Stress case, not judged (the synthetic graph, whose label depends on s): bias inherited in {} of {} cases ({}); {}.",
        stress_inheritance.iter().filter(|i| i.vanilla_sp >= i.teacher_sp).count(),
        stress_inheritance.len(),
        stress_inheritance
            .iter()
            .map(|i| format!("{} {:.3} vs teacher {:.3}", i.case, i.vanilla_sp, i.teacher_sp))
            .collect::<Vec<_>>()
            .join(", "),
        stress_halving.iter().map(Halving::line).collect::<Vec<_>>().join("; ")
    ));
    notes.push(format!(
        "Noise floors (mean over seeds of the per-seed standard error of a zero gap on the test nodes): teachers' delta SP vs 2 SE: {}; vanilla gaps vs 4 SE: {}.",
        teacher_floors.join(", "),
        halving
            .iter()
            .chain(&stress_halving)
            .map(|h| format!("{} {} {:.3} vs {:.3}", h.case, h.metric, h.vanilla_gap, HALVING_SE * h.vanilla_se))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // The bias bars: the first graph's first teacher, every student.
    let first = &graphs[0].name;
    let groups: Vec<String> = cfg.students.iter().map(|s| s.name().to_string()).collect();
    let t0 = graphs[0].teachers[0];
    let delta_sp = format!("{first} delta SP");
    let bar = |what: &str| -> Result<Bars> {
        let cells: Vec<&Cell> =
            cfg.students.iter().map(|&s| results.require(&arm(t0, Some(s), what), &delta_sp)).collect::<Result<_>>()?;
        Ok(Bars {
            name: what.to_string(),
            mean: cells.iter().map(|c| c.mean).collect(),
            std: cells.iter().map(|c| c.std).collect(),
        })
    };
    let teacher_bar = Bars {
        name: format!("{} teacher", t0.name()),
        mean: vec![results.require(&arm(t0, None, ""), &delta_sp)?.mean; groups.len()],
        std: vec![0.0; groups.len()],
    };
    let best_alpha = cfg.alphas.iter().copied().fold(f64::NAN, f64::max);
    let bars = vec![teacher_bar, bar("vanilla KD")?, bar(&format!("RELIANT-SP alpha {best_alpha}"))?];
    let tradeoff = figures::tradeoff(&cfg, &graphs, &results)?;
    let mut report = ctx
        .report(results, verdict)
        .figure(
            "tradeoff",
            "Test accuracy vs delta SP, one panel per dataset (mean over seeds): per teacher and student (colour), a line from the vanilla KD student (square) through RELIANT-SP at each alpha (circles, labelled with alpha); crosses: the teachers. Lower right is better.",
            tradeoff,
        )
        .figure(
            "bias-bars",
            &format!("delta SP on {first}: teacher vs vanilla student vs RELIANT-SP (regulariser + proxy, alpha {best_alpha}), mean and std over seeds."),
            grouped_bars(&format!("delta SP on {first}"), "delta SP", &groups, &bars)?,
        );
    for n in notes {
        report = report.note(n);
    }
    Ok(report.note(format!(
        "Ablation, the regulariser without the proxy (alpha {}): {}.",
        cfg.ablation_alpha,
        ablation_lines.join("; ")
    )))
}

/// The rebuilt edge list, cached next to the run output.
fn write_edges(g: &FairGraph, path: &std::path::Path) -> Result<()> {
    reprolab_core::report::write_atomic(path, |w| {
        use std::io::Write;
        writeln!(w, "source,target")?;
        for (a, b) in &g.edges {
            writeln!(w, "{a},{b}")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprolab_core::report::Outcome;

    fn inheritance(teacher_sp: f64, teacher_se: f64, vanilla_sp: f64) -> Inheritance {
        Inheritance { case: "g GCN->MLP".into(), teacher_sp, teacher_se, vanilla_sp }
    }

    /// A case whose chosen alpha halves the vanilla gap within the
    /// accuracy tolerance (`passed`) or leaves it as it was.
    fn halving(case: &str, vanilla_gap: f64, vanilla_se: f64, passed: bool) -> Halving {
        let gap = if passed { vanilla_gap / 2.0 } else { vanilla_gap };
        Halving {
            case: case.into(),
            metric: "delta SP",
            vanilla_gap,
            vanilla_se,
            alpha: 1000.0,
            gap,
            accuracy_drop: 0.0,
        }
    }

    fn case(vanilla_gap: f64, gap: f64, accuracy_drop: f64) -> Halving {
        Halving { case: "c".into(), metric: "delta SP", vanilla_gap, vanilla_se: 0.001, alpha: 1.0, gap, accuracy_drop }
    }

    /// Rule (2)'s pass and fail cases, at and around its edges.
    #[test]
    fn rule_two_halves_the_gap_or_keeps_an_already_fair_gap_under_the_floor() {
        // Halving: at most half the vanilla gap, at most 2 points of accuracy lost.
        assert!(case(0.10, 0.05, 0.02).passed());
        assert!(!case(0.10, 0.051, 0.0).passed(), "not halved");
        assert!(!case(0.10, 0.01, 0.021).passed(), "too much accuracy lost");
        // Already fair (vanilla under 0.02): passes while the gap stays under 0.02.
        assert!(case(0.015, 0.015, 0.0).passed(), "not halved, but already fair");
        assert!(case(0.005, 0.019, 0.01).passed());
        assert!(!case(0.015, 0.02, 0.0).passed(), "RELIANT made it unfair");
        assert!(!case(0.015, 0.0, 0.03).passed(), "fair, but at 3 points of accuracy");
        // Just above the floor the halving applies (0.021 / 2 = 0.0105).
        assert!(!case(0.021, 0.015, 0.0).passed());
        assert_eq!(case(0.021, 0.0, 0.0).target(), 0.0105);
        // An already-fair case is measurable whatever its SE; others need 4 SE.
        let mut c = case(0.015, 0.0, 0.0);
        c.vanilla_se = 0.1;
        assert!(c.measurable());
        let mut c = case(0.05, 0.0, 0.0);
        c.vanilla_se = 0.02;
        assert!(!c.measurable(), "0.05 is under 4 SE = 0.08");
    }

    /// Alpha is chosen on validation: the lowest validation gap among the
    /// alphas within 2 points of the vanilla student's validation accuracy,
    /// else the most accurate; the test metrics play no part.
    #[test]
    fn alpha_is_chosen_on_validation() {
        // (alpha, validation accuracy, validation gap); vanilla accuracy 0.80.
        let grid = [(100.0, 0.80, 0.05), (1000.0, 0.785, 0.02), (10000.0, 0.70, 0.0)];
        assert_eq!(choose_alpha(&grid, 0.80), Some(1000.0), "10000 is fairest but 10 points less accurate");
        assert_eq!(choose_alpha(&grid, 0.81), Some(100.0), "only 100 is within 2 points of 0.81");
        assert_eq!(choose_alpha(&grid, 0.90), Some(100.0), "none within 2 points: the most accurate");
        assert_eq!(choose_alpha(&[(10.0, 0.8, 0.01), (20.0, 0.8, 0.01)], 0.8), Some(10.0), "ties: grid order");
        assert_eq!(choose_alpha(&[], 0.8), None);
    }

    #[test]
    fn every_preset_validates() {
        use reprolab_core::registry::{Preset, preset_config};
        for preset in Preset::ALL {
            let cfg: Config = preset_config("fair-kd", preset).unwrap_or_else(|e| panic!("{}: {e:#}", preset.name()));
            assert_eq!(cfg.students, [StudentKind::Mlp, StudentKind::Sgc, StudentKind::Plp]);
        }
    }

    #[test]
    fn a_bad_value_in_a_config_file_is_a_user_error_naming_the_field() {
        use reprolab_core::registry::Preset;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        for (text, field) in [
            ("ablation_alpha = -1.0\n", "ablation_alpha must be a positive number, got -1"),
            ("alphas = [0.0]\n", "alphas must be positive numbers, got 0"),
            ("[teacher.optimizer]\nkind = \"adam\"\nlr = 0.0\n", "teacher.optimizer.lr must be a positive number"),
            (
                "[synthetic]\nnodes = 5\nfeatures = 8\ndegree_same = 8.0\ndegree_other = 1.0\nlabel_bias = 0.8\n",
                "synthetic.nodes must be at least 20, got 5",
            ),
            ("alphas = []\n", "alphas must list at least one alpha"),
            ("students = [\"mlp\", \"mlp\"]\n", "students lists Mlp twice"),
            (
                "[[real]]\nfile = \"bail.csv\"\nlabel = \"RECID\"\nsensitive = \"WHITE\"\nthresh = 1.5\nteachers = []\nseeds = 1\nsplit = { train = 0.3, validation = 0.2 }\nfeatures = \"row-normalise\"\n",
                "real[0].thresh must be in (0, 1], got 1.5",
            ),
            (
                "[[real]]\nfile = \"bail.csv\"\nlabel = \"RECID\"\nsensitive = \"WHITE\"\nthresh = 0.6\nteachers = []\nseeds = 1\nsplit = { train = 0.3, validation = 0.8 }\nfeatures = \"row-normalise\"\n",
                "real[0].split.validation must be positive with train + validation < 1, got 0.8",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let err =
                RunContext::with_config_file(&METHOD, Preset::Smoke, &file).unwrap().config::<Config>().unwrap_err();
            assert!(reprolab_core::is_user_error(&err), "{err:#}");
            let text = format!("{err:#}");
            assert!(text.contains("bad.toml") && text.contains(field), "{text}");
        }
    }

    #[test]
    fn the_zero_gap_standard_error_by_hand() {
        // 6 test nodes: s = 0 for nodes 0..4 (4 nodes), s = 1 for 4..6 (2);
        // labels 1 on nodes 0, 1, 4; predictions positive on 0, 2, 4.
        let g = FairGraph {
            name: "t".into(),
            features: vec![0.0; 6],
            n: 6,
            d: 1,
            labels: vec![true, true, false, false, true, false],
            sensitive: vec![false, false, false, false, true, true],
            edges: vec![],
        };
        let p = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3];
        let (sp, eo) = zero_gap_se(&g, &p, &[0, 1, 2, 3, 4, 5]);
        // SP: q = 3/6, sqrt(0.25 (1/4 + 1/2)); EO: positives 0, 1 (s=0), 4 (s=1), q = 2/3.
        assert!((sp - (0.25f64 * 0.75).sqrt()).abs() < 1e-12, "{sp}");
        assert!((eo - (2.0f64 / 9.0 * 1.5).sqrt()).abs() < 1e-12, "{eo}");
        // An empty group: no standard error.
        assert!(zero_gap_se(&g, &p, &[0, 1, 2]).0.is_nan());
    }

    #[test]
    fn the_verdict_needs_seeds_a_biased_teacher_and_measurable_gaps() {
        let seeds = |k| vec![("g".to_string(), k)];
        let biased = [inheritance(0.30, 0.05, 0.32)];
        let good = [halving("g GCN->MLP RELIANT-SP", 0.30, 0.05, true)];
        // Everything measurable and passing: supported.
        assert_eq!(judge(&seeds(5), &biased, &good).outcome, Outcome::Supported);
        // One seed: inconclusive whatever the numbers, with the command that decides.
        let v = judge(&seeds(1), &biased, &good);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.evidence.contains("fewer than 3 seeds (g has 1)"), "{}", v.evidence);
        assert!(v.evidence.ends_with("(or --executor slurm)."), "{}", v.evidence);
        // A measurable failure: not supported.
        let bad = [halving("g GCN->MLP RELIANT-SP", 0.30, 0.05, false)];
        assert_eq!(judge(&seeds(5), &biased, &bad).outcome, Outcome::NotSupported);
        // A failure whose vanilla gap (0.15) is under 4 SE (0.20): inconclusive, numbers named.
        let noisy = [good[0].clone(), halving("g GCN->SGC RELIANT-SP", 0.15, 0.05, false)];
        let v = judge(&seeds(5), &biased, &noisy);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(
            v.evidence.contains("g GCN->SGC RELIANT-SP vanilla delta SP 0.150 vs 4 SE 0.200 (failed)"),
            "{}",
            v.evidence
        );
        // ... but a measurable failure next to it still decides.
        let mixed = [bad[0].clone(), noisy[1].clone()];
        assert_eq!(judge(&seeds(5), &biased, &mixed).outcome, Outcome::NotSupported);
        // A teacher whose gap (0.08) is under 2 SE (0.10): (1) cannot be judged.
        let v = judge(&seeds(5), &[inheritance(0.08, 0.05, 0.09)], &good);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(
            v.evidence.contains("no teacher's delta SP exceeds 2 SE of a zero gap (g GCN->MLP teacher 0.080 vs 0.100)"),
            "{}",
            v.evidence
        );
        // A biased teacher that no student reaches: (1) fails, not supported.
        assert_eq!(judge(&seeds(5), &[inheritance(0.30, 0.05, 0.20)], &good).outcome, Outcome::NotSupported);
        // Missing numbers (NaN) never count as measurable.
        let v = judge(&seeds(5), &biased, &[halving("g GCN->MLP RELIANT-SP", 0.30, f64::NAN, true)]);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        // No real dataset (the synthetic graph is never judged): inconclusive.
        let v = judge(&[], &[], &[]);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.evidence.contains("no real dataset was run"), "{}", v.evidence);
        // An already-fair vanilla gap (0.01) that stays under 0.02 passes even
        // with a huge SE; one that RELIANT pushes to 0.03 is a measurable failure.
        let fair = Halving { gap: 0.012, ..halving("g GCN->SGC RELIANT-SP", 0.01, 0.05, false) };
        assert_eq!(judge(&seeds(5), &biased, &[good[0].clone(), fair.clone()]).outcome, Outcome::Supported);
        let unfair = Halving { gap: 0.03, ..fair };
        assert_eq!(judge(&seeds(5), &biased, &[good[0].clone(), unfair]).outcome, Outcome::NotSupported);
    }
}
