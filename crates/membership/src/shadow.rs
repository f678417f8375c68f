//! Many models, each trained on a random half of a data pool, with every
//! model's logits on every pool example and which examples it trained on.
//! This is the raw material of every attack: each model can be the target
//! and the others its shadows.
//!
//! Stored as NPZ (`save_npz` / `load_npz`), so attacks can be rerun
//! without retraining:
//! - `logits`:  float32 `[n_models, n_examples, n_classes]`
//! - `members`: float32 `[n_models, n_examples]`, 1 = trained on the example
//! - `labels`:  float32 `[n_examples]`, the class of each example
//! - `robustness` (optional): float32 `[n_models, n_examples]`, the share
//!   of noisy copies of each example the model labels correctly
//! - `query_logits` (optional): float32 `[n_models, n_queries, n_examples,
//!   n_classes]`, logits on the population's fixed noisy copies of the pool
//!   (LiRA's query augmentations)
//!
//! RMIA's population (examples no model trained on) is a second
//! `ModelOutputs` of the same models on those examples, every `members`
//! entry 0, saved the same way.

use crate::scores::Row;
use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use reprolab_core::data::Dataset;
use reprolab_core::data::npy::{Array, load_npz, save_npz};
use reprolab_core::nn::{ConvNetConfig, MlpConfig};
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng};
use reprolab_core::train::classifier::{Classifier, FitConfig, fit, predict_logits};
use reprolab_core::train::fit_stack;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Outputs of `n_models` models on a pool of `n_examples`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutputs {
    pub n_models: usize,
    pub n_examples: usize,
    pub n_classes: usize,
    /// Row-major `[model][example][class]`.
    pub logits: Vec<f32>,
    /// Row-major `[model][example]`.
    pub members: Vec<bool>,
    pub labels: Vec<usize>,
    /// Row-major `[model][example]`: the share of noisy copies of the
    /// example the model still labels correctly (empty when not measured).
    /// The label-only boundary attack's statistic.
    pub robustness: Vec<f32>,
    /// Number of query augmentations (0 = none).
    pub n_queries: usize,
    /// Row-major `[model][query][example][class]`: logits on fixed noisy
    /// copies of the pool, the same copies for every model.
    pub query_logits: Vec<f32>,
}

/// What the attacks read of a population's outputs: its shape, the labels,
/// the IN/OUT masks and each output as it was given ([`Row`]). The
/// experiment's [`ModelOutputs`] hold f32 logits; an audit's files keep the
/// user's logits or probabilities in f64 (`crate::audit`).
pub trait Outputs {
    fn n_models(&self) -> usize;
    fn n_examples(&self) -> usize;
    fn n_classes(&self) -> usize;
    fn label(&self, example: usize) -> usize;
    fn is_member(&self, model: usize, example: usize) -> bool;
    fn row(&self, model: usize, example: usize) -> Row<'_>;
}

impl Outputs for ModelOutputs {
    fn n_models(&self) -> usize {
        self.n_models
    }
    fn n_examples(&self) -> usize {
        self.n_examples
    }
    fn n_classes(&self) -> usize {
        self.n_classes
    }
    fn label(&self, example: usize) -> usize {
        self.labels[example]
    }
    fn is_member(&self, model: usize, example: usize) -> bool {
        ModelOutputs::is_member(self, model, example)
    }
    fn row(&self, model: usize, example: usize) -> Row<'_> {
        Row::Logits(self.logits(model, example))
    }
}

impl ModelOutputs {
    pub fn logits(&self, model: usize, example: usize) -> &[f32] {
        let start = (model * self.n_examples + example) * self.n_classes;
        &self.logits[start..start + self.n_classes]
    }

    /// Logits of `model` on query augmentation `query` of `example`.
    pub fn query_logits(&self, model: usize, query: usize, example: usize) -> &[f32] {
        let start = ((model * self.n_queries + query) * self.n_examples + example) * self.n_classes;
        &self.query_logits[start..start + self.n_classes]
    }

    pub fn is_member(&self, model: usize, example: usize) -> bool {
        self.members[model * self.n_examples + example]
    }

    /// The IN mask of one model.
    pub fn members_of(&self, model: usize) -> &[bool] {
        &self.members[model * self.n_examples..(model + 1) * self.n_examples]
    }

