//! Golden corpus: every flow string of `tests/data/golden_flows.tsv`, whose
//! expected text real Open vSwitch 3.1 produced, must parse and print the
//! same here (or be rejected when OVS rejects it).

use ofproto::syntax::dump::{format_flow_line, FlowLine, LineStyle};
use ofproto::syntax::flow::{parse_flow_mod, FlowModCommand};
use ofproto::syntax::PortMap;

/// Cases where rswitch deliberately differs from OVS, with the reason.
const DIVERGENCES: &[(&str, &str)] = &[
    ("table=254,actions=drop", "OVS reserves table 254 for itself; rswitch offers all 255 tables (0-254)"),
];

fn ports() -> PortMap {
    let mut p = PortMap::new();
    for i in 1..=4 {
        p.insert(format!("p{i}"), i);
    }
    p
}

fn render(input: &str, ports: &PortMap) -> Result<String, String> {
    let fm = parse_flow_mod(input, FlowModCommand::Add, Some(ports)).map_err(|e| e.0)?;
    let line = FlowLine {
        table: fm.table.unwrap_or(0),
        cookie: fm.new_cookie.unwrap_or(0),
        priority: fm.priority,
        matched: &fm.matched,
        actions: &fm.actions,
        idle_timeout: fm.idle_timeout,
        hard_timeout: fm.hard_timeout,
        n_packets: 0,
        n_bytes: 0,
        created: 0,
        modified: 0,
        used: 0,
    };
    Ok(format_flow_line(&line, 0, LineStyle::default()))
}

#[test]
fn golden_flows_match_open_vswitch() {
    let data = include_str!("data/golden_flows.tsv");
    let ports = ports();
    let mut failures = Vec::new();
    let mut n = 0;
    for line in data.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (input, status) = (cols[0], cols[1]);
        if DIVERGENCES.iter().any(|(i, _)| *i == input) {
            continue;
        }
        n += 1;
        let got = render(input, &ports);
        match status {
            "ok" => {
                let want = cols.get(2).copied().unwrap_or("");
                match got {
                    Ok(g) if g == want => {}
                    Ok(g) => failures.push(format!("{input}\n    want: {want}\n    got:  {g}")),
                    Err(e) => failures.push(format!("{input}\n    want: {want}\n    got error: {e}")),
                }
            }
            "err" => {
                if let Ok(g) = got {
                    let why = cols.get(3).copied().unwrap_or("");
                    failures.push(format!("{input}\n    OVS rejects: {why}\n    got:  {g}"));
                }
            }
            other => panic!("bad status {other}"),
        }
    }
    assert!(n >= 200, "corpus too small: {n}");
    if !failures.is_empty() {
        panic!("{} of {n} golden cases differ:\n{}", failures.len(), failures.join("\n"));
    }
}
