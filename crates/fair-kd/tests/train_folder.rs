//! `reprolab fair-kd train`'s output folder: config.toml, report.json and
//! metrics.jsonl beside predictions.csv; a used folder is refused unless
//! `--overwrite`; and the logged run trains what the experiment's code
//! path (no log) trains.

use fair_kd::cli::Command;
use fair_kd::experiment::Config;
use fair_kd::reliant::{DistillSetup, Objective, StudentSpec, distill};
use fair_kd::students::StudentKind;
use fair_kd::teachers::{GraphTensors, TeacherInputs, init_gcn, positive_probability, train_teacher};
use reprolab_core::cli::MethodCli;
use reprolab_core::registry::{Preset, preset_config};
use reprolab_core::run_folder::TrainRecord;
use reprolab_core::train::MetricsLog;
use reprolab_core::train::metrics_log::MetricRecord;
use std::path::Path;
use std::sync::Mutex;

/// burn's random generator is one per process: tests that seed it and
/// compare runs take turns.
static RNG: Mutex<()> = Mutex::new(());

/// A 60-node graph: two features, the label follows the first and leans
/// on s; a ring with chords.
fn write_graph(dir: &Path) -> (String, String) {
    let mut nodes = String::from("id,x,z,s,y\n");
    for i in 0..60 {
        let s = i % 2;
        let x = (i as f32 / 6.0).sin() + 0.4 * s as f32;
        nodes += &format!("n{i},{x},{},{s},{}\n", (i % 7) as f32 / 7.0, u8::from(x > 0.2));
    }
    let mut edges = String::from("a,b\n");
    for i in 0..60 {
        edges += &format!("n{i},n{}\nn{i},n{}\n", (i + 1) % 60, (i + 7) % 60);
    }
    let (n, e) = (dir.join("nodes.csv"), dir.join("edges.csv"));
    std::fs::write(&n, nodes).unwrap();
    std::fs::write(&e, edges).unwrap();
    (n.display().to_string(), e.display().to_string())
}

fn train(graph: &(String, String), args: &[&str]) -> anyhow::Result<()> {
    let base = ["train", "--label", "y", "--sensitive", "s", "--nodes", &graph.0, "--edges", &graph.1];
    let cmd: Command = reprolab_core::cli::parse(&[&base[..], args].concat()).unwrap();
    cmd.run().map(|_| ())
}

/// `(step, value)` of every record named `name`.
fn series(records: &[MetricRecord], name: &str) -> Vec<(usize, f64)> {
    records.iter().filter(|r| r.name == name).map(|r| (r.step, r.value.expect("a finite value"))).collect()
}

fn steps(records: &[MetricRecord], name: &str) -> Vec<usize> {
    series(records, name).into_iter().map(|s| s.0).collect()
}

/// Every file under `dir` (the checkpoints under `resume/` included), by
/// path relative to `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, all: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, all);
            } else {
                let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                all.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut all = Vec::new();
    walk(dir, dir, &mut all);
    all.sort();
    all
}

/// Column `name` of predictions.csv as f32.
fn column(path: &Path, name: &str) -> Vec<f32> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let k = reader.headers().unwrap().iter().position(|h| h == name).unwrap();
    reader.records().map(|r| r.unwrap()[k].parse().unwrap()).collect()
}

