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
section{border-top:2px solid #ddd;margin-top:2em}";

fn outcome_class(outcome: &str) -> String {
    outcome.replace(' ', "_")
}

/// The whole page.
pub fn render(repro: &Reproduction) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>reprolab report</title><style>{STYLE}</style></head><body>"
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

/// One results table; hovering a cell shows its per-seed values.
fn results_html(res: &Results) -> String {
    let mut s = String::from("<table><tr><th>arm</th>");
    for m in &res.metrics {
        let _ = write!(s, "<th>{}</th>", escape(m));
    }
    s.push_str("</tr>");
    for arm in &res.arms {
        let _ = write!(s, "<tr><td>{}</td>", escape(arm));
        for m in &res.metrics {
            let cell = res.cell(arm, m).map_or("—".into(), |c| {
                let vals: Vec<String> = c.values.iter().map(|v| num(*v)).collect();
                format!("<span title=\"per seed: {}\">{}</span>", vals.join(", "), cell_text(c))
            });
            let _ = write!(s, "<td>{cell}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</table><p>Mean ± sample std over seeds (hover a cell for per-seed values).</p>");
    s
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}
