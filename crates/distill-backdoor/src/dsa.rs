//! Differentiable Siamese augmentation (DSA, Zhao & Bilen 2021), as the
//! official DM code (`VICO-UoE/DatasetCondensation`, `main_DM.py` with
//! `utils.DiffAugment`) applies it to both the real batch and the
//! synthetic images of a class before matching their embeddings.
//!
//! The official settings: strategy `color_crop_cutout_flip_scale_rotate`,
//! mode `'S'` (per call one of the strategy's groups is drawn and applied),
//! Siamese (the real batch and the synthetic images get the same draw, and
//! every image of both the same parameters: `theta[:] = theta[0]`), with
//! `ParamDiffAug`'s ranges: scale in [1/1.2, 1.2] per axis, rotation within
//! +-15 degrees, a shift of up to `int(side * 0.125 + 0.5)` pixels with
//! zero fill, a cutout square of side `int(side * 0.5 + 0.5)`, a
//! horizontal flip with probability 0.5, brightness `+ (u - 0.5)`,
//! saturation `x (2u)` about the channel mean, contrast `x (u + 0.5)`
//! about the image mean; scale and rotation resample bilinearly with zero
//! padding (`affine_grid` / `grid_sample`, `align_corners=False`).
//!
//! Every one of these is an affine map of the image, `x' = A x + b`, with
//! the same `A` for every image of a call; [`Augmentation::apply`] computes
//! it and [`Augmentation::transpose`] applies `A^T`, which takes the
//! gradient with respect to the augmented synthetic images back to the
//! images (the "differentiable" of DSA). Ours: the random numbers come
//! from the run's seeded generator, not torch's time-seeded one.

use anyhow::Result;
use rand::RngExt;
use reprolab_core::rng::SeededRng;
use serde::{Deserialize, Serialize};

/// One group of a strategy (`color`, `crop`, `cutout`, `flip`, `scale`,
/// `rotate`; `color` is brightness, saturation and contrast in turn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Color,
    Crop,
    Cutout,
    Flip,
    Scale,
    Rotate,
}

impl Group {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "color" => Group::Color,
            "crop" => Group::Crop,
            "cutout" => Group::Cutout,
            "flip" => Group::Flip,
            "scale" => Group::Scale,
            "rotate" => Group::Rotate,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Group::Color => "color",
            Group::Crop => "crop",
            Group::Cutout => "cutout",
            Group::Flip => "flip",
            Group::Scale => "scale",
            Group::Rotate => "rotate",
        }
    }
}

/// A DSA strategy as the official code writes it (`"none"` for no
/// augmentation; the official DM default `"color_crop_cutout_flip_scale_rotate"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Strategy(pub Vec<Group>);

/// The official DM's strategy.
pub const OFFICIAL: &str = "color_crop_cutout_flip_scale_rotate";

impl TryFrom<String> for Strategy {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if matches!(s.as_str(), "" | "none" | "None") {
            return Ok(Strategy(Vec::new()));
        }
        s.split('_')
            .map(|g| {
                Group::parse(g).ok_or_else(|| {
                    format!("unknown DSA group '{g}' in '{s}' (groups: color, crop, cutout, flip, scale, rotate; or \"none\")")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Strategy)
    }
}

impl From<Strategy> for String {
    fn from(s: Strategy) -> String {
        if s.0.is_empty() { "none".into() } else { s.0.iter().map(|g| g.name()).collect::<Vec<_>>().join("_") }
    }
}

impl Strategy {
    pub fn is_none(&self) -> bool {
        self.0.is_empty()
    }
}

/// One affine operation on a `[c, side, side]` image.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    /// `x + b`.
    Brightness(f32),
    /// `(x - mean over channels) s + mean over channels`, per pixel.
    Saturation(f32),
    /// `(x - mean over the image) k + mean over the image`.
    Contrast(f32),
    /// `x'[i, j] = x[i + dy, j + dx]`, 0 outside.
    Shift { dy: i64, dx: i64 },
    /// Zero on rows `r0..r1` x columns `c0..c1`.
    Cutout { r0: usize, r1: usize, c0: usize, c1: usize },
    /// Mirror the columns.
    Flip,
    /// Bilinear resampling: per output pixel of a plane, up to four
    /// `(input pixel, weight)` pairs.
    Resample(Vec<Vec<(usize, f32)>>),
}

/// One draw of the augmentation: the operations applied in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Augmentation {
    ops: Vec<Op>,
    channels: usize,
    side: usize,
}

