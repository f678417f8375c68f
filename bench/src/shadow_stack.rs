//! Workload 3 (membership inference, as the experiment trains): the same 16
//! shadow MLPs as `shadow-epoch` (64-256-256-10, Adam lr 1e-3 eps 1e-8, one
//! epoch on a random half of a 1,797 x 64 pool, batch 128), trained as one
//! `MlpStack`: each step takes every model's next batch and runs one batched
//! matrix product per layer. The PyTorch peer does the same with `bmm`.
//! Prints one JSON object.
//!
//! Usage: shadow-stack [--steps ROUNDS] [--warmup ROUNDS]

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use reprolab_bench::{arg, print_summary};
use reprolab_core::nn::{Mlp, MlpConfig, MlpStack};
use reprolab_core::train::OptimizerConfig;
use std::time::Instant;

use reprolab_bench::shadow::{BATCH, DIMS, MODELS, POOL};

fn main() -> anyhow::Result<()> {
    let reps = arg("--steps", 5)?.max(1);
    let warmup = arg("--warmup", 1)?;
    let device = reprolab_core::device::default_device();
    device.seed(0);
    let ad = device.autodiff();
    let (x, y) = reprolab_bench::shadow::pool(&ad);
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let mut rng = reprolab_core::rng::rng(0);
    let mut times_ms = Vec::new();
    let mut steps_per_rep = 0;
    for rep in 0..warmup + reps {
        let start = Instant::now();
        let mlps: Vec<Mlp> = (0..MODELS).map(|_| MlpConfig::new(&DIMS).init(&ad)).collect();
        let mut stack = MlpStack::from_mlps(&mlps);
        let mut optim = OptimizerConfig::adam(1e-3).build();
        let halves: Vec<Vec<i64>> = (0..MODELS)
            .map(|_| {
                let mut order: Vec<i64> = (0..POOL as i64).collect();
                order.shuffle(&mut rng);
                order.truncate(POOL / 2);
                order
            })
            .collect();
        steps_per_rep = 0;
        for start_row in (0..POOL / 2).step_by(BATCH) {
            let b = BATCH.min(POOL / 2 - start_row);
            let rows: Vec<i64> = halves.iter().flat_map(|h| h[start_row..start_row + b].iter().copied()).collect();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(rows, [MODELS * b]), &ad);
            let xb = x.clone().select(0, idx.clone()).reshape([MODELS, b, DIMS[0]]);
            let logits = stack.forward(xb).reshape([MODELS * b, DIMS[3]]);
            let loss = loss_fn.forward(logits, y.clone().select(0, idx)) * (MODELS as f32);
            let _ = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &stack);
            stack = optim.step(1e-3, stack, grads);
            steps_per_rep += 1;
        }
        let _ = stack.num_params();
        if rep >= warmup {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let macs: usize = DIMS.windows(2).map(|w| w[0] * w[1]).sum();
    let flops = 6.0 * macs as f64 * (MODELS * (POOL / 2)) as f64;
    let workload = format!(
        "shadow-stack: {MODELS} MLPs 64-256-256-10 as one stack, 1 epoch on {} rows each, batch {BATCH}",
        POOL / 2
    );
    print_summary(&workload, times_ms, flops, serde_json::json!({ "optimizer_steps": steps_per_rep }));
    Ok(())
}
