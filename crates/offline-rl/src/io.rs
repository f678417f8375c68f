//! D4RL / Minari dataset files: HDF5 (`.hdf5`, `.h5`, read with the pure-Rust
//! `hdf5-pure`, no libhdf5) and numpy `.npz` exports, with the keys
//! `observations`, `actions`, `rewards`, `terminals`, `next_observations`
//! and (optional, zeros when absent) `timeouts`; or Minari's layout, one
//! `episode_<i>` group per episode with T + 1 `observations` and
//! `terminations` / `truncations`, flattened into those keys. Every problem is a
//! one-line user error naming the file.

use crate::dataset::Dataset;
use anyhow::Result;
use reprolab_core::data::npy::{Array, load_npz, save_npz};
use std::collections::BTreeMap;
use std::path::Path;

const REQUIRED: [&str; 5] = ["observations", "actions", "rewards", "terminals", "next_observations"];

/// Loads one dataset file, by extension; validates shapes and finiteness.
pub fn load(path: &Path) -> Result<Dataset> {
    let shown = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let arrays = match ext.as_str() {
        "npz" => load_npz(path)?,
        "hdf5" | "h5" => load_hdf5(path)?,
        _ => reprolab_core::user_bail!("{shown}: unknown dataset format '.{ext}' (use .hdf5, .h5 or .npz)"),
    };
    from_arrays(&arrays, &shown)
}

/// Loads several files and concatenates them (a mixed dataset).
pub fn load_mixed(paths: &[impl AsRef<Path>]) -> Result<Dataset> {
    let mut parts: Vec<Dataset> = Vec::new();
    for p in paths {
        let mut d = load(p.as_ref())?;
        d.sources = vec![p.as_ref().display().to_string()];
        // Checked here, not only in `Dataset::concat`, so the error names both files.
        if let Some(first) = parts.first()
            && (first.obs_dim, first.act_dim) != (d.obs_dim, d.act_dim)
        {
            reprolab_core::user_bail!(
                "{}: observation/action sizes {}/{} differ from {}'s {}/{}; cannot mix them",
                d.sources[0],
                d.obs_dim,
                d.act_dim,
                first.sources[0],
                first.obs_dim,
                first.act_dim
            );
        }
        parts.push(d);
    }
    Dataset::concat(&parts)
}

fn load_hdf5(path: &Path) -> Result<BTreeMap<String, Array>> {
    let shown = path.display().to_string();
    if !path.exists() {
        reprolab_core::user_bail!("{shown}: cannot open (no such file)");
    }
    let file = hdf5_pure::File::open(path)
        .map_err(|e| reprolab_core::user_error(format!("{shown}: not a readable HDF5 file ({e})")))?;
    let root = file.root();
    let top = root.datasets().unwrap_or_default();
    let episodes: Vec<String> =
        root.groups().unwrap_or_default().into_iter().filter(|g| g.starts_with("episode_")).collect();
    if !top.iter().any(|k| k == "observations") && !episodes.is_empty() {
        return load_minari(&file, episodes, &shown);
    }
    let mut out = BTreeMap::new();
    for key in REQUIRED.iter().chain(&["timeouts"]) {
        if let Ok(ds) = file.dataset(key) {
            out.insert(key.to_string(), read_numeric(&ds, &format!("{shown}: '{key}'"))?);
        }
    }
    Ok(out)
}

