//! The bad-input battery's fixture for `membership audit`
//! ([`reprolab_core::battery`]): a model-outputs CSV of 12 examples.

use anyhow::Result;
use reprolab_core::battery::{Fixture, Format};
use std::path::Path;

pub fn fixtures(dir: &Path) -> Result<Vec<Fixture>> {
    let input = dir.join("outputs.csv");
    let mut text = String::from("id,label,member,logit_0,logit_1,logit_2\n");
    for i in 0..12 {
        let c = i % 3;
        let logits: Vec<String> = (0..3)
            .map(|k| format!("{:.2}", if k == c { 1.0 + (i % 4) as f64 * 0.5 } else { 0.1 * k as f64 }))
            .collect();
        text += &format!("{i},{c},{},{}\n", i % 2, logits.join(","));
    }
    std::fs::write(&input, text)?;
    Ok(vec![
        Fixture::new("membership audit")
            .text(&["--input"])
            .input(&input, Format::csv(&["logit_0"], &[], Some("id")))
            .text(&["--out"])
            .out(dir.join("audit")),
    ])
}
