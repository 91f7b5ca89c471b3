//! Flow-table benches: parse+insert 100,000 flows, format a 100,000-flow
//! dump, and the L6 br-tun pipeline per packet without any cache.

use criterion::{criterion_group, criterion_main, Criterion};
use ofproto::key::FlowKey;
use ofproto::pipeline::{Bridge, FailMode, RunOptions, Switch};
use ofproto::port::{PortInfo, VlanConfig};
use ofproto::syntax::dump::{format_installed, LineStyle};
use ofproto::syntax::flow::{parse_flows_file, FlowModCommand};
use ofproto::table::FlowTables;
use ofproto::trace::parse_packet;
use rswitch_benches::flows::flow_lines;

fn parse_insert(c: &mut Criterion) {
    let text = flow_lines(100_000);
    let mut g = c.benchmark_group("flows");
    g.sample_size(10);
    g.bench_function("parse_insert_100000", |b| {
        b.iter(|| {
            let fms = parse_flows_file(&text, FlowModCommand::Add, None).unwrap();
            let mut t = FlowTables::new();
            t.apply_batch(&fms, 0).unwrap();
            t
        })
    });
    let fms = parse_flows_file(&text, FlowModCommand::Add, None).unwrap();
    let mut t = FlowTables::new();
    t.apply_batch(&fms, 0).unwrap();
    g.bench_function("dump_100000", |b| {
        b.iter(|| {
            let mut out = String::with_capacity(100_000 * 160);
            for f in t.flows() {
                out.push(' ');
                out.push_str(&format_installed(
                    &t,
                    &f,
                    5_000,
                    LineStyle {
                        stats: true,
                        ages: true,
                        ports: None,
                    },
                ));
                out.push('\n');
            }
            out
        })
    });
    g.finish();
}

const BR_TUN: &str = "
table=0,priority=1,in_port=1 actions=resubmit(,1)
table=0,priority=1,in_port=2 actions=resubmit(,2)
table=0,priority=0 actions=drop
table=1,priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=1,priority=1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)
table=2,priority=1,tun_id=0x1 actions=mod_vlan_vid:4,resubmit(,10)
table=2,priority=0 actions=drop
table=3,priority=0 actions=drop
table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1
table=20,priority=0 actions=resubmit(,21)
table=21,priority=1,dl_vlan=4 actions=strip_vlan,set_tunnel:0x1,output:2
table=21,priority=0 actions=drop
";

fn l6_switch() -> (Switch, usize, usize) {
    let mut sw = Switch::new();
    let mut br_int = Bridge::new("br-int");
    br_int.set_fail_mode(FailMode::Secure, 0);
    br_int.set_port(PortInfo::new(1, "patch-tun"));
    let mut vm = PortInfo::new(2, "vm1");
    vm.vlan = VlanConfig::access(4);
    br_int.set_port(vm);
    let fms = parse_flows_file("priority=1 actions=NORMAL", FlowModCommand::Add, None).unwrap();
    br_int.tables.apply_batch(&fms, 0).unwrap();
    let mut br_tun = Bridge::new("br-tun");
    br_tun.set_fail_mode(FailMode::Secure, 0);
    br_tun.set_port(PortInfo::new(1, "patch-int"));
    br_tun.set_port(PortInfo::new(2, "gre"));
    let fms = parse_flows_file(BR_TUN, FlowModCommand::Add, None).unwrap();
    br_tun.tables.apply_batch(&fms, 0).unwrap();
    let i = sw.add_bridge(br_int);
    let t = sw.add_bridge(br_tun);
    sw.link_patch((i, 1), (t, 1));
    (sw, i, t)
}

fn l6_pipeline(c: &mut Criterion) {
    let (mut sw, i, t) = l6_switch();
    let from_tunnel: FlowKey = parse_packet(
        "in_port=2,tun_id=0x1,dl_src=fa:16:3e:2a:46:e0,dl_dst=fa:16:3e:32:28:af,ip,nw_proto=1",
        None,
    )
    .unwrap();
    let from_vm: FlowKey = parse_packet(
        "in_port=2,dl_src=fa:16:3e:32:28:af,dl_dst=fa:16:3e:2a:46:e0,ip,nw_proto=1",
        None,
    )
    .unwrap();
    // Warm: learn both directions once.
    sw.run(t, &from_tunnel, 98, 0, RunOptions::FORWARD);
    sw.run(i, &from_vm, 98, 0, RunOptions::FORWARD);
    let mut g = c.benchmark_group("pipeline");
    // Tunnel -> VM: br-tun tables 0,2,10 (learn refresh) -> patch -> br-int NORMAL.
    g.bench_function("l6_from_tunnel_with_learn", |b| {
        b.iter(|| sw.run(t, &from_tunnel, 98, 1, RunOptions::FORWARD))
    });
    // VM -> tunnel: br-int NORMAL -> patch -> br-tun tables 0,1,20 (learned flow).
    g.bench_function("l6_from_vm_learned_flow", |b| {
        b.iter(|| sw.run(i, &from_vm, 98, 1, RunOptions::FORWARD))
    });
    g.finish();
}

criterion_group!(benches, parse_insert, l6_pipeline);
criterion_main!(benches);