    /// A population of `n_models` on `data` with no outputs yet; models are
    /// appended in order (logits, members, robustness).
    pub fn empty(n_models: usize, data: &Dataset) -> Self {
        let (n, c) = (data.len(), data.n_classes());
        Self {
            n_models,
            n_examples: n,
            n_classes: c,
            logits: Vec::with_capacity(n_models * n * c),
            members: Vec::with_capacity(n_models * n),
            labels: data.labels().to_vec(),
            robustness: Vec::new(),
            n_queries: 0,
            query_logits: Vec::new(),
        }
    }

    /// Noise robustness of `example` under `model`, if measured.
    pub fn robustness(&self, model: usize, example: usize) -> Option<f32> {
        self.robustness.get(model * self.n_examples + example).copied()
    }

    /// Accuracy of `model` on the examples it did not train on.
    pub fn out_accuracy(&self, model: usize) -> f64 {
        let (mut hit, mut n) = (0usize, 0usize);
        for j in (0..self.n_examples).filter(|&j| !self.is_member(model, j)) {
            n += 1;
            hit += crate::scores::correctness(self.logits(model, j), self.labels[j]) as usize;
        }
        hit as f64 / n.max(1) as f64
    }

    /// Writes the NPZ described in the module docs, atomically.
    pub fn save_npz(&self, path: &Path) -> Result<()> {
        let mut arrays = BTreeMap::new();
        arrays.insert(
            "logits".into(),
            Array::new(vec![self.n_models, self.n_examples, self.n_classes], self.logits.clone())?,
        );
        arrays.insert(
            "members".into(),
            Array::new(
                vec![self.n_models, self.n_examples],
                self.members.iter().map(|&m| f32::from(u8::from(m))).collect(),
            )?,
        );
        arrays.insert(
            "labels".into(),
            Array::new(vec![self.n_examples], self.labels.iter().map(|&l| l as f32).collect())?,
        );
        if !self.robustness.is_empty() {
            arrays.insert(
                "robustness".into(),
                Array::new(vec![self.n_models, self.n_examples], self.robustness.clone())?,
            );
        }
        if self.n_queries > 0 {
            arrays.insert(
                "query_logits".into(),
                Array::new(
                    vec![self.n_models, self.n_queries, self.n_examples, self.n_classes],
                    self.query_logits.clone(),
                )?,
            );
        }
        save_npz(path, &arrays)
    }

    /// Reads and checks an NPZ written by [`ModelOutputs::save_npz`] (or by
    /// any tool following the documented format).
    pub fn load_npz(path: &Path) -> Result<Self> {
        let shown = path.display();
        let mut arrays = load_npz(path)?;
        let mut take = |name: &str| {
            arrays.remove(name).ok_or_else(|| reprolab_core::user_error(format!("{shown}: missing array '{name}'")))
        };
        let (logits, members, labels) = (take("logits")?, take("members")?, take("labels")?);
        let [m, n, c] = logits.shape[..] else {
            reprolab_core::user_bail!("{shown}: 'logits' must be [models, examples, classes], got {:?}", logits.shape);
        };
        if members.shape != [m, n] || labels.shape != [n] {
            reprolab_core::user_bail!(
                "{shown}: shapes disagree: logits {:?}, members {:?}, labels {:?}",
                logits.shape,
                members.shape,
                labels.shape
            );
        }
        if m == 0 || n == 0 {
            reprolab_core::user_bail!("{shown}: needs at least one model and one example, got {:?}", logits.shape);
        }
        if logits.data.iter().any(|v| !v.is_finite()) {
            reprolab_core::user_bail!("{shown}: 'logits' contains NaN or infinite values");
        }
        if members.data.iter().any(|&v| v != 0.0 && v != 1.0) {
            reprolab_core::user_bail!("{shown}: 'members' must be 0 or 1");
        }
        if labels.data.iter().any(|&v| v < 0.0 || v.fract() != 0.0 || v as usize >= c) {
            reprolab_core::user_bail!("{shown}: 'labels' must be integers in 0..{c}");
        }
        let (n_queries, query_logits) = match arrays.remove("query_logits") {
            Some(q) if q.shape.len() == 4 && q.shape[0] == m && q.shape[2..] == [n, c] => {
                if q.data.iter().any(|v| !v.is_finite()) {
                    reprolab_core::user_bail!("{shown}: 'query_logits' contains NaN or infinite values");
                }
                (q.shape[1], q.data)
            }
            Some(q) => {
                reprolab_core::user_bail!("{shown}: 'query_logits' must be [{m}, queries, {n}, {c}], got {:?}", q.shape)
            }
            None => (0, Vec::new()),
        };
        Ok(Self {
            n_models: m,
            n_examples: n,
            n_classes: c,
            logits: logits.data,
            members: members.data.iter().map(|&v| v == 1.0).collect(),
            labels: labels.data.iter().map(|&v| v as usize).collect(),
            robustness: match arrays.remove("robustness") {
                // A share of noisy copies labelled correctly: NaN or 2 would rank examples silently wrong.
                Some(r) if r.shape == [m, n] && r.data.iter().any(|v| !(0.0..=1.0).contains(v)) => {
                    reprolab_core::user_bail!("{shown}: 'robustness' must hold shares in [0, 1]")
                }
                Some(r) if r.shape == [m, n] => r.data,
                Some(r) => reprolab_core::user_bail!("{shown}: 'robustness' must be [{m}, {n}], got {:?}", r.shape),
                None => Vec::new(),
            },
            n_queries,
            query_logits,
        })
    }
}

