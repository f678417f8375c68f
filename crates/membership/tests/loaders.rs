//! The fuzz campaign of membership's file loaders (issue 23 point 1): the
//! model-output files `membership audit --input FILE --shadows FILE...`
//! reads (CSV and NPZ, `audit::read_model_file`; shadows use the same
//! reader) and the population-outputs cache (`ModelOutputs::load_npz`).
//! Damaged and hostile files give one user error naming the file, never a
//! panic, a hang or an allocation the file only claims (see
//! reprolab_testkit::loader).

use membership::audit::read_model_file;
use membership::shadow::ModelOutputs;
use proptest::prelude::*;
use reprolab_testkit::loader::{Campaign, Expect, Loaded, Loader, check_bytes};
use reprolab_testkit::npy::{f32_payload, npy_bytes, npz_bytes};
use std::sync::Arc;

#[global_allocator]
static ALLOC: reprolab_testkit::CappedAllocator = reprolab_testkit::CappedAllocator::new(1 << 30);

const CSV: &str = "id,label,member,logit_0,logit_1\n\
a,0,1,2.5,-1\n\
b,1,0,0.25,0.5\n\
c,1,1,-3,4e-1\n\
d,0,0,1,1\n";

const PROBS: &str = "id,label,member,population,prob_0,prob_1,prob_2\n\
1,0,1,0,0.7,0.2,0.1\n\
2,2,0,0,0.1,0.1,0.8\n\
3,1,0,1,0.3,0.4,0.3\n\
4,1,1,0,0.25,0.5,0.25\n";

fn load(p: &std::path::Path) -> anyhow::Result<()> {
    read_model_file(p).map(drop)
}

#[test]
fn csv_model_outputs_survive_the_campaign() {
    let with = |body: &str| format!("id,label,member,logit_0,logit_1\n{body}").into_bytes();
    let s = Campaign::new("membership audit CSV (logits)", "m.csv", CSV.as_bytes().to_vec(), load)
        .case("header only", b"id,label,member,logit_0,logit_1\n".to_vec(), Expect::Refused)
        .case("empty file", Vec::new(), Expect::Refused)
        .case("NaN logit", with("a,0,1,NaN,1\nb,1,0,0,0\n"), Expect::Refused)
        .case("inf logit", with("a,0,1,inf,1\nb,1,0,0,0\n"), Expect::Refused)
        .case("-inf logit", with("a,0,1,-inf,1\nb,1,0,0,0\n"), Expect::Refused)
        .case("1e999 logit", with("a,0,1,1e999,1\nb,1,0,0,0\n"), Expect::Refused)
        .case("duplicate id", with("a,0,1,0,1\na,1,0,0,0\n"), Expect::Refused)
        .case("unknown column only", b"id,label,member,score\na,0,1,0.5\n".to_vec(), Expect::Refused)
        .case("one class of outputs", b"id,label,member,logit_0\na,0,1,0.5\nb,0,0,1\n".to_vec(), Expect::Refused)
        .case("logit_1 without logit_0", b"id,label,member,logit_1,logit_2\na,0,1,0,1\n".to_vec(), Expect::Refused)
        .case("label out of range", with("a,2,1,0,1\nb,1,0,0,0\n"), Expect::Refused)
        .case("negative label", with("a,-1,1,0,1\nb,1,0,0,0\n"), Expect::Refused)
        .case("label 10^30", with("a,1000000000000000000000000000000,1,0,1\nb,1,0,0,0\n"), Expect::Refused)
        .case("member 2", with("a,0,2,0,1\nb,1,0,0,0\n"), Expect::Refused)
        .case("short row", with("a,0,1,0\nb,1,0,0,0\n"), Expect::Refused)
        .case("long row", with("a,0,1,0,1,7\nb,1,0,0,0\n"), Expect::Refused)
        .case(
            "not UTF-8 id",
            with("\u{0}a,0,1,0,1\nb,1,0,0,0\n").into_iter().map(|b| if b == 0 { 0xff } else { b }).collect(),
            Expect::Either,
        )
        .case(
            "not UTF-8 logit",
            b"id,label,member,logit_0,logit_1\na,0,1,\xff\xfe,1\nb,1,0,0,0\n".to_vec(),
            Expect::Refused,
        )
        .case("every example a member", with("a,0,1,0,1\nb,1,1,0,0\n"), Expect::Refused)
        .case(
            "both logit and prob columns",
            b"id,label,logit_0,logit_1,prob_0,prob_1\na,0,0,1,0.5,0.5\n".to_vec(),
            Expect::Refused,
        )
        .case("line break in a quoted id", with("\"a\nb\",0,1,0,1\nb,1,0,0,0\n"), Expect::Either)
        .run();
    assert!(s.loaded >= 1 && s.refused > s.cases / 2, "{s}");
}

