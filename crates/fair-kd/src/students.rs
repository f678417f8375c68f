//! Student architectures, to test that RELIANT works "independently of the
//! student architecture": an MLP on node features (no graph), SGC (logistic
//! regression on K-hop propagated features, Wu et al. 2019), and a
//! parameterised label-propagation student after CPF's PLP (Yang et al.
//! 2021): each node mixes its own feature-based prior with the
//! propagated predictions of its neighbours, with a learned per-node
//! confidence. Every student maps (features, graph) to class
//! probabilities, so the proxy can replace feature columns for any of them.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, softmax};
use burn::tensor::{Device, Tensor};
use reprolab_core::nn::NormalisedAdjacency;
use serde::Deserialize;

/// Which student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StudentKind {
    Mlp,
    Sgc,
    Plp,
}

impl StudentKind {
    pub fn name(self) -> &'static str {
        match self {
            StudentKind::Mlp => "MLP",
            StudentKind::Sgc => "SGC",
            StudentKind::Plp => "PLP",
        }
    }
}

/// Propagation steps of SGC and PLP.
pub const HOPS: usize = 2;
const PLP_STEPS: usize = 5;

/// A student: its layers (unused ones are empty) and its kind.
#[derive(Module, Debug)]
pub struct Student {
    pub hidden: Option<Linear>,
    pub out: Linear,
    /// PLP's per-node confidence in its own prior.
    pub confidence: Option<Linear>,
    #[module(skip)]
    pub kind: StudentKind,
}

impl Student {
    pub fn new(kind: StudentKind, d: usize, hidden: usize, device: &Device) -> Self {
        match kind {
            StudentKind::Mlp => Self {
                hidden: Some(LinearConfig::new(d, hidden).init(device)),
                out: LinearConfig::new(hidden, 2).init(device),
                confidence: None,
                kind,
            },
            StudentKind::Sgc => {
                Self { hidden: None, out: LinearConfig::new(d, 2).init(device), confidence: None, kind }
            }
            StudentKind::Plp => Self {
                hidden: None,
                out: LinearConfig::new(d, 2).init(device),
                confidence: Some(LinearConfig::new(d, 1).init(device)),
                kind,
            },
        }
    }

    /// Class probabilities `[n, 2]` from node features `[n, d]`.
    pub fn probabilities(&self, x: Tensor<2>, adj: &NormalisedAdjacency) -> Tensor<2> {
        match self.kind {
            StudentKind::Mlp => {
                let h = relu(self.hidden.as_ref().expect("MLP hidden layer").forward(x));
                softmax(self.out.forward(h), 1)
            }
            StudentKind::Sgc => {
                let mut h = x;
                for _ in 0..HOPS {
                    h = adj.propagate(h);
                }
                softmax(self.out.forward(h), 1)
            }
            StudentKind::Plp => {
                let prior = softmax(self.out.forward(x.clone()), 1);
                let c = sigmoid(self.confidence.as_ref().expect("PLP confidence").forward(x));
                let mut p = prior.clone();
                for _ in 0..PLP_STEPS {
                    // Symmetric normalisation is not row-stochastic: renormalise the
                    // neighbours' mix so every row stays a distribution.
                    let q = adj.propagate(p);
                    let q = q.clone() / q.sum_dim(1);
                    p = prior.clone() * c.clone() + q * (c.clone().neg().add_scalar(1.0));
                }
                p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn every_student_outputs_probabilities() {
        let dev = reprolab_core::device::default_device();
        let adj = NormalisedAdjacency::from_undirected(4, &[(0, 1), (1, 2), (2, 3)], &dev).unwrap();
        let x =
            Tensor::<2>::from_data(TensorData::new((0..12).map(|v| v as f32 / 6.0).collect::<Vec<_>>(), [4, 3]), &dev);
        for kind in [StudentKind::Mlp, StudentKind::Sgc, StudentKind::Plp] {
            let p: Vec<f32> =
                Student::new(kind, 3, 8, &dev).probabilities(x.clone(), &adj).into_data().try_to_vec().unwrap();
            assert_eq!(p.len(), 8);
            for row in p.chunks(2) {
                assert!(
                    row.iter().all(|v| (0.0..=1.0).contains(v)) && (row[0] + row[1] - 1.0).abs() < 1e-4,
                    "{kind:?}: {p:?}"
                );
            }
        }
    }
}
