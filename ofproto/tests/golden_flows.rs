//! Golden corpus: every flow string of `tests/data/golden_flows.tsv`, whose
//! expected text real Open vSwitch 3.1 produced, must parse and print the
//! same here (or be rejected when OVS rejects it). The only exceptions are
//! listed below, each with its reason: features rswitch deliberately does
//! not implement (which it must reject by name), and OVS bugs where rswitch
//! deliberately does better.

use ofproto::syntax::dump::{format_flow_line, FlowLine, LineStyle};
use ofproto::syntax::flow::{parse_flow_mod, FlowMod, FlowModCommand};
use ofproto::syntax::PortMap;

/// Flows OVS accepts that use a feature outside rswitch's scope. rswitch
/// must reject each with an error that says "unsupported" and names the
/// feature.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "tun_ipv6_src=2001:db8::1,actions=drop",
        "tun_ipv6_*: rswitch tunnels are IPv4 only",
    ),
    ("tun_flags=+oam,actions=drop", "tun_flags: no tunnel flags"),
    (
        "tun_gbp_id=5,actions=drop",
        "tun_gbp_*: no group-based policy",
    ),
    ("xreg0=0x1,actions=drop", "xreg*: only reg0..reg15"),
    (
        "xreg0=0x100000001/0xffffffff00000000,actions=drop",
        "xreg*: only reg0..reg15",
    ),
    ("xreg7=1,actions=drop", "xreg*: only reg0..reg15"),
    ("xxreg0=1,actions=drop", "xxreg*: only reg0..reg15"),
    ("xxreg3=0x1/0x1,actions=drop", "xxreg*: only reg0..reg15"),
    ("pkt_mark=0x5,actions=drop", "pkt_mark: no packet marks"),
    ("conj_id=1,actions=drop", "conj_id: no conjunctive matches"),
    (
        "icmp6,icmp_type=135,nd_reserved=0,actions=drop",
        "nd_reserved: not implemented",
    ),
    ("actions=output(port=1,max_len=100)", "output truncation"),
    ("actions=output(port=p2,max_len=65535)", "output truncation"),
    ("actions=enqueue:1:2", "enqueue: no queues"),
    ("actions=enqueue(1,2)", "enqueue: no queues"),
    ("actions=enqueue(p1,0)", "enqueue: no queues"),
    ("actions=set_queue:1", "set_queue: no queues"),
    (
        "actions=set_queue:1,output:2,pop_queue",
        "set_queue/pop_queue: no queues",
    ),
    (
        "actions=write_metadata:0x1/0xff",
        "write_metadata instruction",
    ),
    (
        "actions=write_actions(output:1)",
        "write_actions instruction",
    ),
    (
        "actions=write_actions(output:1),goto_table:2",
        "write_actions instruction",
    ),
    ("actions=clear_actions", "clear_actions instruction"),
    ("actions=set_field:5->pkt_mark", "pkt_mark: no packet marks"),
    ("actions=set_field:1->xreg0", "xreg*: only reg0..reg15"),
    ("actions=set_field:1->xxreg0", "xxreg*: only reg0..reg15"),
    (
        "actions=load:1->xxreg0[100..127]",
        "xxreg*: only reg0..reg15",
    ),
    (
        "actions=dec_mpls_ttl",
        "MPLS actions act on the mpls_* fields",
    ),
    (
        "actions=set_mpls_ttl:5",
        "MPLS actions act on the mpls_* fields",
    ),
    (
        "actions=set_mpls_label:5",
        "MPLS actions act on the mpls_* fields",
    ),
    (
        "actions=push_mpls:0x8847",
        "MPLS actions act on the mpls_* fields",
    ),
    (
        "actions=pop_mpls:0x0800",
        "MPLS actions act on the mpls_* fields",
    ),
    (
        "mpls,actions=pop_mpls:0x0800",
        "MPLS actions act on the mpls_* fields",
    ),
    (
        "mpls,actions=set_mpls_label:5,dec_mpls_ttl",
        "MPLS actions act on the mpls_* fields",
    ),
    ("actions=clone(output:1)", "clone"),
    (
        "actions=clone(mod_dl_src:00:11:22:33:44:55,output:2),output:3",
        "clone",
    ),
    ("actions=clone()", "clone"),
    ("actions=clone(clone(output:1))", "clone"),
    (
        "actions=fin_timeout(idle_timeout=10,hard_timeout=20)",
        "fin_timeout",
    ),
    ("actions=fin_timeout(idle_timeout=10)", "fin_timeout"),
    (
        "actions=multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])",
        "multipath",
    ),
    ("actions=bundle(eth_src,0,hrw,ofport,members:1,2)", "bundle"),
    ("actions=bundle(eth_src,0,hrw,ofport,slaves:1,2)", "bundle"),
    (
        "actions=bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[],members:1,2)",
        "bundle",
    ),
    (
        "actions=sample(probability=65535,collector_set_id=1)",
        "sample",
    ),
    ("actions=conjunction(1,1/2)", "conjunction"),
    ("ip,actions=ct(commit)", "ct: no connection tracking"),
    ("ip,actions=ct(commit,zone=1)", "ct: no connection tracking"),
    ("ip,actions=ct(table=1)", "ct: no connection tracking"),
    (
        "ip,actions=ct(commit,nat(src=198.18.0.1))",
        "ct/nat: no connection tracking",
    ),
    ("actions=ct_clear", "ct_clear: no connection tracking"),
    (
        "actions=check_pkt_larger(1500)->reg0[0]",
        "check_pkt_larger: not implemented",
    ),
];

