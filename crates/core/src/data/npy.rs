//! NPY and NPZ arrays (numpy's formats), read into `f32` whatever their
//! numeric dtype, and written atomically. Used for datasets exported from
//! Python and for per-example outputs (logits) that later stages reread.
//! [`load_npz_f64`] reads into `f64` instead, for user files whose every
//! digit matters (scores to be ranked, int64 ids beyond f32's 2^24).

use anyhow::Result;
use npyz::{DType, TypeChar, WriterBuilder};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// A dense C-ordered array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Array {
    /// An array of `shape`; checks that `data` fills it.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            crate::user_bail!("array of shape {shape:?} needs {n} values, got {}", data.len());
        }
        Ok(Self { shape, data })
    }

    /// Rows of a 2-D array (`[n]` counts as `[n, 1]`).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }
}

/// [`Array`] with `f64` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Array64 {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// The element types arrays are read into: every supported dtype converts
/// to them (`f64` exactly, `f32` rounding as numpy's astype does).
trait Element: Copy {
    fn from_f32(v: f32) -> Self;
    fn from_f64(v: f64) -> Self;
    fn from_i64(v: i64) -> Self;
    fn from_i32(v: i32) -> Self;
    fn from_u8(v: u8) -> Self;
}

impl Element for f32 {
    fn from_f32(v: f32) -> Self {
        v
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_i64(v: i64) -> Self {
        v as f32
    }
    fn from_i32(v: i32) -> Self {
        v as f32
    }
    fn from_u8(v: u8) -> Self {
        f32::from(v)
    }
}

impl Element for f64 {
    fn from_f32(v: f32) -> Self {
        f64::from(v)
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn from_i64(v: i64) -> Self {
        v as f64
    }
    fn from_i32(v: i32) -> Self {
        f64::from(v)
    }
    fn from_u8(v: u8) -> Self {
        f64::from(v)
    }
}

fn read_array<R: Read>(npy: npyz::NpyFile<R>, what: &str) -> Result<Array> {
    let (shape, data) = read_values::<R, f32>(npy, what)?;
    Array::new(shape, data).map_err(|e| crate::user_error(format!("{what}: {e}")))
}

fn read_values<R: Read, T: Element>(npy: npyz::NpyFile<R>, what: &str) -> Result<(Vec<usize>, Vec<T>)> {
    if npy.order() == npyz::Order::Fortran {
        crate::user_bail!("{what}: Fortran-ordered array; save it with np.ascontiguousarray");
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    // A damaged or hostile header can declare a shape whose element count
    // overflows; refuse it before anything sizes a buffer from it.
    if shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).is_none() {
        crate::user_bail!("{what}: the header's shape {shape:?} has more elements than can exist");
    }
    let DType::Plain(ts) = npy.dtype() else {
        crate::user_bail!("{what}: structured dtypes are not supported, save a plain numeric array");
    };
    let bad = |e: std::io::Error| crate::user_error(format!("{what}: truncated or corrupt data ({e})"));
    let data: Vec<T> = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => npy.into_vec::<f32>().map_err(bad)?.into_iter().map(T::from_f32).collect(),
        (TypeChar::Float, 8) => npy.into_vec::<f64>().map_err(bad)?.into_iter().map(T::from_f64).collect(),
        (TypeChar::Int, 8) => npy.into_vec::<i64>().map_err(bad)?.into_iter().map(T::from_i64).collect(),
        (TypeChar::Int, 4) => npy.into_vec::<i32>().map_err(bad)?.into_iter().map(T::from_i32).collect(),
        (TypeChar::Uint, 1) => npy.into_vec::<u8>().map_err(bad)?.into_iter().map(T::from_u8).collect(),
        (TypeChar::Bool, 1) => {
            npy.into_vec::<bool>().map_err(bad)?.into_iter().map(|b| T::from_u8(u8::from(b))).collect()
        }
        _ => crate::user_bail!("{what}: unsupported dtype '{ts}' (use float32/64, int32/64, uint8 or bool)"),
    };
    let n: usize = shape.iter().product();
    if n != data.len() {
        crate::user_bail!("{what}: array of shape {shape:?} needs {n} values, got {}", data.len());
    }
    Ok((shape, data))
}

/// The longest `.npy` header we read (numpy writes a few hundred bytes; a
/// damaged length field could otherwise ask for 4 GiB).
const MAX_HEADER: usize = 1 << 20;

/// The reader with its `.npy` header checked: npyz multiplies the header's
/// dimensions without an overflow check (a panic in debug builds, a wrapped
/// element count in release), so a shape whose element count overflows is
/// refused here, before npyz sees it. Anything else npyz reports itself.
fn checked_header<R: Read>(mut reader: R, what: &str) -> Result<impl Read> {
    let mut prefix = Vec::new();
    (&mut reader)
        .take(12)
        .read_to_end(&mut prefix)
        .map_err(|e| crate::user_error(format!("{what}: cannot read ({e})")))?;
    if prefix.len() == 12 && prefix.starts_with(b"\x93NUMPY") {
        let (len, start) = match prefix[6] {
            1 => (usize::from(u16::from_le_bytes([prefix[8], prefix[9]])), 10),
            _ => (u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize, 12),
        };
        if len > MAX_HEADER {
            crate::user_bail!("{what}: not a valid .npy file (a {len}-byte header)");
        }
        let have = prefix.len() - start;
        (&mut reader)
            .take(len.saturating_sub(have) as u64)
            .read_to_end(&mut prefix)
            .map_err(|e| crate::user_error(format!("{what}: cannot read ({e})")))?;
        let header = String::from_utf8_lossy(&prefix[start..]);
        if let Some(dims) = declared_shape(&header)
            && dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d)).is_none()
        {
            crate::user_bail!("{what}: the header's shape {dims:?} has more elements than can exist");
        }
    }
    Ok(std::io::Cursor::new(prefix).chain(reader))
}

