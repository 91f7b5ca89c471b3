//! A bridge built from a flows file, for the tools' offline modes
//! (`rswitch-ofctl check-flows|trace|dump-flows --flows`, `trace --pcap`
//! without a daemon): bridge "br0", fail_mode secure, ports from
//! `NAME=OFPORT` operands.

use ofproto::pipeline::{Bridge, FailMode};
use ofproto::port::PortInfo;
use ofproto::syntax::flow::{parse_flows_file, FlowModCommand};

/// Reads `file` into a new bridge with `ports` (each `NAME=OFPORT`); parse
/// warnings go to `warn`. Errors name the file or the bad operand.
pub fn bridge_from_file(
    file: &str,
    ports: &[String],
    mut warn: impl FnMut(&str),
) -> Result<Bridge, String> {
    let mut b = Bridge::new("br0");
    b.set_fail_mode(FailMode::Secure, 0);
    for p in ports {
        let (name, num) = p
            .split_once('=')
            .ok_or_else(|| format!("{p}: expected NAME=OFPORT"))?;
        let num: u32 = num.parse().map_err(|_| format!("{p}: bad port number"))?;
        b.set_port(PortInfo::new(num, name));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let fms = parse_flows_file(&text, FlowModCommand::Add, Some(&b.port_map()))
        .map_err(|e| format!("{file}: {e}"))?;
    for fm in &fms {
        for w in &fm.warnings {
            warn(w);
        }
    }
    b.tables
        .apply_batch(&fms, 0)
        .map_err(|e| format!("{file}: {e}"))?;
    Ok(b)
}
