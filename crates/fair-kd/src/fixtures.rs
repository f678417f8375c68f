//! The bad-input battery's fixtures for paper 10's commands
//! ([`reprolab_core::battery`]): a 40-node ring graph and a predictions file.

use anyhow::Result;
use reprolab_core::battery::{Fixture, Format};
use std::path::Path;

pub fn fixtures(dir: &Path) -> Result<Vec<Fixture>> {
    let nodes = dir.join("nodes.csv");
    let edges = dir.join("edges.csv");
    let predictions = dir.join("predictions.csv");
    let mut text = String::from("id,x,s,y\n");
    for i in 0..40 {
        text += &format!("n{i},{},{},{}\n", i as f32 / 10.0, i % 2, u8::from(i >= 20));
    }
    std::fs::write(&nodes, text)?;
    let ring: String = (0..40).map(|i| format!("n{i},n{}\n", (i + 1) % 40)).collect();
    std::fs::write(&edges, format!("a,b\n{ring}"))?;
    std::fs::write(&predictions, "label,sensitive,prediction\n1,0,1\n0,0,1\n1,1,0\n0,1,0\n1,1,1\n0,0,0\n")?;
    Ok(vec![
        Fixture::new("fair-kd bias")
            .text(&["--predictions"])
            .input(&predictions, Format::csv(&["prediction"], &[], None)),
        Fixture::new("fair-kd train")
            .text(&["--label", "y", "--sensitive", "s", "--student", "sgc", "--nodes"])
            .input(&nodes, Format::csv(&["x"], &["y", "s"], Some("id")))
            .text(&["--edges"])
            .input(&edges, Format::csv(&[], &[], None))
            .accepts("one_row", "a graph with one edge is a graph (the other nodes are isolated)")
            .text(&["--out"])
            .out(dir.join("run")),
    ])
}
