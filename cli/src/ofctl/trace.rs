//! `trace BR FLOW [-generate]` (also `ofproto/trace`, ovs-appctl's name):
//! runs a packet described in flow syntax through the bridge's tables and
//! explains each step, as text or (`--format=json`) JSON. With `-generate`
//! (or `--generate`) the packet's side effects happen: learned flows, MAC
//! learning and flow counters, as with Open vSwitch. rswitch also takes a
//! real frame: `in_port=N,packet=HEX` (what `trace --pcap FILE` sends).

use ofproto::trace::{parse_packet, trace as run_trace};

use super::options::TraceFormat;
use super::{fail, Ctx, Fail};

pub(crate) fn trace(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let b = ctx.bridge(&args[0])?;
    let generate = match args.get(2).map(String::as_str) {
        None => ctx.opts.generate,
        Some("-generate") | Some("--generate") => true,
        Some(other) => return fail(format!("{other}: unknown trace option (use -generate)")),
    };
    let flow = &args[1];
    let ports = ctx.accept_ports(b);
    // capture: `packet=HEX` (a real frame, from `trace --pcap`) gives
    // every field but in_port and the tunnel's.
    let (desc, frame) = crate::capture::split_packet_field(flow)
        .map_err(|e| Fail::Msg(format!("Bad packet: {e}")))?;
    let key = match frame {
        Some(f) => crate::capture::frame_key(&desc, &f, ports.as_ref())
            .map_err(|e| Fail::Msg(format!("Bad packet: {e}")))?,
        None => parse_packet(flow, ports.as_ref())
            .map_err(|e| Fail::Msg(format!("Bad openflow flow syntax: {flow}: {e}")))?,
    };
    let report = run_trace(ctx.sw, b, &key, ctx.now, generate);
    let text = match ctx.opts.format {
        TraceFormat::Text => report.to_text(),
        TraceFormat::Json => report.to_json() + "\n",
        TraceFormat::Dot => {
            return fail("--format dot: trace prints text or json (dump-flows draws pictures)")
        }
    };
    ctx.print(&text);
    // A generated packet may have learned flows or MACs, in any bridge it
    // crossed: cached decisions may be stale.
    ctx.out.changed = generate;
    Ok(0)
}
