//! Workloads `td3bc-step` and `td3rkl-step`: one TD3 cycle at CORL's
//! settings (obs 17, act 6, 256-256 MLPs, batch 256, Adam 3e-4, policy
//! delay 2): two critic updates, one actor update and one Polyak update of
//! both targets. `td3bc-step` uses TD3+BC's actor loss; `td3rkl-step` the
//! paper's (tanh-Gaussian actor, reverse KL against a K = 5 mixture density
//! network, per-state weight from its coverage). `bench/run` runs both
//! beside bench/peers/td3bc_step.py and td3rkl_step.py (PyTorch).
//!
//! Usage: td3bc-step|td3rkl-step [--steps N] [--warmup N]

use crate::{arg, print_summary};
use burn::module::Module;
use burn::tensor::{Distribution, Tensor};
use offline_rl::behaviour::FittedMdn;
use offline_rl::dataset::Batch;
use offline_rl::nets::Mdn;
use offline_rl::td3::{Agent, Algo, Td3Config};
use std::time::Instant;

const OBS: usize = 17;
const ACT: usize = 6;
const HIDDEN: usize = 256;
const BATCH: usize = 256;
const COMPONENTS: usize = 5;

/// Times `steps` TD3 cycles after `warmup`; `rkl` picks the paper's actor loss.
pub fn run(rkl: bool) -> anyhow::Result<()> {
    let steps = arg("--steps", 200)?;
    let warmup = arg("--warmup", 20)?;
    let device = reprolab_core::device::default_device();
    device.seed(0);
    let ad = device.autodiff();
    let algo = if rkl { Algo::Td3Rkl } else { Algo::Td3Bc };
    let mut agent = Agent::new(algo, Td3Config::default(), OBS, ACT, &ad);
    let mdn = FittedMdn {
        mdn: Mdn::new(OBS, ACT, COMPONENTS, &[HIDDEN, HIDDEN], &ad).no_grad(),
        validation_log_likelihood: f64::NAN,
    };
    let normal = |d: usize| Tensor::<2>::random([BATCH, d], Distribution::Normal(0.0, 1.0), &ad);
    let batch = Batch {
        obs: normal(OBS),
        actions: normal(ACT).tanh(),
        rewards: normal(1),
        next_obs: normal(OBS),
        not_done: Tensor::ones([BATCH, 1], &ad),
        rows: (0..BATCH).collect(),
    };
    let mut times_ms = Vec::with_capacity(steps);
    let mut last = 0.0;
    for i in 0..warmup + steps {
        let start = Instant::now();
        agent.update(&batch, &|b| mdn.terms(b));
        let losses = agent.update(&batch, &|b| mdn.terms(b));
        last = losses.actor.expect("the second update of a cycle trains the actor").into_scalar::<f32>();
        if i >= warmup {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mlp = |i: usize, o: usize| (i * HIDDEN + HIDDEN * HIDDEN + HIDDEN * o) as f64;
    let q = mlp(OBS + ACT, 1);
    let actor = mlp(OBS, if rkl { 2 * ACT } else { ACT });
    let mdn_macs = mlp(OBS, COMPONENTS * (1 + 2 * ACT));
    // Per critic update: target actor and twin target critics forward, twin
    // critics forward + backward (3x). Actor update: actor forward + backward,
    // Q1 forward + backward, (RKL) the behaviour model forward.
    let critic_update = actor + 2.0 * q + 3.0 * 2.0 * q;
    let actor_update = 3.0 * actor + 3.0 * q + if rkl { mdn_macs } else { 0.0 };
    let flops = 2.0 * BATCH as f64 * (2.0 * critic_update + actor_update);
    let name = if rkl { "td3rkl-step" } else { "td3bc-step" };
    print_summary(
        &format!("{name} TD3 cycle (2 critic + 1 actor update), obs 17, act 6, 256-256, batch 256"),
        times_ms,
        flops,
        serde_json::json!({ "final_actor_loss": last }),
    );
    Ok(())
}
