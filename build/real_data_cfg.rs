// Included by the build scripts of the crates that have real-data tests.
//
// Sets `cfg(reprolab_data)` when REPROLAB_DATA is set, so a real-data test
// carries `#[cfg_attr(not(reprolab_data), ignore = "...")]`: without the
// data, `cargo test` lists it as ignored (skipped) instead of counting an
// early return as a pass; with REPROLAB_DATA set it runs and fails loudly
// if the files are not there.

/// Declares the cfg and, when REPROLAB_DATA is set and not empty, enables it.
fn declare_real_data_cfg() {
    println!("cargo:rustc-check-cfg=cfg(reprolab_data)");
    println!("cargo:rerun-if-env-changed=REPROLAB_DATA");
    if std::env::var_os("REPROLAB_DATA").is_some_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=reprolab_data");
    }
}
