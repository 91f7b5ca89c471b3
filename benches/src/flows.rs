//! Flow-text generators shared by the flow-table benches and the memory probe.

/// `n` distinct, realistic flow lines (add-flows format) spread over a few
/// tables and match shapes, like a Neutron or lab ruleset grown large.
pub fn flow_lines(n: usize) -> String {
    let mut s = String::with_capacity(n * 96);
    for i in 0..n {
        let a = (i >> 16) & 0xff;
        let b = (i >> 8) & 0xff;
        let c = i & 0xff;
        let line = match i % 4 {
            0 => format!(
                "table=0,priority={},ip,in_port={},nw_src=198.18.{b}.{c},nw_dst=198.19.{a}.0/24 actions=output:{}\n",
                100 + (i % 50),
                1 + (i % 48),
                1 + (i % 7)
            ),
            1 => format!(
                "table=1,priority=10,tcp,nw_dst=198.18.{b}.{c},tp_dst={} actions=mod_vlan_vid:{},resubmit(,2)\n",
                1 + (i % 60000),
                1 + (i % 4000)
            ),
            2 => format!(
                "table=20,priority=1,hard_timeout=300,vlan_tci=0x{:04x}/0x0fff,dl_dst=fa:16:3e:{a:02x}:{b:02x}:{c:02x} actions=load:0->NXM_OF_VLAN_TCI[],load:0x{:x}->NXM_NX_TUN_ID[],output:2\n",
                1 + (i % 4000),
                1 + (i % 1000)
            ),
            _ => format!(
                "table=2,priority=5,udp,in_port={},dl_src=02:00:00:{a:02x}:{b:02x}:{c:02x},tp_src=68,tp_dst=67 actions=NORMAL\n",
                1 + (i % 48)
            ),
        };
        s.push_str(&line);
    }
    s
}
