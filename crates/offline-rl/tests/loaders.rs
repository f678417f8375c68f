//! The fuzz campaign of offline-rl's file loaders (issue 23 point 1): the
//! D4RL `.npz` / `.hdf5` datasets and Minari's episode layout (`io::load`,
//! `io::load_mixed`) and a policy checkpoint's `state.json`
//! (`tools::load_policy`). Damaged and hostile files give one user error
//! naming the file, never a panic, a hang or an allocation the file only
//! claims (see reprolab_testkit::loader).

use offline_rl::dataset::{Dataset, Normaliser};
use offline_rl::io;
use offline_rl::nets::Actor;
use offline_rl::td3::Algo;
use offline_rl::tools::{PolicyMeta, load_policy};
use proptest::prelude::*;
use reprolab_core::train::Checkpoint;
use reprolab_core::train::checkpoint::TrainState;
use reprolab_testkit::loader::{Campaign, Expect, Loaded, Loader, check_bytes};
use reprolab_testkit::npy::{f32_payload, npy_bytes, npz_bytes};
use std::path::Path;
use std::sync::Arc;

#[global_allocator]
static ALLOC: reprolab_testkit::CappedAllocator = reprolab_testkit::CappedAllocator::new(1 << 30);

/// 7 transitions of a 3-d observation and a 2-d action (shapes no other
/// array shares, so a dataspace is found by its dims).
fn small() -> Dataset {
    let n = 7;
    let mut d = Dataset::new(3, 2);
    d.observations = (0..n * 3).map(|i| i as f32 * 0.25).collect();
    d.next_observations = (0..n * 3).map(|i| i as f32 * 0.25 + 0.75).collect();
    d.actions = (0..n * 2).map(|i| (i as f32 * 0.1).sin()).collect();
    d.rewards = (0..n).map(|i| i as f32).collect();
    d.terminals = vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    d.timeouts = vec![0.0; n];
    d.source = vec![0; n];
    d
}

fn saved(d: &Dataset, name: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    io::save(d, &p).unwrap();
    std::fs::read(p).unwrap()
}

/// An HDF5 file with the given f32 datasets (name, values, shape).
fn hdf5(datasets: &[(&str, Vec<f32>, Vec<u64>)]) -> Vec<u8> {
    let mut b = hdf5_pure::FileBuilder::new();
    for (name, values, shape) in datasets {
        b.create_dataset(name).with_f32_data(values).with_shape(shape);
    }
    b.finish().unwrap()
}

fn d4rl_sets(d: &Dataset) -> Vec<(&'static str, Vec<f32>, Vec<u64>)> {
    let n = d.len() as u64;
    vec![
        ("observations", d.observations.clone(), vec![n, 3]),
        ("actions", d.actions.clone(), vec![n, 2]),
        ("rewards", d.rewards.clone(), vec![n]),
        ("terminals", d.terminals.clone(), vec![n]),
        ("next_observations", d.next_observations.clone(), vec![n, 3]),
    ]
}

/// Bob Jenkins' lookup3 `hashlittle` (initval 0), HDF5's metadata checksum.
fn lookup3(k: &[u8]) -> u32 {
    let (mut a, mut b, mut c) = {
        let v = 0xdead_beef_u32.wrapping_add(k.len() as u32);
        (v, v, v)
    };
    let word = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let mut k = k;
    while k.len() > 12 {
        a = a.wrapping_add(word(&k[0..]));
        b = b.wrapping_add(word(&k[4..]));
        c = c.wrapping_add(word(&k[8..]));
        a = a.wrapping_sub(c) ^ c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a) ^ a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b) ^ b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c) ^ c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a) ^ a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b) ^ b.rotate_left(4);
        b = b.wrapping_add(a);
        k = &k[12..];
    }
    if k.is_empty() {
        return c;
    }
    let mut last = [0u8; 12];
    last[..k.len()].copy_from_slice(k);
    a = a.wrapping_add(word(&last[0..]));
    b = b.wrapping_add(word(&last[4..]));
    c = c.wrapping_add(word(&last[8..]));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

