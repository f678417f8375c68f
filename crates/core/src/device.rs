//! Which burn backend runs the tensors.
//!
//! The product is the CPU path: burn's `flex` backend (measured fastest on
//! CPU here). GPU backends are optional cargo features of this crate
//! (`vulkan`), never needed by a test. The name comes from `--device` or
//! `REPROLAB_DEVICE`; a backend that was not compiled in is a user error with
//! the rebuild command, not a panic.

use burn::tensor::Device;

/// Backends this build knows by name, with whether they are compiled in.
pub fn available() -> Vec<(&'static str, bool)> {
    vec![("flex", true), ("vulkan", cfg!(feature = "vulkan"))]
}

/// The device named `name` (`None`: `REPROLAB_DEVICE`, else `flex`).
pub fn select(name: Option<&str>) -> anyhow::Result<Device> {
    let env = std::env::var("REPROLAB_DEVICE").ok();
    let name = name.or(env.as_deref()).unwrap_or("flex");
    match name {
        "flex" | "cpu" => Ok(Device::flex()),
        #[cfg(feature = "vulkan")]
        "vulkan" => Ok(Device::vulkan(Default::default())),
        #[cfg(not(feature = "vulkan"))]
        "vulkan" => crate::user_bail!(
            "device 'vulkan' is not compiled into this build; rebuild with `cargo build --release --features reprolab-core/vulkan`"
        ),
        other => {
            let names: Vec<_> = available().into_iter().map(|(n, _)| n).collect();
            crate::user_bail!("unknown device '{other}'; known devices: {}", names.join(", "))
        }
    }
}

static CHOSEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Validates `name` (or `REPROLAB_DEVICE`) and makes it the device every
/// later [`default_device`] call returns. The CLI calls this once at start.
pub fn choose(name: Option<&str>) -> anyhow::Result<()> {
    let env = std::env::var("REPROLAB_DEVICE").ok();
    let name = name.or(env.as_deref()).unwrap_or("flex").to_string();
    select(Some(&name))?;
    let _ = CHOSEN.set(name);
    Ok(())
}

/// The name of the backend [`default_device`] returns.
pub fn chosen_name() -> String {
    let env = std::env::var("REPROLAB_DEVICE").ok();
    CHOSEN.get().cloned().or(env).unwrap_or_else(|| "flex".into())
}

/// The device chosen with [`choose`], else `REPROLAB_DEVICE`, else CPU
/// `flex`. Falls back to `flex` when the variable names something
/// unusable; the CLI validates it up front with [`choose`].
pub fn default_device() -> Device {
    select(CHOSEN.get().map(String::as_str)).unwrap_or_else(|_| Device::flex())
}

/// Seeds the random generator burn uses for initialisation and sampling.
pub fn seed(seed: u64) {
    default_device().seed(seed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_device_is_a_user_error() {
        let err = select(Some("tpu")).unwrap_err();
        assert!(crate::error::is_user_error(&err));
        assert!(err.to_string().contains("unknown device 'tpu'"), "{err}");
    }

    #[cfg(not(feature = "vulkan"))]
    #[test]
    fn vulkan_not_compiled_in_says_how_to_rebuild() {
        let err = select(Some("vulkan")).unwrap_err();
        assert!(err.to_string().contains("--features"), "{err}");
    }

    #[test]
    fn flex_is_available() {
        assert!(select(Some("flex")).is_ok());
    }
}
