//! What every benchmark binary shares: its two flags and the JSON line it
//! prints, so `bench/report.py` reads every workload the same way.

/// The allocator the `reprolab` binary uses too (see crates/cli/src/main.rs),
/// so the benchmarks time what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod td3;

/// The value of `--name N`, or `default`.
pub fn arg(name: &str, default: usize) -> anyhow::Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args.get(i + 1).ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?.parse()?),
        None => Ok(default),
    }
}

/// Prints the timing summary of one workload as one JSON object: median
/// and 10th/90th percentiles of `times_ms` (one entry per timed unit of
/// work), throughput and GFLOP/s for `flop_per_unit`, plus `extra` fields.
pub fn print_summary(workload: &str, mut times_ms: Vec<f64>, flop_per_unit: f64, extra: serde_json::Value) {
    times_ms.sort_by(f64::total_cmp);
    let q = |p: f64| times_ms[((times_ms.len() - 1) as f64 * p).round() as usize];
    let median = q(0.5);
    let mut out = serde_json::json!({
        "implementation": "reprolab (burn 0.22, flex CPU backend)",
        "workload": workload,
        "steps": times_ms.len(),
        "median_ms": median,
        "p10_ms": q(0.1),
        "p90_ms": q(0.9),
        "steps_per_s": 1e3 / median,
        "gflop_per_step": flop_per_unit / 1e9,
        "gflops": flop_per_unit / (median * 1e6),
    });
    if let (Some(o), Some(e)) = (out.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    println!("{out}");
}

/// The shadow-model workloads' shared shape (`shadow-epoch`, `shadow-stack`):
/// 16 MLPs 64-256-256-10, each trained one epoch on half of a digits-sized
/// pool in batches of 128.
pub mod shadow {
    use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

    pub const DIMS: [usize; 4] = [64, 256, 256, 10];
    pub const POOL: usize = 1797;
    pub const MODELS: usize = 16;
    pub const BATCH: usize = 128;

    /// Seeded random features and fixed labels of the pool on `device`
    /// (timing does not depend on the values).
    pub fn pool(device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
        let x = Tensor::<2>::random([POOL, DIMS[0]], Distribution::Normal(0.0, 1.0), device);
        let labels: Vec<i64> = (0..POOL as i64).map(|i| (i * 7 + 3) % 10).collect();
        (x, Tensor::<1, Int>::from_data(TensorData::new(labels, [POOL]), device))
    }
}
