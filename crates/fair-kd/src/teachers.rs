//! The GNN teachers: a 2-layer GCN (Kipf & Welling) and a 2-layer
//! GraphSAGE with the mean aggregator (Hamilton et al.), trained full-batch
//! on the training nodes with cross-entropy.

use crate::data::{FairGraph, NodeSplit};
use anyhow::Result;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use reprolab_core::nn::{GraphConv, NormalisedAdjacency};
use reprolab_core::registry::Validate;
use reprolab_core::train::{Checkpoint, OptimizerConfig};
use serde::{Deserialize, Serialize};

/// The graph as tensors, built once per device.
pub struct GraphTensors {
    pub features: Tensor<2>,
    /// D^-1/2 (A + I) D^-1/2 (GCN, SGC).
    pub normalised: NormalisedAdjacency,
    /// Mean over neighbours, no self-loop (GraphSAGE).
    pub mean: NormalisedAdjacency,
}

impl GraphTensors {
    pub fn new(g: &FairGraph, device: &Device) -> Result<Self> {
        let features = Tensor::from_data(TensorData::new(g.features.clone(), [g.n, g.d]), device);
        Ok(Self {
            features,
            normalised: NormalisedAdjacency::from_undirected(g.n, &g.edges, device)?,
            mean: mean_adjacency(g, device),
        })
    }
}

/// Row-mean aggregation over neighbours as an edge list: each directed
/// edge src -> dst weighs 1 / deg(dst); isolated nodes aggregate zeros.
pub fn mean_adjacency(g: &FairGraph, device: &Device) -> NormalisedAdjacency {
    let mut degree = vec![0f32; g.n];
    let mut pairs = Vec::with_capacity(2 * g.edges.len());
    for &(a, b) in &g.edges {
        pairs.push((a, b));
        pairs.push((b, a));
        degree[a] += 1.0;
        degree[b] += 1.0;
    }
    let n_edges = pairs.len();
    let weight: Vec<f32> = pairs.iter().map(|&(_, dst)| 1.0 / degree[dst]).collect();
    NormalisedAdjacency {
        n_nodes: g.n,
        src: Tensor::from_data(
            TensorData::new(pairs.iter().map(|p| p.0 as i64).collect::<Vec<_>>(), [n_edges]),
            device,
        ),
        dst: Tensor::from_data(
            TensorData::new(pairs.iter().map(|p| p.1 as i64).collect::<Vec<_>>(), [n_edges]),
            device,
        ),
        weight: Tensor::from_data(TensorData::new(weight, [n_edges, 1]), device),
        n_edges,
    }
}

/// Which teacher (`--teacher gcn|sage`, config `"gcn"` / `"sage"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TeacherKind {
    /// 2-layer GCN.
    Gcn,
    /// 2-layer GraphSAGE, mean aggregator.
    Sage,
}

impl TeacherKind {
    /// The name in arms and notes: "GCN" or "SAGE".
    pub fn name(self) -> &'static str {
        match self {
            TeacherKind::Gcn => "GCN",
            TeacherKind::Sage => "SAGE",
        }
    }
}

#[derive(Module, Debug)]
pub struct Gcn {
    pub layer1: GraphConv,
    pub layer2: GraphConv,
    pub dropout: Dropout,
}

#[derive(Module, Debug)]
pub struct Sage {
    pub self1: Linear,
    pub neigh1: Linear,
    pub self2: Linear,
    pub neigh2: Linear,
    pub dropout: Dropout,
}

/// A node classifier over the whole graph.
pub trait NodeModel: Module {
    /// Logits `[n, classes]` of every node.
    fn logits(&self, graph: &GraphTensors) -> Tensor<2>;
}

impl NodeModel for Gcn {
    fn logits(&self, graph: &GraphTensors) -> Tensor<2> {
        let h = self.dropout.forward(relu(self.layer1.forward(graph.features.clone(), &graph.normalised)));
        self.layer2.forward(h, &graph.normalised)
    }
}

impl NodeModel for Sage {
    fn logits(&self, graph: &GraphTensors) -> Tensor<2> {
        let x = graph.features.clone();
        let h = relu(self.self1.forward(x.clone()) + self.neigh1.forward(graph.mean.propagate(x)));
        let h = self.dropout.forward(h);
        self.self2.forward(h.clone()) + self.neigh2.forward(graph.mean.propagate(h))
    }
}

