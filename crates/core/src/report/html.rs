//! index.html: one self-contained page (plots inline as SVG or PNG data
//! URIs), so a report can be mailed or archived as a single file.

use super::markdown::{cell_text, num};
use super::{FigureContent, Report, Reproduction, Results};
use base64::Engine;
use std::fmt::Write;

/// Escapes text for HTML element content and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
th{background:#f4f4f4}.supported{color:#176117;font-weight:bold}.not_supported{color:#a31515;font-weight:bold}\
.inconclusive{color:#8a6d00;font-weight:bold}.failed{color:#a31515}figure{margin:1em 0}figcaption{font-style:italic}\
section{border-top:2px solid #ddd;margin-top:2em}img,svg{max-width:100%;height:auto}\
.scroll{overflow-x:auto}.ci{color:#555;font-size:90%}.provenance{color:#555;font-size:90%}\
@media print{body{max-width:none;margin:0}section{break-before:page}figure,table{break-inside:avoid}}";

fn outcome_class(outcome: &str) -> String {
    outcome.replace(' ', "_")
}

/// The whole page.
pub fn render(repro: &Reproduction) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>reprolab report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        s,
        "<h1>reprolab report</h1><p>Preset <code>{}</code>, started {} (UTC).</p>",
        escape(&repro.preset),
        escape(&repro.started)
    );
    if let Some(p) = &repro.provenance {
        let _ = write!(s, "<p class=\"provenance\">Run: {}</p>", escape(&p.summary()));
    }
    let _ = write!(
        s,
        "<h2>Summary</h2><table><tr><th>method</th><th>claim</th><th>verdict</th><th>evidence</th><th>wall time (s)</th></tr>"
    );
    for r in &repro.reports {
        let o = r.verdict.outcome.to_string();
        let _ = write!(
            s,
            "<tr><td><a href=\"#{m}\">{m}</a></td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{:.1}</td></tr>",
            escape(&r.claim),
            outcome_class(&o),
            o,
            escape(&r.verdict.evidence),
            r.wall_time_s,
            m = escape(&r.method)
        );
    }
    for (m, e) in &repro.failures {
        let _ = write!(
            s,
            "<tr><td>{}</td><td></td><td class=\"failed\">failed</td><td>{}</td><td></td></tr>",
            escape(m),
            escape(e)
        );
    }
    s.push_str("</table>");
    for r in &repro.reports {
        s.push_str(&render_one(r));
    }
    s.push_str("</body></html>\n");
    s
}

fn render_one(r: &Report) -> String {
    let mut s = String::new();
    let o = r.verdict.outcome.to_string();
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    let _ = write!(
        s,
        "<section id=\"{}\"><h2>{}</h2><p><b>Paper:</b> {}</p><p><b>Claim:</b> {}</p><p>Preset <code>{}</code>, seeds {}, wall time {:.1} s.</p>",
        escape(&r.method),
        escape(&r.method),
        escape(&r.paper),
        escape(&r.claim),
        escape(&r.preset),
        seeds.join(", "),
        r.wall_time_s
    );
    let _ = write!(
        s,
        "<p>Verdict: <span class=\"{}\">{}</span>. Rule: {} Evidence: {}</p>",
        outcome_class(&o),
        o,
        escape(&r.verdict.rule),
        escape(&r.verdict.evidence)
    );
    s.push_str(&results_html(&r.results));
    for t in &r.tables {
        let _ = write!(s, "<h3>{}</h3>", escape(&t.title));
        s.push_str(&results_html(&t.results));
    }
    if !r.notes.is_empty() {
        s.push_str("<ul>");
        for n in &r.notes {
            let _ = write!(s, "<li>{}</li>", escape(n));
        }
        s.push_str("</ul>");
    }
    for fig in &r.figures {
        let body = match &fig.content {
            FigureContent::Chart(chart) => match chart.svg() {
                Ok(svg) => strip_xml_declaration(&svg).to_string(),
                Err(e) => format!("<p>{}</p>", escape(&format!("figure '{}' could not be drawn: {e}", fig.name))),
            },
            FigureContent::Svg(svg) => strip_xml_declaration(svg).to_string(),
            FigureContent::Png(png) => format!(
                "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
                escape(&fig.name),
                base64::engine::general_purpose::STANDARD.encode(png)
            ),
        };
        let _ = write!(s, "<figure>{body}<figcaption>{}</figcaption></figure>", escape(&fig.caption));
    }
    s.push_str("</section>");
    s
}

/// One results table (mean ± std with the 95% t-interval of the mean
/// beneath), then every cell's per-seed values in a table of their own.
fn results_html(res: &Results) -> String {
    let mut s = String::from("<div class=\"scroll\"><table><tr><th>arm</th>");
    for m in &res.metrics {
        let _ = write!(s, "<th>{}</th>", escape(m));
    }
    s.push_str("</tr>");
    for arm in &res.arms {
        let _ = write!(s, "<tr><td>{}</td>", escape(arm));
        for m in &res.metrics {
            let cell = res.cell(arm, m).map_or("—".into(), |c| match crate::stats::mean_ci95(&c.values) {
                Some((lo, hi)) => {
                    format!("{}<br><span class=\"ci\">95% CI [{}, {}]</span>", cell_text(c), num(lo), num(hi))
                }
                None => cell_text(c),
            });
            let _ = write!(s, "<td>{cell}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></div>");
    let seeds = res.cells.values().flat_map(|m| m.values()).map(|c| c.values.len()).max().unwrap_or(0);
    if seeds > 1 {
        s.push_str(
            "<details><summary>Per-seed values</summary><div class=\"scroll\"><table><tr><th>arm</th><th>metric</th>",
        );
        for i in 0..seeds {
            let _ = write!(s, "<th>value {}</th>", i + 1);
        }
        s.push_str("</tr>");
        for arm in &res.arms {
            for m in &res.metrics {
                if let Some(c) = res.cell(arm, m) {
                    let _ = write!(s, "<tr><td>{}</td><td>{}</td>", escape(arm), escape(m));
                    for i in 0..seeds {
                        let _ = write!(s, "<td>{}</td>", c.values.get(i).map_or(String::new(), |v| num(*v)));
                    }
                    s.push_str("</tr>");
                }
            }
        }
        s.push_str("</table></div></details>");
    }
    s
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_show_intervals_and_per_seed_values_and_the_page_fits_a_phone() {
        let mut res = Results::default();
        for v in [1.0, 2.0, 3.0] {
            res.record("a<b", "acc", v);
        }
        res.record("single", "acc", 0.5);
        let html = results_html(&res);
        assert!(html.contains("2.0000 ± 1.0000<br><span class=\"ci\">95% CI [-0.4841, 4.4841]</span>"), "{html}");
        assert!(
            html.contains("<th>value 3</th>") && html.contains("<td>a&lt;b</td><td>acc</td><td>1.0000</td>"),
            "{html}"
        );
        let repro = Reproduction {
            preset: "smoke".into(),
            started: "t".into(),
            reports: vec![],
            failures: vec![],
            provenance: None,
        };
        let page = render(&repro);
        assert!(page.contains("name=\"viewport\"") && page.contains("img,svg{max-width:100%"), "{page}");
    }

    #[test]
    fn markdown_cells_escape_pipes() {
        let mut res = Results::default();
        res.record("x|y", "m|n", 1.0);
        let md = super::super::markdown::results_markdown(&res);
        assert!(md.starts_with("| arm | m\\|n |") && md.contains("| x\\|y | "), "{md}");
    }
}
