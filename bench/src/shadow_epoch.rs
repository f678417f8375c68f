//! Workload 2 (membership inference): train 16 shadow MLPs
//! (64-256-256-10, Adam lr 1e-3 eps 1e-8) for one epoch each, every model on
//! its own random half of a 1,797 x 64 pool (the digits shape), batch 128.
//! This is the inner loop of the membership experiment. Timing does not
//! depend on the pixel values, so both sides use seeded random data of that
//! shape. Prints one JSON object; `bench/run` runs it beside
//! `bench/peers/shadow_epoch.py`.
//!
//! Usage: shadow-epoch [--steps ROUNDS] [--warmup ROUNDS]

use burn::tensor::{Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use reprolab_bench::{arg, print_summary};
use reprolab_core::nn::MlpConfig;
use reprolab_core::train::OptimizerConfig;
use reprolab_core::train::classifier::train_step;
use std::time::Instant;

use reprolab_bench::shadow::{BATCH, DIMS, MODELS, POOL};

fn main() -> anyhow::Result<()> {
    // --steps counts timed repetitions of the whole 16-model epoch.
    let reps = arg("--steps", 5)?.max(1);
    let warmup = arg("--warmup", 1)?;
    let device = reprolab_core::device::default_device();
    device.seed(0);
    let ad = device.autodiff();
    let (x, y) = reprolab_bench::shadow::pool(&ad);
    let mut rng = reprolab_core::rng::rng(0);
    let mut times_ms = Vec::new();
    let mut steps_per_rep = 0;
    for rep in 0..warmup + reps {
        let start = Instant::now();
        steps_per_rep = 0;
        for _ in 0..MODELS {
            let mut model = MlpConfig::new(&DIMS).init(&ad);
            let mut optim = OptimizerConfig::adam(1e-3).build();
            let mut order: Vec<i64> = (0..POOL as i64).collect();
            order.shuffle(&mut rng);
            for batch in order[..POOL / 2].chunks(BATCH) {
                let idx = Tensor::<1, Int>::from_data(TensorData::new(batch.to_vec(), [batch.len()]), &ad);
                let (next, loss) =
                    train_step(model, &mut optim, 1e-3, x.clone().select(0, idx.clone()), y.clone().select(0, idx));
                model = next;
                let _ = loss.into_scalar::<f32>();
                steps_per_rep += 1;
            }
        }
        if rep >= warmup {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let macs: usize = DIMS.windows(2).map(|w| w[0] * w[1]).sum();
    let flops = 6.0 * macs as f64 * (MODELS * (POOL / 2)) as f64;
    let workload =
        format!("shadow-epoch: {MODELS} MLPs 64-256-256-10, 1 epoch on {} rows each, batch {BATCH}", POOL / 2);
    print_summary(&workload, times_ms, flops, serde_json::json!({ "optimizer_steps": steps_per_rep }));
    Ok(())
}