#[test]
fn csv_model_probabilities_survive_the_campaign() {
    let with = |body: &str| format!("id,label,member,population,prob_0,prob_1,prob_2\n{body}").into_bytes();
    Campaign::new("membership audit CSV (probabilities)", "p.csv", PROBS.as_bytes().to_vec(), load)
        .case("NaN probability", with("1,0,1,0,NaN,0.5,0.5\n2,1,0,0,0.2,0.4,0.4\n"), Expect::Refused)
        .case("negative probability", with("1,0,1,0,-0.5,1,0.5\n2,1,0,0,0.2,0.4,0.4\n"), Expect::Refused)
        .case("rows do not sum to 1", with("1,0,1,0,0.5,0.5,0.5\n2,1,0,0,0.2,0.4,0.4\n"), Expect::Refused)
        .case(
            "population member",
            with("1,0,1,1,0.5,0.25,0.25\n2,1,0,0,0.2,0.4,0.4\n3,1,1,0,0.2,0.4,0.4\n"),
            Expect::Refused,
        )
        .case("everything population", with("1,0,0,1,0.5,0.25,0.25\n2,1,0,1,0.2,0.4,0.4\n"), Expect::Refused)
        .run();
}

fn npz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    npz_bytes(members)
}

fn f64_payload(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn valid_npz_members() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("id", npy_bytes("<f8", &[4], &f64_payload(&[10.0, 11.0, 12.0, 13.0]))),
        ("label", npy_bytes("<f8", &[4], &f64_payload(&[0.0, 1.0, 1.0, 0.0]))),
        ("member", npy_bytes("<f8", &[4], &f64_payload(&[1.0, 0.0, 1.0, 0.0]))),
        ("logits", npy_bytes("<f4", &[4, 2], &f32_payload(&[2.5, -1.0, 0.25, 0.5, -3.0, 0.4, 1.0, 1.0]))),
    ]
}

fn npz_with(key: &'static str, bytes: Option<Vec<u8>>) -> Vec<u8> {
    let mut m = valid_npz_members();
    m.retain(|(k, _)| *k != key);
    if let Some(b) = bytes {
        m.push((key, b));
    }
    npz(&m)
}

#[test]
fn npz_model_outputs_survive_the_campaign() {
    let logits = |shape: &[u64], v: &[f32]| Some(npy_bytes("<f4", shape, &f32_payload(v)));
    let ids = |v: &[f64]| Some(npy_bytes("<f8", &[v.len() as u64], &f64_payload(v)));
    let probs_zero_classes = {
        let mut m = valid_npz_members();
        m.retain(|(k, _)| *k != "logits");
        m.push(("probs", npy_bytes("<f4", &[4, 0], &[])));
        npz(&m)
    };
    let s = Campaign::new("membership audit NPZ", "m.npz", npz(&valid_npz_members()), load)
        .truncations_refused()
        .case(
            "logits claim 10^12",
            npz_with("logits", Some(npy_bytes("<f4", &[1_000_000, 1_000_000], &[0; 32]))),
            Expect::Refused,
        )
        .case(
            "logits' shape overflows",
            npz_with("logits", Some(npy_bytes("<f4", &[u64::MAX, 4], &[0; 32]))),
            Expect::Refused,
        )
        .case("probs with 0 classes", probs_zero_classes, Expect::Refused)
        .case("logits with 1 class", npz_with("logits", logits(&[4, 1], &[0.0; 4])), Expect::Refused)
        .case("logits 1-d", npz_with("logits", logits(&[8], &[0.0; 8])), Expect::Refused)
        .case(
            "NaN logit",
            npz_with("logits", logits(&[4, 2], &[f32::NAN, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0])),
            Expect::Refused,
        )
        .case(
            "inf logit",
            npz_with("logits", logits(&[4, 2], &[f32::INFINITY, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0])),
            Expect::Refused,
        )
        .case("logits for 3 examples, labels for 4", npz_with("logits", logits(&[3, 2], &[0.0; 6])), Expect::Refused)
        .case("NaN id", npz_with("id", ids(&[f64::NAN, 1.0, 2.0, 3.0])), Expect::Refused)
        .case("inf id", npz_with("id", ids(&[f64::INFINITY, 1.0, 2.0, 3.0])), Expect::Refused)
        .case("duplicate id", npz_with("id", ids(&[1.0, 1.0, 2.0, 3.0])), Expect::Refused)
        .case("NaN label", npz_with("label", ids(&[f64::NAN, 1.0, 1.0, 0.0])), Expect::Refused)
        .case("label 1e300", npz_with("label", ids(&[1e300, 1.0, 1.0, 0.0])), Expect::Refused)
        .case("fractional label", npz_with("label", ids(&[0.5, 1.0, 1.0, 0.0])), Expect::Refused)
        .case("member NaN", npz_with("member", ids(&[f64::NAN, 1.0, 0.0, 0.0])), Expect::Refused)
        .case("member 3 long", npz_with("member", ids(&[1.0, 0.0, 1.0])), Expect::Refused)
        .case("no label", npz_with("label", None), Expect::Refused)
        .case("unicode id", npz_with("id", Some(npy_bytes("<U3", &[4], &[b'a'; 48]))), Expect::Refused)
        .case(
            "int64 labels",
            npz_with(
                "label",
                Some(npy_bytes(
                    "<i8",
                    &[4],
                    &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                )),
            ),
            Expect::Either,
        )
        .run();
    assert!(s.loaded >= 2, "the valid file and int64 labels load: {s}");
}

