//! `list` and the report writing shared by `run` and `reproduce`. Each
//! returns an exit code or an error; `main` maps errors to exit codes.

use anyhow::Result;
use reprolab_core::cli::emit;
use reprolab_core::registry::{Method, PAPERS};
use reprolab_core::report::{Reproduction, markdown, write_reports};
use std::process::ExitCode;

/// `reprolab list`.
pub fn list(implemented: &[Method], json: bool) -> Result<ExitCode> {
    let is_impl = |name: &str| implemented.iter().any(|m| m.name == name);
    let is_complete = |name: &str| implemented.iter().any(|m| m.name == name && m.complete);
    if json {
        let papers: Vec<serde_json::Value> = PAPERS
            .iter()
            .map(|p| serde_json::json!({"number": p.number, "method": p.method, "title": p.title, "reference": p.reference, "implemented": is_impl(p.method), "complete": is_complete(p.method)}))
            .collect();
        let others: Vec<serde_json::Value> = implemented
            .iter()
            .filter(|m| !PAPERS.iter().any(|p| p.method == m.name))
            .map(|m| serde_json::json!({"method": m.name, "description": m.reference(), "claim": m.claim}))
            .collect();
        emit(&format!("{}\n", serde_json::json!({"papers": papers, "other_experiments": others})))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = format!("{:>2}  {:<17} {:<12} paper\n", "#", "method", "status");
    for p in &PAPERS {
        let status = match (is_impl(p.method), is_complete(p.method)) {
            (true, true) => "implemented",
            (true, false) => "in progress",
            _ => "planned",
        };
        table += &format!("{:>2}  {:<17} {:<12} {} ({})\n", p.number, p.method, status, p.title, p.reference);
    }
    for m in implemented.iter().filter(|m| !PAPERS.iter().any(|p| p.method == m.name)) {
        table += &format!(" -  {:<17} {:<12} {}\n", m.name, "implemented", m.reference());
    }
    emit(&table)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn finish(repro: &Reproduction, out: &std::path::Path, json: bool) -> Result<()> {
    write_reports(out, repro)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string(repro)?))
    } else {
        emit(&format!(
            "{}\nReport: {}\n        {}\n",
            markdown::terminal_summary(repro),
            out.join("REPORT.md").display(),
            out.join("index.html").display()
        ))
    }
}
