//! `--format html`: one self-contained page to forward (no network fetch, no external font
//! or script): the nine boxes with status and evidence, providers side by side, a table of
//! packages that sorts and filters, and with `--history DIR` the trend across saved runs
//! as an inline SVG chart. Every value is escaped; the evidence is already redacted.

use std::fmt::Write;

use tokenless_org::audit::{CheckId, Report, Status};

/// One saved run (`audit --format json` kept in the history directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPoint {
    pub label: String,
    pub passed: usize,
    pub failed: usize,
    pub unknown: usize,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin:0}code{font:13px ui-monospace,monospace}
.summary span{display:inline-block;margin-right:1rem;font-weight:600}
.pass{--c:#1a7f37}.fail{--c:#cf222e}.unknown{--c:#9a6700}
ol.boxes{list-style:none;padding:0}ol.boxes>li{border-left:4px solid var(--c);padding:.5rem .9rem;margin:.6rem 0;background:#f6f8fa}
.mark{color:var(--c);font-weight:700;margin-right:.4rem}.state{color:var(--c);font-weight:600;text-transform:uppercase;font-size:12px;margin-left:.5rem}
ul.evidence{margin:.4rem 0 0;padding-left:1.2rem}ul.evidence code{color:#57606a}
.next{margin:.4rem 0 0;font-style:italic}
table{border-collapse:collapse;width:100%;margin-top:.5rem}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #d0d7de}
th{cursor:pointer;user-select:none;background:#f6f8fa}th[aria-sort=ascending]::after{content:' ▲'}th[aria-sort=descending]::after{content:' ▼'}
input#filter{padding:.3rem .5rem;width:20rem;max-width:100%}
svg text{font:11px system-ui,sans-serif}
";

const SCRIPT: &str = "
(function(){
  var table=document.getElementById('packages');if(!table)return;
  var body=table.tBodies[0];
  document.getElementById('filter').addEventListener('input',function(e){
    var q=e.target.value.toLowerCase();
    Array.prototype.forEach.call(body.rows,function(r){r.hidden=q&&r.textContent.toLowerCase().indexOf(q)<0;});
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=a.cells[i].textContent,y=b.cells[i].textContent;return asc?x.localeCompare(y):y.localeCompare(x);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
";

pub fn render(report: &Report, history: &[HistoryPoint]) -> String {
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    let (pass, fail, unknown) = (
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Unknown),
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>tokenless audit {scope}</title><style>{STYLE}</style></head><body>\n\
         <header><h1>tokenless audit <code>{scope}</code></h1>\
         <p class=\"summary\" data-passed=\"{pass}\" data-failed=\"{fail}\" data-unknown=\"{unknown}\">\
         <span class=\"pass\">{pass} passed</span><span class=\"fail\">{fail} failed</span>\
         <span class=\"unknown\">{unknown} unknown</span></p></header>\n",
        scope = esc(&report.scope)
    );
    out.push_str("<section><ol class=\"boxes\">\n");
    for c in &report.checks {
        let status = c.status.as_str();
        let mark = match c.status {
            Status::Pass => "✓",
            Status::Fail => "✗",
            Status::Unknown => "?",
        };
        let _ = write!(
            out,
            "<li class=\"box {status}\" id=\"{id}\" data-id=\"{id}\" data-status=\"{status}\">\
             <h2><span class=\"mark\">{mark}</span><code>{id}</code> {title}<span class=\"state\">{status}</span></h2>\
             <ul class=\"evidence\">",
            id = c.id.as_str(),
            title = esc(c.title),
        );
        for e in &c.evidence {
            let _ = write!(
                out,
                "<li><code>{}</code> {}</li>",
                esc(&e.source.to_string()),
                esc(&e.detail)
            );
        }
        out.push_str("</ul>");
        if c.status != Status::Pass {
            let _ = write!(out, "<p class=\"next\">next: {}</p>", esc(c.id.next_step()));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol></section>\n");
    providers(&mut out, report);
    packages(&mut out, report);
    if !history.is_empty() {
        trend(&mut out, history);
    }
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

/// How many packages publish from each provider.
fn providers(out: &mut String, report: &Report) {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in &report.packages {
        match &p.providers {
            Some(list) if !list.is_empty() => {
                let mut seen: Vec<&str> = list.iter().map(String::as_str).collect();
                seen.dedup();
                for name in seen {
                    *counts.entry(name).or_default() += 1;
                }
            }
            Some(_) => *counts.entry("none").or_default() += 1,
            None => *counts.entry("unread").or_default() += 1,
        }
    }
    if counts.is_empty() {
        return;
    }
    out.push_str("<section><h2>Providers</h2><table id=\"providers\"><thead><tr>");
    for name in counts.keys() {
        let _ = write!(out, "<th>{}</th>", esc(name));
    }
    out.push_str("</tr></thead><tbody><tr>");
    for (name, n) in &counts {
        let _ = write!(out, "<td data-provider=\"{}\">{n}</td>", esc(name));
    }
    out.push_str("</tr></tbody></table></section>\n");
}

fn packages(out: &mut String, report: &Report) {
    if report.packages.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<section><h2>Packages ({})</h2><input id=\"filter\" type=\"search\" placeholder=\"filter packages\" aria-label=\"filter packages\">\
         <table id=\"packages\"><thead><tr><th>package</th><th>trusted publishers</th><th>latest</th><th>came through</th><th>disallow tokens</th></tr></thead><tbody>",
        report.packages.len()
    );
    for p in &report.packages {
        let providers = match &p.providers {
            Some(list) if !list.is_empty() => list.join(", "),
            Some(_) => "none".into(),
            None => "could not be read".into(),
        };
        let (latest, via) = match &p.latest {
            Some((v, Some(id))) => (v.clone(), format!("trust config {id}")),
            Some((v, None)) => (v.clone(), "a token".into()),
            None => ("".into(), "".into()),
        };
        let access = p
            .access_acknowledged
            .as_deref()
            .map_or_else(|| "unknown".to_owned(), |at| format!("acknowledged {at}"));
        let _ = writeln!(
            out,
            "<tr data-package=\"{name}\"><td><code>{name}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&providers),
            esc(&latest),
            esc(&via),
            esc(&access),
            name = esc(&p.name)
        );
    }
    out.push_str("</tbody></table></section>\n");
}

/// Passing boxes per saved run, as a line over the nine.
fn trend(out: &mut String, history: &[HistoryPoint]) {
    let (w, h, pad) = (640.0_f64, 180.0_f64, 28.0_f64);
    let n = history.len();
    let total = CheckId::ALL.len() as f64;
    let x = |i: usize| {
        if n == 1 {
            w / 2.0
        } else {
            pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: usize| h - pad - (h - 2.0 * pad) * v as f64 / total;
    let points: Vec<String> = history
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.passed)))
        .collect();
    let _ = write!(
        out,
        "<section><h2>Trend ({n} runs)</h2><svg id=\"trend\" role=\"img\" aria-label=\"passing boxes per run\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
         <line x1=\"{pad}\" y1=\"{y0:.1}\" x2=\"{x1:.1}\" y2=\"{y0:.1}\" stroke=\"#d0d7de\"/>\
         <line x1=\"{pad}\" y1=\"{y9:.1}\" x2=\"{x1:.1}\" y2=\"{y9:.1}\" stroke=\"#d0d7de\" stroke-dasharray=\"4 3\"/>\
         <text x=\"2\" y=\"{y9t:.1}\">9</text><text x=\"2\" y=\"{y0t:.1}\">0</text>\
         <polyline fill=\"none\" stroke=\"#1a7f37\" stroke-width=\"2\" points=\"{}\"/>",
        points.join(" "),
        y0 = y(0),
        y9 = y(CheckId::ALL.len()),
        y0t = y(0) + 4.0,
        y9t = y(CheckId::ALL.len()) + 4.0,
        x1 = w - pad,
    );
    for (i, p) in history.iter().enumerate() {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#1a7f37\" data-run=\"{}\" data-passed=\"{}\" data-failed=\"{}\" data-unknown=\"{}\"><title>{}: {} passed, {} failed, {} unknown</title></circle>",
            x(i),
            y(p.passed),
            esc(&p.label),
            p.passed,
            p.failed,
            p.unknown,
            esc(&p.label),
            p.passed,
            p.failed,
            p.unknown
        );
    }
    out.push_str("</svg></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_escaped() {
        assert_eq!(
            esc("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
