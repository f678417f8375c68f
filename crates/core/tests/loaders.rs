//! The fuzz campaign of core's file loaders (.npy, .npz, CSV, checkpoint
//! state, metrics logs, train records): damaged and hostile files give one
//! user error naming the file, never a panic, a hang or an allocation the
//! file only claims (see reprolab_testkit::loader).

use proptest::prelude::*;
use reprolab_core::data::csv::{LabelKind, load_csv};
use reprolab_core::data::npy::{Array, load_npy, load_npz, save_npy, save_npz};
use reprolab_testkit::loader::{Campaign, Expect, Loaded, Loader, check_bytes};
use reprolab_testkit::npy::{f32_payload, npy_bytes, npz_bytes};
use std::collections::BTreeMap;
use std::sync::Arc;

#[global_allocator]
static ALLOC: reprolab_testkit::CappedAllocator = reprolab_testkit::CappedAllocator::new(1 << 30);

fn valid_npy() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npy");
    save_npy(&p, &Array::new(vec![4, 3], (0..12).map(|i| i as f32 * 0.5).collect()).unwrap()).unwrap();
    std::fs::read(p).unwrap()
}

fn valid_npz() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let mut arrays = BTreeMap::new();
    arrays.insert("x".to_string(), Array::new(vec![4, 2], vec![0.5; 8]).unwrap());
    arrays.insert("y".to_string(), Array::new(vec![4], vec![1.0, 0.0, 1.0, 0.0]).unwrap());
    save_npz(&p, &arrays).unwrap();
    std::fs::read(p).unwrap()
}

const CSV: &str = "a,b,label\n0.5,1.5,cat\n-2,3e-1,dog\n4,5,cat\n";

#[test]
fn npy_loader_survives_the_campaign() {
    let huge = npy_bytes("<f4", &[1_000_000, 1_000_000], &f32_payload(&[1.0; 4]));
    let huge_1d = npy_bytes("<f8", &[1_000_000_000_000], &[0u8; 64]);
    let overflow = npy_bytes("<f4", &[u64::MAX, u64::MAX], &[]);
    let unicode = npy_bytes("<U3", &[2], &[b'a'; 24]);
    let short = npy_bytes("<f4", &[4, 3], &f32_payload(&[1.0; 5]));
    Campaign::new("core .npy", "a.npy", valid_npy(), |p| load_npy(p).map(drop))
        .truncations_refused()
        .case("header claims 10^12 f32", huge, Expect::Refused)
        .case("header claims 10^12 f64", huge_1d, Expect::Refused)
        .case("shape product overflows", overflow, Expect::Refused)
        .case("unicode dtype", unicode, Expect::Refused)
        .case("payload shorter than the shape", short, Expect::Refused)
        .run();
}

#[test]
fn npz_loader_survives_the_campaign() {
    let huge = npz_bytes(&[("x", npy_bytes("<f4", &[1_000_000, 1_000_000], &f32_payload(&[1.0; 4])))]);
    let unicode = npz_bytes(&[("x", npy_bytes("<U3", &[2], &[b'a'; 24]))]);
    Campaign::new("core .npz", "a.npz", valid_npz(), |p| load_npz(p).map(drop))
        .case("member claims 10^12 f32", huge, Expect::Refused)
        .case("unicode member", unicode, Expect::Refused)
        .run();
}

#[test]
fn csv_loader_survives_the_campaign() {
    Campaign::new("core CSV", "a.csv", CSV.as_bytes().to_vec(), |p| load_csv(p, "label", LabelKind::Classes).map(drop))
        .case("NaN feature", b"a,b,label\nNaN,1,cat\n2,2,dog\n".to_vec(), Expect::Refused)
        .case("inf feature", b"a,b,label\ninf,1,cat\n2,2,dog\n".to_vec(), Expect::Refused)
        .case("header only", b"a,b,label\n".to_vec(), Expect::Refused)
        .case("no label column", b"a,b,c\n1,2,3\n".to_vec(), Expect::Refused)
        .case("short row", b"a,b,label\n1,cat\n".to_vec(), Expect::Refused)
        .case("not UTF-8", b"a,b,label\n1,2,\xff\xfe\n".to_vec(), Expect::Either)
        .run();
}