/// The integers of the header's `'shape': (...)` tuple, if it parses.
fn declared_shape(header: &str) -> Option<Vec<u64>> {
    let after = &header[header.find("'shape'")? + 7..];
    let open = after.find('(')?;
    let close = after[open..].find(')')? + open;
    after[open + 1..close].split(',').map(str::trim).filter(|t| !t.is_empty()).map(|t| t.parse().ok()).collect()
}

/// Reads one `.npy` file.
pub fn load_npy(path: &Path) -> Result<Array> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| crate::user_error(format!("{shown}: cannot open ({e})")))?;
    let npy = npyz::NpyFile::new(checked_header(std::io::BufReader::new(file), &shown)?)
        .map_err(|e| crate::user_error(format!("{shown}: not a valid .npy file ({e})")))?;
    read_array(npy, &shown)
}

/// Reads every array of an `.npz` archive, by name.
pub fn load_npz(path: &Path) -> Result<BTreeMap<String, Array>> {
    // A closure, not `read_array` itself: the reader must accept an entry
    // borrowed for any lifetime, which a generic fn item does not.
    #[allow(clippy::redundant_closure)]
    read_npz(path, |npy, what| read_array(npy, what))
}

/// [`load_npz`] into `f64`: float64 values and int64 ids keep every digit.
pub fn load_npz_f64(path: &Path) -> Result<BTreeMap<String, Array64>> {
    read_npz(path, |npy, what| read_values::<_, f64>(npy, what).map(|(shape, data)| Array64 { shape, data }))
}

type NpzEntry<'a> = npyz::NpyFile<Box<dyn Read + 'a>>;

fn read_npz<A>(path: &Path, read: impl Fn(NpzEntry<'_>, &str) -> Result<A>) -> Result<BTreeMap<String, A>> {
    let shown = path.display().to_string();
    if !path.exists() {
        crate::user_bail!("{shown}: cannot open (no such file)");
    }
    let invalid = |e: &dyn std::fmt::Display| crate::user_error(format!("{shown}: not a valid .npz archive ({e})"));
    let file = std::fs::File::open(path).map_err(|e| crate::user_error(format!("{shown}: cannot open ({e})")))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| invalid(&e))?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| invalid(&e))?;
        // numpy names each array's member NAME.npy; anything else is not an array.
        let Some(name) = entry.name().strip_suffix(".npy").map(str::to_string) else { continue };
        let what = format!("{shown}: array '{name}'");
        let entry: Box<dyn Read + '_> = Box::new(checked_header(entry, &what)?);
        let npy = npyz::NpyFile::new(entry).map_err(|e| crate::user_error(format!("{what}: cannot read ({e})")))?;
        out.insert(name, read(npy, &what)?);
    }
    Ok(out)
}

/// Writes a float32 `.npy` atomically (temporary file, then rename).
pub fn save_npy(path: &Path, array: &Array) -> Result<()> {
    crate::report::write_atomic(path, |file| {
        let shape: Vec<u64> = array.shape.iter().map(|&d| d as u64).collect();
        let mut w = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(file).begin_nd()?;
        w.extend(array.data.iter().copied())?;
        w.finish()?;
        Ok(())
    })
}