#[test]
fn train_writes_its_settings_metrics_and_record_and_refuses_a_used_folder() {
    let _turn = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let graph = write_graph(tmp.path());
    let out = tmp.path().join("run");
    let o = out.to_str().unwrap();
    train(&graph, &["--objective", "sp", "--alpha", "10", "--proxy", "--seed", "2", "--out", o]).unwrap();

    let config: toml::Table = std::fs::read_to_string(out.join("config.toml")).unwrap().parse().unwrap();
    assert_eq!(config["teacher"].as_str(), Some("gcn"));
    assert_eq!((config["student"].as_str(), config["objective"].as_str()), (Some("mlp"), Some("sp")));
    assert_eq!((config["alpha"].as_float(), config["alpha_used"].as_float()), (Some(10.0), Some(10.0)));
    assert_eq!((config["proxy"].as_bool(), config["seed"].as_integer()), (Some(true), Some(2)));
    assert_eq!(config["nodes"].as_str(), Some(graph.0.as_str()));
    assert_eq!(config["preset"].as_str(), Some("quick"));
    assert_eq!(config["teacher_training"]["epochs"].as_integer(), Some(200), "the quick preset's teacher");
    assert_eq!(config["teacher_training"]["optimizer"]["kind"].as_str(), Some("adam"));
    assert_eq!(config["student_training"]["hidden"].as_integer(), Some(64));

    let record = TrainRecord::read(&out).unwrap();
    assert_eq!(
        (record.method.as_str(), record.command.as_str(), record.seeds.as_slice()),
        ("fair-kd", "train", &[2][..])
    );
    assert!(record.provenance.finished.is_some(), "the run finished");
    assert_eq!((record.result["nodes"].as_u64(), record.result["edges"].as_u64()), (Some(60), Some(120)));
    for model in ["teacher", "student"] {
        for metric in ["accuracy", "auc", "delta_sp"] {
            let v = record.result[model][metric].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{model} {metric}: {v}");
        }
    }
    let predictions = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(predictions.lines().count(), 61);
    // about a quarter of the nodes are test nodes, as predictions.csv marks them
    let test_rows = predictions.lines().filter(|l| l.split(',').nth(3) == Some("test")).count() as u64;
    assert_eq!(record.result["test_nodes"].as_u64(), Some(test_rows));
    assert!((14..=16).contains(&test_rows), "{test_rows}");

    let records = MetricsLog::read(&out.join("metrics.jsonl")).unwrap();
    assert_eq!(series(&records, "teacher/lr"), vec![(0, 0.01)]);
    assert_eq!(steps(&records, "teacher/loss"), (0..200).collect::<Vec<_>>(), "one step per teacher epoch");
    assert_eq!(steps(&records, "teacher/eval/validation_accuracy"), (1..=200).collect::<Vec<_>>());
    assert!(series(&records, "teacher/eval/validation_accuracy").iter().all(|&(_, a)| (0.0..=1.0).contains(&a)));
    let teacher = series(&records, "teacher/loss");
    assert!(teacher[199].1 < teacher[0].1, "the teacher learns: {} -> {}", teacher[0].1, teacher[199].1);
    // the student's epochs follow the teacher's
    assert_eq!(series(&records, "student/lr"), vec![(200, 0.01)]);
    // The quick preset's student epochs (E) follow the teacher's 200 steps.
    let e = preset_config::<Config>("fair-kd", Preset::Quick).unwrap().student.epochs;
    // The validation accuracy of the state after each step (1..=E).
    assert_eq!(steps(&records, "student/eval/validation_accuracy"), (201..=200 + e).collect::<Vec<_>>());
    for name in ["student/loss", "student/kd_loss", "student/disparity", "student/proxy_loss"] {
        assert_eq!(steps(&records, name), (200..200 + e).collect::<Vec<_>>(), "{name}");
    }
    let (loss, kd, r) =
        (series(&records, "student/loss"), series(&records, "student/kd_loss"), series(&records, "student/disparity"));
    for k in 0..e {
        let parts = kd[k].1 + 10.0 * r[k].1;
        assert!((loss[k].1 - parts).abs() <= 1e-5 * (1.0 + loss[k].1), "step {}: {} vs {parts}", loss[k].0, loss[k].1);
        assert!(kd[k].1 >= 0.0 && r[k].1 >= 0.0);
    }
    assert!(loss[e - 1].1 < loss[0].1, "the student learns: {} -> {}", loss[0].1, loss[e - 1].1);

    let before = files(&out);
    let err = train(&graph, &["--seed", "3", "--out", o]).unwrap_err();
    assert!(reprolab_core::is_user_error(&err), "{err:#}");
    assert_eq!(err.to_string(), format!("{o}: exists and is not empty; pass --overwrite to write into it"));
    assert_eq!(files(&out), before, "a refused run leaves the folder as it was");

    train(&graph, &["--objective", "none", "--seed", "3", "--out", o, "--overwrite"]).unwrap();
    let again = TrainRecord::read(&out).unwrap();
    assert_eq!(again.seeds, vec![3]);
    assert!(again.provenance.finished.is_some());
    let config: toml::Table = std::fs::read_to_string(out.join("config.toml")).unwrap().parse().unwrap();
    assert_eq!((config["objective"].as_str(), config["alpha_used"].as_float()), (Some("none"), Some(0.0)));
    let records = MetricsLog::read(&out.join("metrics.jsonl")).unwrap();
    assert_eq!(steps(&records, "student/loss"), (200..200 + e).collect::<Vec<_>>());
    assert!(
        !records.iter().any(|r| r.name == "student/disparity" || r.name == "student/proxy_loss"),
        "plain distillation has no regulariser or proxy to log"
    );
}

/// The command's teacher and student, trained with a log, give the
/// probabilities the experiment's code path gives without one.
#[test]
fn logging_does_not_change_the_models() {
    let _turn = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let graph = write_graph(tmp.path());
    let out = tmp.path().join("run");
    let args = ["--objective", "eo", "--alpha", "10", "--student", "sgc", "--seed", "5", "--out"];
    train(&graph, &[&args[..], &[out.to_str().unwrap()]].concat()).unwrap();

    let cfg: Config = preset_config("fair-kd", Preset::Quick).unwrap();
    let (g, _) = fair_kd::data::from_user_files_with_ids(Path::new(&graph.0), Path::new(&graph.1), "y", "s").unwrap();
    let split = g.split(5).unwrap();
    // the experiment's teacher_probability, step by step
    let plain = reprolab_core::device::default_device();
    let ad = plain.clone().autodiff();
    ad.seed(reprolab_core::rng::derive_seed(5, "teacher"));
    let (tg, eg) = (GraphTensors::new(&g, &ad).unwrap(), GraphTensors::new(&g, &plain).unwrap());
    let inputs = TeacherInputs { graph: &g, train_graph: &tg, eval_graph: &eg, split: &split };
    let teacher = train_teacher(init_gcn(g.d, &cfg.teacher, &ad), &inputs, &cfg.teacher, "gcn", None).unwrap();
    let tp = positive_probability(&teacher, &eg);
    let setup = DistillSetup { graph: &g, split: &split, teacher_p: &tp, config: &cfg.student };
    let spec = StudentSpec { kind: StudentKind::Sgc, objective: Objective::Eo, alpha: 10.0, proxy: false };
    let student = distill(&setup, &spec, 5).unwrap();

    let predictions = out.join("predictions.csv");
    assert_eq!(column(&predictions, "teacher_probability"), tp);
    assert_eq!(column(&predictions, "probability"), student.probability);
}