/// One HDF5 dataset as f32, whatever its numeric type.
fn read_numeric(ds: &hdf5_pure::Dataset, what: &str) -> Result<Array> {
    let bad = |e: hdf5_pure::Error| reprolab_core::user_error(format!("{what}: cannot read ({e})"));
    let shape: Vec<usize> = ds.shape().map_err(bad)?.iter().map(|&d| d as usize).collect();
    // h5py stores numpy booleans (D4RL's terminals/timeouts) as an enum of int8.
    let data: Vec<f32> = match ds.dtype().map_err(bad)? {
        hdf5_pure::DType::Enum(_) | hdf5_pure::DType::U8 | hdf5_pure::DType::I8 => {
            ds.read_u8().map_err(bad)?.into_iter().map(|b| f32::from(u8::from(b != 0))).collect()
        }
        hdf5_pure::DType::String | hdf5_pure::DType::VariableLengthString | hdf5_pure::DType::Compound(_) => {
            reprolab_core::user_bail!("{what}: not a numeric array")
        }
        _ => ds.read_f32().map_err(bad)?,
    };
    Array::new(shape, data).map_err(|e| reprolab_core::user_error(format!("{what}: {e}")))
}

/// Minari's layout: one group per episode (`episode_<i>`) holding
/// `observations` (T + 1 rows), `actions`, `rewards`, `terminations` and
/// `truncations` (T rows); flattened into D4RL's keys.
fn load_minari(file: &hdf5_pure::File, mut episodes: Vec<String>, shown: &str) -> Result<BTreeMap<String, Array>> {
    episodes.sort_by_key(|g| g.trim_start_matches("episode_").parse::<u64>().unwrap_or(u64::MAX));
    let mut cols: BTreeMap<&str, (Vec<f32>, usize)> = BTreeMap::new();
    let mut n = 0;
    for ep in &episodes {
        let g = file.group(ep).map_err(|e| reprolab_core::user_error(format!("{shown}: '{ep}': cannot read ({e})")))?;
        let read = |key: &str| -> Result<Array> {
            let what = format!("{shown}: '{ep}/{key}'");
            if g.groups().unwrap_or_default().iter().any(|k| k == key) {
                reprolab_core::user_bail!(
                    "{what}: dictionary observations/actions are not supported; flatten them first"
                );
            }
            let ds = g.dataset(key).map_err(|_| reprolab_core::user_error(format!("{what}: missing")))?;
            read_numeric(&ds, &what)
        };
        let obs = read("observations")?;
        let t = read("rewards")?.rows();
        if obs.rows() != t + 1 {
            reprolab_core::user_bail!(
                "{shown}: '{ep}/observations' has {} rows, expected {} (rewards + 1)",
                obs.rows(),
                t + 1
            );
        }
        let d = obs.data.len() / obs.rows().max(1);
        let parts = [
            ("observations", obs.data[..t * d].to_vec(), d),
            ("next_observations", obs.data[d..].to_vec(), d),
            ("actions", read("actions")?.data, 0),
            ("rewards", read("rewards")?.data, 1),
            ("terminals", read("terminations")?.data, 1),
            ("timeouts", read("truncations")?.data, 1),
        ];
        for (key, values, width) in parts {
            let width = if width == 0 { values.len() / t.max(1) } else { width };
            let entry = cols.entry(key).or_insert((Vec::new(), width));
            if entry.1 != width || values.len() != t * width {
                reprolab_core::user_bail!(
                    "{shown}: '{ep}': '{key}' has {} values, expected {} x {}",
                    values.len(),
                    t,
                    entry.1
                );
            }
            entry.0.extend(values);
        }
        n += t;
    }
    let mut out = BTreeMap::new();
    for (key, (values, width)) in cols {
        out.insert(key.to_string(), Array::new(vec![n, width], values)?);
    }
    Ok(out)
}

