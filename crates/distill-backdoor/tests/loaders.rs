//! The fuzz campaign of distill-backdoor's file loaders: MNIST-style IDX
//! files (`data::read_idx`, and `data::from_dir` over a folder of them),
//! CIFAR-10 binary batches (`data::read_cifar`, `from_dir`), and the
//! distilled-set folder `evaluate --synthetic DIR` reads
//! (`tools::read_synthetic`: `distill.json`, `synthetic.npy`,
//! `labels.npy`, `trigger.npy`). Damaged and hostile files give one user
//! error naming the file, never a panic, a hang or an allocation the file
//! only claims (see reprolab_testkit::loader).

use distill_backdoor::attack::{AttackConfig, AttackKind};
use distill_backdoor::data::{from_dir, read_cifar, read_idx};
use distill_backdoor::distill::Method;
use distill_backdoor::net::NetConfig;
use distill_backdoor::tools::{SyntheticSet, read_synthetic};
use proptest::prelude::*;
use reprolab_core::data::npy::{Array, save_npy};
use reprolab_testkit::loader::{Campaign, Expect, Loaded, Loader, check_bytes};
use reprolab_testkit::npy::{f32_payload, npy_bytes};
use std::path::Path;
use std::sync::Arc;

#[global_allocator]
static ALLOC: reprolab_testkit::CappedAllocator = reprolab_testkit::CappedAllocator::new(1 << 30);

/// An IDX file of unsigned bytes with `dims` (big-endian u32 each).
fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(values);
    out
}

/// `n` images of 4x4 pixels and their labels (0..=9).
fn idx_images(n: u32) -> Vec<u8> {
    idx(&[n, 4, 4], &(0..n * 16).map(|i| (i * 37 % 256) as u8).collect::<Vec<_>>())
}

fn idx_labels(n: u32) -> Vec<u8> {
    idx(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>())
}

/// CIFAR-10 records: 1 label byte, then 3 x 32 x 32 pixels.
fn cifar(labels: &[u8]) -> Vec<u8> {
    labels
        .iter()
        .flat_map(|&y| std::iter::once(y).chain((0..3072u32).map(move |i| (i * 7 + u32::from(y)) as u8)))
        .collect()
}

#[test]
fn idx_reader_survives_the_campaign() {
    let mut bad_type = idx_images(2);
    bad_type[2] = 0x0d;
    let mut bad_magic = idx_images(2);
    bad_magic[0] = 1;
    let mut extra = idx_images(2);
    extra.push(0);
    let mut gzip = idx_images(2);
    gzip[..2].copy_from_slice(&[0x1f, 0x8b]);
    let summary =
        Campaign::new("distill-backdoor IDX", "train-images-idx3-ubyte", idx_images(3), |p| read_idx(p).map(drop))
            .truncations_refused()
            .case("header claims 10^12 images", idx(&[1_000_000, 1_000_000, 1_000_000], &[0; 64]), Expect::Refused)
            .case("header claims 10^12 labels", idx(&[1_000_000_000], &[0; 64]), Expect::Refused)
            .case("dimension product overflows", idx(&[u32::MAX, u32::MAX, u32::MAX], &[0; 16]), Expect::Refused)
            .case("255 dimensions, header cut", vec![0, 0, 8, 255, 0, 0, 0, 1], Expect::Refused)
            .case("zero dimensions", vec![0, 0, 8, 0], Expect::Refused)
            .case("wrong magic", bad_magic, Expect::Refused)
            .case("float element type", bad_type, Expect::Refused)
            .case("gzip-compressed", gzip, Expect::Refused)
            .case("one byte past the data", extra, Expect::Refused)
            .run();
    assert!(summary.refused > 0 && summary.loaded > 0, "{summary}");
}

