//! `dump-tables`: per-table statistics in ovs-ofctl 3.1's layout, where a
//! run of tables identical to the one before collapses into `tables X...Y:
//! ditto`.
//!
//! rswitch has 255 tables (0-254); Open vSwitch shows 254 (`n_tables:254`,
//! tables 0-253; its table 254 is internal). The dump shows tables 0-253
//! exactly as OVS does, and table 254 only when it holds flows.
//!
//! Counters: `active` is the number of flows. `lookup`/`matched` come from
//! [`SwitchView::table_counters`](super::SwitchView::table_counters) when the
//! daemon keeps them; otherwise `matched` is the sum of the table's flows'
//! packet counts and `lookup` equals it, except in table 0, where every
//! packet a port received was looked up: there `lookup` is the larger of
//! `matched` and the bridge's received packets. Unlike OVS's, these derived
//! counts forget the packets of deleted flows.

use super::options::Version;
use super::{Ctx, Fail, TableCounters};

/// Tables OVS lists.
const SHOWN: usize = 254;

const OF10_TABLE0: &str = "    max_entries=1000000
    matching:
      exact match or wildcard: in_port eth_{src,dst,type} vlan_{vid,pcp} ip_{src,dst} nw_{proto,tos} tcp_{src,dst}
";

const OF11_ACTIONS: &str = "      Write-Actions and Apply-Actions features:
        actions: output group set_vlan_vid set_vlan_pcp strip_vlan push_vlan mod_dl_src mod_dl_dst mod_nw_src mod_nw_dst mod_nw_tos mod_nw_ecn mod_nw_ttl mod_tp_src mod_tp_dst dec_ttl set_mpls_label set_mpls_tc set_mpls_ttl dec_mpls_ttl push_mpls pop_mpls set_queue
";

const OF11_MATCHING: &str = "    matching:
      exact match or wildcard: metadata in_port eth_{src,dst,type} vlan_{vid,pcp} mpls_{label,tc} ip_{src,dst} nw_{proto,tos} tcp_{src,dst}
";

const OF12_ACTIONS: &str = "      Write-Actions and Apply-Actions features:
        actions: output group set_field strip_vlan push_vlan mod_nw_ttl dec_ttl set_mpls_ttl dec_mpls_ttl push_mpls pop_mpls set_queue
        supported on Set-Field: metadata in_port_oxm eth_{src,dst} vlan_{vid,pcp} mpls_{label,tc} ip_{src,dst} ipv6_{src,dst,label} ip_dscp nw_ecn arp_{op,spa,tpa,sha,tha} tcp_{src,dst} udp_{src,dst} sctp_{src,dst} icmp_{type,code} icmpv6_{type,code} nd_{target,sll,tll}
";

const OF12_MATCHING: &str = "    matching:
      exact match or wildcard: metadata in_port_oxm eth_{src,dst,type} vlan_{vid,pcp} mpls_{label,tc} ip_{src,dst} ipv6_{src,dst,label} nw_proto ip_dscp nw_ecn arp_{op,spa,tpa,sha,tha} tcp_{src,dst} udp_{src,dst} sctp_{src,dst} icmp_{type,code} icmpv6_{type,code} nd_{target,sll,tll}
";

/// The features block of a table whose features differ from the previous
/// table's: table 0, and under OpenFlow 1.1/1.2 the last table, which
/// cannot `goto_table`.
fn features(v: Version, table: usize) -> String {
    let last = table == SHOWN - 1;
    let instructions = |s: &mut String| {
        *s += "    config=controller\n    max_entries=1000000\n    instructions (table miss and others):\n";
        *s += if last {
            "      instructions: apply_actions clear_actions write_actions write_metadata\n"
        } else {
            "      instructions: apply_actions clear_actions write_actions write_metadata goto_table\n"
        };
    };
    let mut s = String::new();
    match v {
        Version::Of10 => s += OF10_TABLE0,
        Version::Of11 => {
            instructions(&mut s);
            s += OF11_ACTIONS;
            s += if last {
                "    (same matching)\n"
            } else {
                OF11_MATCHING
            };
        }
        Version::Of12 => {
            s += "    metadata: match=0xffffffffffffffff write=0xffffffffffffffff\n";
            instructions(&mut s);
            if last {
                s += "      (same actions)\n    (same matching)\n";
            } else {
                s += OF12_ACTIONS;
                s += OF12_MATCHING;
            }
        }
        // OpenFlow 1.3+ table stats carry no features.
        _ => {}
    }
    s
}

/// Whether `table`'s features equal the previous table's.
fn same_features(v: Version, table: usize) -> bool {
    table > 0 && !(matches!(v, Version::Of11 | Version::Of12) && table == SHOWN - 1)
}

/// Per table: (active, lookup, matched).
fn table_stats(ctx: &Ctx, b: usize) -> Vec<(usize, TableCounters)> {
    let bridge = &ctx.sw.bridges[b];
    let mut active = vec![0usize; 255];
    let mut packets = vec![0u64; 255];
    for f in bridge.tables.flows() {
        active[f.table as usize] += 1;
        packets[f.table as usize] += f.flow.n_packets;
    }
    let received: u64 = bridge
        .ports()
        .iter()
        .map(|p| ctx.view.port_counters(b, p.ofport).rx_packets)
        .sum();
    (0..255)
        .map(|t| {
            let c = ctx
                .view
                .table_counters(b, t as u8)
                .unwrap_or_else(|| TableCounters {
                    lookup: if t == 0 {
                        packets[0].max(received)
                    } else {
                        packets[t]
                    },
                    matched: packets[t],
                });
            (active[t], c)
        })
        .collect()
}

fn finish_ditto(s: &mut String, ditto: &mut Option<(usize, usize)>) {
    match ditto.take() {
        Some((a, z)) if a == z => *s += &format!("\n  table {a}: ditto\n"),
        Some((a, z)) => *s += &format!("\n  tables {a}...{z}: ditto\n"),
        None => {}
    }
}

/// `dump-tables BR` (OVS's `ofputil_table_features_format` over each table).
pub(crate) fn dump_tables(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let b = ctx.bridge(&args[0])?;
    let v = ctx.version();
    let stats = table_stats(ctx, b);
    let n = if stats[SHOWN].0 > 0 { SHOWN + 1 } else { SHOWN };
    let mut s = format!("OFPST_TABLE reply{} (xid=0x2):", v.tag());
    let mut ditto: Option<(usize, usize)> = None;
    for t in 0..n {
        let same_stats = t > 0 && stats[t] == stats[t - 1];
        let same = same_features(v, t);
        if same_stats && same {
            ditto = Some((ditto.map_or(t, |d| d.0), t));
            continue;
        }
        finish_ditto(&mut s, &mut ditto);
        let (active, c) = stats[t];
        s += &format!(
            "\n  table {t}:\n    active={active}, lookup={}, matched={}\n",
            c.lookup, c.matched
        );
        if same {
            // OpenFlow 1.3+ tables have no features to be the same.
            if v < Version::Of13 {
                s += "    (same features)\n";
            }
        } else {
            s += &features(v, t);
        }
    }
    finish_ditto(&mut s, &mut ditto);
    ctx.print(&s);
    Ok(0)
}