/// How to train the model population.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationConfig {
    /// Number of models; each trains on a fresh random half of the pool and
    /// is the target in turn, the others its shadows (paper: not stated, a
    /// survey; LiRA's reference numbers use 16 shadows; presets: 6 smoke, 32
    /// quick and full, 64 paper).
    pub n_models: usize,
    /// Which model to train (default: an MLP with `hidden` widths; paper:
    /// not stated).
    #[serde(default)]
    pub architecture: Architecture,
    /// Hidden widths of each MLP (paper: not stated; presets: `[64]` smoke,
    /// `[256, 256]` otherwise).
    pub hidden: Vec<usize>,
    /// Dropout after each hidden layer, in [0, 1) (0 = none; paper: not
    /// stated; presets: 0, the dropout defence sets its own).
    #[serde(default)]
    pub dropout: f64,
    /// Epochs, batch size and optimiser of each model (paper: not stated;
    /// presets: Adam 1e-3, batch 128, 10 epochs smoke, 60 quick and full,
    /// 100 paper).
    pub fit: FitConfig,
    /// Label-only boundary attack: query each model on noisy copies of
    /// every example (absent: not measured).
    #[serde(default)]
    pub boundary: Option<BoundaryConfig>,
    /// Train with DP-SGD instead of `fit` (the DP-SGD defence; MLPs only).
    #[serde(default)]
    pub dp_sgd: Option<crate::dp::DpConfig>,
    /// LiRA's query augmentations: query every model on the same fixed
    /// noisy copies of the pool (absent: none).
    #[serde(default)]
    pub lira_queries: Option<QueryConfig>,
}

impl Validate for PopulationConfig {
    fn validate(&self) -> Result<()> {
        crate::pool::check_models(self.n_models)?;
        match &self.architecture {
            Architecture::Mlp => {}
            Architecture::Cnn { side, widths } => {
                anyhow::ensure!(*side >= 1, "architecture.side must be at least 1");
                anyhow::ensure!(
                    !widths.is_empty() && widths.iter().all(|&w| w > 0),
                    "architecture.widths must list positive channel counts, got {widths:?}"
                );
                anyhow::ensure!(
                    self.dp_sgd.is_none(),
                    "dp_sgd: DP-SGD's per-example clipping supports the MLP architecture only"
                );
            }
        }
        anyhow::ensure!(self.hidden.iter().all(|&h| h > 0), "hidden must list positive widths, got {:?}", self.hidden);
        anyhow::ensure!((0.0..1.0).contains(&self.dropout), "dropout must be in [0, 1), got {}", self.dropout);
        self.fit.validate()?;
        if let Some(b) = &self.boundary {
            b.validate().context("boundary")?;
        }
        if let Some(dp) = &self.dp_sgd {
            dp.validate().context("dp_sgd")?;
        }
        if let Some(q) = &self.lira_queries {
            q.validate().context("lira_queries")?;
        }
        Ok(())
    }
}