impl Augmentation {
    /// No augmentation.
    pub fn identity(channels: usize, side: usize) -> Self {
        Self { ops: Vec::new(), channels, side }
    }

    /// The official `'S'` mode: one group of `strategy` drawn uniformly,
    /// then its parameters; the same draw is meant for the real batch and
    /// the synthetic images (Siamese).
    pub fn draw(strategy: &Strategy, channels: usize, side: usize, r: &mut SeededRng) -> Self {
        if strategy.is_none() {
            return Self::identity(channels, side);
        }
        let group = strategy.0[r.random_range(0..strategy.0.len())];
        let u = |r: &mut SeededRng| r.random::<f32>();
        let ops = match group {
            Group::Color => {
                vec![Op::Brightness((u(r) - 0.5) * 1.0), Op::Saturation(u(r) * 2.0), Op::Contrast(u(r) + 0.5)]
            }
            Group::Crop => {
                let shift = (side as f64 * 0.125 + 0.5) as i64;
                let dy = r.random_range(-shift..=shift);
                let dx = r.random_range(-shift..=shift);
                vec![Op::Shift { dy, dx }]
            }
            Group::Cutout => {
                let size = (side as f64 * 0.5 + 0.5) as usize;
                let hi = side + (1 - size % 2);
                let (oy, ox) = (r.random_range(0..hi), r.random_range(0..hi));
                // rows clamp(oy - size/2 + k, 0, side - 1) for k < size
                let span = |o: usize| {
                    let lo = o as i64 - (size / 2) as i64;
                    let a = lo.clamp(0, side as i64 - 1) as usize;
                    let b = (lo + size as i64 - 1).clamp(0, side as i64 - 1) as usize + 1;
                    (a, b)
                };
                let ((r0, r1), (c0, c1)) = (span(oy), span(ox));
                vec![Op::Cutout { r0, r1, c0, c1 }]
            }
            Group::Flip => {
                if u(r) < 0.5 {
                    vec![Op::Flip]
                } else {
                    Vec::new()
                }
            }
            Group::Scale => {
                let ratio = 1.2f32;
                let sx = u(r) * (ratio - 1.0 / ratio) + 1.0 / ratio;
                let sy = u(r) * (ratio - 1.0 / ratio) + 1.0 / ratio;
                vec![Op::Resample(bilinear(side, [[sx, 0.0], [0.0, sy]]))]
            }
            Group::Rotate => {
                let t = (u(r) - 0.5) * 2.0 * 15.0 / 180.0 * std::f32::consts::PI;
                vec![Op::Resample(bilinear(side, [[t.cos(), -t.sin()], [t.sin(), t.cos()]]))]
            }
        };
        Self { ops, channels, side }
    }

    fn image_len(&self) -> usize {
        self.channels * self.side * self.side
    }

    /// `A x + b` for every image of the row-major batch `images`.
    pub fn apply(&self, images: &[f32]) -> Vec<f32> {
        let mut out = images.to_vec();
        for chunk in out.chunks_mut(self.image_len()) {
            for op in &self.ops {
                self.forward(op, chunk, true);
            }
        }
        out
    }

    /// `A^T g` for every image of the row-major batch `grads`: the gradient
    /// with respect to the images from the gradient with respect to their
    /// augmentations.
    pub fn transpose(&self, grads: &[f32]) -> Vec<f32> {
        let mut out = grads.to_vec();
        for chunk in out.chunks_mut(self.image_len()) {
            for op in self.ops.iter().rev() {
                match op {
                    // A^T for the symmetric maps is A without the shift.
                    Op::Brightness(_) => {}
                    Op::Saturation(_) | Op::Contrast(_) | Op::Cutout { .. } | Op::Flip => {
                        self.forward(op, chunk, false)
                    }
                    Op::Shift { dy, dx } => self.forward(&Op::Shift { dy: -dy, dx: -dx }, chunk, false),
                    Op::Resample(taps) => {
                        let plane = self.side * self.side;
                        for c in 0..self.channels {
                            let g = &mut chunk[c * plane..(c + 1) * plane];
                            let mut back = vec![0f32; plane];
                            for (o, t) in taps.iter().enumerate() {
                                for &(i, w) in t {
                                    back[i] += w * g[o];
                                }
                            }
                            g.copy_from_slice(&back);
                        }
                    }
                }
            }
        }
        out
    }