/// `from_dir` over an IDX folder with one file fuzzed and the other three valid.
fn idx_folder(fuzzed: &'static str) -> impl Fn(&Path) -> anyhow::Result<()> + Send + Sync + 'static {
    move |p: &Path| {
        let dir = p.parent().unwrap();
        for (name, bytes) in [
            ("train-images-idx3-ubyte", idx_images(3)),
            ("train-labels-idx1-ubyte", idx_labels(3)),
            ("t10k-images-idx3-ubyte", idx_images(2)),
            ("t10k-labels-idx1-ubyte", idx_labels(2)),
        ] {
            if name != fuzzed {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
        from_dir(dir).map(drop)
    }
}

#[test]
fn idx_folders_survive_the_campaign() {
    Campaign::new(
        "distill-backdoor IDX folder (images)",
        "train-images-idx3-ubyte",
        idx_images(3),
        idx_folder("train-images-idx3-ubyte"),
    )
    .truncations_refused()
    .case("no images", idx(&[0, 4, 4], &[]), Expect::Refused)
    .case("images of side 0", idx(&[3, 0, 0], &[]), Expect::Refused)
    .case("not square", idx(&[3, 4, 2], &[0; 24]), Expect::Refused)
    .case("two dimensions", idx(&[3, 16], &[0; 48]), Expect::Refused)
    .case("more images than labels", idx_images(4), Expect::Refused)
    .run();
    Campaign::new(
        "distill-backdoor IDX folder (labels)",
        "train-labels-idx1-ubyte",
        idx_labels(3),
        idx_folder("train-labels-idx1-ubyte"),
    )
    .truncations_refused()
    .case("label 10", idx(&[3], &[0, 10, 1]), Expect::Refused)
    .case("label 255", idx(&[3], &[255, 0, 1]), Expect::Refused)
    .case("fewer labels than images", idx_labels(2), Expect::Refused)
    .case("labels as a matrix", idx(&[3, 1], &[0, 1, 2]), Expect::Refused)
    .run();
}

#[test]
fn cifar_reader_survives_the_campaign() {
    let mut short = cifar(&[1, 2]);
    short.pop();
    Campaign::new("distill-backdoor CIFAR-10 batch", "data_batch_1.bin", cifar(&[3]), |p| read_cifar(p).map(drop))
        .case("label 10", cifar(&[10]), Expect::Refused)
        .case("label 255", cifar(&[0, 255]), Expect::Refused)
        .case("empty file", Vec::new(), Expect::Refused)
        .case("one byte short", short, Expect::Refused)
        .run();
}

const NET: NetConfig =
    NetConfig { channels: 1, side: SIDE, width: 4, depth: 1, hidden: 8, classes: 10, instance_norm: false };
const N: usize = 4;
const SIDE: usize = 4;
/// Values per image.
const PIX: usize = SIDE * SIDE;

fn npy(shape: Vec<usize>, data: Vec<f32>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npy");
    save_npy(&p, &Array::new(shape, data).unwrap()).unwrap();
    std::fs::read(p).unwrap()
}

/// The files `distill` writes for a NAIVEATTACK set of `N` 8x8 images.
fn synthetic_files() -> [(&'static str, Vec<u8>); 4] {
    let set = SyntheticSet {
        data: "digits".into(),
        method: Method::Dc,
        ipc: 1,
        attack: AttackConfig::new(AttackKind::Naive, 0.05),
        net: NET,
        seed: 3,
        loss: vec![1.5, 0.75],
    };
    [
        ("distill.json", serde_json::to_vec_pretty(&set).unwrap()),
        ("synthetic.npy", npy(vec![N, 1, SIDE, SIDE], (0..N * PIX).map(|i| (i as f32 * 0.01).sin()).collect())),
        ("labels.npy", npy(vec![N], (0..N).map(|y| y as f32).collect())),
        ("trigger.npy", npy(vec![1, SIDE, SIDE], vec![0.5; PIX])),
    ]
}

fn valid(name: &str) -> Vec<u8> {
    synthetic_files().into_iter().find(|(n, _)| *n == name).unwrap().1
}

/// `read_synthetic` over a folder with `fuzzed` damaged and the other files valid.
fn synthetic_folder(fuzzed: &'static str) -> impl Fn(&Path) -> anyhow::Result<()> + Send + Sync + 'static {
    move |p: &Path| {
        let dir = p.parent().unwrap();
        for (name, bytes) in synthetic_files() {
            if name != fuzzed {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
        read_synthetic(dir).map(drop)
    }
}

/// `distill.json` with `path` (e.g. `["net", "width"]`) set to `value` (raw JSON).
fn json_with(path: &[&str], value: &str) -> Vec<u8> {
    json_with_all(&[(path, value)])
}

fn json_with_all(changes: &[(&[&str], &str)]) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&valid("distill.json")).unwrap();
    for (path, value) in changes {
        let (last, parents) = path.split_last().unwrap();
        let mut at = &mut v;
        for k in parents {
            at = &mut at[*k];
        }
        assert!(!at[*last].is_null(), "{path:?} is a field of distill.json");
        at[*last] = serde_json::from_str(value).unwrap();
    }
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn synthetic_set_folders_survive_the_campaign() {
    let text = String::from_utf8(valid("distill.json")).unwrap();
    assert_eq!(text.matches("1.5").count(), 1, "the NaN case below replaces the first loss: {text}");
    Campaign::new(
        "distill-backdoor distill.json",
        "distill.json",
        valid("distill.json"),
        synthetic_folder("distill.json"),
    )
    .case("net.width 10^12", json_with(&["net", "width"], "1000000000000"), Expect::Refused)
    .case("net.depth 10^12", json_with(&["net", "depth"], "1000000000000"), Expect::Refused)
    .case("net.hidden 10^12", json_with(&["net", "hidden"], "1000000000000"), Expect::Refused)
    .case("net.side 2^40", json_with(&["net", "side"], "1099511627776"), Expect::Refused)
    .case("net.side usize::MAX", json_with(&["net", "side"], "18446744073709551615"), Expect::Refused)
    .case("net.side 0", json_with(&["net", "side"], "0"), Expect::Refused)
    .case(
        "net too big in total",
        json_with_all(&[(&["net", "width"], "65536"), (&["net", "hidden"], "65536")]),
        Expect::Refused,
    )
    .case("net.classes 1", json_with(&["net", "classes"], "1"), Expect::Refused)
    .case("net.side 9 (does not match the arrays)", json_with(&["net", "side"], "9"), Expect::Refused)
    .case("attack.size usize::MAX", json_with(&["attack", "size"], "18446744073709551615"), Expect::Refused)
    .case("attack.ratio -1", json_with(&["attack", "ratio"], "-1"), Expect::Refused)
    .case("NaN loss", text.replacen("1.5", "NaN", 1).into_bytes(), Expect::Refused)
    .case("loss out of range", text.replacen("1.5", "1e999", 1).into_bytes(), Expect::Refused)
    .case("negative seed", json_with(&["seed"], "-1"), Expect::Refused)
    .case("unknown method", json_with(&["method"], "\"xyz\""), Expect::Refused)
    .run();
    let huge = npy_bytes("<f4", &[1_000_000, 1, 1_000_000, 1], &f32_payload(&[1.0; 64]));
    let mut nan = (0..N * PIX).map(|i| i as f32).collect::<Vec<_>>();
    nan[17] = f32::NAN;
    let mut inf = nan.clone();
    inf[17] = f32::INFINITY;
    Campaign::new(
        "distill-backdoor synthetic.npy",
        "synthetic.npy",
        valid("synthetic.npy"),
        synthetic_folder("synthetic.npy"),
    )
    .truncations_refused()
    .case("header claims 10^12 values", huge, Expect::Refused)
    .case("NaN pixel", npy(vec![N, 1, SIDE, SIDE], nan), Expect::Refused)
    .case("inf pixel", npy(vec![N, 1, SIDE, SIDE], inf), Expect::Refused)
    .case("one image short", npy(vec![N - 1, 1, SIDE, SIDE], vec![0.0; (N - 1) * PIX]), Expect::Refused)
    .case("3x3 images", npy(vec![N, 1, 3, 3], vec![0.0; N * 9]), Expect::Refused)
    .run();
    let labels = |f: &dyn Fn(usize) -> f32| npy(vec![N], (0..N).map(f).collect());
    Campaign::new("distill-backdoor labels.npy", "labels.npy", valid("labels.npy"), synthetic_folder("labels.npy"))
        .truncations_refused()
        .case("header claims 10^12 labels", npy_bytes("<f4", &[1_000_000_000_000], &[0; 40]), Expect::Refused)
        .case("label 10", labels(&|i| if i == 3 { 10.0 } else { 0.0 }), Expect::Refused)
        .case("label -1", labels(&|i| if i == 3 { -1.0 } else { 0.0 }), Expect::Refused)
        .case("label 0.5", labels(&|i| if i == 3 { 0.5 } else { 0.0 }), Expect::Refused)
        .case("NaN label", labels(&|i| if i == 3 { f32::NAN } else { 0.0 }), Expect::Refused)
        .case("no labels", npy(vec![0], Vec::new()), Expect::Refused)
        .run();
    Campaign::new("distill-backdoor trigger.npy", "trigger.npy", valid("trigger.npy"), synthetic_folder("trigger.npy"))
        .truncations_refused()
        .case("header claims 10^12 values", npy_bytes("<f4", &[1_000_000, 1_000_000], &[0; 40]), Expect::Refused)
        .case("NaN trigger", npy(vec![1, SIDE, SIDE], vec![f32::NAN; PIX]), Expect::Refused)
        .case("wrong size", npy(vec![1, 3, 3], vec![0.0; 9]), Expect::Refused)
        .run();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64 * reprolab_testkit::fuzz_scale() as u32))]

    #[test]
    fn arbitrary_bytes_never_panic_any_distill_backdoor_loader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let loaders: [(&str, Loader); 5] = [
            ("t10k-images-idx3-ubyte", Arc::new(|p| read_idx(p).map(drop))),
            ("data_batch_1.bin", Arc::new(|p| read_cifar(p).map(drop))),
            ("train-images-idx3-ubyte", Arc::new(idx_folder("train-images-idx3-ubyte"))),
            ("distill.json", Arc::new(synthetic_folder("distill.json"))),
            ("synthetic.npy", Arc::new(synthetic_folder("synthetic.npy"))),
        ];
        for (name, load) in &loaders {
            let outcome = check_bytes(name, &bytes, load);
            prop_assert!(matches!(outcome, Ok(Loaded::Yes | Loaded::No)), "{name}: {outcome:?}");
        }
    }
}
