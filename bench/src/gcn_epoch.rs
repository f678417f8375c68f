//! Workload 5 (paper 10, fair-kd): one full-batch training epoch of the
//! 2-layer GCN teacher (18 -> 16 -> 2, dropout 0.5, Adam lr 1e-2) on a
//! graph the size of bail's similarity graph: 18,876 nodes and 311,870
//! undirected edges (random, seeded: timing depends on the counts, not on
//! which nodes link), loss on half of the nodes. The propagation is a
//! sparse gather / scatter-add over the edge list. Prints one JSON object;
//! `bench/run` runs it beside `bench/peers/gcn_epoch.py` (torch.sparse.mm).
//!
//! Usage: gcn-epoch [--steps N] [--warmup N]

use burn::tensor::{Distribution, Int, Tensor, TensorData};
use fair_kd::data::FairGraph;
use fair_kd::teachers::{GraphTensors, NodeModel, TeacherConfig, index_tensor, init_gcn};
use reprolab_bench::{arg, print_summary};
use reprolab_core::train::OptimizerConfig;
use std::time::Instant;

const NODES: usize = 18_876;
const EDGES: usize = 311_870;
const FEATURES: usize = 18;

fn main() -> anyhow::Result<()> {
    use rand::RngExt;
    let steps = arg("--steps", 50)?.max(1);
    let warmup = arg("--warmup", 5)?;
    let device = reprolab_core::device::default_device();
    device.seed(0);
    let ad = device.clone().autodiff();
    let mut rng = reprolab_core::rng::rng(0);
    let mut edges = std::collections::BTreeSet::new();
    while edges.len() < EDGES {
        let (a, b) = (rng.random_range(0..NODES), rng.random_range(0..NODES));
        if a != b {
            edges.insert((a.min(b), a.max(b)));
        }
    }
    let g = FairGraph {
        name: "bench".into(),
        features: Tensor::<1>::random([NODES * FEATURES], Distribution::Normal(0.0, 1.0), &device)
            .into_data()
            .try_to_vec()
            .expect("f32"),
        n: NODES,
        d: FEATURES,
        labels: (0..NODES).map(|i| i % 3 == 0).collect(),
        sensitive: vec![false; NODES],
        edges: edges.into_iter().collect(),
    };
    let graph = GraphTensors::new(&g, &ad)?;
    let cfg = TeacherConfig { hidden: 16, dropout: 0.5, epochs: 1, optimizer: OptimizerConfig::adam(1e-2) };
    let mut model = init_gcn(FEATURES, &cfg, &ad);
    let mut optim = cfg.optimizer.build();
    let train: Vec<usize> = (0..NODES).step_by(2).collect();
    let train_idx = index_tensor(&train, &ad);
    let y: Vec<i64> = train.iter().map(|&i| i64::from(g.labels[i])).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(y, [train.len()]), &ad);
    let loss_fn = burn::nn::loss::CrossEntropyLossConfig::new().init(&ad);
    let mut times_ms = Vec::new();
    for step in 0..warmup + steps {
        let start = Instant::now();
        let loss = loss_fn.forward(model.logits(&graph).select(0, train_idx.clone()), y.clone());
        let _ = loss.clone().into_scalar::<f32>();
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
        if step >= warmup {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    // Dense products (6 x MACs per node) plus the sparse ones (2 FLOP per
    // edge entry and feature, forward; x3 with backward).
    let nnz = (2 * EDGES + NODES) as f64;
    let flops = 6.0 * (NODES * (FEATURES * 16 + 16 * 2)) as f64 + 3.0 * 2.0 * nnz * (16.0 + 2.0);
    let workload = format!("gcn-epoch: GCN 18-16-2 full batch on {NODES} nodes, {EDGES} edges (bail's size), Adam");
    print_summary(&workload, times_ms, flops, serde_json::json!({ "edges": EDGES }));
    Ok(())
}