/// Writes float32 arrays into an `.npz` atomically.
pub fn save_npz(path: &Path, arrays: &BTreeMap<String, Array>) -> Result<()> {
    crate::report::write_atomic(path, |file| {
        let mut npz = zip::ZipWriter::new(file);
        for (name, array) in arrays {
            npz.start_file(format!("{name}.npy"), zip::write::FileOptions::default())?;
            let shape: Vec<u64> = array.shape.iter().map(|&d| d as u64).collect();
            let mut w = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(&mut npz).begin_nd()?;
            w.extend(array.data.iter().copied())?;
            w.finish()?;
        }
        npz.finish()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_and_npz_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let a = Array::new(vec![2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let p = dir.path().join("a.npy");
        save_npy(&p, &a).unwrap();
        assert_eq!(load_npy(&p).unwrap(), a);
        let mut m = BTreeMap::new();
        m.insert("x".to_string(), a.clone());
        m.insert("y".to_string(), Array::new(vec![3], vec![0., 1., 0.]).unwrap());
        let p = dir.path().join("m.npz");
        save_npz(&p, &m).unwrap();
        assert_eq!(load_npz(&p).unwrap(), m);
    }

    /// Archives numpy itself wrote (tests/golden/make_npz.py): stored
    /// (`np.savez`) and deflate-compressed (`np.savez_compressed`), read by
    /// the pure-Rust zip codec alone.
    #[test]
    fn numpy_savez_and_savez_compressed_archives_are_read() {
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        for file in ["numpy-savez.npz", "numpy-savez-compressed.npz"] {
            let m = load_npz(&golden.join(file)).unwrap();
            let names: Vec<&str> = m.keys().map(String::as_str).collect();
            assert_eq!(names, ["actions", "observations", "rewards", "terminals"], "{file}");
            assert_eq!(m["observations"], Array::new(vec![2, 3], vec![0., 0.25, 0.5, 0.75, 1., 1.25]).unwrap());
            assert_eq!(m["rewards"], Array::new(vec![2], vec![0.5, -1.25]).unwrap());
            assert_eq!(m["terminals"], Array::new(vec![2], vec![0., 1.]).unwrap());
            assert_eq!(m["actions"], Array::new(vec![2, 1], vec![1., -2.]).unwrap());
        }
    }

    /// float64 scores and int64 ids above 2^24 keep every digit through
    /// `load_npz_f64` (the f32 reader rounds them: ids would collide).
    #[test]
    fn the_f64_reader_keeps_digits_f32_loses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/numpy-savez-f64.npz");
        let m = load_npz_f64(&path).unwrap();
        assert_eq!(m["score"], Array64 { shape: vec![2], data: vec![0.1 + 0.2, 1.0 / 3.0] });
        assert_eq!(m["id"].data, vec![16_777_217.0, 1_099_511_627_779.0]);
        let rounded = load_npz(&path).unwrap();
        assert_eq!(rounded["id"].data[0], 16_777_216.0, "f32 cannot hold 2^24 + 1");
    }

    #[test]
    fn numpy_written_float64_and_int_arrays_are_read() {
        // Bytes of np.save(f, np.array([[1.5, -2.0]])) (float64, shape (1, 2)).
        let mut bytes = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }".to_vec();
        while bytes.len() < 127 {
            bytes.push(b' ');
        }
        bytes.push(b'\n');
        bytes.extend(1.5f64.to_le_bytes());
        bytes.extend((-2.0f64).to_le_bytes());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f8.npy");
        std::fs::write(&p, &bytes).unwrap();
        let a = load_npy(&p).unwrap();
        assert_eq!(a.shape, vec![1, 2]);
        assert_eq!(a.data, vec![1.5, -2.0]);
        // The same file cut short is rejected, naming the file.
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        let msg = load_npy(&p).unwrap_err().to_string();
        assert!(msg.contains("f8.npy") && msg.contains("truncated"), "{msg}");
    }

    #[test]
    fn garbage_is_a_one_line_user_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.npy");
        std::fs::write(&p, b"not numpy").unwrap();
        let err = load_npy(&p).unwrap_err();
        assert!(crate::is_user_error(&err));
        assert!(err.to_string().contains("junk.npy: not a valid .npy file"), "{err}");
        let p = dir.path().join("junk.npz");
        std::fs::write(&p, b"not a zip").unwrap();
        assert!(load_npz(&p).unwrap_err().to_string().contains("not a valid .npz"));
        assert!(load_npz(&dir.path().join("none.npz")).unwrap_err().to_string().contains("no such file"));
    }
}
