//! Runs each stage of the per-packet path many times, for instruction
//! counts under callgrind (`scripts/callgrind.sh`), which are repeatable on
//! a noisy machine where timings are not. Each stage calls its function
//! only inside that stage, so callgrind's inclusive count for the function
//! divided by the stage's iterations is the cost per packet.

use std::hint::black_box;

use datapath::extract::extract_key;
use datapath::packet::Packet;
use datapath::rewrite::apply_output;
use ofproto::key::FlowKey;
use ofproto::pipeline::{Bridge, FailMode, RunOptions, Switch};
use ofproto::port::PortInfo;
use ofproto::syntax::flow::{parse_flow_mod, FlowModCommand};

/// Iterations per stage (callgrind runs about 50× slower than native).
const N: u64 = 20_000;

/// A 60-byte IPv4/UDP frame from 198.18.0.1 to 198.18.0.2.
fn udp_frame(sport: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&[0, 9, 0, 26, 0, 0]);
    f.resize(60, 0);
    f
}

fn switch(extra_flows: u32) -> Switch {
    let mut sw = Switch::new();
    let mut b = Bridge::new("br0");
    b.set_fail_mode(FailMode::Secure, 0);
    for p in 1..=2 {
        b.set_port(PortInfo::new(p, format!("p{p}")));
    }
    sw.add_bridge(b);
    let mut flows = vec![
        "in_port=1,actions=output:2".to_string(),
        "in_port=2,actions=output:1".to_string(),
    ];
    // Flows that never match the test traffic, over several masks (as the
    // benchmark harness installs them).
    for i in 0..extra_flows {
        let (x, y) = (i / 250 % 250, i % 250);
        flows.push(match i % 4 {
            0 => format!("priority=5,ip,nw_dst=198.19.{x}.{y},actions=drop"),
            1 => format!(
                "priority=6,tcp,nw_src=198.19.{x}.{y},tp_dst={},actions=drop",
                i % 60000 + 1
            ),
            2 => format!(
                "priority=7,udp,nw_dst=198.19.{x}.0/24,tp_src={},actions=drop",
                i % 60000 + 1
            ),
            _ => format!(
                "priority=8,dl_src=02:01:00:00:{:02x}:{:02x},actions=drop",
                x, y
            ),
        });
    }
    for f in &flows {
        let fm = parse_flow_mod(f, FlowModCommand::Add, None).expect("valid flow");
        sw.bridges[0].tables.apply(&fm, 0).expect("installs");
    }
    sw
}

#[inline(never)]
fn stage_extract(frame: &[u8]) -> u64 {
    let mut acc = 0;
    for _ in 0..N {
        let mut key = FlowKey::ZERO;
        if extract_key(black_box(frame), 1, &mut key).is_ok() {
            acc += key.get(ofproto::key::TP_SRC) as u64;
        }
    }
    acc
}

#[inline(never)]
fn stage_pipeline(sw: &mut Switch, key: &FlowKey) -> usize {
    let mut n = 0;
    for i in 0..N {
        let v = sw.run(0, black_box(key), 60, i, RunOptions::FORWARD);
        n += v.outputs.len();
    }
    n
}

#[inline(never)]
fn stage_rewrite(sw: &mut Switch, key: &FlowKey, frame: &[u8]) -> usize {
    let v = sw.run(0, key, 60, 0, RunOptions::FORWARD);
    let out = &v.outputs[0];
    let mut pkt = Packet::new();
    let mut ok = 0;
    for _ in 0..N {
        pkt.set_frame(frame);
        if apply_output(&mut pkt, key, black_box(out)).is_ok() {
            ok += 1;
        }
    }
    ok
}

fn main() {
    let frame = udp_frame(1000);
    let mut key = FlowKey::ZERO;
    extract_key(&frame, 1, &mut key).expect("valid frame");
    println!("iterations per stage: {N}");
    println!("extract: {}", stage_extract(&frame));
    let mut small = switch(0);
    println!("pipeline (2 flows): {}", stage_pipeline(&mut small, &key));
    println!("rewrite: {}", stage_rewrite(&mut small, &key, &frame));
    let mut big = switch(100_000);
    println!(
        "pipeline (100,002 flows): {}",
        stage_pipeline_big(&mut big, &key)
    );
}

/// The same as `stage_pipeline`, as its own symbol so callgrind tells the
/// two table sizes apart.
#[inline(never)]
fn stage_pipeline_big(sw: &mut Switch, key: &FlowKey) -> usize {
    stage_pipeline_inner(sw, key)
}

#[inline(never)]
fn stage_pipeline_inner(sw: &mut Switch, key: &FlowKey) -> usize {
    let mut n = 0;
    for i in 0..N {
        let v = sw.run(0, black_box(key), 60, i, RunOptions::FORWARD);
        n += v.outputs.len();
    }
    n
}