/// Query augmentations for LiRA (Carlini et al. 2022, Sec. VI-B: query
/// several augmentations and average the per-augmentation likelihood
/// ratios). The paper's image models use flips and shifts they were trained
/// with; our pools are tabular, so the augmentation is Gaussian noise in
/// standardised feature units, one fixed draw per copy shared by all models.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// Noisy copies, at least 1 (the clean example is always queried too;
    /// paper: not stated for tabular data, LiRA queries up to 18 image
    /// augmentations; presets: 2 smoke, 4 quick, 8 full, 16 paper).
    pub copies: usize,
    /// Standard deviation of the Gaussian noise, in standardised feature
    /// units (paper: not stated, ours; presets: 0.1).
    pub noise_std: f32,
}

impl Validate for QueryConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.copies >= 1, "copies must be at least 1, got {}", self.copies);
        anyhow::ensure!(
            self.noise_std.is_finite() && self.noise_std > 0.0,
            "noise_std must be positive, got {}",
            self.noise_std
        );
        Ok(())
    }
}

/// The population's query copies of `data`: `cfg.copies` datasets, each
/// the pool plus one seeded Gaussian draw.
fn query_copies(data: &Dataset, cfg: Option<&QueryConfig>, seed: u64) -> Vec<Dataset> {
    let Some(cfg) = cfg else { return Vec::new() };
    let plain = reprolab_core::device::default_device();
    (0..cfg.copies)
        .map(|q| {
            plain.seed(derive_seed(seed, &format!("lira-query-{q}")));
            let noise = burn::tensor::Tensor::<1>::random(
                [data.features.len()],
                burn::tensor::Distribution::Normal(0.0, f64::from(cfg.noise_std)),
                &plain,
            );
            let noise: Vec<f32> = noise.into_data().try_to_vec().expect("f32 noise");
            let features = data.features.iter().zip(noise).map(|(x, e)| x + e).collect();
            Dataset { features, ..data.clone() }
        })
        .collect()
}

/// The population's model.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Architecture {
    /// An MLP with the population's `hidden` widths.
    #[default]
    Mlp,
    /// A small ConvNet on `side` x `side` single-channel images (8x8 digits):
    /// conv blocks of `widths` channels, each halving the side, then a linear head.
    Cnn {
        /// The image side; the pool must have `side * side` features.
        side: usize,
        /// Channels of each conv block (paper: not stated; presets: `[16, 32]`).
        widths: Vec<usize>,
    },
}

/// How the label-only attacker probes the decision boundary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryConfig {
    /// Noisy copies per example, at least 1 (paper: not stated,
    /// Choquette-Choo et al. use hundreds of augmentations; presets: 5 smoke,
    /// 10 quick, 20 full, 50 paper).
    pub queries: usize,
    /// Standard deviation of the Gaussian noise, in standardised feature
    /// units (paper: not stated; presets: 0.5).
    pub noise_std: f32,
}

impl Validate for BoundaryConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.queries >= 1, "queries must be at least 1, got {}", self.queries);
        anyhow::ensure!(
            self.noise_std.is_finite() && self.noise_std > 0.0,
            "noise_std must be positive, got {}",
            self.noise_std
        );
        Ok(())
    }
}

/// Share of `cfg.queries` noisy copies of each example that `model` labels
/// correctly (Choquette-Choo et al. 2021: members sit further from the
/// decision boundary, so their label survives more noise).
fn noise_robustness<M: Classifier>(
    model: &M,
    data: &Dataset,
    cfg: &BoundaryConfig,
    seed: u64,
    device: &burn::tensor::Device,
) -> Vec<f32> {
    use burn::tensor::{Distribution, Tensor};
    let model = model.valid();
    let plain = device.clone().without_autodiff();
    plain.seed(seed);
    let n = data.len();
    let mut correct = vec![0u32; n];
    let all: Vec<usize> = (0..n).collect();
    let clean = data.features_tensor(&all, &plain);
    for _ in 0..cfg.queries {
        let noise = Tensor::<2>::random(clean.dims(), Distribution::Normal(0.0, cfg.noise_std as f64), &plain);
        let logits: Vec<f32> = model.logits(clean.clone() + noise).into_data().try_to_vec().expect("f32 logits");
        let pred = reprolab_core::train::classifier::argmax_rows(&logits, data.n_classes());
        for (j, &p) in pred.iter().enumerate() {
            correct[j] += u32::from(p == data.labels()[j]);
        }
    }
    correct.into_iter().map(|c| c as f32 / cfg.queries.max(1) as f32).collect()
}

