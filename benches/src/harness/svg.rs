//! A hand-written SVG bar chart of the results: panels in a grid, one per
//! metric group; in each, one cluster of bars per metric and one
//! bar per device (the median across rounds), a device keeping its colour
//! in every panel.

/// One device's bars in a panel: its colour index and one value per
/// category (`None` = failed, shown as "fail"; devices not measured in a
/// panel are left out of it by the caller).
pub struct Series {
    pub name: String,
    pub color: usize,
    pub values: Vec<Option<f64>>,
}

/// One panel: a title, a unit, the categories (metrics) and the series.
pub struct Panel {
    pub title: String,
    pub unit: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLORS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

const BAR: f64 = 24.0; // bar width
const GAP: f64 = 22.0; // between clusters
const MIN_CLUSTER: f64 = 130.0; // room for the category label
const PH: f64 = 200.0; // plot height
const PANEL_H: f64 = PH + 90.0;
const LEFT: f64 = 20.0;
const COLS: usize = 2;

fn cluster_width(p: &Panel) -> f64 {
    (BAR * p.series.len().max(1) as f64 + GAP).max(MIN_CLUSTER)
}

fn panel_width(p: &Panel) -> f64 {
    (cluster_width(p) * p.categories.len().max(1) as f64).max(260.0)
}

/// Renders the panels as a standalone SVG document: a legend row, then the
/// panels in a grid of two columns.
pub fn render(title: &str, panels: &[Panel]) -> String {
    let cell_w = panels.iter().map(panel_width).fold(260.0_f64, f64::max) + 2.0 * LEFT;
    let cols = COLS.min(panels.len()).max(1);
    let rows = panels.len().div_ceil(COLS);
    // Legend: every device in any panel, once, in colour order.
    let mut legend: Vec<(usize, &str)> = Vec::new();
    for se in panels.iter().flat_map(|p| p.series.iter()) {
        if !legend.iter().any(|(_, n)| *n == se.name) {
            legend.push((se.color, &se.name));
        }
    }
    legend.sort();
    let width = (cell_w * cols as f64).max(130.0 * legend.len() as f64 + 2.0 * LEFT);
    let legend_y = 44.0;
    let grid_y = legend_y + 24.0;
    let height = grid_y + PANEL_H * rows as f64 + 10.0;
    let mut s = String::new();
    s.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n"
    ));
    s.push_str(&format!(
        "<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        width / 2.0,
        esc(title)
    ));
    for (i, (color, name)) in legend.iter().enumerate() {
        let lx = LEFT + 130.0 * i as f64;
        s.push_str(&format!(
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n<text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            legend_y - 10.0,
            COLORS[color % COLORS.len()],
            lx + 17.0,
            legend_y,
            esc(name)
        ));
    }
    for (pi, p) in panels.iter().enumerate() {
        let x0 = LEFT + cell_w * (pi % COLS) as f64;
        let y0 = grid_y + PANEL_H * (pi / COLS) as f64;
        let top = y0 + 40.0;
        let base = top + PH;
        let max = p
            .series
            .iter()
            .flat_map(|se| se.values.iter().flatten())
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        let scale = if max > 0.0 { (PH - 30.0) / max } else { 0.0 };
        let pw = panel_width(p);
        s.push_str(&format!(
            "<text x=\"{x0:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">{} ({})</text>\n",
            y0 + 22.0,
            esc(&p.title),
            esc(&p.unit)
        ));
        s.push_str(&format!(
            "<line x1=\"{x0:.1}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\" stroke=\"black\"/>\n",
            x0 + pw
        ));
        let cluster = cluster_width(p);
        let bars_w = BAR * p.series.len() as f64;
        for (ci, cat) in p.categories.iter().enumerate() {
            let cx0 = x0 + cluster * ci as f64 + (cluster - bars_w) / 2.0;
            for (si, se) in p.series.iter().enumerate() {
                let bx = cx0 + BAR * si as f64;
                let mid = bx + BAR / 2.0;
                match se.values.get(ci).copied().flatten() {
                    Some(v) if v.is_finite() => {
                        let h = (v * scale).max(0.5);
                        s.push_str(&format!(
                            "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{} {}: {v:.3} {}</title></rect>\n",
                            base - h,
                            BAR - 3.0,
                            COLORS[se.color % COLORS.len()],
                            esc(&se.name),
                            esc(cat),
                            esc(&p.unit)
                        ));
                        // Values written upwards above the bar, so narrow
                        // bars keep readable labels.
                        let ty = base - h - 3.0;
                        s.push_str(&format!(
                            "<text x=\"{:.1}\" y=\"{ty:.1}\" font-size=\"10\" transform=\"rotate(-90 {:.1} {ty:.1})\">{}</text>\n",
                            mid + 2.0,
                            mid + 2.0,
                            fmt_val(v)
                        ));
                    }
                    _ => {
                        let ty = base - 3.0;
                        s.push_str(&format!(
                            "<text x=\"{:.1}\" y=\"{ty:.1}\" font-size=\"10\" fill=\"red\" transform=\"rotate(-90 {:.1} {ty:.1})\">fail</text>\n",
                            mid + 2.0,
                            mid + 2.0
                        ));
                    }
                }
            }
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                x0 + cluster * ci as f64 + cluster / 2.0,
                base + 16.0,
                esc(cat)
            ));
        }
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_val(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
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
                categories: vec!["1 stream".into(), "4 streams".into()],
                series: vec![
                    Series {
                        name: "bridge".into(),
                        color: 0,
                        values: vec![Some(3.8), Some(4.0)],
                    },
                    Series {
                        name: "ovs".into(),
                        color: 1,
                        values: vec![None, Some(1.0)],
                    },
                ],
            },
            Panel {
                title: "ping p50".into(),
                unit: "ms".into(),
                categories: vec!["p50".into()],
                series: vec![Series {
                    name: "veth".into(),
                    color: 2,
                    values: vec![Some(0.03)],
                }],
            },
        ];
        let s = render("rswitch-bench & co", &panels);
        assert!(s.starts_with("<?xml"));
        assert!(s.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(s.trim_end().ends_with("</svg>"));
        // background + 4 bars + 3 legend swatches
        assert_eq!(s.matches("<rect").count(), 1 + 4 + 3);
        assert!(s.contains("&amp; co") && s.contains("&lt;offloads off&gt;"));
        assert!(s.contains(">fail</text>"));
        assert_eq!(s.matches("<text").count(), s.matches("</text>").count());
        // Empty input still yields a document.
        assert!(render("x", &[]).ends_with("</svg>\n"));
    }
}