/// The spans `(start, checksum_at)` of the version 2 object headers.
fn object_headers(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for start in 0..bytes.len().saturating_sub(8) {
        if &bytes[start..start + 4] != b"OHDR" || bytes[start + 4] != 2 {
            continue;
        }
        let flags = bytes[start + 5];
        let mut at = start + 6;
        if flags & 0x20 != 0 {
            at += 16;
        }
        if flags & 0x10 != 0 {
            at += 4;
        }
        let width = 1usize << (flags & 3);
        let mut size = [0u8; 8];
        size[..width].copy_from_slice(&bytes[at..at + width]);
        out.push((start, at + width + u64::from_le_bytes(size) as usize));
    }
    out
}

/// `bytes` with every `dims` dataspace replaced by `claimed` (same rank)
/// and the enclosing object headers' checksums fixed, so the reader
/// meets the claim itself, not a checksum error.
fn claim_dims(bytes: &[u8], dims: &[u64], claimed: &[u64]) -> Vec<u8> {
    let from: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
    let to: Vec<u8> = claimed.iter().flat_map(|d| d.to_le_bytes()).collect();
    let mut out = bytes.to_vec();
    let headers = object_headers(bytes);
    for (start, sum_at) in &headers {
        assert_eq!(
            lookup3(&bytes[*start..*sum_at]).to_le_bytes(),
            bytes[*sum_at..sum_at + 4],
            "the test's checksum is HDF5's"
        );
    }
    let mut patched = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if out[i..i + from.len()] == from[..] {
            out[i..i + from.len()].copy_from_slice(&to);
            patched += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(patched > 0, "dims {dims:?} not found in the file");
    for (start, sum_at) in headers {
        let sum = lookup3(&out[start..sum_at]).to_le_bytes();
        out[sum_at..sum_at + 4].copy_from_slice(&sum);
    }
    out
}

fn npz_of(d: &Dataset, change: impl FnOnce(&mut Vec<(&'static str, Vec<u8>)>)) -> Vec<u8> {
    let n = d.len() as u64;
    let mut members = vec![
        ("observations", npy_bytes("<f4", &[n, 3], &f32_payload(&d.observations))),
        ("actions", npy_bytes("<f4", &[n, 2], &f32_payload(&d.actions))),
        ("rewards", npy_bytes("<f4", &[n], &f32_payload(&d.rewards))),
        ("terminals", npy_bytes("<f4", &[n], &f32_payload(&d.terminals))),
        ("next_observations", npy_bytes("<f4", &[n, 3], &f32_payload(&d.next_observations))),
    ];
    change(&mut members);
    npz_bytes(&members)
}

fn set(members: &mut [(&'static str, Vec<u8>)], key: &str, bytes: Vec<u8>) {
    members.iter_mut().find(|(k, _)| *k == key).unwrap().1 = bytes;
}

fn load(p: &Path) -> anyhow::Result<()> {
    io::load(p).map(drop)
}

#[test]
fn npz_dataset_loader_survives_the_campaign() {
    let d = small();
    let nan = {
        let mut bad = d.clone();
        bad.rewards[3] = f32::NAN;
        npz_of(&bad, |_| {})
    };
    let inf = {
        let mut bad = d.clone();
        bad.observations[4] = f32::INFINITY;
        npz_of(&bad, |_| {})
    };
    let huge = npz_of(&d, |m| set(m, "observations", npy_bytes("<f4", &[1_000_000, 1_000_000], &[0; 64])));
    let overflow = npz_of(&d, |m| set(m, "actions", npy_bytes("<f4", &[u64::MAX, 3], &[0; 64])));
    let short_rewards = npz_of(&d, |m| set(m, "rewards", npy_bytes("<f4", &[6], &f32_payload(&d.rewards[..6]))));
    let wrong_width = npz_of(&d, |m| {
        set(m, "next_observations", npy_bytes("<f4", &[7, 2], &f32_payload(&d.next_observations[..14])))
    });
    let three_d =
        npz_of(&d, |m| set(m, "observations", npy_bytes("<f4", &[7, 3, 1, 1], &f32_payload(&d.observations))));
    let unicode = npz_of(&d, |m| set(m, "rewards", npy_bytes("<U3", &[7], &[b'a'; 84])));
    let missing = npz_of(&d, |m| m.retain(|(k, _)| *k != "actions"));
    let empty = npz_of(&Dataset::new(3, 2), |_| {});
    let f64_rewards = npz_of(&d, |m| {
        let payload: Vec<u8> = d.rewards.iter().flat_map(|&v| f64::from(v).to_le_bytes()).collect();
        set(m, "rewards", npy_bytes("<f8", &[7], &payload))
    });
    let s = Campaign::new("offline-rl .npz dataset", "d.npz", saved(&d, "d.npz"), load)
        .truncations_refused()
        .case("NaN reward", nan, Expect::Refused)
        .case("inf observation", inf, Expect::Refused)
        .case("observations claim 10^12 f32", huge, Expect::Refused)
        .case("actions' shape overflows", overflow, Expect::Refused)
        .case("rewards one row short", short_rewards, Expect::Refused)
        .case("next_observations 2 columns, observations 3", wrong_width, Expect::Refused)
        .case("4-d observations", three_d, Expect::Refused)
        .case("unicode rewards", unicode, Expect::Refused)
        .case("no actions", missing, Expect::Refused)
        .case("no transitions", empty, Expect::Refused)
        .case("float64 rewards", f64_rewards, Expect::Either)
        .run();
    assert!(s.loaded >= 2, "the valid file and the float64 one load: {s}");
}

#[test]
fn hdf5_dataset_loader_survives_the_campaign() {
    let d = small();
    let valid = hdf5(&d4rl_sets(&d));
    let huge = claim_dims(&valid, &[7, 3], &[1_000_000, 1_000_000]);
    let huge_1d = claim_dims(&valid, &[7], &[1_000_000_000_000]);
    let overflow = claim_dims(&valid, &[7, 2], &[u64::MAX, u64::MAX]);
    let with = |key: &str, values: Vec<f32>, shape: Vec<u64>| {
        let mut sets = d4rl_sets(&d);
        let at = sets.iter().position(|(k, _, _)| *k == key).unwrap();
        sets[at] = (sets[at].0, values, shape);
        hdf5(&sets)
    };
    let mut nan_obs = d.observations.clone();
    nan_obs[2] = f32::NAN;
    let nan = with("observations", nan_obs, vec![7, 3]);
    let inf = with("rewards", vec![f32::NEG_INFINITY; 7], vec![7]);
    let short = with("terminals", vec![0.0; 6], vec![6]);
    let wide = with("next_observations", vec![0.0; 28], vec![7, 4]);
    let string_rewards = {
        let mut b = hdf5_pure::FileBuilder::new();
        for (name, values, shape) in d4rl_sets(&d) {
            if name == "rewards" {
                b.create_dataset(name).with_vlen_strings(&["a", "b", "c", "d", "e", "f", "g"]);
            } else {
                b.create_dataset(name).with_f32_data(&values).with_shape(&shape);
            }
        }
        b.finish().unwrap()
    };
    let i64_actions = {
        let mut b = hdf5_pure::FileBuilder::new();
        for (name, values, shape) in d4rl_sets(&d) {
            if name == "actions" {
                b.create_dataset(name).with_i64_data(&[1; 14]).with_shape(&shape);
            } else {
                b.create_dataset(name).with_f32_data(&values).with_shape(&shape);
            }
        }
        b.finish().unwrap()
    };
    let s = Campaign::new("offline-rl .hdf5 dataset (D4RL)", "d.hdf5", valid, load)
        .case("observations claim 10^12 f32", huge, Expect::Refused)
        .case("rewards, terminals claim 10^12", huge_1d, Expect::Refused)
        .case("actions' shape overflows", overflow, Expect::Refused)
        .case("NaN observation", nan, Expect::Refused)
        .case("-inf rewards", inf, Expect::Refused)
        .case("terminals one row short", short, Expect::Refused)
        .case("next_observations 4 columns", wide, Expect::Refused)
        .case("string rewards", string_rewards, Expect::Refused)
        .case("int64 actions", i64_actions, Expect::Either)
        .run();
    assert!(s.refused > s.cases / 2, "{s}");
}

/// A Minari file of `d` (one group per episode, T + 1 observations);
/// `change` edits the datasets of episode 0 before writing.
fn minari(d: &Dataset, change: impl Fn(&mut Vec<(&'static str, Vec<f32>, Vec<u64>)>)) -> Vec<u8> {
    let mut b = hdf5_pure::FileBuilder::new();
    let (mut start, mut ep) = (0, 0);
    for i in 0..d.len() {
        if d.terminals[i] > 0.5 || i + 1 == d.len() {
            let t = i + 1 - start;
            let mut obs = d.observations[start * 3..(i + 1) * 3].to_vec();
            obs.extend_from_slice(&d.next_observations[i * 3..i * 3 + 3]);
            let mut sets = vec![
                ("observations", obs, vec![t as u64 + 1, 3]),
                ("actions", d.actions[start * 2..(i + 1) * 2].to_vec(), vec![t as u64, 2]),
                ("rewards", d.rewards[start..=i].to_vec(), vec![t as u64]),
                ("terminations", d.terminals[start..=i].to_vec(), vec![t as u64]),
                ("truncations", d.timeouts[start..=i].to_vec(), vec![t as u64]),
            ];
            if ep == 0 {
                change(&mut sets);
            }
            let mut g = b.create_group(&format!("episode_{ep}"));
            for (name, values, shape) in &sets {
                g.create_dataset(name).with_f32_data(values).with_shape(shape);
            }
            b.add_group(g.finish());
            start = i + 1;
            ep += 1;
        }
    }
    b.finish().unwrap()
}

#[test]
fn minari_dataset_loader_survives_the_campaign() {
    let d = small();
    let valid = minari(&d, |_| {});
    let edit = |key: &'static str, values: Vec<f32>, shape: Vec<u64>| {
        minari(&d, move |sets| {
            let at = sets.iter().position(|(k, _, _)| *k == key).unwrap();
            sets[at] = (key, values.clone(), shape.clone());
        })
    };
    // Episode 0 has 3 steps: 4 observations.
    let huge = claim_dims(&valid, &[4, 3], &[1_000_000, 1_000_000]);
    let no_next = edit("observations", vec![0.0; 9], vec![3, 3]);
    let nan = edit("rewards", vec![0.0, f32::NAN, 1.0], vec![3]);
    let short_actions = edit("actions", vec![0.0; 4], vec![2, 2]);
    let wide_actions = edit("actions", vec![0.0; 9], vec![3, 3]);
    let no_rewards = minari(&d, |sets| sets.retain(|(k, _, _)| *k != "rewards"));
    let s = Campaign::new("offline-rl .hdf5 dataset (Minari)", "m.hdf5", valid, load)
        .case("episode 0 observations claim 10^12", huge, Expect::Refused)
        .case("T observations, not T + 1", no_next, Expect::Refused)
        .case("NaN reward", nan, Expect::Refused)
        .case("actions one row short", short_actions, Expect::Refused)
        .case("actions wider in one episode", wide_actions, Expect::Refused)
        .case("an episode without rewards", no_rewards, Expect::Refused)
        .run();
    assert!(s.refused > 0, "{s}");
}

#[test]
fn mixed_datasets_name_the_file_that_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.npz");
    let b = dir.path().join("b.hdf5");
    io::save(&small(), &a).unwrap();
    let mut other = Dataset::new(4, 2);
    let n = 7;
    other.observations = vec![0.5; n * 4];
    other.next_observations = vec![0.5; n * 4];
    other.actions = vec![0.0; n * 2];
    other.rewards = vec![1.0; n];
    other.terminals = vec![0.0; n];
    other.timeouts = vec![0.0; n];
    other.source = vec![0; n];
    io::save(&other, &b).unwrap();
    let mixed = io::load_mixed(&[&a, &a]).unwrap();
    assert_eq!(mixed.len(), 14);
    assert_eq!(mixed.rewards[7..], small().rewards[..]);
    let err = io::load_mixed(&[&a, &b]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(reprolab_core::is_user_error(&err), "{msg}");
    assert!(msg.contains("b.hdf5") && msg.contains("a.npz") && !msg.contains('\n'), "{msg}");
    // And every damaged second file is refused the same way.
    let valid = saved(&small(), "m.npz");
    let first = a.clone();
    Campaign::new("offline-rl mixed datasets", "m.npz", valid, move |p| {
        io::load_mixed(&[first.as_path(), p]).map(drop)
    })
    .truncations_refused()
    .run();
}

fn meta() -> PolicyMeta {
    PolicyMeta {
        env: Some("point-obstacle".into()),
        algo: Algo::Td3Bc,
        obs_dim: 2,
        act_dim: 2,
        hidden: vec![8, 8],
        stochastic: false,
        norm: Normaliser { mean: vec![0.0, 0.5], std: vec![1.0, 2.0] },
        action_scale: vec![1.0, 1.0],
        datasets: vec!["d.npz".into()],
        curve: vec![(10, 1.5)],
        behaviour_validation_log_likelihood: None,
    }
}

/// A checkpoint of a small actor; the campaign's cases replace its state.json.
fn policy_state(dir: &Path) -> Vec<u8> {
    let m = meta();
    let dev = reprolab_core::device::default_device();
    let actor = Actor::new(m.obs_dim, m.act_dim, &m.hidden, m.stochastic, &dev);
    let state = TrainState { step: 10, extra: serde_json::to_value(&m).unwrap(), ..Default::default() };
    Checkpoint::new(dir).save(&actor, None, &state).unwrap();
    std::fs::read(dir.join("state.json")).unwrap()
}

fn state_with(valid: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(valid).unwrap();
    edit(&mut v["extra"]);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn policy_state_survives_the_campaign() {
    let ck = tempfile::tempdir().unwrap();
    let valid = policy_state(ck.path());
    let model = std::fs::read(ck.path().join("model.safetensors")).unwrap();
    let huge_hidden = state_with(&valid, |e| e["hidden"] = serde_json::json!([1_000_000_000u64, 1_000_000_000u64]));
    let huge_obs = state_with(&valid, |e| e["obs_dim"] = serde_json::json!(1_000_000_000_000u64));
    let zero_act = state_with(&valid, |e| e["act_dim"] = serde_json::json!(0));
    let short_norm = state_with(&valid, |e| e["norm"]["mean"] = serde_json::json!([0.0]));
    let zero_std = state_with(&valid, |e| e["norm"]["std"] = serde_json::json!([1.0, 0.0]));
    let short_scale = state_with(&valid, |e| e["action_scale"] = serde_json::json!([1.0]));
    let nan_scale = state_with(&valid, |e| e["action_scale"] = serde_json::json!([1.0, "NaN"]));
    let unknown_algo = state_with(&valid, |e| e["algo"] = serde_json::json!("ppo"));
    let other_shape = state_with(&valid, |e| e["hidden"] = serde_json::json!([8, 9]));
    Campaign::new("offline-rl policy state.json", "state.json", valid, move |p| {
        std::fs::write(p.parent().unwrap().join("model.safetensors"), &model).unwrap();
        load_policy(p.parent().unwrap()).map(drop)
    })
    .case("hidden claims 10^9 x 10^9", huge_hidden, Expect::Refused)
    .case("obs_dim 10^12", huge_obs, Expect::Refused)
    .case("act_dim 0", zero_act, Expect::Refused)
    .case("norm shorter than obs_dim", short_norm, Expect::Refused)
    .case("norm std 0", zero_std, Expect::Refused)
    .case("action_scale shorter than act_dim", short_scale, Expect::Refused)
    .case("action_scale not a number", nan_scale, Expect::Refused)
    .case("unknown algo", unknown_algo, Expect::Refused)
    .case("hidden differs from the weights", other_shape, Expect::Refused)
    .run();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64 * reprolab_testkit::fuzz_scale() as u32))]

    #[test]
    fn arbitrary_bytes_never_panic_any_offline_rl_loader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let loaders: [(&str, Loader); 3] = [
            ("x.npz", Arc::new(load)),
            ("x.hdf5", Arc::new(load)),
            ("x.h5", Arc::new(|p| io::load_mixed(&[p]).map(drop))),
        ];
        for (name, load) in &loaders {
            let outcome = check_bytes(name, &bytes, load);
            prop_assert!(matches!(outcome, Ok(Loaded::Yes | Loaded::No)), "{name}: {outcome:?}");
        }
    }
}
