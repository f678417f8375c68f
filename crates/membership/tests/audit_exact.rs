//! The audit on a user's own outputs: rounded probabilities keep their
//! exact ties (AUC = the Mann-Whitney count), readings on too few
//! non-members are flagged, per-example-variance LiRA is skipped when an
//! example has too few shadows on a side, and population rows feed RMIA.

use membership::audit::{MIN_NON_MEMBERS, audit};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// 90 examples, 3 classes, probabilities in hundredths: `p_y` from
/// {0.4, ..., 0.9}, the rest split between the other two classes in
/// varied ways, so many examples share `p_y` with different other classes.
fn rounded_rows() -> Vec<(usize, [u32; 3], bool)> {
    (0..90)
        .map(|i| {
            let y = i % 3;
            let py = [40, 50, 60, 70, 80, 90][(i * 7) % 6];
            let rest = 100 - py;
            let a = (rest * ((i as u32 * 5) % 7) / 6).min(rest);
            let mut p = [0; 3];
            p[y] = py;
            let others: Vec<usize> = (0..3).filter(|&c| c != y).collect();
            p[others[0]] = a;
            p[others[1]] = rest - a;
            let member = (i * 11) % 5 < if py < 70 { 2 } else { 3 };
            (y, p, member)
        })
        .collect()
}

fn csv_of(rows: &[(usize, [u32; 3], bool)]) -> String {
    let mut text = String::from("id,label,member,prob_0,prob_1,prob_2\n");
    for (i, (y, p, m)) in rows.iter().enumerate() {
        let prob = |v: u32| format!("{}.{:02}", v / 100, v % 100);
        text += &format!("{i},{y},{},{},{},{}\n", u8::from(*m), prob(p[0]), prob(p[1]), prob(p[2]));
    }
    text
}

/// The exact Mann-Whitney AUC of `p_y` (in hundredths): pairs where the
/// member's value is higher, ties counting one half.
fn mann_whitney(rows: &[(usize, [u32; 3], bool)]) -> f64 {
    let (mut u, mut pairs) = (0.0, 0.0);
    for (y, p, _) in rows.iter().filter(|r| r.2) {
        for (y2, p2, _) in rows.iter().filter(|r| !r.2) {
            let (a, b) = (p[*y], p2[*y2]);
            u += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
            pairs += 1.0;
        }
    }
    u / pairs
}

/// Through log-probabilities in f32 and a softmax (the old path) rows
/// with the same `p_y` got slightly different confidences and the AUC came
/// out 0.5807 instead of 0.6.
#[test]
fn rounded_probabilities_keep_exact_ties_so_auc_is_the_mann_whitney_count() {
    let d = tempfile::tempdir().unwrap();
    let rows = rounded_rows();
    let input = write(d.path(), "rounded.csv", &csv_of(&rows));
    let report = audit(&input, &[], &d.path().join("out")).unwrap();
    let want = mann_whitney(&rows);
    assert!((want - 0.6).abs() < 1e-12, "{want}");
    for attack in ["confidence", "loss"] {
        let auc = report.attacks[attack].auc;
        assert!((auc - want).abs() < 1e-12, "{attack}: AUC {auc} vs Mann-Whitney {want}");
    }
}

#[test]
fn tpr_at_low_fpr_on_fewer_than_1000_non_members_is_flagged() {
    let d = tempfile::tempdir().unwrap();
    let input = write(d.path(), "small.csv", &csv_of(&rounded_rows()));
    let out = d.path().join("out");
    let report = audit(&input, &[], &out).unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("rests on 45 non-members, fewer than 1000"), "{:?}", report.warnings);
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("**Warning:** TPR@0.1%FPR rests on 45 non-members"), "{summary}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(json["warnings"][0].as_str().unwrap().contains("45 non-members"));

    // 1,000 non-members: no warning
    let mut text = String::from("id,label,member,logit_0,logit_1\n");
    for i in 0..(MIN_NON_MEMBERS + 200) {
        let member = i >= MIN_NON_MEMBERS;
        text += &format!("{i},{},{},{},0\n", i % 2, u8::from(member), (i % 17) as f64 * 0.1);
    }
    let big = write(d.path(), "big.csv", &text);
    let report = audit(&big, &[], &d.path().join("out2")).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

