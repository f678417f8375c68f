//! See `reprolab_bench::td3`: the TD3+BC cycle.

fn main() -> anyhow::Result<()> {
    reprolab_bench::td3::run(false)
}