#[test]
fn checkpoint_state_and_train_records_survive_the_campaign() {
    let state = br#"{"step": 3, "epoch": 1, "best": 0.5, "extra": null, "param_ids": [1, 2]}"#.to_vec();
    Campaign::new("checkpoint state.json", "state.json", state, |p| {
        let dir = p.parent().unwrap();
        std::fs::write(dir.join("model.safetensors"), b"placeholder").unwrap();
        reprolab_core::train::Checkpoint::new(dir).state().map(drop)
    })
    .run();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64 * reprolab_testkit::fuzz_scale() as u32))]

    #[test]
    fn arbitrary_bytes_never_panic_any_core_loader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let loaders: [(&str, Loader); 3] = [
            ("x.npy", Arc::new(|p| load_npy(p).map(drop))),
            ("x.npz", Arc::new(|p| load_npz(p).map(drop))),
            ("x.csv", Arc::new(|p| load_csv(p, "label", LabelKind::Values).map(drop))),
        ];
        for (name, load) in &loaders {
            let outcome = check_bytes(name, &bytes, load);
            prop_assert!(matches!(outcome, Ok(Loaded::Yes | Loaded::No)), "{name}: {outcome:?}");
        }
    }
}

// ---- The readers of `reprolab run --config`, `export`, metrics logs, train
// records, the unit cache and checkpoint weights (helper "loaders A").

mod readers {
    use reprolab_core::export::TorchExport;
    use reprolab_core::nn::{Mlp, MlpConfig};
    use reprolab_core::plan::{Unit, UnitOutput, cache};
    use reprolab_core::registry::{Preset, RunContext, RunOptions};
    use reprolab_core::run_folder::TrainRecord;
    use reprolab_core::train::checkpoint::TrainState;
    use reprolab_core::train::{Checkpoint, MetricsLog};
    use reprolab_testkit::loader::{Campaign, Expect};
    use std::path::Path;

    fn config(p: &Path) -> anyhow::Result<()> {
        let ctx = RunContext::with_config_file(&reprolab_core::selfcheck::METHOD, Preset::Smoke, p)?;
        ctx.config::<reprolab_core::selfcheck::Config>().map(drop)
    }

    #[test]
    fn run_config_file_survives_the_campaign() {
        let valid = b"seeds = [3, 7]\ntest_fraction = 0.25\n\n[fit]\nepochs = 2\n\n[fit.optimizer]\nkind = \"adam\"\nlr = 0.01\n";
        let deep_array = format!("hidden = {}{}\n", "[".repeat(20_000), "]".repeat(20_000)).into_bytes();
        let deep_table = format!("x = {}{}\n", "{a = ".repeat(20_000), "}".repeat(20_000)).into_bytes();
        let s = Campaign::new("core run --config TOML", "c.toml", valid.to_vec(), config)
            .case("seeds = 10^12 (a count)", b"seeds = 1000000000000\n".to_vec(), Expect::Refused)
            .case("seeds = i64::MAX", b"seeds = 9223372036854775807\n".to_vec(), Expect::Refused)
            .case("seeds = 0", b"seeds = 0\n".to_vec(), Expect::Refused)
            .case("negative seed", b"seeds = [1, -2]\n".to_vec(), Expect::Refused)
            .case("duplicate seeds", b"seeds = [4, 4]\n".to_vec(), Expect::Refused)
            .case("unknown key", b"epochz = 3\n".to_vec(), Expect::Refused)
            .case("wrong type", b"hidden = \"wide\"\n".to_vec(), Expect::Refused)
            .case("a zero width", b"hidden = [0]\n".to_vec(), Expect::Refused)
            .case("NaN fraction", b"test_fraction = nan\n".to_vec(), Expect::Refused)
            .case("inf fraction", b"test_fraction = inf\n".to_vec(), Expect::Refused)
            .case("NaN learning rate", b"[fit.optimizer]\nkind = \"adam\"\nlr = nan\n".to_vec(), Expect::Refused)
            .case("duplicate key", b"test_fraction = 0.2\ntest_fraction = 0.3\n".to_vec(), Expect::Refused)
            .case("not UTF-8", b"dataset = \"\xff\xfe\"\n".to_vec(), Expect::Refused)
            .case("unknown dataset", b"dataset = \"mnist-1e12\"\n".to_vec(), Expect::Refused)
            .case("arrays nested 20,000 deep", deep_array, Expect::Refused)
            .case("tables nested 20,000 deep", deep_table, Expect::Refused)
            .run();
        assert!(s.loaded >= 1 && s.refused > s.cases / 2, "{s}");
    }