/// A target and `k` shadows on 40 examples of two classes; shadow `s`
/// trains on example `i` when `(i + s) % k < k / 2`, so every example has
/// `k / 2` IN and `k / 2` OUT shadows. Logits depend on membership.
fn with_shadows(dir: &Path, k: usize, population: &[usize]) -> (PathBuf, Vec<PathBuf>) {
    let row = |i: usize, member: bool| {
        let z = (i % 7) as f64 * 0.2 + if member { 1.0 } else { 0.0 };
        (i % 2, z)
    };
    let is_pop = |i: usize| population.contains(&i);
    let mut text = String::from("id,label,member,population,logit_0,logit_1\n");
    for i in 0..40 {
        let member = !is_pop(i) && i % 3 == 0;
        let (y, z) = row(i, member);
        let (a, b) = if y == 0 { (z, 0.0) } else { (0.0, z) };
        text += &format!("e{i},{y},{},{},{a},{b}\n", u8::from(member), u8::from(is_pop(i)));
    }
    let input = write(dir, "target.csv", &text);
    let shadows = (0..k)
        .map(|s| {
            let mut text = String::from("id,label,member,logit_0,logit_1\n");
            for i in 0..40 {
                let member = !is_pop(i) && (i + s) % k < k / 2;
                let (y, z) = row(i, member);
                let (a, b) = if y == 0 { (z, 0.0) } else { (0.0, z) };
                text += &format!("e{i},{y},{},{a},{b}\n", u8::from(member));
            }
            write(dir, &format!("shadow{s}.csv"), &text)
        })
        .collect();
    (input, shadows)
}

#[test]
fn per_example_lira_needs_two_in_and_two_out_shadows_per_example() {
    let d = tempfile::tempdir().unwrap();
    let (input, shadows) = with_shadows(d.path(), 2, &[]);
    let report = audit(&input, &shadows, &d.path().join("two")).unwrap();
    for name in ["lira_online", "lira_offline", "lira_offline_one_sided"] {
        let why = &report.skipped[name];
        assert!(why.contains("at least 2") && why.contains("1 IN and 1 OUT"), "{name}: {why}");
        assert!(!report.attacks.contains_key(name), "{name}");
    }
    for name in ["lira_online_fixed_variance", "lira_offline_fixed_variance", "lira_offline_one_sided_fixed_variance"] {
        assert!(report.attacks.contains_key(name), "{name} runs with fixed variance");
    }

    let (input, shadows) = with_shadows(d.path(), 4, &[]);
    let report = audit(&input, &shadows, &d.path().join("four")).unwrap();
    for name in ["lira_online", "lira_offline", "lira_offline_one_sided", "rmia", "rmia_offline"] {
        assert!(report.attacks.contains_key(name), "{name}: skipped {:?}", report.skipped.get(name));
    }
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    // the per-class thresholds of all five metric attacks
    for name in ["loss", "confidence", "entropy", "modified_entropy", "correctness"] {
        assert!(report.attacks.contains_key(&format!("{name}_per_class")), "{name}_per_class");
    }
}

#[test]
fn population_rows_are_rmia_samples_and_are_not_scored() {
    let d = tempfile::tempdir().unwrap();
    let population: Vec<usize> = (30..40).collect();
    let (input, shadows) = with_shadows(d.path(), 4, &population);
    let out = d.path().join("out");
    let report = audit(&input, &shadows, &out).unwrap();
    assert_eq!((report.n_examples, report.n_population), (30, 10));
    assert!(report.notes.iter().any(|n| n.contains("against the 10 population rows")), "{:?}", report.notes);
    let scored = csv::Reader::from_path(out.join("scores.csv")).unwrap().records().count();
    assert_eq!(scored, 30);
    // without population rows RMIA says it compared each example with the others
    let (input, shadows) = with_shadows(d.path(), 4, &[]);
    let report = audit(&input, &shadows, &d.path().join("loo")).unwrap();
    assert!(
        report.notes.iter().any(|n| n.contains("the other 39 audited examples (itself excluded)")),
        "{:?}",
        report.notes
    );

    // a population row some shadow trained on is a user error naming the file
    let (input, mut shadows) = with_shadows(d.path(), 4, &population);
    let text = std::fs::read_to_string(&shadows[0]).unwrap().replace("e35,1,0,", "e35,1,1,");
    shadows[0] = write(d.path(), "bad-shadow.csv", &text);
    let err = audit(&input, &shadows, &d.path().join("bad")).unwrap_err();
    assert!(reprolab_core::is_user_error(&err), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("bad-shadow.csv: id 'e35' is in the audited file's population but member = 1"), "{msg}");
}
