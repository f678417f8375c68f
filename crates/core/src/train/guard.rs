//! Stops training on a NaN or infinite loss with a message that says where
//! it happened, instead of silently training on garbage.

/// The error a training loop returns on a non-finite loss.
#[derive(Debug, thiserror::Error)]
#[error(
    "training stopped: loss became {value} at step {step} ({context}); the last good checkpoint is kept. Try a lower learning rate or gradient clipping"
)]
pub struct NonFiniteLoss {
    pub value: f32,
    pub step: usize,
    pub context: String,
}

/// `Ok(loss)` when finite, otherwise a [`NonFiniteLoss`] error.
pub fn check_finite(loss: f32, step: usize, context: &str) -> Result<f32, NonFiniteLoss> {
    if loss.is_finite() { Ok(loss) } else { Err(NonFiniteLoss { value: loss, step, context: context.to_string() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_inf_are_caught_with_the_step() {
        assert_eq!(check_finite(0.5, 1, "x").unwrap(), 0.5);
        let e = check_finite(f32::NAN, 17, "critic loss").unwrap_err();
        assert!(e.to_string().contains("NaN at step 17 (critic loss)"), "{e}");
        assert!(check_finite(f32::INFINITY, 1, "x").is_err());
    }
}