/// Teacher size and training.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherConfig {
    /// Hidden width of both teachers' first layer (paper: not stated; ours
    /// 16, the usual 2-layer GCN width).
    pub hidden: usize,
    /// Dropout between the two layers, in [0, 1) (paper: not stated; ours
    /// 0.5).
    pub dropout: f64,
    /// Full-batch training epochs; the best-validation epoch is kept (paper:
    /// not stated; ours 200, 400 in the paper preset).
    pub epochs: usize,
    /// The teacher's optimiser (paper: not stated; ours Adam, lr 0.01,
    /// weight decay 5e-4).
    pub optimizer: OptimizerConfig,
}

impl Validate for TeacherConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.hidden >= 1, "hidden must be at least 1, got {}", self.hidden);
        anyhow::ensure!((0.0..1.0).contains(&self.dropout), "dropout must be in [0, 1), got {}", self.dropout);
        anyhow::ensure!(self.epochs >= 1, "epochs must be at least 1, got {}", self.epochs);
        self.optimizer.validate()
    }
}

pub fn init_gcn(d: usize, cfg: &TeacherConfig, device: &Device) -> Gcn {
    Gcn {
        layer1: GraphConv::new(d, cfg.hidden, device),
        layer2: GraphConv::new(cfg.hidden, 2, device),
        dropout: DropoutConfig::new(cfg.dropout).init(),
    }
}

pub fn init_sage(d: usize, cfg: &TeacherConfig, device: &Device) -> Sage {
    Sage {
        self1: LinearConfig::new(d, cfg.hidden).init(device),
        neigh1: LinearConfig::new(d, cfg.hidden).with_bias(false).init(device),
        self2: LinearConfig::new(cfg.hidden, 2).init(device),
        neigh2: LinearConfig::new(cfg.hidden, 2).with_bias(false).init(device),
        dropout: DropoutConfig::new(cfg.dropout).init(),
    }
}

/// Node ids as an int tensor.
pub fn index_tensor(idx: &[usize], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(idx.iter().map(|&i| i as i64).collect::<Vec<_>>(), [idx.len()]), device)
}

/// What a teacher trains on: the graph, its tensors on the training and
/// evaluation devices, and the split.
#[derive(Clone, Copy)]
pub struct TeacherInputs<'a> {
    pub graph: &'a FairGraph,
    /// The graph on an autodiff device (training, dropout active).
    pub train_graph: &'a GraphTensors,
    /// The same graph without autodiff (evaluation).
    pub eval_graph: &'a GraphTensors,
    pub split: &'a NodeSplit,
}

/// Where a training loop reports what it measured: `(step, name, value)`,
/// `step` the optimiser steps taken before the value was measured
/// (`fair-kd train` writes them to `metrics.jsonl`; the experiment passes
/// none, so its numbers do not depend on logging).
pub type StepLog<'a> = &'a mut dyn FnMut(usize, &str, f64) -> Result<()>;

/// Full-batch training on the training nodes with cross-entropy; keeps the
/// epoch with the best validation accuracy. `label` names the progress bar.
/// With `log`: `lr` once, each epoch's `loss` and the validation accuracy
/// after its step (`eval/validation_accuracy`), one step per epoch.
pub fn train_teacher<M: NodeModel>(
    model: M,
    inputs: &TeacherInputs,
    cfg: &TeacherConfig,
    label: &str,
    log: Option<StepLog>,
) -> Result<M> {
    train_teacher_resumable(model, inputs, cfg, label, log, None)
}

