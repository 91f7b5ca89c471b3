//! LABS.md L6 in miniature: the Neutron compute node's br-int and br-tun,
//! joined by patch ports, with the seed's br-tun tables. A packet from the
//! GRE tunnel must make br-tun learn exactly the flow Open vSwitch learns,
//! and return traffic must then use it.

use ofproto::key::{self, FlowKey};
use ofproto::pipeline::{Bridge, FailMode, RunOptions, Switch, VlanChange};
use ofproto::port::{PortInfo, VlanConfig};
use ofproto::syntax::dump::{format_installed, LineStyle};
use ofproto::syntax::flow::{parse_flows_file, FlowModCommand};
use ofproto::trace::{parse_packet, trace};

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

/// br-int (index 0): patch-tun=1, vm1=2 (tag 4); br-tun (index 1): patch-int=1, gre=2.
fn compute_node() -> Switch {
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
    br_tun.set_port(PortInfo::new(2, "gre-c6120002"));
    let fms = parse_flows_file(BR_TUN, FlowModCommand::Add, Some(&br_tun.port_map())).unwrap();
    br_tun.tables.apply_batch(&fms, 0).unwrap();
    let i = sw.add_bridge(br_int);
    let t = sw.add_bridge(br_tun);
    sw.link_patch((i, 1), (t, 1));
    sw
}

fn table20(sw: &Switch) -> Vec<String> {
    let tun = &sw.bridges[1];
    tun.tables
        .flows()
        .iter()
        .filter(|f| f.table == 20)
        .map(|f| format_installed(&tun.tables, f, 5_000, LineStyle::default()))
        .collect()
}

const PEER_MAC: &str = "fa:16:3e:2a:46:e0";

fn from_tunnel() -> FlowKey {
    parse_packet(
        &format!("in_port=2,tun_id=0x1,dl_src={PEER_MAC},dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1"),
        None,
    )
    .unwrap()
}

#[test]
fn tunnel_packet_learns_the_same_flow_as_open_vswitch() {
    let mut sw = compute_node();
    let v = sw.run(1, &from_tunnel(), 60, 1_000, RunOptions::FORWARD);
    // Broadcast from the tunnel reaches the VM (untagged: access port of
    // VLAN 4) and br-int's LOCAL port (a trunk, so tagged 4), exactly the
    // two datapath outputs OVS's trace shows (`push_vlan(vid=4,pcp=0),6,8`).
    assert_eq!(v.outputs.len(), 2, "{v:?}");
    assert_eq!((v.outputs[0].bridge, v.outputs[0].port), (0, 2));
    assert_eq!(v.outputs[0].vlan_change(0), VlanChange::None);
    assert_eq!(
        (v.outputs[1].bridge, v.outputs[1].port),
        (0, ofproto::port::OFPP_LOCAL)
    );
    assert_eq!(v.outputs[1].vlan_change(0), VlanChange::Push(0x1004));
    assert_eq!(
        table20(&sw),
        vec![
            format!("table=20, hard_timeout=300, priority=1,vlan_tci=0x0004/0x0fff,dl_dst={PEER_MAC} actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2"),
            "table=20, priority=0 actions=resubmit(,21)".to_string(),
        ]
    );
}

#[test]
fn vm_reply_uses_the_learned_flow_and_relearning_refreshes_it() {
    let mut sw = compute_node();
    sw.run(1, &from_tunnel(), 60, 1_000, RunOptions::FORWARD);
    // The VM answers: into br-int on vm1 (untagged access port, tag 4).
    let reply = parse_packet(
        &format!("in_port=2,dl_src=fa:16:3e:32:28:af,dl_dst={PEER_MAC},arp,arp_op=2"),
        None,
    )
    .unwrap();
    let v = sw.run(0, &reply, 60, 2_000, RunOptions::FORWARD);
    assert_eq!(v.outputs.len(), 1, "{v:?}");
    let o = &v.outputs[0];
    assert_eq!((o.bridge, o.port), (1, 2), "out the GRE port");
    assert_eq!(o.key.tun_id(), 1, "tunnel id loaded by the learned flow");
    assert_eq!(
        o.vlan_change(0),
        VlanChange::None,
        "tag 4 added by br-int and removed by the learned flow"
    );
    // Re-learning at t=250 s refreshes hard_age; at t=400 s the flow is still there.
    sw.run(1, &from_tunnel(), 60, 250_000, RunOptions::FORWARD);
    assert!(sw.bridges[1].tables.expire(400_000).is_empty());
    let learned = sw.bridges[1]
        .tables
        .flows()
        .into_iter()
        .find(|f| f.table == 20 && f.priority == 1)
        .map(|f| (f.flow.created, f.flow.modified, f.flow.n_packets))
        .unwrap();
    assert_eq!(
        learned,
        (1_000, 250_000, 1),
        "strict modify keeps created and counters, refreshes modified"
    );
    // Without refresh it expires 300 s after the last learn.
    let gone = sw.bridges[1].tables.expire(550_000);
    assert_eq!(gone.len(), 1);
    assert_eq!(
        table20(&sw),
        vec!["table=20, priority=0 actions=resubmit(,21)".to_string()]
    );
}

