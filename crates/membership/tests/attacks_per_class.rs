//! Class-wise thresholds calibrated on shadows (Song & Mittal 2021) for
//! every metric attack, on a toy case one global threshold cannot separate:
//! class 0 members have p_y 0.95 and its non-members 0.80, class 1 members
//! 0.75 and its non-members 0.60. A global threshold ranks class 1's
//! members below class 0's non-members (AUC 3/4); per-class thresholds
//! tau_0 = 0.95 and tau_1 = 0.75 separate both classes (AUC 1).

use membership::attacks::{METRICS, class_thresholds, metric, metric_per_class};
use membership::audit::audit;
use membership::shadow::ModelOutputs;
use reprolab_core::metrics::roc_auc;

/// p_y of example `j` (label `j % 2`) for a model that did or did not train on it.
fn p_y(j: usize, member: bool) -> f64 {
    match (j % 2, member) {
        (0, true) => 0.95,
        (0, false) => 0.80,
        (_, true) => 0.75,
        (_, false) => 0.60,
    }
}

/// Model `m` trains on example `j` when `(j / 2 + m) % 2 == 0`: every
/// model has members and non-members of both classes.
fn member(m: usize, j: usize) -> bool {
    (j / 2 + m).is_multiple_of(2)
}

const MODELS: usize = 5;
const EXAMPLES: usize = 24;

fn outputs() -> ModelOutputs {
    let mut logits = Vec::new();
    let mut members = Vec::new();
    for m in 0..MODELS {
        for j in 0..EXAMPLES {
            let p = p_y(j, member(m, j));
            let z = (p / (1.0 - p)).ln() as f32;
            // softmax([z, 0])[0] = p for label 0; [0, z] for label 1
            logits.extend(if j % 2 == 0 { [z, 0.0] } else { [0.0, z] });
            members.push(member(m, j));
        }
    }
    ModelOutputs {
        n_models: MODELS,
        n_examples: EXAMPLES,
        n_classes: 2,
        logits,
        members,
        labels: (0..EXAMPLES).map(|j| j % 2).collect(),
        robustness: vec![],
        n_queries: 0,
        query_logits: vec![],
    }
}

#[test]
fn class_wise_thresholds_separate_what_one_global_threshold_cannot() {
    let o = outputs();
    let target_members: Vec<bool> = (0..EXAMPLES).map(|j| member(0, j)).collect();
    let conf = METRICS[1].1;
    let taus = class_thresholds(&o, 0, conf);
    assert!((taus[0] - 0.95).abs() < 1e-6 && (taus[1] - 0.75).abs() < 1e-6, "{taus:?}");
    // loss, confidence, entropy and modified entropy are all monotone in p_y here (p_y > 0.5, two classes)
    for (name, stat) in &METRICS[..4] {
        let global = roc_auc(&target_members, &metric(&o, 0, *stat)).unwrap();
        let per_class = roc_auc(&target_members, &metric_per_class(&o, 0, *stat)).unwrap();
        assert!((global - 0.75).abs() < 1e-12, "{name}: global AUC {global}");
        assert!((per_class - 1.0).abs() < 1e-12, "{name}: per-class AUC {per_class}");
    }
}

/// The audit reports the class-wise variant of all five metric attacks
/// (before, only the loss had one).
#[test]
fn the_audit_reports_class_wise_thresholds_for_all_five_metric_attacks() {
    let d = tempfile::tempdir().unwrap();
    let file = |m: usize| {
        let mut text = String::from("id,label,member,prob_0,prob_1\n");
        for j in 0..EXAMPLES {
            let p = p_y(j, member(m, j));
            let (p0, p1) = if j % 2 == 0 { (p, 1.0 - p) } else { (1.0 - p, p) };
            text += &format!("x{j},{},{},{p0:.2},{p1:.2}\n", j % 2, u8::from(member(m, j)));
        }
        let path = d.path().join(format!("model{m}.csv"));
        std::fs::write(&path, text).unwrap();
        path
    };
    let shadows: Vec<_> = (1..MODELS).map(file).collect();
    let report = audit(&file(0), &shadows, &d.path().join("out")).unwrap();
    for name in ["loss", "confidence", "entropy", "modified_entropy"] {
        let global = report.attacks[name].auc;
        let per_class = report.attacks[&format!("{name}_per_class")].auc;
        assert!((global - 0.75).abs() < 1e-12, "{name}: {global}");
        assert!((per_class - 1.0).abs() < 1e-12, "{name}_per_class: {per_class}");
    }
    // every prediction is correct, so correctness carries no signal either way
    assert!((report.attacks["correctness_per_class"].auc - 0.5).abs() < 1e-12);
}