/// Where rswitch deliberately differs from OVS 3.1: (input, what rswitch
/// prints or `Err(..)` for a rejection, reason).
const DIVERGENCES: &[(&str, Result<&str, ()>, &str)] = &[
    (
        "table=254,actions=drop",
        Ok("table=254, actions=drop"),
        "OVS reserves table 254 for itself; rswitch offers all 255 tables (0-254)",
    ),
    (
        "actions=set_field:5->dl_vlan",
        Ok("actions=mod_vlan_vid:5"),
        "OVS bug: it encodes set_field to dl_vlan with no NXM header, which reads back as set_field:5->in_port",
    ),
    (
        "actions=set_field:3->dl_vlan_pcp",
        Ok("actions=mod_vlan_pcp:3"),
        "OVS bug: set_field to dl_vlan_pcp encodes a malformed action the switch rejects (OFPBAC_BAD_SET_LEN)",
    ),
];

fn ports() -> PortMap {
    let mut p = PortMap::new();
    for i in 1..=4 {
        p.insert(format!("p{i}"), i);
    }
    p.set_bridge_name("br0");
    p
}

fn render_fm(fm: &FlowMod) -> String {
    let line = FlowLine::of_flow_mod(fm);
    format_flow_line(&line, 0, LineStyle::default())
}

struct Case<'a> {
    input: &'a str,
    ok: bool,
    /// The dump (ok) or ovs-ofctl's error message (err).
    want: String,
    stderr: &'a str,
}

/// ovs-ofctl's own message from a recorded stderr: vlog lines dropped, the
/// `ovs-ofctl: ` prefix removed.
fn ovs_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .split(" \\n ")
        .filter(|l| {
            !(l.len() > 6
                && l.as_bytes()[..5].iter().all(u8::is_ascii_digit)
                && l.as_bytes()[5] == b'|')
        })
        .collect();
    let s = lines.join(" \\n ");
    s.strip_prefix("ovs-ofctl: ").unwrap_or(&s).to_string()
}

fn cases() -> Vec<Case<'static>> {
    let data = include_str!("data/golden_flows.tsv");
    let mut out = Vec::new();
    for line in data.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (input, status) = (cols[0], cols[1]);
        let stderr = cols.get(3).copied().unwrap_or("");
        match status {
            "ok" => out.push(Case {
                input,
                ok: true,
                want: cols.get(2).copied().unwrap_or("").to_string(),
                stderr,
            }),
            "err" => out.push(Case {
                input,
                ok: false,
                want: ovs_error(stderr),
                stderr,
            }),
            other => panic!("bad status {other}"),
        }
    }
    out
}

