use offline_rl::*;
use std::time::Instant;
fn main() {
    let layout = env::point::Layout::obstacle(5.0);
    let data = dataset::collect_point(&layout, 0);
    println!("rows {}", data.len());
    let dev = reprolab_core::device::default_device().autodiff();
    let hidden: Vec<usize> = std::env::args().nth(1).map(|h| vec![h.parse().unwrap(); 2]).unwrap_or(vec![64, 64]);
    let cfg = experiment::Config {
        steps: 0,
        eval_episodes: 10,
        eval_every: 100000,
        alphas: vec![],
        experiments: vec![],
        td3: td3::Td3Config { hidden: hidden.clone(), ..Default::default() },
        mdn: behaviour::MdnConfig { hidden: hidden.clone(), steps: 1000, ..Default::default() },
        pendulum: toml::from_str(
            "medium_return = -700.0\nepisodes = 5\nbehaviour_noise = 0.1\nmixtures = []\nsteps = 1\n[online]\n",
        )
        .unwrap(),
    };
    let t = Instant::now();
    let mdn = experiment::fit_behaviour(&data, &cfg, &[1.0, 1.0], 0).unwrap();
    println!("mdn 1000 steps {:?} val ll {}", t.elapsed(), mdn.validation_log_likelihood);
    for algo in [td3::Algo::Bc, td3::Algo::Td3Bc, td3::Algo::Td3Rkl] {
        let t = Instant::now();
        let b = if algo.needs_behaviour() { train::Behaviour::Fitted(&mdn) } else { train::Behaviour::None };
        let tr =
            train::train_offline(algo, &cfg.td3, &data, &[1.0, 1.0], b, 1000, 0, None, &dev, &mut |_| Ok(())).unwrap();
        println!("{} 1000 steps {:?} weights {}", algo.name(), t.elapsed(), tr.weights.len());
    }
}