    fn model() -> Mlp {
        MlpConfig::new(&[3, 4, 2]).init(&reprolab_core::device::default_device())
    }

    /// The bytes of a safetensors file with one tensor `w` declaring
    /// `dtype`, `shape` and data offsets `[0, end]`, followed by `data`.
    fn safetensors(dtype: &str, shape: &[u64], end: u64, data: &[u8]) -> Vec<u8> {
        let header = format!(r#"{{"w":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[0,{end}]}}}}"#);
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn hostile_safetensors() -> Vec<(&'static str, Vec<u8>)> {
        let mut claims_huge_header = u64::MAX.to_le_bytes().to_vec();
        claims_huge_header.extend_from_slice(b"{}");
        vec![
            ("tensor claims 10^12 f32", safetensors("F32", &[1_000_000, 1_000_000], 4_000_000_000_000, &[0; 16])),
            ("shape product overflows", safetensors("F32", &[u64::MAX, u64::MAX], 16, &[0; 16])),
            ("header length 2^64 - 1", claims_huge_header),
            ("offsets past the end", safetensors("F32", &[4], 16, &[0; 8])),
            ("f16 tensor", safetensors("F16", &[4], 8, &[0; 8])),
        ]
    }

    #[test]
    fn torch_export_reader_survives_the_campaign() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.pt.safetensors");
        let export = TorchExport::of_module(&model()).unwrap();
        export.write(&p).unwrap();
        let back = TorchExport::read(&p).unwrap();
        assert_eq!(back.tensors.len(), export.tensors.len(), "the seed round-trips");
        let mut c = Campaign::new("core export safetensors", "m.safetensors", std::fs::read(&p).unwrap(), |p| {
            TorchExport::read(p).map(drop)
        })
        .truncations_refused();
        for (label, bytes) in hostile_safetensors() {
            c = c.case(label, bytes, Expect::Refused);
        }
        c.run();
    }

    #[test]
    fn checkpoint_weights_survive_the_campaign() {
        let dir = tempfile::tempdir().unwrap();
        Checkpoint::new(dir.path()).save(&model(), None, &TrainState::default()).unwrap();
        let state = std::fs::read(dir.path().join("state.json")).unwrap();
        let valid = std::fs::read(Checkpoint::new(dir.path()).model_path()).unwrap();
        let wrong_shape = {
            let other = tempfile::tempdir().unwrap();
            let m = MlpConfig::new(&[3, 5, 2]).init(&reprolab_core::device::default_device());
            Checkpoint::new(other.path()).save(&m, None, &TrainState::default()).unwrap();
            std::fs::read(Checkpoint::new(other.path()).model_path()).unwrap()
        };
        let nan_weight = {
            // The first f32 of the data section (after the 8-byte length and the JSON header) made NaN.
            let start = 8 + u64::from_le_bytes(valid[..8].try_into().unwrap()) as usize;
            let mut b = valid.clone();
            b[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
            b
        };
        let name = Checkpoint::new(dir.path()).model_path().file_name().unwrap().to_string_lossy().into_owned();
        let mut c = Campaign::new("core checkpoint weights", &name, valid, move |p| {
            let ck = Checkpoint::new(p.parent().unwrap());
            std::fs::write(p.parent().unwrap().join("state.json"), &state).unwrap();
            ck.load_model(model()).map(drop)
        })
        .truncations_refused()
        .case("weights of another architecture", wrong_shape, Expect::Refused)
        .case("a NaN weight", nan_weight, Expect::Refused);
        for (label, bytes) in hostile_safetensors() {
            c = c.case(label, bytes, Expect::Refused);
        }
        c.run();
    }

    #[test]
    fn metrics_log_reader_survives_the_campaign() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::create(&p).unwrap();
        log.log_all(0, &[("loss", 1.25), ("eval/accuracy", 0.5), ("lr", f64::NAN)]).unwrap();
        log.log(10, "loss", 0.75).unwrap();
        drop(log);
        assert_eq!(MetricsLog::read(&p).unwrap().len(), 4, "the seed reads back");
        Campaign::new("core metrics.jsonl", "metrics.jsonl", std::fs::read(&p).unwrap(), |p| {
            MetricsLog::read(p).map(drop)
        })
        .case("not JSON", b"{\"step\":0,\"name\":\"loss\",\"value\":1}\nloss=1\n".to_vec(), Expect::Refused)
        .case("negative step", b"{\"step\":-1,\"name\":\"loss\",\"value\":1}\n".to_vec(), Expect::Refused)
        .case("step 10^30", b"{\"step\":1e30,\"name\":\"loss\",\"value\":1}\n".to_vec(), Expect::Refused)
        .case("text value", b"{\"step\":0,\"name\":\"loss\",\"value\":\"1\"}\n".to_vec(), Expect::Refused)
        .case("not UTF-8", b"{\"step\":0,\"name\":\"\xff\",\"value\":1}\n".to_vec(), Expect::Refused)
        .case(
            "nested 10,000 deep",
            format!("{}{}\n", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            Expect::Refused,
        )
        .run();
    }

    #[test]
    fn train_record_reader_survives_the_campaign() {
        let record = TrainRecord {
            method: "selfcheck".into(),
            command: "train".into(),
            provenance: reprolab_core::provenance::Provenance::now(),
            seeds: vec![0, 1],
            config: serde_json::json!({"epochs": 2}),
            result: serde_json::Value::Null,
        };
        let valid = serde_json::to_vec_pretty(&record).unwrap();
        Campaign::new("core train report.json", "report.json", valid, |p| {
            TrainRecord::read(p.parent().unwrap()).map(drop)
        })
        .case("not a record", b"{\"method\": 3}".to_vec(), Expect::Refused)
        .case("not UTF-8", b"{\"method\": \"\xff\"}".to_vec(), Expect::Refused)
        .case(
            "nested 10,000 deep",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            Expect::Refused,
        )
        .run();
    }

    #[test]
    fn unit_cache_entry_survives_the_campaign() {
        let run = tempfile::tempdir().unwrap();
        let opts = RunOptions { preset: Some(Preset::Smoke), out_dir: run.path().into(), ..Default::default() };
        let ctx = RunContext::new(&reprolab_core::selfcheck::METHOD, &opts).unwrap();
        let unit = Unit::main("mlp", 3);
        let mut output = UnitOutput::default();
        output.notes.push("a note".into());
        output.data = serde_json::json!({"accuracy": [0.5, 0.75]});
        let entry = cache::store(&ctx, &unit, output, 1.5).unwrap();
        let at = cache::path(&ctx, &unit);
        let valid = std::fs::read(&at).unwrap();
        let name = at.file_name().unwrap().to_string_lossy().into_owned();
        let other_unit = {
            let mut e = entry.clone();
            e.unit = Unit::main("mlp", 4);
            serde_json::to_vec(&e).unwrap()
        };
        let other_hash = {
            let mut e = entry.clone();
            e.hash = "0000000000000000".into();
            serde_json::to_vec(&e).unwrap()
        };
        let other_method = {
            let mut e = entry;
            e.method = "drums".into();
            serde_json::to_vec(&e).unwrap()
        };
        Campaign::new("core unit cache entry", &name, valid, move |p| {
            std::fs::copy(p, &at).unwrap();
            cache::load(&ctx, &unit).map(drop)
        })
        .truncations_refused()
        .case("another unit's entry", other_unit, Expect::Refused)
        .case("another hash", other_hash, Expect::Refused)
        .case("another method's entry", other_method, Expect::Refused)
        .case("not UTF-8", b"{\"method\": \"\xff\"}".to_vec(), Expect::Refused)
        .case(
            "nested 10,000 deep",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            Expect::Refused,
        )
        .run();
    }
}