#[test]
fn trace_without_generate_has_no_side_effects() {
    let mut sw = compute_node();
    let r = trace(&mut sw, 1, &from_tunnel(), 1_000, false);
    let text = r.to_text();
    assert!(text.contains("bridge(\"br-tun\")"), "{text}");
    assert!(text.contains(" 2. tun_id=0x1, priority 1"), "{text}");
    assert!(
        text.contains(">> suppressing side effects, so learn action ignored"),
        "{text}"
    );
    assert!(text.contains("bridge(\"br-int\")"), "{text}");
    assert_eq!(table20(&sw).len(), 1, "nothing learned");
    let r = trace(&mut sw, 1, &from_tunnel(), 1_000, true);
    assert!(r.to_text().contains("-> table=20 vlan_tci=0x0004/0x0fff,dl_dst=fa:16:3e:2a:46:e0 priority=1 hard=300 actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2"), "{}", r.to_text());
    assert_eq!(table20(&sw).len(), 2, "learned with --generate");
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert!(json["events"].as_array().unwrap().len() > 5);
}

#[test]
fn resubmit_loop_hits_the_depth_limit() {
    let mut sw = Switch::new();
    let mut b = Bridge::new("br-loop");
    b.set_port(PortInfo::new(1, "l1"));
    let fms = parse_flows_file("table=0,actions=resubmit(,0)", FlowModCommand::Add, None).unwrap();
    b.tables.apply_batch(&fms, 0).unwrap();
    let i = sw.add_bridge(b);
    let mut k = FlowKey::ZERO;
    k.set_in_port(1);
    let r = trace(&mut sw, i, &k, 0, false);
    let t = r.to_text();
    assert!(t.contains(">>>> over max translation depth 64 <<<<"), "{t}");
    assert!(
        t.contains("Translation failed (Recursion too deep), packet is dropped."),
        "{t}"
    );
    let _ = key::TUN_ID;
}

#[test]
fn learn_limit_result_dst_and_delete_learned() {
    use ofproto::syntax::flow::parse_flow_mod;
    let mut sw = Switch::new();
    let mut b = Bridge::new("br0");
    b.set_fail_mode(FailMode::Secure, 0);
    b.set_port(PortInfo::new(1, "p1"));
    b.set_port(PortInfo::new(2, "p2"));
    let fms = parse_flows_file(
        "table=0,priority=1,in_port=1 actions=learn(table=5,limit=2,delete_learned,result_dst=reg0[0],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2",
        FlowModCommand::Add,
        None,
    )
    .unwrap();
    b.tables.apply_batch(&fms, 0).unwrap();
    let i = sw.add_bridge(b);
    let learned = |sw: &Switch| {
        sw.bridges[i]
            .tables
            .flows()
            .iter()
            .filter(|f| f.table == 5)
            .count()
    };
    for n in 1..=3u8 {
        let k = parse_packet(&format!("in_port=1,dl_src=02:00:00:00:00:0{n}"), None).unwrap();
        let v = sw.run(i, &k, 60, n as u64, RunOptions::FORWARD);
        let expect = if n <= 2 { 1 } else { 0 };
        assert_eq!(v.final_key.reg(0), expect, "result_dst for packet {n}");
    }
    assert_eq!(learned(&sw), 2, "limit=2");
    // Deleting the learning flow removes what it learned.
    let del = parse_flow_mod("priority=1,in_port=1", FlowModCommand::DeleteStrict, None).unwrap();
    let (o, removed) = sw.bridges[i].tables.apply(&del, 10).unwrap();
    assert_eq!(o.deleted, 3);
    assert_eq!(removed.len(), 3);
    assert_eq!(learned(&sw), 0);
}
