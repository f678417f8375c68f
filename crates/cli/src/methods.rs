//! The registry of runnable methods: each method crate contributes its
//! `METHOD` constant here, and nothing else about it is known to the CLI.

use reprolab_core::registry::Method;

/// Every implemented method, paper methods in paper order, then the
/// workbench self-check.
pub fn all() -> Vec<Method> {
    vec![
        offline_rl::METHOD,
        membership::METHOD,
        distill_backdoor::METHOD,
        drums::METHOD,
        fair_kd::METHOD,
        reprolab_core::selfcheck::METHOD,
    ]
}
