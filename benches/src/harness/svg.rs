//! A hand-written SVG bar chart of the results: one panel per metric, one
//! bar per device (the median across rounds).

/// One panel: a title, a unit, and (device, value) bars; `None` = failed.
pub struct Panel {
    pub title: String,
    pub unit: String,
    pub bars: Vec<(String, Option<f64>)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

/// Renders the panels side by side as a standalone SVG document.
pub fn render(title: &str, panels: &[Panel]) -> String {
    let pw = 300.0_f64; // panel width
    let ph = 260.0_f64; // plot height
    let top = 60.0;
    let bottom = 90.0;
    let width = 20.0 + pw * panels.len().max(1) as f64;
    let height = top + ph + bottom;
    let mut s = String::new();
    s.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n"
    ));
    s.push_str(&format!(
        "<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        width / 2.0,
        esc(title)
    ));
    for (pi, p) in panels.iter().enumerate() {
        let x0 = 20.0 + pw * pi as f64;
        let max = p
            .bars
            .iter()
            .filter_map(|(_, v)| *v)
            .fold(0.0_f64, f64::max);
        let scale = if max > 0.0 { (ph - 20.0) / max } else { 0.0 };
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{} ({})</text>\n",
            x0 + pw / 2.0,
            top - 10.0,
            esc(&p.title),
            esc(&p.unit)
        ));
        let base = top + ph;
        s.push_str(&format!(
            "<line x1=\"{}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"black\"/>\n",
            x0 + 10.0,
            x0 + pw - 20.0
        ));
        let n = p.bars.len().max(1) as f64;
        let slot = (pw - 40.0) / n;
        for (bi, (name, v)) in p.bars.iter().enumerate() {
            let bx = x0 + 15.0 + slot * bi as f64;
            let bw = slot * 0.7;
            let cx = bx + bw / 2.0;
            match v {
                Some(v) => {
                    let h = v * scale;
                    s.push_str(&format!(
                        "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {v:.3} {}</title></rect>\n",
                        base - h,
                        COLORS[bi % COLORS.len()],
                        esc(name),
                        esc(&p.unit)
                    ));
                    s.push_str(&format!(
                        "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                        base - h - 4.0,
                        fmt_val(*v)
                    ));
                }
                None => s.push_str(&format!(
                    "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"red\">fail</text>\n",
                    base - 4.0
                )),
            }
            s.push_str(&format!(
                "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"end\" transform=\"rotate(-40 {cx:.1} {:.1})\">{}</text>\n",
                base + 14.0,
                base + 14.0,
                esc(name)
            ));
        }
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_val(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_document() {
        let panels = vec![
            Panel {
                title: "TCP <offloads off>".into(),
                unit: "Gbit/s".into(),
                bars: vec![("bridge".into(), Some(3.8)), ("ovs".into(), None)],
            },
            Panel {
                title: "ping p50".into(),
                unit: "ms".into(),
                bars: vec![("veth".into(), Some(0.03))],
            },
        ];
        let s = render("rswitch-bench & co", &panels);
        assert!(s.starts_with("<?xml"));
        assert!(s.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<rect").count(), 1 + 2); // background + 2 bars
        assert!(s.contains("&amp; co") && s.contains("&lt;offloads off&gt;"));
        assert!(s.contains(">fail</text>"));
        assert_eq!(s.matches("<text").count(), s.matches("</text>").count());
        // Empty input still yields a document.
        assert!(render("x", &[]).ends_with("</svg>\n"));
    }
}