    /// One operation in place on one image (`with_bias`: add the constant
    /// part, brightness's shift).
    fn forward(&self, op: &Op, x: &mut [f32], with_bias: bool) {
        let (c, s) = (self.channels, self.side);
        let plane = s * s;
        match *op {
            Op::Brightness(b) => {
                if with_bias {
                    x.iter_mut().for_each(|v| *v += b);
                }
            }
            Op::Saturation(k) => {
                for p in 0..plane {
                    let m = (0..c).map(|ch| x[ch * plane + p]).sum::<f32>() / c as f32;
                    for ch in 0..c {
                        let v = &mut x[ch * plane + p];
                        *v = (*v - m) * k + m;
                    }
                }
            }
            Op::Contrast(k) => {
                let m = x.iter().sum::<f32>() / x.len() as f32;
                x.iter_mut().for_each(|v| *v = (*v - m) * k + m);
            }
            Op::Shift { dy, dx } => {
                let src = x.to_vec();
                for ch in 0..c {
                    for i in 0..s {
                        for j in 0..s {
                            let (si, sj) = (i as i64 + dy, j as i64 + dx);
                            let inside = (0..s as i64).contains(&si) && (0..s as i64).contains(&sj);
                            x[ch * plane + i * s + j] =
                                if inside { src[ch * plane + si as usize * s + sj as usize] } else { 0.0 };
                        }
                    }
                }
            }
            Op::Cutout { r0, r1, c0, c1 } => {
                for ch in 0..c {
                    for i in r0..r1 {
                        for j in c0..c1 {
                            x[ch * plane + i * s + j] = 0.0;
                        }
                    }
                }
            }
            Op::Flip => {
                for ch in 0..c {
                    for i in 0..s {
                        x[ch * plane + i * s..ch * plane + (i + 1) * s].reverse();
                    }
                }
            }
            Op::Resample(ref taps) => {
                for ch in 0..c {
                    let src = x[ch * plane..(ch + 1) * plane].to_vec();
                    for (o, t) in taps.iter().enumerate() {
                        x[ch * plane + o] = t.iter().map(|&(i, w)| w * src[i]).sum();
                    }
                }
            }
        }
    }
}