/// Builds and validates a [`Dataset`] from named arrays.
pub fn from_arrays(arrays: &BTreeMap<String, Array>, shown: &str) -> Result<Dataset> {
    for key in REQUIRED {
        if !arrays.contains_key(key) {
            let have: Vec<&str> = arrays.keys().map(String::as_str).collect();
            reprolab_core::user_bail!("{shown}: missing key '{key}' (found: {})", have.join(", "));
        }
    }
    let width = |key: &str| -> Result<(usize, usize)> {
        let a = &arrays[key];
        match a.shape.as_slice() {
            [n] => Ok((*n, 1)),
            [n, d] => Ok((*n, *d)),
            [n, 1, d] | [n, d, 1] => Ok((*n, *d)),
            s => reprolab_core::user_bail!("{shown}: '{key}' must be 1- or 2-dimensional, has shape {s:?}"),
        }
    };
    let (n, obs_dim) = width("observations")?;
    let (_, act_dim) = width("actions")?;
    let mut lens = vec![("observations", n)];
    for key in ["actions", "rewards", "terminals", "next_observations", "timeouts"] {
        if arrays.contains_key(key) {
            lens.push((key, width(key)?.0));
        }
    }
    if let Some((key, len)) = lens.iter().find(|(_, len)| *len != n) {
        reprolab_core::user_bail!("{shown}: '{key}' has {len} rows but 'observations' has {n}");
    }
    let (_, next_dim) = width("next_observations")?;
    if next_dim != obs_dim {
        reprolab_core::user_bail!("{shown}: 'next_observations' has {next_dim} columns, 'observations' {obs_dim}");
    }
    let ones = |key: &str| arrays.get(key).map(|a| a.data.iter().map(|&v| f32::from(u8::from(v != 0.0))).collect());
    let data = Dataset {
        obs_dim,
        act_dim,
        observations: arrays["observations"].data.clone(),
        actions: arrays["actions"].data.clone(),
        rewards: arrays["rewards"].data.clone(),
        next_observations: arrays["next_observations"].data.clone(),
        terminals: ones("terminals").unwrap_or_default(),
        timeouts: ones("timeouts").unwrap_or_else(|| vec![0.0; n]),
        source: vec![0; n],
        sources: vec![shown.to_string()],
    };
    data.validate(shown)?;
    Ok(data)
}

fn to_arrays(d: &Dataset) -> Result<BTreeMap<String, Array>> {
    let n = d.len();
    let mut m = BTreeMap::new();
    m.insert("observations".into(), Array::new(vec![n, d.obs_dim], d.observations.clone())?);
    m.insert("actions".into(), Array::new(vec![n, d.act_dim], d.actions.clone())?);
    m.insert("rewards".into(), Array::new(vec![n], d.rewards.clone())?);
    m.insert("terminals".into(), Array::new(vec![n], d.terminals.clone())?);
    m.insert("timeouts".into(), Array::new(vec![n], d.timeouts.clone())?);
    m.insert("next_observations".into(), Array::new(vec![n, d.obs_dim], d.next_observations.clone())?);
    Ok(m)
}

