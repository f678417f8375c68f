//! Polyak (soft) target-network update, target <- (1 - tau) target + tau source,
//! for TD3-style methods. burn has no helper; this one maps each parameter
//! in place so parameter ids (and thus optimiser state keyed on them) stay.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().detach();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

struct Mix {
    source: std::vec::IntoIter<Tensor<1>>,
    tau: f64,
}

impl ModuleMapper for Mix {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let src = self.source.next().expect("source and target modules have the same parameters");
        let tau = self.tau;
        param.map(|t| {
            let shape = t.shape();
            let device = t.device();
            let src = src.reshape(shape).to_device(&device);
            let src = if t.is_require_grad() { src } else { src.detach() };
            t.mul_scalar(1.0 - tau) + src.mul_scalar(tau)
        })
    }
}

/// Returns `target` moved `tau` of the way towards `source` (same architecture).
pub fn polyak_update<M: Module>(target: M, source: &M, tau: f64) -> M {
    let mut collect = Collect(Vec::new());
    source.visit(&mut collect);
    let mut mix = Mix { source: collect.0.into_iter(), tau };
    target.map(&mut mix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MlpConfig;

    #[test]
    fn soft_update_mixes_and_keeps_ids() {
        let dev = crate::device::default_device();
        let a = MlpConfig::new(&[3, 4, 2]).init(&dev);
        let b = MlpConfig::new(&[3, 4, 2]).init(&dev);
        let id_before = a.layers[0].weight.id;
        let wa: Vec<f32> = a.layers[0].weight.val().into_data().try_to_vec().unwrap();
        let wb: Vec<f32> = b.layers[0].weight.val().into_data().try_to_vec().unwrap();
        let mixed = polyak_update(a, &b, 0.25);
        assert_eq!(mixed.layers[0].weight.id, id_before);
        let wm: Vec<f32> = mixed.layers[0].weight.val().into_data().try_to_vec().unwrap();
        for i in 0..wm.len() {
            assert!((wm[i] - (0.75 * wa[i] + 0.25 * wb[i])).abs() < 1e-6);
        }
    }
}