/// `[features, hidden..., classes]`: the layer sizes of an MLP classifier on `data`.
pub fn mlp_dims(data: &Dataset, hidden: &[usize]) -> Vec<usize> {
    let mut dims = vec![data.n_features];
    dims.extend(hidden);
    dims.push(data.n_classes());
    dims
}

/// Model `model_seed`'s training half of a pool of `n`: the row indices
/// and the IN mask (every population draws its halves this way).
pub fn random_half(n: usize, model_seed: u64) -> (Vec<usize>, Vec<bool>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng(derive_seed(model_seed, "half")));
    let train: Vec<usize> = order[..n / 2].to_vec();
    let mut member = vec![false; n];
    train.iter().for_each(|&i| member[i] = true);
    (train, member)
}

/// What every trained model of a population is asked, the same for all of
/// them: its logits on the pool and on LiRA's query copies, and, when the
/// boundary attack is configured, its noise robustness.
struct Probes<'a> {
    /// The pool (features already standardised).
    data: &'a Dataset,
    /// LiRA's fixed noisy copies of the pool (empty: none).
    queries: &'a [Dataset],
    /// The label-only attacker's noise probe (`None`: not measured).
    boundary: Option<&'a BoundaryConfig>,
    /// RMIA's population, examples no model trains on (`None`: none).
    population: Option<&'a Dataset>,
    /// The autodiff device the models live on.
    device: &'a burn::tensor::Device,
}

impl<'a> Probes<'a> {
    fn new(
        data: &'a Dataset,
        queries: &'a [Dataset],
        population: Option<&'a Dataset>,
        cfg: &'a PopulationConfig,
        device: &'a burn::tensor::Device,
    ) -> Self {
        Self { data, queries, boundary: cfg.boundary.as_ref(), population, device }
    }

    /// An empty record of the models' outputs on the population, if any.
    fn empty_population(&self, n_models: usize) -> Option<ModelOutputs> {
        self.population.map(|p| ModelOutputs::empty(n_models, p))
    }

    /// Appends one trained model to `out`: its IN mask `member`, logits on
    /// every pool example, logits on the query copies and, when configured,
    /// its noise robustness (drawn from `noise_seed`); and its logits on
    /// the population into `pop` (all OUT).
    fn record<M: Classifier>(
        &self,
        out: &mut ModelOutputs,
        pop: Option<&mut ModelOutputs>,
        model: &M,
        member: Vec<bool>,
        noise_seed: u64,
    ) {
        if let (Some(data), Some(pop)) = (self.population, pop) {
            let rows: Vec<usize> = (0..data.len()).collect();
            pop.logits.extend(predict_logits(model, data, &rows, self.device));
            pop.members.extend(std::iter::repeat_n(false, data.len()));
        }
        let all: Vec<usize> = (0..self.data.len()).collect();
        out.logits.extend(predict_logits(model, self.data, &all, self.device));
        out.n_queries = self.queries.len();
        for query in self.queries {
            out.query_logits.extend(predict_logits(model, query, &all, self.device));
        }
        if let Some(b) = self.boundary {
            out.robustness.extend(noise_robustness(model, self.data, b, noise_seed, self.device));
        }
        out.members.extend(member);
    }
}

/// Trains `cfg.n_models` models on random halves of `data` (features
/// already standardised) and records their logits on the whole pool.
pub fn train_population(data: &Dataset, cfg: &PopulationConfig, seed: u64) -> Result<ModelOutputs> {
    Ok(train_population_with(data, None, cfg, seed)?.0)
}

/// Splits `data` into the attacked pool and RMIA's population: a stratified
/// `share` of the rows (drawn from `seed`) that no model will train on, as
/// ML Privacy Meter keeps a population split apart from every target and
/// reference model's data. Both keep the rows' original order.
pub fn split_population(data: &Dataset, share: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    let split = reprolab_core::data::split::stratified_split(data.labels(), share, derive_seed(seed, "population"))?;
    let (mut pool, mut population) = (split.train, split.test);
    pool.sort_unstable();
    population.sort_unstable();
    Ok((data.subset(&pool), data.subset(&population)))
}

