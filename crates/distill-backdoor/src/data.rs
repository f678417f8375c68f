//! Image classification data for distillation: the embedded 8x8 digits by
//! default. Pixels are scaled to [0, 1] and then normalised with the
//! training set's mean and standard deviation (one per channel), as the
//! official code's `Normalize(mean, std)` does; the trigger's "255" is the
//! normalised value of a full-intensity pixel.

use anyhow::Result;
use reprolab_core::data::split::stratified_split;
use reprolab_core::user_bail;
use std::path::Path;

/// Images as row-major `[n, channels, side, side]` values with labels.
#[derive(Debug, Clone)]
pub struct Images {
    pub values: Vec<f32>,
    pub labels: Vec<usize>,
    pub channels: usize,
    pub side: usize,
    pub classes: usize,
}

impl Images {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image_len(&self) -> usize {
        self.channels * self.side * self.side
    }

    pub fn image(&self, i: usize) -> &[f32] {
        &self.values[i * self.image_len()..(i + 1) * self.image_len()]
    }

    /// The images at `idx`, in that order.
    pub fn gather(&self, idx: &[usize]) -> Vec<f32> {
        idx.iter().flat_map(|&i| self.image(i).iter().copied()).collect()
    }

    /// Indices per class.
    pub fn by_class(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.classes];
        for (i, &y) in self.labels.iter().enumerate() {
            out[y].push(i);
        }
        out
    }
}

/// A train / test pair, normalised with the training statistics.
#[derive(Debug, Clone)]
pub struct ImageData {
    pub name: String,
    pub train: Images,
    pub test: Images,
    /// Per channel, of the [0, 1] pixels of the training set.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl ImageData {
    /// The normalised value of a [0, 1] intensity in channel `c`.
    pub fn normalised(&self, c: usize, intensity: f32) -> f32 {
        (intensity - self.mean[c]) / self.std[c]
    }

    /// Back to [0, 1] intensities (clipped), for pictures.
    pub fn intensity(&self, c: usize, value: f32) -> f32 {
        (value * self.std[c] + self.mean[c]).clamp(0.0, 1.0)
    }

    /// One normalised `[c, side, side]` image as display pixels: `[side,
    /// side, c]` interleaved intensities in [0, 1], as `image_grid` takes them.
    pub fn display_pixels(&self, image: &[f32]) -> Vec<f32> {
        let (c, plane) = (self.train.channels, self.train.side * self.train.side);
        (0..plane)
            .flat_map(|p| (0..c).map(move |ch| (ch, p)))
            .map(|(ch, p)| self.intensity(ch, image[ch * plane + p]))
            .collect()
    }

    /// Normalised images with every value clipped to what a [0, 1] pixel
    /// can take (an input-level sanity check a deployed model can apply).
    pub fn clip_to_pixel_range(&self, images: &[f32]) -> Vec<f32> {
        let plane = self.train.side * self.train.side;
        let len = self.train.image_len();
        images
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let c = (k % len) / plane;
                v.clamp(self.normalised(c, 0.0), self.normalised(c, 1.0))
            })
            .collect()
    }

    /// From [0, 1] images: normalises both parts with the training statistics.
    pub fn from_unit(name: &str, mut train: Images, mut test: Images) -> Result<Self> {
        if train.is_empty() || test.is_empty() {
            user_bail!("{name}: empty train or test set");
        }
        let (c, plane) = (train.channels, train.side * train.side);
        let mut mean = vec![0f32; c];
        let mut std = vec![0f32; c];
        for ch in 0..c {
            let vals: Vec<f64> = (0..train.len())
                .flat_map(|i| train.image(i)[ch * plane..(ch + 1) * plane].iter().map(|v| f64::from(*v)))
                .collect();
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            let v = vals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / vals.len() as f64;
            mean[ch] = m as f32;
            std[ch] = v.sqrt().max(1e-6) as f32;
        }
        for set in [&mut train, &mut test] {
            let len = set.image_len();
            for (k, v) in set.values.iter_mut().enumerate() {
                let ch = (k % len) / plane;
                *v = (*v - mean[ch]) / std[ch];
            }
        }
        Ok(Self { name: name.to_string(), train, test, mean, std })
    }
}

/// scikit-learn's digits (1,797 8x8 images, intensities 0..16), split
/// stratified 75 / 25 with `seed`.
pub fn digits(seed: u64) -> Result<ImageData> {
    let ds = reprolab_core::data::embedded::digits()?;
    let labels = ds.labels().to_vec();
    let split = stratified_split(&labels, 0.25, reprolab_core::rng::derive_seed(seed, "digits-split"))?;
    let part = |idx: &[usize]| Images {
        values: idx.iter().flat_map(|&i| ds.row(i).iter().map(|v| v / 16.0)).collect(),
        labels: idx.iter().map(|&i| labels[i]).collect(),
        channels: 1,
        side: 8,
        classes: 10,
    };
    ImageData::from_unit("digits", part(&split.train), part(&split.test))
}

