//! See `reprolab_bench::td3`: the TD3+RKL cycle.

fn main() -> anyhow::Result<()> {
    reprolab_bench::td3::run(true)
}
