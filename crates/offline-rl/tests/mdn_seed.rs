//! The behaviour model's initialisation comes from the run seed alone. It
//! draws from burn's one global generator, which every other draw in the
//! process also advances; this file holds one test so no other test thread
//! draws from that generator while it runs.

use offline_rl::behaviour::{MdnConfig, fit_behaviour};
use offline_rl::dataset::collect_point;
use offline_rl::env::point::Layout;

/// Two fits with the same seed give the same model even when something
/// else drew from burn's generator in between (in the experiment: the
/// arms trained before it in the same process), and another seed gives
/// another model.
#[test]
fn the_behaviour_model_depends_on_its_seed_not_on_earlier_draws() {
    let data = collect_point(&Layout::obstacle(5.0), 0);
    let cfg = MdnConfig { components: 2, hidden: vec![8], steps: 5, batch: 32, lr: 1e-3, validation: 0.1 };
    let dev = reprolab_core::device::default_device().autodiff();
    let weights = |seed: u64| -> Vec<f32> {
        let fit = fit_behaviour(&data, &cfg, &[1.0, 1.0], seed, &dev, None).unwrap();
        fit.mdn.net.layers[0].weight.val().into_data().try_to_vec().unwrap()
    };
    reprolab_core::rng::seed_burn(1);
    let first = weights(3);
    // Something else draws from the global generator: a different state.
    let _ = burn::tensor::Tensor::<2>::random([64, 64], burn::tensor::Distribution::Default, &dev);
    let again = weights(3);
    assert_eq!(first, again);
    assert_ne!(first, weights(4));
}