fn outputs() -> ModelOutputs {
    ModelOutputs {
        n_models: 2,
        n_examples: 3,
        n_classes: 2,
        logits: (0..12).map(|i| i as f32 * 0.5 - 2.0).collect(),
        members: vec![true, false, true, false, true, false],
        labels: vec![0, 1, 1],
        robustness: vec![1.0, 0.5, 0.0, 0.25, 0.75, 1.0],
        n_queries: 0,
        query_logits: Vec::new(),
    }
}

#[test]
fn population_outputs_cache_survives_the_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("o.npz");
    outputs().save_npz(&p).unwrap();
    let valid = std::fs::read(&p).unwrap();
    assert_eq!(ModelOutputs::load_npz(&p).unwrap(), outputs(), "the seed round-trips");
    let with = |o: ModelOutputs| {
        o.save_npz(&p).unwrap();
        std::fs::read(&p).unwrap()
    };
    let mut nan = outputs();
    nan.logits[3] = f32::NAN;
    let mut nan_robust = outputs();
    nan_robust.robustness[1] = f32::NAN;
    let mut big_robust = outputs();
    big_robust.robustness[1] = 2.0;
    let huge = npz(&[
        ("logits", npy_bytes("<f4", &[1_000_000, 1_000_000, 2], &[0; 32])),
        ("members", npy_bytes("<f4", &[2, 3], &f32_payload(&[0.0; 6]))),
        ("labels", npy_bytes("<f4", &[3], &f32_payload(&[0.0; 3]))),
    ]);
    let zero_classes = npz(&[
        ("logits", npy_bytes("<f4", &[2, 3, 0], &[])),
        ("members", npy_bytes("<f4", &[2, 3], &f32_payload(&[0.0; 6]))),
        ("labels", npy_bytes("<f4", &[3], &f32_payload(&[0.0; 3]))),
    ]);
    let bad_labels = npz(&[
        ("logits", npy_bytes("<f4", &[2, 3, 2], &f32_payload(&[0.0; 12]))),
        ("members", npy_bytes("<f4", &[2, 3], &f32_payload(&[0.0; 6]))),
        ("labels", npy_bytes("<f4", &[3], &f32_payload(&[0.0, f32::NAN, 5.0]))),
    ]);
    Campaign::new("membership population outputs NPZ", "o.npz", valid, |p| ModelOutputs::load_npz(p).map(drop))
        .truncations_refused()
        .case("NaN logit", with(nan), Expect::Refused)
        .case("NaN robustness", with(nan_robust), Expect::Refused)
        .case("robustness 2 (a share)", with(big_robust), Expect::Refused)
        .case("logits claim 2 x 10^12", huge, Expect::Refused)
        .case("0 classes", zero_classes, Expect::Refused)
        .case("NaN and out-of-range labels", bad_labels, Expect::Refused)
        .run();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64 * reprolab_testkit::fuzz_scale() as u32))]

    #[test]
    fn arbitrary_bytes_never_panic_any_membership_loader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let loaders: [(&str, Loader); 3] = [
            ("x.csv", Arc::new(load)),
            ("x.npz", Arc::new(load)),
            ("o.npz", Arc::new(|p| ModelOutputs::load_npz(p).map(drop))),
        ];
        for (name, load) in &loaders {
            let outcome = check_bytes(name, &bytes, load);
            prop_assert!(matches!(outcome, Ok(Loaded::Yes | Loaded::No)), "{name}: {outcome:?}");
        }
    }
}
