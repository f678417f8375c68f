//! Workload 1: one training step of a 64-256-256-10 MLP classifier
//! (ReLU, cross-entropy, Adam lr 1e-3 with PyTorch's eps 1e-8) on a fixed
//! batch of 256, the model the membership-inference paper trains by the
//! hundred. Prints one JSON object with per-step timings; `bench/run`
//! runs it beside `bench/peers/mlp_step.py` (PyTorch, same shapes).
//!
//! Usage: mlp-step [--steps N] [--warmup N]

use burn::tensor::{Distribution, Int, Tensor, TensorData};
use reprolab_bench::{arg, print_summary};
use reprolab_core::nn::MlpConfig;
use reprolab_core::train::OptimizerConfig;
use reprolab_core::train::classifier::train_step;
use std::time::Instant;

const DIMS: [usize; 4] = [64, 256, 256, 10];
const BATCH: usize = 256;

fn main() -> anyhow::Result<()> {
    let steps = arg("--steps", 300)?;
    let warmup = arg("--warmup", 50)?;
    let device = reprolab_core::device::default_device();
    device.seed(0);
    let ad = device.autodiff();
    let mut model = MlpConfig::new(&DIMS).init(&ad);
    let mut optim = OptimizerConfig::adam(1e-3).build();
    let x = Tensor::<2>::random([BATCH, DIMS[0]], Distribution::Normal(0.0, 1.0), &ad);
    let labels: Vec<i64> = (0..BATCH as i64).map(|i| (i * 7 + 3) % 10).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [BATCH]), &ad);

    let mut times_ms = Vec::with_capacity(steps);
    let mut last_loss = 0.0;
    for i in 0..warmup + steps {
        let start = Instant::now();
        let (next, loss) = train_step(model, &mut optim, 1e-3, x.clone(), y.clone());
        model = next;
        last_loss = loss.into_scalar::<f32>(); // forces the step to finish
        if i >= warmup {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    // forward MACs per example; a training step is ~3 forward passes, 2 FLOPs per MAC
    let macs: usize = DIMS.windows(2).map(|w| w[0] * w[1]).sum();
    let flops = 6.0 * macs as f64 * BATCH as f64;
    print_summary(
        "mlp-step 64-256-256-10, Adam, batch 256",
        times_ms,
        flops,
        serde_json::json!({ "final_loss": last_loss }),
    );
    Ok(())
}