/// `F.grid_sample(x, F.affine_grid(theta, x.shape))` on a `side x side`
/// plane as taps: output pixel (i, j) at normalised `(x_n, y_n) = ((2j + 1)
/// / side - 1, (2i + 1) / side - 1)` reads `theta (x_n, y_n)` bilinearly,
/// zero outside (`align_corners=False`, `padding_mode="zeros"`).
fn bilinear(side: usize, theta: [[f32; 2]; 2]) -> Vec<Vec<(usize, f32)>> {
    let n = side as f32;
    let mut taps = Vec::with_capacity(side * side);
    for i in 0..side {
        for j in 0..side {
            let (xn, yn) = ((2 * j + 1) as f32 / n - 1.0, (2 * i + 1) as f32 / n - 1.0);
            let gx = theta[0][0] * xn + theta[0][1] * yn;
            let gy = theta[1][0] * xn + theta[1][1] * yn;
            let (ix, iy) = (((gx + 1.0) * n - 1.0) / 2.0, ((gy + 1.0) * n - 1.0) / 2.0);
            let (x0, y0) = (ix.floor(), iy.floor());
            let (wx1, wy1) = (ix - x0, iy - y0);
            let mut t = Vec::with_capacity(4);
            for (yy, wy) in [(y0, 1.0 - wy1), (y0 + 1.0, wy1)] {
                for (xx, wx) in [(x0, 1.0 - wx1), (x0 + 1.0, wx1)] {
                    if xx >= 0.0 && yy >= 0.0 && xx < n && yy < n && wx * wy != 0.0 {
                        t.push((yy as usize * side + xx as usize, wx * wy));
                    }
                }
            }
            taps.push(t);
        }
    }
    taps
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprolab_core::rng::rng;

    fn image(c: usize, s: usize, k: usize) -> Vec<f32> {
        (0..c * s * s).map(|i| ((i * 7 + k * 3) % 11) as f32 / 5.0 - 1.0).collect()
    }

    /// `<A x, g> = <x, A^T g>` for every group: the transpose is the
    /// adjoint, so the image gradient through an augmentation is right.
    #[test]
    fn transpose_is_the_adjoint_of_every_group() {
        let mut r = rng(3);
        for strategy in ["color", "crop", "cutout", "flip", "scale", "rotate"] {
            let st = Strategy::try_from(strategy.to_string()).unwrap();
            for _ in 0..5 {
                let a = Augmentation::draw(&st, 2, 8, &mut r);
                let (x, g) = (image(2, 8, 1), image(2, 8, 4));
                // the linear part: A x = apply(x) - apply(0)
                let ax: Vec<f32> = a.apply(&x).iter().zip(a.apply(&vec![0.0; x.len()])).map(|(v, b)| v - b).collect();
                let lhs: f64 = ax.iter().zip(&g).map(|(a, b)| f64::from(a * b)).sum();
                let rhs: f64 = x.iter().zip(a.transpose(&g)).map(|(a, b)| f64::from(a * b)).sum();
                assert!((lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()), "{strategy}: {lhs} vs {rhs} ({a:?})");
            }
        }
    }

    /// Hand-computed cases: a 1-pixel shift with zero fill, the flip, the
    /// identity scale (theta = I samples every pixel exactly), a 2x zoom's
    /// centre pixel, contrast about the mean.
    #[test]
    fn operations_by_hand() {
        let a = |ops| Augmentation { ops, channels: 1, side: 3 };
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        assert_eq!(a(vec![Op::Shift { dy: 1, dx: 0 }]).apply(&x), vec![4., 5., 6., 7., 8., 9., 0., 0., 0.]);
        assert_eq!(a(vec![Op::Flip]).apply(&x), vec![3., 2., 1., 6., 5., 4., 9., 8., 7.]);
        let same = a(vec![Op::Resample(bilinear(3, [[1.0, 0.0], [0.0, 1.0]]))]).apply(&x);
        assert!(same.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-5), "{same:?}");
        // theta = 0.5 I: output (0, 0) at (-2/3, -2/3) reads (-1/3, -1/3),
        // pixel coordinate ((-1/3 + 1) 3 - 1) / 2 = 0.5: the mean of the
        // top-left 2x2 block, (1 + 2 + 4 + 5) / 4 = 3.
        let zoom = a(vec![Op::Resample(bilinear(3, [[0.5, 0.0], [0.0, 0.5]]))]).apply(&x);
        assert!((zoom[0] - 3.0).abs() < 1e-5 && (zoom[4] - 5.0).abs() < 1e-5, "{zoom:?}");
        let c = a(vec![Op::Contrast(2.0)]).apply(&x);
        assert_eq!(c[0], (1.0 - 5.0) * 2.0 + 5.0);
        let cut = a(vec![Op::Cutout { r0: 0, r1: 2, c0: 1, c1: 3 }]).apply(&x);
        assert_eq!(cut, vec![1., 0., 0., 4., 0., 0., 7., 8., 9.]);
    }

    #[test]
    fn strategies_parse_as_the_official_strings() {
        let s = Strategy::try_from(OFFICIAL.to_string()).unwrap();
        assert_eq!(s.0.len(), 6);
        assert_eq!(String::from(s), OFFICIAL);
        assert!(Strategy::try_from("none".to_string()).unwrap().is_none());
        let err = Strategy::try_from("color_blur".to_string()).unwrap_err();
        assert!(err.contains("unknown DSA group 'blur'"), "{err}");
    }
}