#[test]
fn golden_flows_match_open_vswitch() {
    let ports = ports();
    let mut failures = Vec::new();
    let mut n = 0;
    for c in cases() {
        if UNSUPPORTED.iter().any(|(i, _)| *i == c.input)
            || DIVERGENCES.iter().any(|(i, _, _)| *i == c.input)
        {
            continue;
        }
        n += 1;
        let got = parse_flow_mod(c.input, FlowModCommand::Add, Some(&ports));
        match (c.ok, got) {
            (true, Ok(fm)) => {
                let g = render_fm(&fm);
                if g != c.want {
                    failures.push(format!("{}\n    want: {}\n    got:  {g}", c.input, c.want));
                }
                // Whatever OVS changes silently, rswitch must say.
                if c.stderr.contains("normalization changed ofp_match") && fm.warnings.is_empty() {
                    failures.push(format!(
                        "{}\n    OVS normalized the match but rswitch gave no warning",
                        c.input
                    ));
                }
            }
            (true, Err(e)) => failures.push(format!(
                "{}\n    want: {}\n    got error: {e}",
                c.input, c.want
            )),
            (false, Ok(fm)) => failures.push(format!(
                "{}\n    OVS rejects: {}\n    got:  {}",
                c.input,
                c.want,
                render_fm(&fm)
            )),
            (false, Err(_)) => {}
        }
    }
    assert!(n >= 800, "corpus too small: {n}");
    if !failures.is_empty() {
        panic!(
            "{} of {n} golden cases differ:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

#[test]
fn unsupported_features_are_rejected_by_name() {
    let ports = ports();
    let all = cases();
    let mut failures = Vec::new();
    for (input, reason) in UNSUPPORTED {
        let c = all.iter().find(|c| c.input == *input);
        assert!(
            c.is_some_and(|c| c.ok),
            "{input}: listed as unsupported but not an accepted corpus case ({reason})"
        );
        match parse_flow_mod(input, FlowModCommand::Add, Some(&ports)) {
            Ok(fm) => failures.push(format!("{input}: accepted as {}", render_fm(&fm))),
            Err(e) => {
                let text = e.to_string();
                if !text.contains("unsupported") {
                    failures.push(format!("{input}: error does not say unsupported: {text}"));
                }
                // The error names the offending keyword.
                let named = input
                    .split([',', '=', ':', '(', ')', '>', '-', '['])
                    .filter(|w| w.len() >= 2)
                    .any(|w| text.contains(w) && !["actions", "drop"].contains(&w));
                if !named {
                    failures.push(format!("{input}: error does not name the feature: {text}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn divergences_behave_as_documented() {
    let ports = ports();
    let all = cases();
    for (input, want, reason) in DIVERGENCES {
        assert!(
            all.iter().any(|c| c.input == *input),
            "{input}: not in the corpus"
        );
        let got = parse_flow_mod(input, FlowModCommand::Add, Some(&ports));
        match (want, got) {
            (Ok(w), Ok(fm)) => assert_eq!(render_fm(&fm), *w, "{input} ({reason})"),
            (Err(()), Err(_)) => {}
            (w, g) => panic!("{input}: want {w:?}, got {g:?} ({reason})"),
        }
    }
}

/// rswitch's error texts are ovs-ofctl's where reasonable. Counts the
/// rejected corpus cases whose message (the OVS part, without the token
/// rswitch appends when OVS's wording names none) is exactly OVS's, and
/// keeps that share from regressing.
#[test]
fn error_messages_match_open_vswitch() {
    let ports = ports();
    let mut total = 0;
    let mut exact = 0;
    let mut mismatches = Vec::new();
    for c in cases().iter().filter(|c| !c.ok) {
        if DIVERGENCES.iter().any(|(i, _, _)| *i == c.input) {
            continue;
        }
        total += 1;
        match parse_flow_mod(c.input, FlowModCommand::Add, Some(&ports)) {
            Ok(_) => mismatches.push(format!("{}: accepted", c.input)),
            Err(e) if e.ovs_message() == c.want => exact += 1,
            Err(e) => mismatches.push(format!(
                "{}\n    ovs:  {}\n    ours: {}",
                c.input, c.want, e
            )),
        }
    }
    let rate = exact as f64 / total as f64;
    println!(
        "{exact} of {total} rejected cases have exactly OVS's message ({:.1}%)",
        rate * 100.0
    );
    for m in &mismatches {
        println!("{m}");
    }
    assert!(
        rate >= 0.85,
        "only {exact} of {total} error messages match OVS"
    );
}

/// Every error names the offending token: either OVS's wording contains it
/// or rswitch appends it.
#[test]
fn errors_name_a_token_from_the_input() {
    let ports = ports();
    for c in cases() {
        if let Err(e) = parse_flow_mod(c.input, FlowModCommand::Add, Some(&ports)) {
            let text = e.to_string();
            let named = c.input.trim().is_empty()
                || text.contains("(near \"")
                || c.input
                    .split([',', ' ', '=', ':', '(', ')', '/', '>', '[', '+', '-', '|'])
                    .filter(|w| !w.is_empty())
                    .any(|w| text.contains(w));
            assert!(named, "{}: error names no token: {text}", c.input);
        }
    }
}

/// What OVS changes without a word, rswitch reproduces and reports.
#[test]
fn silent_ovs_changes_are_warned() {
    let ports = ports();
    for input in [
        "ip,nw_src=300.1.1.1,actions=drop",
        "dl_vlan=4096,actions=drop",
        "dl_vlan_pcp=8,actions=drop",
        "ip,nw_tos=3,actions=drop",
        "ip,ip_dscp=64,actions=drop",
        "ip,nw_ecn=4,actions=drop",
        "arp,arp_op=256,actions=drop",
        "vlan_vid=5,actions=drop",
        "nw_frag=yes,actions=drop",
        "tcp_flags=+syn,actions=drop",
        "table=255,actions=drop",
        "in_port=65534,actions=drop",
        "icmp,tp_src=300,actions=drop",
        "actions=goto_table:255",
        "actions=set_field:00:11:22:33:44:55/ff:ff:ff:00:00:00->eth_dst",
        "actions=learn(priority=65536,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])",
        "actions=note:ab",
    ] {
        let fm = parse_flow_mod(input, FlowModCommand::Add, Some(&ports)).unwrap();
        assert!(!fm.warnings.is_empty(), "{input}: no warning");
    }
    let fm = parse_flow_mod(
        "ip,nw_src=198.18.0.1,actions=output:1",
        FlowModCommand::Add,
        Some(&ports),
    )
    .unwrap();
    assert!(fm.warnings.is_empty(), "{:?}", fm.warnings);
}
