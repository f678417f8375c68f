//! Sets `cfg(reprolab_data)` for the real-data tests (see the included file).

include!("../../build/real_data_cfg.rs");

fn main() {
    declare_real_data_cfg();
}
