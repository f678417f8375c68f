//! Workload 4 (paper 8, drums): one training step of the groove language
//! model, a decoder-only Transformer (2 layers, d_model 64, 4 heads, GELU
//! MLP 4x, vocabulary 323, causal attention) on a batch of 16 sequences of
//! 256 tokens (groove lines), Adam lr 1e-3. Token ids are seeded random,
//! as timing does not depend on them. Prints one JSON object; `bench/run`
//! runs it beside `bench/peers/lm_step.py`.
//!
//! Usage: lm-step [--steps N] [--warmup N]

use burn::module::Module;
use drums::lm::{LmConfig, sequence_loss};
use reprolab_bench::{arg, print_summary};
use reprolab_core::train::OptimizerConfig;
use std::time::Instant;

const BATCH: usize = 16;
const TOKENS: usize = 256;

fn main() -> anyhow::Result<()> {
    let steps = arg("--steps", 30)?.max(1);
    let warmup = arg("--warmup", 5)?;
    let device = reprolab_core::device::default_device();
    device.seed(0);
    let ad = device.autodiff();
    let cfg = LmConfig { d_model: 64, n_heads: 4, n_layers: 2, context: TOKENS };
    let mut model = cfg.init(&ad);
    let mut optim = OptimizerConfig::adam(1e-3).build();
    let mut rng = reprolab_core::rng::rng(0);
    let seqs: Vec<Vec<usize>> = (0..BATCH)
        .map(|_| {
            use rand::RngExt;
            (0..=TOKENS).map(|_| rng.random_range(256..322)).collect()
        })
        .collect();
    let refs: Vec<&[usize]> = seqs.iter().map(Vec::as_slice).collect();
    let mut times_ms = Vec::new();
    for step in 0..warmup + steps {
        let start = Instant::now();
        // Every target scored (loss_from 0), as the PyTorch peer does.
        let loss = sequence_loss(&model, &refs, 0, &ad);
        let _ = loss.clone().into_scalar::<f32>();
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
        if step >= warmup {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let params = model.num_params() as f64;
    // 6 FLOP per parameter and token (forward + backward), plus causal attention's
    // two [t x t x d] products per layer (x3 for backward), ignoring the mask.
    let attention = 2.0 * 2.0 * 3.0 * (TOKENS * TOKENS * cfg.d_model * cfg.n_layers) as f64;
    let flops = (6.0 * params * TOKENS as f64 + attention) * BATCH as f64;
    let workload = format!("lm-step: groove Transformer 2x64, 4 heads, batch {BATCH} x {TOKENS} tokens, Adam");
    print_summary(&workload, times_ms, flops, serde_json::json!({ "parameters": params }));
    Ok(())
}
