//! Markdown rendering of reports (REPORT.md) and the terminal summary.

use super::{Figure, FigureContent, Report, Reproduction, Results};
use std::fmt::Write;

/// Where a figure is written, relative to the report directory.
pub fn figure_path(method: &str, fig: &Figure) -> String {
    let ext = match fig.content {
        FigureContent::Chart(_) | FigureContent::Svg(_) => "svg",
        FigureContent::Png(_) => "png",
    };
    format!("figures/{method}-{}.{ext}", fig.name)
}

/// Formats a number for tables: 4 significant decimals, scientific when tiny.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.2e}")
    } else if x.abs() >= 1e4 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
    }
}

/// "mean ± std" over seeds; a single seed has no spread to show.
pub fn cell_text(c: &super::Cell) -> String {
    if c.values.len() < 2 { num(c.mean) } else { format!("{} ± {}", num(c.mean), num(c.std)) }
}

/// A table cell with its uncertainty: "mean ± std [lo, hi]", the bracket
/// the 95% t-interval of the mean over seeds (absent for one seed or a
/// non-finite value), so a reader of REPORT.md sees what the verdict's
/// intervals see, as the HTML page shows it.
pub fn cell_with_ci(c: &super::Cell) -> String {
    match crate::stats::mean_ci95(&c.values) {
        Some((lo, hi)) => format!("{} [{}, {}]", cell_text(c), num(lo), num(hi)),
        None => cell_text(c),
    }
}

/// The one-line summary row of a report: method, verdict, evidence, time.
fn summary_rows(repro: &Reproduction) -> Vec<[String; 5]> {
    let mut rows: Vec<[String; 5]> = repro
        .reports
        .iter()
        .map(|r| {
            [
                r.method.clone(),
                r.claim.clone(),
                r.verdict.outcome.to_string(),
                r.verdict.evidence.clone(),
                format!("{:.1}", r.wall_time_s),
            ]
        })
        .collect();
    for (method, err) in &repro.failures {
        rows.push([method.clone(), String::new(), "failed".into(), err.clone(), String::new()]);
    }
    rows
}

/// REPORT.md for a whole reproduction.
pub fn render(repro: &Reproduction) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# reprolab report\n\nPreset `{}`, started {} (UTC).\n", repro.preset, repro.started);
    if let Some(p) = &repro.provenance {
        let _ = writeln!(s, "Run: {}\n", p.summary().replace('|', "\\|"));
    }
    let _ = writeln!(s, "## Summary\n\n| method | claim | verdict | evidence | wall time (s) |\n|---|---|---|---|---|");
    for row in summary_rows(repro) {
        let _ = writeln!(s, "| {} |", row.map(|c| table_escape(&c)).join(" | "));
    }
    for report in &repro.reports {
        s.push('\n');
        s.push_str(&render_one(report));
    }
    s
}

/// The section of one report.
pub fn render_one(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## {}\n\n**Paper:** {}\n\n**Claim:** {}\n", r.method, r.paper, r.claim);
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(s, "Preset `{}`, seeds {}, wall time {:.1} s.\n", r.preset, seeds.join(", "), r.wall_time_s);
    let _ =
        writeln!(s, "**Verdict: {}.** Rule: {} Evidence: {}\n", r.verdict.outcome, r.verdict.rule, r.verdict.evidence);
    s.push_str(&results_markdown(&r.results));
    for t in &r.tables {
        let _ = writeln!(s, "\n### {}\n", t.title);
        s.push_str(&results_markdown(&t.results));
    }
    if !r.notes.is_empty() {
        let _ = writeln!(s, "\nNotes:\n");
        for n in &r.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    for fig in &r.figures {
        let _ = writeln!(s, "\n![{}]({})\n\n*{}*", fig.name, figure_path(&r.method, fig), fig.caption);
    }
    s
}

/// `text` safe inside a Markdown table cell: `|` escaped, line breaks joined.
pub fn table_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// One results table (arms x metrics, mean ± std with the mean's 95%
/// interval) and its per-seed values.
pub fn results_markdown(res: &Results) -> String {
    let mut s = String::new();
    let metrics: Vec<String> = res.metrics.iter().map(|m| table_escape(m)).collect();
    let _ = writeln!(s, "| arm | {} |\n|---|{}", metrics.join(" | "), "---|".repeat(res.metrics.len()));
    for arm in &res.arms {
        let cells: Vec<String> =
            res.metrics.iter().map(|m| res.cell(arm, m).map_or("—".into(), cell_with_ci)).collect();
        let _ = writeln!(s, "| {} | {} |", table_escape(arm), cells.join(" | "));
    }
    let _ = writeln!(s, "\nMean ± sample std over seeds [95% t-interval of the mean]. Per-seed values:\n");
    for arm in &res.arms {
        for m in &res.metrics {
            if let Some(cell) = res.cell(arm, m) {
                let vals: Vec<String> = cell.values.iter().map(|v| num(*v)).collect();
                let _ = writeln!(s, "- {arm} / {m}: {}", vals.join(", "));
            }
        }
    }
    s
}

/// A one-screen plain-text table for the terminal.
pub fn terminal_summary(repro: &Reproduction) -> String {
    let header = ["method", "verdict", "evidence", "time (s)"];
    let rows: Vec<[String; 4]> = summary_rows(repro).into_iter().map(|[m, _, v, e, t]| [m, v, e, t]).collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count()).min(90);
        }
    }
    let line = |cells: [&str; 4]| -> String {
        cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    let mut s = line(header) + "\n";
    s += &widths.map(|w| "-".repeat(w)).join("  ");
    s.push('\n');
    for r in &rows {
        s += &line([&r[0], &r[1], &r[2], &r[3]]);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_show_the_mean_s_interval_when_there_are_seeds() {
        let mut res = Results::default();
        for v in [1.0, 2.0, 3.0] {
            res.record("three", "acc", v);
        }
        res.record("one", "acc", 0.5);
        let md = results_markdown(&res);
        // t(0.975, 2) = 4.3027: 2 -+ 4.3027 * 1 / sqrt(3), as in the HTML.
        assert!(md.contains("| three | 2.0000 ± 1.0000 [-0.4841, 4.4841] |"), "{md}");
        assert!(md.contains("| one | 0.5000 |"), "one seed has no interval: {md}");
    }
}
