//! Hand-made `.npy` files: any dtype string and any declared shape, with
//! whatever payload, to test what a loader does with a header it should
//! not believe (10^12 elements, a wrong dtype, a payload shorter than the
//! header says).

/// The bytes of an NPY v1.0 file with `descr` (e.g. `<f4`), `shape` and `payload`.
pub fn npy_bytes(descr: &str, shape: &[u64], payload: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad with spaces so magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Little-endian f32 payload.
pub fn f32_payload(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// An `.npz` archive of named `.npy` members (`name.npy` entries,
/// stored, as `numpy.savez` writes them).
pub fn npz_bytes(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in members {
        zip.start_file(format!("{name}.npy"), options).expect("in-memory zip");
        zip.write_all(data).expect("in-memory zip");
    }
    zip.finish().expect("in-memory zip").into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_files_read_back_with_the_project_loader() {
        let b = npy_bytes("<f4", &[2, 3], &f32_payload(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        assert_eq!((b.len() - 24) % 64, 0, "header padded to 64 bytes");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        std::fs::write(&path, npz_bytes(&[("x", b)])).unwrap();
        let arrays = reprolab_core::data::npy::load_npz(&path).unwrap();
        assert_eq!(arrays["x"].shape, vec![2, 3]);
        assert_eq!(arrays["x"].data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