/// Loads image data from a directory: MNIST / Fashion-MNIST IDX files
/// (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, uncompressed) or
/// CIFAR-10 binary batches (`data_batch_1.bin` .. `data_batch_5.bin`,
/// `test_batch.bin`).
pub fn from_dir(dir: &Path) -> Result<ImageData> {
    let name = dir.file_name().map_or_else(|| "images".to_string(), |n| n.to_string_lossy().to_string());
    if dir.join("train-images-idx3-ubyte").exists() {
        let part = |images_file: &str, labels_file: &str| -> Result<Images> {
            let (dims, pixels) = read_idx(&dir.join(images_file))?;
            let (ldims, labels) = read_idx(&dir.join(labels_file))?;
            // No image, or images of side 0, would leave nothing to
            // normalise (a NaN mean) and no network to build.
            if dims.len() != 3 || dims[1] != dims[2] || dims[0] == 0 || dims[1] == 0 {
                user_bail!(
                    "{}: expected n x side x side images (n, side >= 1), found dimensions {dims:?}",
                    dir.join(images_file).display()
                );
            }
            // Names both files: either may be the damaged one.
            if ldims.len() != 1 || ldims[0] != dims[0] {
                let found = ldims.first().copied().unwrap_or(0);
                user_bail!(
                    "{}: {found} labels for the {} images of {}",
                    dir.join(labels_file).display(),
                    dims[0],
                    dir.join(images_file).display()
                );
            }
            unit_images(&pixels, labels, 1, dims[1], &dir.join(labels_file))
        };
        return ImageData::from_unit(
            &name,
            part("train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
            part("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
        );
    }
    if dir.join("data_batch_1.bin").exists() {
        let mut train: Option<Images> = None;
        for k in 1..=5 {
            let path = dir.join(format!("data_batch_{k}.bin"));
            if !path.exists() {
                continue;
            }
            let part = read_cifar(&path)?;
            match &mut train {
                None => train = Some(part),
                Some(t) => {
                    t.values.extend(part.values);
                    t.labels.extend(part.labels);
                }
            }
        }
        let train = train.expect("data_batch_1.bin exists");
        return ImageData::from_unit(&name, train, read_cifar(&dir.join("test_batch.bin"))?);
    }
    user_bail!(
        "{}: no MNIST-style IDX files (train-images-idx3-ubyte, ...) or CIFAR-10 binary batches (data_batch_1.bin, ...) found",
        dir.display()
    )
}

/// An IDX file of unsigned bytes: its dimensions and values.
pub fn read_idx(path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read ({e})")))?;
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        user_bail!("{shown}: gzip-compressed; decompress it first (gunzip)");
    }
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        user_bail!("{shown}: not an IDX file (bad magic number)");
    }
    if bytes[2] != 0x08 {
        user_bail!("{shown}: IDX element type 0x{:02x} is not unsigned bytes (0x08)", bytes[2]);
    }
    let ndims = usize::from(bytes[3]);
    let header = 4 + 4 * ndims;
    if ndims == 0 || bytes.len() < header {
        user_bail!("{shown}: truncated IDX header");
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|k| u32::from_be_bytes(bytes[4 + 4 * k..8 + 4 * k].try_into().expect("4 bytes")) as usize)
        .collect();
    // The product is checked: a header of large dimensions (three of
    // 2^32 - 1) overflows usize, which must be a refusal, not a panic. The
    // count is compared with the bytes the file holds before anything is
    // allocated for it, so a header claiming 10^12 images costs nothing.
    let Some(count) = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        user_bail!("{shown}: dimensions {dims:?} overflow the address space (a damaged header)");
    };
    if bytes.len() - header != count {
        user_bail!("{shown}: dimensions {dims:?} need {count} values, the file holds {}", bytes.len() - header);
    }
    Ok((dims, bytes[header..].to_vec()))
}

/// One CIFAR-10 binary batch: records of 1 label byte + 3 x 32 x 32 pixels.
pub fn read_cifar(path: &Path) -> Result<Images> {
    const RECORD: usize = 1 + 3 * 32 * 32;
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read ({e})")))?;
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        user_bail!("{shown}: {} bytes is not a whole number of {RECORD}-byte CIFAR-10 records", bytes.len());
    }
    let labels: Vec<u8> = bytes.chunks(RECORD).map(|r| r[0]).collect();
    let pixels: Vec<u8> = bytes.chunks(RECORD).flat_map(|r| r[1..].iter().copied()).collect();
    unit_images(&pixels, labels, 3, 32, path)
}