/// Writes a dataset in the format its extension names (atomically).
pub fn save(d: &Dataset, path: &Path) -> Result<()> {
    let arrays = to_arrays(d)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "npz" => save_npz(path, &arrays),
        "hdf5" | "h5" => {
            let mut b = hdf5_pure::FileBuilder::new();
            for (name, a) in &arrays {
                let shape: Vec<u64> = a.shape.iter().map(|&v| v as u64).collect();
                b.create_dataset(name).with_f32_data(&a.data).with_shape(&shape);
            }
            let bytes = b.finish().map_err(|e| anyhow::anyhow!("{}: cannot encode HDF5 ({e})", path.display()))?;
            reprolab_core::report::write_bytes_atomic(path, bytes)
        }
        _ => reprolab_core::user_bail!("{}: unknown dataset format '.{ext}' (use .hdf5, .h5 or .npz)", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::collect_point;
    use crate::env::point::Layout;

    fn small() -> Dataset {
        let mut d = collect_point(&Layout::obstacle(5.0), 0);
        let keep = 30;
        d.observations.truncate(keep * 2);
        d.actions.truncate(keep * 2);
        d.next_observations.truncate(keep * 2);
        d.rewards.truncate(keep);
        d.terminals.truncate(keep);
        d.timeouts.truncate(keep);
        d.source.truncate(keep);
        d
    }

    #[test]
    fn npz_and_hdf5_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = small();
        for name in ["d.npz", "d.hdf5"] {
            let p = dir.path().join(name);
            save(&d, &p).unwrap();
            let back = load(&p).unwrap();
            assert_eq!(back.observations, d.observations, "{name}");
            assert_eq!(back.actions, d.actions);
            assert_eq!(back.rewards, d.rewards);
            assert_eq!(back.terminals, d.terminals);
            assert_eq!(back.timeouts, d.timeouts);
            assert_eq!(back.next_observations, d.next_observations);
        }
        let mixed = load_mixed(&[dir.path().join("d.npz"), dir.path().join("d.hdf5")]).unwrap();
        assert_eq!(mixed.len(), 60);
        assert_eq!(mixed.sources.len(), 2);
    }

    /// A Minari-layout file (one group per episode, T + 1 observations)
    /// flattens into the same transitions as the D4RL layout.
    #[test]
    fn minari_episode_groups_are_flattened() {
        let d = small();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("minari.hdf5");
        let mut b = hdf5_pure::FileBuilder::new();
        let mut start = 0;
        let mut ep = 0;
        for i in 0..d.len() {
            if d.terminals[i] > 0.5 || d.timeouts[i] > 0.5 || i + 1 == d.len() {
                let t = i + 1 - start;
                let mut obs = d.observations[start * 2..(i + 1) * 2].to_vec();
                obs.extend_from_slice(&d.next_observations[i * 2..i * 2 + 2]);
                let mut g = b.create_group(&format!("episode_{ep}"));
                g.create_dataset("observations").with_f32_data(&obs).with_shape(&[t as u64 + 1, 2]);
                g.create_dataset("actions")
                    .with_f32_data(&d.actions[start * 2..(i + 1) * 2])
                    .with_shape(&[t as u64, 2]);
                g.create_dataset("rewards").with_f32_data(&d.rewards[start..=i]).with_shape(&[t as u64]);
                g.create_dataset("terminations").with_f32_data(&d.terminals[start..=i]).with_shape(&[t as u64]);
                g.create_dataset("truncations").with_f32_data(&d.timeouts[start..=i]).with_shape(&[t as u64]);
                b.add_group(g.finish());
                start = i + 1;
                ep += 1;
            }
        }
        std::fs::write(&path, b.finish().unwrap()).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.observations, d.observations);
        assert_eq!(back.next_observations, d.next_observations);
        assert_eq!(back.actions, d.actions);
        assert_eq!(back.rewards, d.rewards);
        assert_eq!(back.terminals, d.terminals);
    }

    fn fails(arrays: BTreeMap<String, Array>, want: &str) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.npz");
        save_npz(&p, &arrays).unwrap();
        let err = load(&p).unwrap_err();
        let msg = err.to_string();
        assert!(reprolab_core::is_user_error(&err), "{msg}");
        assert!(msg.contains("bad.npz") && msg.contains(want), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }

    #[test]
    fn bad_files_get_one_line_errors() {
        let good = to_arrays(&small()).unwrap();
        let mut m = good.clone();
        m.remove("rewards");
        fails(m, "missing key 'rewards'");
        let mut m = good.clone();
        m.insert("rewards".into(), Array::new(vec![29], vec![0.0; 29]).unwrap());
        fails(m, "'rewards' has 29 rows");
        let mut m = good.clone();
        m.get_mut("observations").unwrap().data[5] = f32::INFINITY;
        fails(m, "'observations' has a non-finite");
        // A truncated file and an unknown extension.
        let dir = tempfile::tempdir().unwrap();
        for name in ["t.npz", "t.hdf5"] {
            let p = dir.path().join(name);
            save(&small(), &p).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
            let err = load(&p).unwrap_err();
            assert!(reprolab_core::is_user_error(&err) && err.to_string().contains(name), "{err}");
        }
        let err = load(Path::new("x.csv")).unwrap_err();
        assert!(err.to_string().contains("unknown dataset format"));
        let err = load(Path::new("/nonexistent/x.hdf5")).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
    }
}
