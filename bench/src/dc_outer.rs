//! Workload 6 (paper 6, distill-backdoor): one outer step of dataset
//! condensation on the digits with the spec's laptop ConvNet (conv 3x3 16
//! channels, ReLU, 2x2 average pool, FC 64, ReLU, FC 10), 10 synthetic
//! images per class: for each of the 10 classes, the parameter gradients
//! of a real batch (all of the class's training images, about 135) and of
//! the class's synthetic images, the matching distance and its gradient
//! with respect to the images (here: two more input-gradient passes, the
//! finite-difference identity; in the peer: create_graph=True and double
//! backward), the SGD step on the images (lr 0.1, momentum 0.5), then the
//! inner loop: 10 SGD steps (lr 0.01) of the network on the synthetic set.
//! Prints one JSON object; `bench/run` runs it beside
//! `bench/peers/dc_outer.py`.
//!
//! Usage: dc-outer [--steps N] [--warmup N]

use distill_backdoor::distill::dc_class_step;
use distill_backdoor::net::NetConfig;
use distill_backdoor::train::{EpochData, Sgd, SgdConfig, epoch};
use reprolab_bench::{arg, print_summary};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let steps = arg("--steps", 20)?.max(1);
    let warmup = arg("--warmup", 2)?;
    let data = distill_backdoor::data::digits(0)?;
    let net = NetConfig { channels: 1, side: 8, width: 16, depth: 1, hidden: 64, classes: 10, instance_norm: false };
    let by_class = data.train.by_class();
    let real: Vec<Vec<f32>> = by_class.iter().map(|idx| data.train.gather(idx)).collect();
    let mut r = reprolab_core::rng::rng(0);
    let mut images: Vec<f32> = (0..100 * 64).map(|_| reprolab_core::rng::standard_normal(&mut r)).collect();
    let labels: Vec<usize> = (0..10).flat_map(|c| std::iter::repeat_n(c, 10)).collect();
    let mut params = net.init(0);
    let mut image_opt = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.5, weight_decay: 0.0 });
    let net_sgd = SgdConfig { lr: 0.01, momentum: 0.0, weight_decay: 0.0 };
    let mut times_ms = Vec::new();
    for step in 0..warmup + steps {
        let start = Instant::now();
        let mut grad = vec![0f32; images.len()];
        for c in 0..10 {
            let syn = &images[c * 640..(c + 1) * 640];
            let (_, g) = dc_class_step(&net, &params, &real[c], syn, c);
            grad[c * 640..(c + 1) * 640].copy_from_slice(&g);
        }
        let mut as_params = vec![std::mem::take(&mut images)];
        image_opt.step(&mut as_params, &[grad], 0.1);
        images = as_params.pop().expect("images");
        let mut net_opt = Sgd::new(net_sgd);
        for il in 0..10 {
            epoch(&net, &mut params, &mut net_opt, 0.01, EpochData { x: &images, y: &labels, batch: 256, seed: il })?;
        }
        if step >= warmup {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    // Matrix work: per class a forward+backward of the real batch and three
    // of the synthetic batch here (two in the peer, whose double backward
    // costs about one more), plus 10 inner steps on 100 images. Counted as
    // 6 x MACs x images for each forward+backward.
    let macs = (64 * 16 * 9 + 256 * 64 + 64 * 10) as f64;
    let real_n: usize = real.iter().map(|r| r.len() / 64).sum();
    let flops = 6.0 * macs * (real_n + 3 * 100 + 10 * 100) as f64;
    let workload =
        "dc-outer: one DC outer step, digits, 10 ipc, ConvNet 16c-64-10 (matching + image update + 10 inner steps)";
    print_summary(workload, times_ms, flops, serde_json::json!({}));
    Ok(())
}