/// [`train_population`], also recording every model's logits on
/// `population` (rows none of them trains on; every member flag 0). The
/// models, their halves of `data` and their seeds are the same with or
/// without a population.
pub fn train_population_with(
    data: &Dataset,
    population: Option<&Dataset>,
    cfg: &PopulationConfig,
    seed: u64,
) -> Result<(ModelOutputs, Option<ModelOutputs>)> {
    cfg.validate().map_err(|e| reprolab_core::user_error(format!("membership: population: {e:#}")))?;
    if let Architecture::Cnn { side, .. } = &cfg.architecture
        && data.n_features != side * side
    {
        reprolab_core::user_bail!(
            "membership: the CNN expects {side}x{side} single-channel images, {} has {} features",
            data.name,
            data.n_features
        );
    }
    if matches!(cfg.architecture, Architecture::Mlp) && cfg.dp_sgd.is_none() {
        return train_mlp_stack(data, population, cfg, seed);
    }
    let n = data.len();
    let device = reprolab_core::device::default_device();
    let ad = device.clone().autodiff();
    let dims = mlp_dims(data, &cfg.hidden);
    let queries = query_copies(data, cfg.lira_queries.as_ref(), seed);
    let probes = Probes::new(data, &queries, population, cfg, &ad);
    let mut out = ModelOutputs::empty(cfg.n_models, data);
    let mut pop = probes.empty_population(cfg.n_models);
    let bar = reprolab_core::progress::bar(cfg.n_models as u64, &format!("{} models", data.name));
    for m in 0..cfg.n_models {
        let model_seed = derive_seed(seed, &format!("model-{m}"));
        let (train, member) = random_half(n, model_seed);
        device.seed(derive_seed(model_seed, "init"));
        let label = format!("{} model {m}", data.name);
        let noise_seed = derive_seed(model_seed, "noise");
        match &cfg.architecture {
            Architecture::Mlp => {
                // DP-SGD clips per example, so its models train one at a time.
                let model = MlpConfig::new(&dims).with_dropout(cfg.dropout).init(&ad);
                let dp = cfg.dp_sgd.as_ref().expect("MLPs without DP-SGD train as a stack");
                let model = crate::dp::fit_dp(model, data, &train, dp, model_seed, &ad)?.0;
                probes.record(&mut out, pop.as_mut(), &model, member, noise_seed);
            }
            Architecture::Cnn { side, widths } => {
                let config =
                    ConvNetConfig { channels: 1, side: *side, widths: widths.clone(), n_classes: data.n_classes() };
                let model = fit(config.init(&ad), data, &train, &cfg.fit, model_seed, &ad, &label)?.0;
                probes.record(&mut out, pop.as_mut(), &model, member, noise_seed);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((out, pop))
}

/// The MLP population without DP-SGD, trained as one stack of models (see
/// [`reprolab_core::train::fit_stack`]): each model keeps its own seed,
/// half, initial weights and batch order, as when trained alone.
fn train_mlp_stack(
    data: &Dataset,
    population: Option<&Dataset>,
    cfg: &PopulationConfig,
    seed: u64,
) -> Result<(ModelOutputs, Option<ModelOutputs>)> {
    let device = reprolab_core::device::default_device();
    let ad = device.clone().autodiff();
    let dims = mlp_dims(data, &cfg.hidden);
    let seeds: Vec<u64> = (0..cfg.n_models).map(|m| derive_seed(seed, &format!("model-{m}"))).collect();
    let (halves, members): (Vec<Vec<usize>>, Vec<Vec<bool>>) =
        seeds.iter().map(|&s| random_half(data.len(), s)).unzip();
    let models = seeds
        .iter()
        .map(|&s| {
            device.seed(derive_seed(s, "init"));
            MlpConfig::new(&dims).with_dropout(cfg.dropout).init(&ad)
        })
        .collect();
    let label = format!("{} models x{}", data.name, cfg.n_models);
    let (models, _) = fit_stack(models, data, &halves, &cfg.fit, &seeds, &ad, &label)?;
    let queries = query_copies(data, cfg.lira_queries.as_ref(), seed);
    let probes = Probes::new(data, &queries, population, cfg, &ad);
    let mut out = ModelOutputs::empty(cfg.n_models, data);
    let mut pop = probes.empty_population(cfg.n_models);
    for ((model, member), s) in models.iter().zip(members).zip(&seeds) {
        probes.record(&mut out, pop.as_mut(), model, member, derive_seed(*s, "noise"));
    }
    Ok((out, pop))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The population is a stratified share no model trains on; training
    /// with it changes nothing about the models on the pool, and every
    /// model's outputs on it are recorded with every member flag 0.
    #[test]
    fn the_population_is_held_out_and_leaves_the_models_alone() {
        let data = reprolab_core::data::embedded::by_name("breast-cancer").unwrap();
        let (pool, population) = split_population(&data, 0.2, 3).unwrap();
        // stratified: a fifth of each class (212 and 357 rows) held out, rounded
        assert_eq!((pool.len(), population.len()), (456, 113));
        let count = |d: &Dataset, c: usize| d.labels().iter().filter(|&&y| y == c).count();
        for c in 0..2 {
            assert_eq!(count(&population, c), (count(&data, c) as f64 * 0.2).round() as usize);
        }
        // disjoint, and together the whole set (rows compared by their features)
        let mut rows: Vec<&[f32]> = (0..pool.len()).map(|i| pool.row(i)).collect();
        rows.extend((0..population.len()).map(|i| population.row(i)));
        rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mut all: Vec<&[f32]> = (0..data.len()).map(|i| data.row(i)).collect();
        all.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(rows, all);
        assert_ne!(split_population(&data, 0.2, 4).unwrap().1.features, population.features, "seeded");

        let cfg = PopulationConfig {
            n_models: 2,
            architecture: Architecture::Mlp,
            hidden: vec![8],
            dropout: 0.0,
            fit: FitConfig {
                epochs: 1,
                batch_size: 64,
                optimizer: reprolab_core::train::OptimizerConfig::adam(1e-3),
                schedule: Default::default(),
                label_smoothing: 0.0,
                early_stopping: None,
            },
            boundary: None,
            dp_sgd: None,
            lira_queries: None,
        };
        let plain = train_population(&pool, &cfg, 5).unwrap();
        let (with, pop) = train_population_with(&pool, Some(&population), &cfg, 5).unwrap();
        assert_eq!(with, plain);
        let pop = pop.unwrap();
        assert_eq!((pop.n_models, pop.n_examples, pop.logits.len()), (2, 113, 2 * 113 * 2));
        assert!(pop.members.iter().all(|&m| !m));
        assert_eq!(pop.labels, population.labels());
    }

    #[test]
    fn npz_round_trip_and_validation() {
        let o = ModelOutputs {
            n_models: 2,
            n_examples: 3,
            n_classes: 2,
            logits: (0..12).map(|i| i as f32 * 0.5).collect(),
            members: vec![true, false, true, false, true, false],
            labels: vec![0, 1, 1],
            robustness: vec![1.0, 0.5, 0.0, 0.25, 1.0, 0.75],
            n_queries: 1,
            query_logits: (0..12).map(|i| i as f32 * -0.25).collect(),
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("outputs.npz");
        o.save_npz(&p).unwrap();
        assert_eq!(ModelOutputs::load_npz(&p).unwrap(), o);
        assert_eq!(o.logits(1, 2), &[5.0, 5.5]);
        assert_eq!(o.members_of(1), &[false, true, false]);
        assert_eq!(o.query_logits(1, 0, 1), &[-2.0, -2.25]);

        let mut arrays = load_npz(&p).unwrap();
        arrays.insert("labels".into(), Array::new(vec![3], vec![0.0, 1.0, 7.0]).unwrap());
        save_npz(&p, &arrays).unwrap();
        let err = ModelOutputs::load_npz(&p).unwrap_err().to_string();
        assert!(err.contains("outputs.npz: 'labels' must be integers in 0..2"), "{err}");
        arrays.remove("members");
        save_npz(&p, &arrays).unwrap();
        assert!(ModelOutputs::load_npz(&p).unwrap_err().to_string().contains("missing array 'members'"));
    }
}