/// [`train_teacher`] that checkpoints every `ckpt.every` epochs (and after
/// the last) into `ckpt.dir` and continues from the checkpoint there: the
/// `train` command's `--resume`. The model, the optimiser, the best model
/// and its accuracy are saved; burn's global generator (dropout) cannot be,
/// so it is reseeded from the run seed and the epoch at every checkpoint,
/// by the uninterrupted and the resumed run alike (without `ckpt` it is not,
/// so the experiments are unchanged). Epoch `e`'s input features are
/// poisoned when the fault injection names step `e`.
pub fn train_teacher_resumable<M: NodeModel>(
    mut model: M,
    inputs: &TeacherInputs,
    cfg: &TeacherConfig,
    label: &str,
    mut log: Option<StepLog>,
    ckpt: Option<&LoopCheckpoints>,
) -> Result<M> {
    let TeacherInputs { graph: g, train_graph: graph, eval_graph: plain, split } = *inputs;
    let device = graph.features.device();
    let train = index_tensor(&split.train, &device);
    let y: Vec<i64> = split.train.iter().map(|&i| i64::from(g.labels[i])).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(y, [split.train.len()]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optim = cfg.optimizer.build();
    let (mut best, mut best_acc) = (None, -1.0);
    let mut start = 0;
    if let Some(ck) = ckpt
        && let Some(st) = ck.latest()?
    {
        model = ck.part(st.epoch, "model").load_model(model)?;
        optim = ck.part(st.epoch, "model").load_optimizer(optim)?;
        if st.has_best {
            best = Some(ck.part(st.epoch, "best").load_model(model.clone())?);
        }
        (best_acc, start) = (st.best_acc, st.epoch);
        ck.reseed(&device, st.epoch);
    }
    let bar = reprolab_core::progress::bar(cfg.epochs as u64, label);
    bar.set_position(start as u64);
    if let Some(log) = log.as_mut()
        && start == 0
    {
        log(0, "lr", cfg.optimizer.lr())?;
    }
    for epoch in start..cfg.epochs {
        let poisoned;
        let step = ckpt.map_or(0, |c| c.first_step) + epoch;
        let graph = if reprolab_core::train::fault::is_poisoned(step) {
            poisoned = GraphTensors {
                features: reprolab_core::train::fault::poison_batch(graph.features.clone(), step),
                normalised: graph.normalised.clone(),
                mean: graph.mean.clone(),
            };
            &poisoned
        } else {
            graph
        };
        let loss = loss_fn.forward(model.logits(graph).select(0, train.clone()), y.clone());
        let value: f32 = loss.clone().into_scalar();
        if let Some(log) = log.as_mut() {
            log(epoch, "loss", f64::from(value))?;
        }
        reprolab_core::train::check_finite(value, step, label)?;
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(cfg.optimizer.lr(), model, grads);
        let acc = accuracy_on(&model, g, plain, &split.validation);
        if let Some(log) = log.as_mut() {
            log(epoch + 1, "eval/validation_accuracy", acc)?;
        }
        if acc > best_acc {
            best_acc = acc;
            best = Some(model.clone());
        }
        if let Some(ck) = ckpt
            && ck.due(epoch + 1, cfg.epochs)
        {
            let st = LoopState { epoch: epoch + 1, best_acc, best_epoch: 0, has_best: best.is_some() };
            ck.part(st.epoch, "model").save(&model, Some(&optim), &st.train_state())?;
            if let Some(b) = &best {
                ck.part(st.epoch, "best").save(b, None, &st.train_state())?;
            }
            ck.commit(&st)?;
            ck.reseed(&device, st.epoch);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(best.unwrap_or(model))
}

/// Where a resumable training loop (teacher or student) checkpoints:
/// `dir/epoch-N/<part>/` (core [`Checkpoint`]s: model, optimiser, the best
/// model) and `dir/latest.json`, written last and atomically, naming the
/// newest complete `epoch-N` (older ones are removed after it), so a kill
/// at any moment leaves one complete checkpoint.
#[derive(Debug, Clone)]
pub struct LoopCheckpoints {
    pub dir: std::path::PathBuf,
    /// Checkpoint every this many epochs (and after the last).
    pub every: usize,
    /// The run seed (burn's generator is reseeded from it at checkpoints).
    pub seed: u64,
    /// Names the reseeding stream (`teacher`, `student`).
    pub stream: &'static str,
    /// The command's step of the loop's epoch 0 (the `metrics.jsonl` step
    /// axis): the fault injection and the non-finite guard count from it.
    pub first_step: usize,
}

/// `latest.json` of a [`LoopCheckpoints`] folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Epochs done.
    pub epoch: usize,
    /// The best validation accuracy so far and the epoch it was reached (early-stopping state).
    pub best_acc: f64,
    pub best_epoch: usize,
    /// Whether `best/` holds a model.
    pub has_best: bool,
}

impl LoopState {
    pub(crate) fn train_state(&self) -> reprolab_core::train::checkpoint::TrainState {
        reprolab_core::train::checkpoint::TrainState {
            step: self.epoch,
            epoch: self.epoch,
            best: Some(self.best_acc),
            ..Default::default()
        }
    }
}

impl LoopCheckpoints {
    /// The checkpoint of `part` after `epoch` epochs.
    pub fn part(&self, epoch: usize, part: &str) -> Checkpoint {
        Checkpoint::new(self.dir.join(format!("epoch-{epoch:06}")).join(part))
    }

    /// Whether to checkpoint after `done` of `total` epochs.
    pub fn due(&self, done: usize, total: usize) -> bool {
        done.is_multiple_of(self.every.max(1)) || done == total
    }

    /// The newest complete checkpoint's state (None: none yet).
    pub fn latest(&self) -> Result<Option<LoopState>> {
        let path = self.dir.join("latest.json");
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| reprolab_core::user_error(format!("{}: cannot read ({e})", path.display())))?;
        let st = serde_json::from_str(&text)
            .map_err(|e| reprolab_core::user_error(format!("{}: corrupt training state ({e})", path.display())))?;
        Ok(Some(st))
    }

    /// Marks `st`'s checkpoint (its parts already written) the newest and
    /// removes the older ones.
    pub fn commit(&self, st: &LoopState) -> Result<()> {
        reprolab_core::report::write_bytes_atomic(&self.dir.join("latest.json"), serde_json::to_vec_pretty(st)?)?;
        let keep = format!("epoch-{:06}", st.epoch);
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("epoch-") && name != keep {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }

    /// Reseeds burn's generator for the epochs after `epoch`.
    pub fn reseed(&self, device: &Device, epoch: usize) {
        device.seed(reprolab_core::rng::derive_seed(self.seed, &format!("{}-resume-{epoch}", self.stream)));
    }
}

/// P(y = 1) of every node, without dropout or gradients (`plain`: the
/// graph on a device without autodiff).
pub fn positive_probability<M: NodeModel>(model: &M, plain: &GraphTensors) -> Vec<f32> {
    let logits = model.valid().logits(plain);
    let p = burn::tensor::activation::softmax(logits, 1).narrow(1, 1, 1);
    p.into_data().try_to_vec().expect("f32 probabilities")
}

fn accuracy_on<M: NodeModel>(model: &M, g: &FairGraph, plain: &GraphTensors, idx: &[usize]) -> f64 {
    let p = positive_probability(model, plain);
    idx.iter().filter(|&&i| (p[i] >= 0.5) == g.labels[i]).count() as f64 / idx.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{SyntheticConfig, synthetic};

    #[test]
    fn mean_aggregation_by_hand_and_teachers_learn_the_synthetic_graph() {
        let dev = reprolab_core::device::default_device();
        let g = FairGraph {
            name: "path".into(),
            features: vec![1.0, 2.0, 4.0],
            n: 3,
            d: 1,
            labels: vec![false, true, false],
            sensitive: vec![false, true, true],
            edges: vec![(0, 1), (1, 2)],
        };
        let x = Tensor::<2>::from_data(TensorData::new(g.features.clone(), [3, 1]), &dev);
        let m: Vec<f32> = mean_adjacency(&g, &dev).propagate(x).into_data().try_to_vec().unwrap();
        assert_eq!(m, vec![2.0, 2.5, 2.0], "neighbour means of the path 0-1-2");

        let cfg = SyntheticConfig { nodes: 400, features: 8, degree_same: 8.0, degree_other: 1.0, label_bias: 0.5 };
        let g = synthetic(&cfg, 0).unwrap();
        let split = g.split(0).unwrap();
        let ad = dev.clone().autodiff();
        ad.seed(0);
        let graph = GraphTensors::new(&g, &ad).unwrap();
        let plain = GraphTensors::new(&g, &dev).unwrap();
        let tcfg = TeacherConfig { hidden: 16, dropout: 0.5, epochs: 60, optimizer: OptimizerConfig::adam(0.01) };
        let inputs = TeacherInputs { graph: &g, train_graph: &graph, eval_graph: &plain, split: &split };
        for kind in [TeacherKind::Gcn, TeacherKind::Sage] {
            let acc = match kind {
                TeacherKind::Gcn => {
                    let m = train_teacher(init_gcn(g.d, &tcfg, &ad), &inputs, &tcfg, "gcn", None).unwrap();
                    accuracy_on(&m, &g, &plain, &split.test)
                }
                TeacherKind::Sage => {
                    let m = train_teacher(init_sage(g.d, &tcfg, &ad), &inputs, &tcfg, "sage", None).unwrap();
                    accuracy_on(&m, &g, &plain, &split.test)
                }
            };
            assert!(acc > 0.7, "{kind:?} test accuracy {acc}");
        }
    }
}