fn unit_images(pixels: &[u8], labels: Vec<u8>, channels: usize, side: usize, path: &Path) -> Result<Images> {
    if let Some(bad) = labels.iter().find(|&&y| y > 9) {
        user_bail!("{}: label {bad} is outside 0..=9", path.display());
    }
    Ok(Images {
        values: pixels.iter().map(|&v| f32::from(v) / 255.0).collect(),
        labels: labels.into_iter().map(usize::from).collect(),
        channels,
        side,
        classes: 10,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend(values);
        out
    }

    #[test]
    fn idx_directories_load_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), bytes).unwrap();
        write("train-images-idx3-ubyte", idx(&[3, 2, 2], &[0, 255, 0, 255, 10, 20, 30, 40, 255, 255, 255, 255]));
        write("train-labels-idx1-ubyte", idx(&[3], &[1, 0, 9]));
        write("t10k-images-idx3-ubyte", idx(&[1, 2, 2], &[0, 0, 0, 0]));
        write("t10k-labels-idx1-ubyte", idx(&[1], &[4]));
        let d = from_dir(dir.path()).unwrap();
        assert_eq!((d.train.len(), d.test.len(), d.train.side, d.train.channels), (3, 1, 2, 1));
        assert_eq!(d.train.labels, vec![1, 0, 9]);
        assert!((d.intensity(0, d.train.values[1]) - 1.0).abs() < 1e-6);
        // truncated, wrong count, bad label, gzip, wrong magic
        write("t10k-images-idx3-ubyte", idx(&[1, 2, 2], &[0, 0, 0]));
        let err = from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("t10k-images-idx3-ubyte: dimensions [1, 2, 2] need 4 values, the file holds 3"), "{err}");
        write("t10k-images-idx3-ubyte", idx(&[1, 2, 2], &[0, 0, 0, 0]));
        write("train-labels-idx1-ubyte", idx(&[3], &[1, 0, 12]));
        assert!(from_dir(dir.path()).unwrap_err().to_string().contains("label 12 is outside 0..=9"));
        write("train-labels-idx1-ubyte", idx(&[2], &[1, 0]));
        assert!(from_dir(dir.path()).unwrap_err().to_string().contains("2 labels for the 3 images of"));
        write("train-labels-idx1-ubyte", vec![0x1f, 0x8b, 8, 0]);
        assert!(from_dir(dir.path()).unwrap_err().to_string().contains("gzip-compressed"));
        write("train-labels-idx1-ubyte", vec![1, 2, 3, 4, 5]);
        assert!(from_dir(dir.path()).unwrap_err().to_string().contains("not an IDX file"));
        let empty = tempfile::tempdir().unwrap();
        assert!(from_dir(empty.path()).unwrap_err().to_string().contains("no MNIST-style IDX files"));
    }

    #[test]
    fn cifar_batches_load_and_bad_sizes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let record =
            |label: u8, v: u8| -> Vec<u8> { std::iter::once(label).chain(std::iter::repeat_n(v, 3072)).collect() };
        std::fs::write(dir.path().join("data_batch_1.bin"), [record(3, 0), record(7, 255)].concat()).unwrap();
        std::fs::write(dir.path().join("data_batch_2.bin"), record(1, 128)).unwrap();
        std::fs::write(dir.path().join("test_batch.bin"), record(0, 64)).unwrap();
        let d = from_dir(dir.path()).unwrap();
        assert_eq!((d.train.len(), d.test.len(), d.train.channels, d.train.side), (3, 1, 3, 32));
        assert_eq!(d.train.labels, vec![3, 7, 1]);
        std::fs::write(dir.path().join("test_batch.bin"), &record(0, 64)[..100]).unwrap();
        let err = from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("test_batch.bin: 100 bytes is not a whole number of 3073-byte CIFAR-10 records"), "{err}");
    }

    #[test]
    fn digits_are_normalised_with_training_statistics() {
        let d = digits(0).unwrap();
        assert_eq!((d.train.len() + d.test.len(), d.train.side, d.train.classes), (1797, 8, 10));
        let n = d.train.values.len() as f64;
        let mean = d.train.values.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
        let var = d.train.values.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "{mean} {var}");
        assert!((d.intensity(0, d.normalised(0, 1.0)) - 1.0).abs() < 1e-6);
        let clipped = d.clip_to_pixel_range(&[-100.0, 0.0, 100.0]);
        assert_eq!(clipped, vec![d.normalised(0, 0.0), 0.0, d.normalised(0, 1.0)]);
        assert_eq!(d.train.by_class().iter().map(Vec::len).sum::<usize>(), d.train.len());
    }
}
