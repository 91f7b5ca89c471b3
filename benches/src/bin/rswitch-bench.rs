//! rswitch-bench: builds a namespace lab per device under test (rswitch in
//! secure and standalone mode, Open vSwitch userspace, the Linux bridge, a
//! plain veth pair, and VXLAN variants) and measures TCP throughput, 64-byte
//! UDP packet rates, switch CPU per packet, latency and the cost of 100,000
//! installed flows in interleaved rounds. Run as root. See BENCHMARKS.md,
//! "Benchmark harness". `rswitch-bench pktgen …` is the UDP generator the
//! harness runs inside host a.

#[path = "../harness/mod.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use harness::extraflows::extra_flows;
use harness::lab::{self, Device, Lab, Tools};
use harness::pktgen;
use harness::stats::{percentile, rotation, summarize, Summary};
use harness::svg::{render, Panel, Series};
use serde::Serialize;

#[derive(Parser, Debug)]
#[command(
    name = "rswitch-bench",
    about = "side-by-side switch benchmark (run as root); `rswitch-bench pktgen --help` for the UDP generator"
)]
struct Args {
    /// Interleaved rounds (device order rotated each round).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds per iperf3 run and per UDP generator run.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Output directory for results.json and results.svg.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// One round of 1-second runs: a smoke test of the harness.
    #[arg(long)]
    quick: bool,
    /// Comma-separated devices [default: all available]: rswitch-secure,
    /// rswitch-normal, rswitch-base (with --baseline-bin-dir), ovs, bridge,
    /// veth, rswitch-vxlan, ovs-vxlan, kernel-vxlan.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// Comma-separated metrics or groups [default: all]: tcp, udp, ping,
    /// flows100k, vxlan (the VXLAN devices), or metric names such as
    /// tcp_off_gbps, udp1000_delivered_kpps, cpu_ns_per_pkt.
    #[arg(long, value_delimiter = ',')]
    metrics: Vec<String>,
    /// Directory holding rswitchd, rswitch and rswitch-ofctl.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// A second rswitch build: adds the device rswitch-base (secure mode,
    /// run from these binaries) and the ratios rswitch-secure/rswitch-base.
    #[arg(long)]
    baseline_bin_dir: Option<PathBuf>,
    /// Pings per latency measurement.
    #[arg(long, default_value_t = 50)]
    pings: u32,
    /// UDP generator rate in packets/s (0 = as fast as it can).
    #[arg(long, default_value_t = 0)]
    udp_pps: u64,
}

/// `rswitch-bench pktgen`: the 64-byte UDP generator.
#[derive(Parser, Debug)]
#[command(name = "rswitch-bench pktgen")]
struct PktgenArgs {
    #[arg(long)]
    ifname: String,
    #[arg(long)]
    src_mac: String,
    #[arg(long)]
    dst_mac: String,
    #[arg(long, default_value = lab::ADDR_A)]
    src_ip: String,
    #[arg(long, default_value = lab::ADDR_B)]
    dst_ip: String,
    /// Flows (distinct UDP source ports), 1..=65535.
    #[arg(long, default_value_t = 1)]
    flows: u16,
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Stop after this many packets.
    #[arg(long, default_value_t = 100_000_000)]
    max: u64,
    /// Packets per second (0 = full rate).
    #[arg(long, default_value_t = 0)]
    pps: u64,
}

/// A measured quantity.
struct MetricDef {
    name: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    group: &'static str,
    label: &'static str,
}

const fn m(
    name: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    group: &'static str,
    label: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        unit,
        higher_is_better,
        group,
        label,
    }
}

const METRICS: &[MetricDef] = &[
    m("tcp_off_gbps", "Gbit/s", true, "tcp", "TCP×1 offl.off"),
    m("tcp_default_gbps", "Gbit/s", true, "tcp", "TCP×1 default"),
    m("tcp4_off_gbps", "Gbit/s", true, "tcp", "TCP×4 offl.off"),
    m("tcp4_default_gbps", "Gbit/s", true, "tcp", "TCP×4 default"),
    m("udp1_offered_kpps", "kpps", true, "udp", "1fl offered"),
    m("udp1_delivered_kpps", "kpps", true, "udp", "1fl deliv."),
    m(
        "udp1000_offered_kpps",
        "kpps",
        true,
        "udp",
        "1000fl offered",
    ),
    m(
        "udp1000_delivered_kpps",
        "kpps",
        true,
        "udp",
        "1000fl deliv.",
    ),
    m("cpu_ns_per_pkt", "ns/pkt", false, "udp", "switch CPU"),
    m("ping_p50_ms", "ms", false, "ping", "ping p50"),
    m("ping_p99_ms", "ms", false, "ping", "ping p99"),
    m("flows100k_install_s", "s", false, "flows100k", "add-flows"),
    m(
        "tcp_off_100k_gbps",
        "Gbit/s",
        true,
        "flows100k",
        "TCP×1 off",
    ),
    m(
        "udp1000_offered_100k_kpps",
        "kpps",
        true,
        "flows100k",
        "1000fl off.",
    ),
    m(
        "udp1000_delivered_100k_kpps",
        "kpps",
        true,
        "flows100k",
        "1000fl deliv.",
    ),
];
const GROUPS: [&str; 5] = ["tcp", "udp", "ping", "flows100k", "vxlan"];
/// What the VXLAN variants measure.
const VXLAN_METRICS: [&str; 4] = [
    "tcp_off_gbps",
    "tcp_default_gbps",
    "ping_p50_ms",
    "ping_p99_ms",
];
/// Within-device ratios per round: (name, numerator, denominator).
const DERIVED: [(&str, &str, &str); 4] = [
    (
        "udp1_delivered_share",
        "udp1_delivered_kpps",
        "udp1_offered_kpps",
    ),
    (
        "udp1000_delivered_share",
        "udp1000_delivered_kpps",
        "udp1000_offered_kpps",
    ),
    ("tcp_off_100k_vs_1flow", "tcp_off_100k_gbps", "tcp_off_gbps"),
    (
        "udp1000_100k_vs_1flow",
        "udp1000_delivered_100k_kpps",
        "udp1000_delivered_kpps",
    ),
];
/// Cross-device ratios per round: (numerator device, denominator device).
const PAIRS: [(Device, Device); 7] = [
    (Device::RswitchSecure, Device::Ovs),
    (Device::RswitchSecure, Device::Bridge),
    (Device::RswitchNormal, Device::Ovs),
    (Device::RswitchNormal, Device::Bridge),
    (Device::RswitchVxlan, Device::OvsVxlan),
    (Device::RswitchVxlan, Device::KernelVxlan),
    (Device::RswitchSecure, Device::RswitchBase),
];

fn metric_def(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|d| d.name == name)
}

/// Whether `metric` makes sense for `dev` at all (else "n/a").
fn applicable(dev: Device, metric: &str) -> bool {
    if dev.is_vxlan() {
        return VXLAN_METRICS.contains(&metric);
    }
    match metric_def(metric).map(|d| d.group) {
        _ if metric == "cpu_ns_per_pkt" => dev.has_process(),
        Some("flows100k") => dev.takes_extra_flows(),
        Some(_) => true,
        None => false,
    }
}

/// One measurement step (one progress line).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Ping,
    Tcp { streams: u32, off: bool },
    Udp { flows: u32 },
    Install100k,
    Tcp100k,
    Udp100k,
}

fn plan(measured: &BTreeSet<&'static str>) -> Vec<Step> {
    let has = |m: &str| measured.contains(m);
    let mut v = Vec::new();
    if has("ping_p50_ms") || has("ping_p99_ms") {
        v.push(Step::Ping);
    }
    // Default offloads first: turning them off is not undone.
    for (metric, streams, off) in [
        ("tcp_default_gbps", 1, false),
        ("tcp4_default_gbps", 4, false),
        ("tcp_off_gbps", 1, true),
        ("tcp4_off_gbps", 4, true),
    ] {
        if has(metric) {
            v.push(Step::Tcp { streams, off });
        }
    }
    if has("udp1_offered_kpps") || has("udp1_delivered_kpps") {
        v.push(Step::Udp { flows: 1 });
    }
    if has("udp1000_offered_kpps") || has("udp1000_delivered_kpps") || has("cpu_ns_per_pkt") {
        v.push(Step::Udp { flows: 1000 });
    }
    if has("flows100k_install_s") || has("tcp_off_100k_gbps") || has("udp1000_delivered_100k_kpps")
    {
        v.push(Step::Install100k);
        if has("tcp_off_100k_gbps") {
            v.push(Step::Tcp100k);
        }
        if has("udp1000_delivered_100k_kpps") || has("udp1000_offered_100k_kpps") {
            v.push(Step::Udp100k);
        }
    }
    v
}

/// Rough seconds a step takes, for the estimate printed at the start.
fn step_secs(dev: Device, step: Step, args: &Args) -> f64 {
    let s = f64::from(args.seconds);
    match step {
        Step::Ping => f64::from(args.pings) * 0.02 + 0.5,
        Step::Tcp { .. } | Step::Tcp100k => s + 1.5,
        Step::Udp { .. } | Step::Udp100k => s + 1.0,
        Step::Install100k if dev.is_ovs() => 15.0,
        Step::Install100k => 3.0,
    }
}

fn setup_secs(dev: Device) -> f64 {
    match dev {
        Device::OvsVxlan => 8.0,
        d if d.is_vxlan() => 5.0,
        Device::Ovs => 4.0,
        _ => 2.5,
    }
}

#[derive(Serialize, Clone)]
struct Measurement {
    round: usize,
    device: String,
    metric: String,
    value: Option<f64>,
    error: Option<String>,
}

#[derive(Serialize)]
struct Ratio {
    name: String,
    metric: String,
    higher_is_better: bool,
    per_round: Vec<Option<f64>>,
    summary: Option<Summary>,
}

fn sh(cmd: &str) -> String {
    std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn fmt_summary(s: Option<Summary>, digits: usize) -> String {
    match s {
        Some(s) if s.n > 1 => format!("{:.d$} [{:.d$}–{:.d$}]", s.median, s.min, s.max, d = digits),
        Some(s) => format!("{:.d$}", s.median, d = digits),
        None => "fail".into(),
    }
}

fn digits(unit: &str) -> usize {
    match unit {
        "ms" => 3,
        "kpps" | "ns/pkt" => 0,
        "s" => 1,
        _ => 2,
    }
}

fn pktgen_main(argv: Vec<String>) -> ExitCode {
    let a = match PktgenArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let (Some(src_mac), Some(dst_mac), Some(src_ip), Some(dst_ip)) = (
        pktgen::parse_mac(&a.src_mac),
        pktgen::parse_mac(&a.dst_mac),
        pktgen::parse_ip(&a.src_ip),
        pktgen::parse_ip(&a.dst_ip),
    ) else {
        eprintln!("pktgen: bad MAC or IPv4 address");
        return ExitCode::from(2);
    };
    if a.flows == 0 || !(a.seconds > 0.0 && a.seconds <= 3600.0) {
        eprintln!("pktgen: need --flows ≥ 1 and 0 < --seconds ≤ 3600");
        return ExitCode::from(2);
    }
    lab::install_signal_handlers();
    let spec = pktgen::Spec {
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        flows: a.flows,
    };
    println!("pktgen: {} {} flow(s)", a.ifname, a.flows);
    match pktgen::send(
        &a.ifname,
        &spec,
        Duration::from_secs_f64(a.seconds),
        a.max,
        a.pps,
        lab::stopped,
    ) {
        Ok(s) => {
            println!(
                "pktgen: sent {} packets in {:.6} s ({:.0} pps)",
                s.packets,
                s.seconds,
                s.packets as f64 / s.seconds.max(1e-9)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pktgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves `--metrics` into metric names; the bool is "vxlan group asked".
fn selected_metrics(list: &[String]) -> Result<(BTreeSet<&'static str>, bool), String> {
    let mut set = BTreeSet::new();
    let mut vxlan = false;
    if list.is_empty() {
        return Ok((METRICS.iter().map(|d| d.name).collect(), true));
    }
    for item in list {
        let item = item.trim();
        if item == "vxlan" {
            vxlan = true;
        } else if GROUPS.contains(&item) {
            set.extend(METRICS.iter().filter(|d| d.group == item).map(|d| d.name));
        } else if let Some(d) = metric_def(item) {
            set.insert(d.name);
            // A delivered rate is read against what the generator offered.
            if let Some(o) = metric_def(&d.name.replace("delivered", "offered")) {
                set.insert(o.name);
            }
        } else {
            return Err(format!(
                "unknown metric {item} (groups: {}; metrics: {})",
                GROUPS.join(", "),
                METRICS
                    .iter()
                    .map(|d| d.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok((set, vxlan))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("pktgen") {
        return pktgen_main(argv[1..].to_vec());
    }
    let mut args = Args::parse();
    if args.quick {
        args.rounds = 1;
        args.seconds = 1;
    }
    args.rounds = args.rounds.max(1);
    args.seconds = args.seconds.max(1);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("rswitch-bench: must run as root (it creates network namespaces)");
        return ExitCode::from(2);
    }
    for tool in ["ip", "iperf3", "ping", "ethtool", "timeout"] {
        if lab::find_bin(tool).is_none() {
            eprintln!("rswitch-bench: `{tool}` not found");
            return ExitCode::from(2);
        }
    }
    let (selected, vxlan_group) = match selected_metrics(&args.metrics) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("rswitch-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let bin_dir = args.bin_dir.clone().unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release"))
    });
    let tools = Tools {
        bin_dir,
        base_bin_dir: args.baseline_bin_dir.clone(),
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rswitch-bench: cannot find my own executable: {e}");
            return ExitCode::FAILURE;
        }
    };

    let explicit = !args.devices.is_empty();
    let mut devices: Vec<Device> = if !explicit {
        Device::ALL
            .into_iter()
            .filter(|d| *d != Device::RswitchBase || tools.base_bin_dir.is_some())
            .filter(|d| !d.is_vxlan() || vxlan_group)
            .collect()
    } else {
        let mut v = Vec::new();
        for d in &args.devices {
            match Device::from_name(d.trim()) {
                Some(d) if !v.contains(&d) => v.push(d),
                Some(_) => {}
                None => {
                    eprintln!("rswitch-bench: unknown device {d}");
                    return ExitCode::from(2);
                }
            }
        }
        if tools.base_bin_dir.is_some() && !v.contains(&Device::RswitchBase) {
            v.push(Device::RswitchBase);
        }
        v
    };
    if devices.iter().any(|d| d.is_ovs()) && !lab::ovs_installed() {
        eprintln!("rswitch-bench: Open vSwitch not installed; skipping ovs and ovs-vxlan");
        devices.retain(|d| !d.is_ovs());
    }
    if devices.contains(&Device::RswitchBase) && tools.base_bin_dir.is_none() {
        eprintln!("rswitch-bench: rswitch-base needs --baseline-bin-dir");
        return ExitCode::from(2);
    }
    let bins = ["rswitchd", "rswitch", "rswitch-ofctl"];
    let mut dirs = Vec::new();
    if devices
        .iter()
        .any(|d| d.is_rswitch() && *d != Device::RswitchBase)
    {
        dirs.push(tools.bin_dir.clone());
    }
    if let (true, Some(b)) = (
        devices.contains(&Device::RswitchBase),
        tools.base_bin_dir.clone(),
    ) {
        dirs.push(b);
    }
    for d in dirs {
        if !bins.iter().all(|b| d.join(b).is_file()) {
            eprintln!(
                "rswitch-bench: rswitchd/rswitch/rswitch-ofctl not found in {}; build them with `cargo build --release -p rswitch-cli` or pass --bin-dir / --baseline-bin-dir",
                d.display()
            );
            return ExitCode::from(2);
        }
    }
    // What each device measures.
    let measured: BTreeMap<&'static str, BTreeSet<&'static str>> = devices
        .iter()
        .map(|&d| {
            let set = METRICS
                .iter()
                .map(|m| m.name)
                .filter(|m| applicable(d, m))
                .filter(|m| selected.contains(m) || (d.is_vxlan() && vxlan_group))
                .collect();
            (d.name(), set)
        })
        .collect();
    devices.retain(|d| {
        let keep = !measured[d.name()].is_empty();
        if !keep && explicit {
            eprintln!(
                "rswitch-bench: {}: none of the selected metrics applies; skipped",
                d.name()
            );
        }
        keep
    });
    if devices.is_empty() {
        eprintln!("rswitch-bench: nothing to measure");
        return ExitCode::from(2);
    }
    let plans: BTreeMap<&'static str, Vec<Step>> = devices
        .iter()
        .map(|d| (d.name(), plan(&measured[d.name()])))
        .collect();
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("rswitch-bench: {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    lab::install_signal_handlers();

    // The 100k-flow file, written once into the output directory.
    let flows_file = args.out.join("extra-flows-100k.txt");
    if plans.values().flatten().any(|s| *s == Step::Install100k) {
        if let Err(e) = std::fs::write(&flows_file, extra_flows(100_000)) {
            eprintln!("rswitch-bench: {}: {e}", flows_file.display());
            return ExitCode::FAILURE;
        }
    }

    let total: usize = args.rounds * plans.values().map(Vec::len).sum::<usize>();
    let estimate: f64 = args.rounds as f64
        * devices
            .iter()
            .map(|&d| {
                setup_secs(d)
                    + plans[d.name()]
                        .iter()
                        .map(|&s| step_secs(d, s, &args))
                        .sum::<f64>()
            })
            .sum::<f64>();
    let command = argv.join(" ");
    println!("rswitch-bench: {command}");
    println!(
        "rswitch-bench: {} round(s), {} s per iperf3/UDP run, devices: {}; {} measurements, estimated {:.0} min {:.0} s",
        args.rounds,
        args.seconds,
        devices
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", "),
        total,
        (estimate / 60.0).floor(),
        estimate % 60.0
    );
    // SAFETY: sysconf has no preconditions.
    let clk_tck = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        t if t > 0 => t as f64,
        _ => 100.0,
    };
    // A generous bound on the generator's count (no VM sends 20 Mpps).
    let udp_max = u64::from(args.seconds) * 20_000_000;

    let mut k = 0;
    let mut ms: Vec<Measurement> = Vec::new();
    let mut port: u16 = 5201;
    let started = std::time::Instant::now();
    'rounds: for round in 0..args.rounds {
        for dev in rotation(&devices, round) {
            if lab::stopped() {
                break 'rounds;
            }
            let mine = &measured[dev.name()];
            let steps = &plans[dev.name()];
            let record = |ms: &mut Vec<Measurement>, metric: &str, r: Result<f64, String>| {
                if mine.contains(metric) {
                    ms.push(Measurement {
                        round,
                        device: dev.name().into(),
                        metric: metric.into(),
                        value: r.as_ref().ok().copied(),
                        error: r.err(),
                    });
                }
            };
            let pre = |k: usize| {
                format!(
                    "[{k}/{total}] {:>4.0}s round {} {:<15}",
                    started.elapsed().as_secs_f64(),
                    round + 1,
                    dev.name()
                )
            };
            let mut lab = match Lab::build(dev, &tools) {
                Ok(l) => l,
                Err(e) => {
                    k += steps.len();
                    println!("{} lab setup failed: {e}", pre(k));
                    for m in mine {
                        record(&mut ms, m, Err(format!("setup: {e}")));
                    }
                    continue;
                }
            };
            let mut offloads_off = false;
            let mut extra_flows_ok: Result<(), String> = Err("100k flows not installed".into());
            for &step in steps {
                if lab::stopped() {
                    break 'rounds;
                }
                k += 1;
                let p = pre(k);
                match step {
                    Step::Ping => match lab.ping(args.pings) {
                        Ok(rtts) => {
                            let p50 = percentile(&rtts, 50.0).unwrap_or(f64::NAN);
                            let p99 = percentile(&rtts, 99.0).unwrap_or(f64::NAN);
                            println!(
                                "{p} ping              p50 {p50:.3} ms  p99 {p99:.3} ms ({} replies)",
                                rtts.len()
                            );
                            record(&mut ms, "ping_p50_ms", Ok(p50));
                            record(&mut ms, "ping_p99_ms", Ok(p99));
                        }
                        Err(e) => {
                            println!("{p} ping              failed: {e}");
                            record(&mut ms, "ping_p50_ms", Err(e.clone()));
                            record(&mut ms, "ping_p99_ms", Err(e));
                        }
                    },
                    Step::Tcp { .. } | Step::Tcp100k => {
                        let (streams, off, metric) = match step {
                            Step::Tcp {
                                streams: 1,
                                off: true,
                            } => (1, true, "tcp_off_gbps"),
                            Step::Tcp {
                                streams: 1,
                                off: false,
                            } => (1, false, "tcp_default_gbps"),
                            Step::Tcp { off: true, .. } => (4, true, "tcp4_off_gbps"),
                            Step::Tcp { .. } => (4, false, "tcp4_default_gbps"),
                            _ => (1, true, "tcp_off_100k_gbps"),
                        };
                        let mut r = Ok(());
                        if off && !offloads_off {
                            r = lab.offloads_off();
                            offloads_off = r.is_ok();
                        }
                        if step == Step::Tcp100k {
                            r = r.and(extra_flows_ok.clone());
                        }
                        let r = r
                            .and_then(|_| lab.iperf3(args.seconds, streams, port))
                            .map(|bps| bps / 1e9);
                        port = if port >= 5290 { 5201 } else { port + 1 };
                        let label = format!("{metric:<17}");
                        match &r {
                            Ok(g) => println!("{p} {label} {g:.3} Gbit/s"),
                            Err(e) => println!("{p} {label} failed: {e}"),
                        }
                        record(&mut ms, metric, r);
                    }
                    Step::Udp { .. } | Step::Udp100k => {
                        let (flows, sfx) = match step {
                            Step::Udp { flows } => (flows, ""),
                            _ => (1000, "_100k"),
                        };
                        let cpu0 = lab.switch_cpu_ticks();
                        let r = if step == Step::Udp100k {
                            extra_flows_ok.clone()
                        } else {
                            Ok(())
                        }
                        .and_then(|_| lab.udp(&exe, flows, args.seconds, udp_max, args.udp_pps));
                        let cpu1 = lab.switch_cpu_ticks();
                        let (mo, md) = (
                            format!("udp{flows}_offered{sfx}_kpps"),
                            format!("udp{flows}_delivered{sfx}_kpps"),
                        );
                        match r {
                            Ok((sent, secs, delivered)) => {
                                let (o, d) =
                                    (sent as f64 / secs / 1e3, delivered as f64 / secs / 1e3);
                                let mut line = format!(
                                    "{p} udp {flows:>4} flow{}{:<6} offered {o:.0} kpps, delivered {d:.0} kpps ({:.1}%)",
                                    if flows == 1 { " " } else { "s" },
                                    if sfx.is_empty() { "" } else { ", 100k" },
                                    if sent > 0 { 100.0 * delivered as f64 / sent as f64 } else { 0.0 }
                                );
                                record(&mut ms, &mo, Ok(o));
                                record(&mut ms, &md, Ok(d));
                                if flows == 1000 && sfx.is_empty() && dev.has_process() {
                                    let cpu =
                                        match (cpu0, cpu1) {
                                            (Some(a), Some(b)) if delivered > 0 => {
                                                Ok((b.saturating_sub(a)) as f64 / clk_tck * 1e9
                                                    / delivered as f64)
                                            }
                                            (Some(_), Some(_)) => {
                                                Err("no packets delivered".to_string())
                                            }
                                            _ => Err("cannot read /proc/PID/stat of the switch"
                                                .to_string()),
                                        };
                                    if let Ok(c) = &cpu {
                                        line.push_str(&format!(", switch CPU {c:.0} ns/pkt"));
                                    }
                                    record(&mut ms, "cpu_ns_per_pkt", cpu);
                                }
                                println!("{line}");
                            }
                            Err(e) => {
                                println!("{p} udp {flows:>4} flows{sfx} failed: {e}");
                                record(&mut ms, &mo, Err(e.clone()));
                                record(&mut ms, &md, Err(e.clone()));
                                if flows == 1000 && sfx.is_empty() {
                                    record(&mut ms, "cpu_ns_per_pkt", Err(e));
                                }
                            }
                        }
                    }
                    Step::Install100k => {
                        let r = lab.add_flows_file(&flows_file);
                        let idle = lab.wait_switch_idle(Duration::from_secs(20));
                        match &r {
                            Ok(t) => println!(
                                "{p} add-flows 100,000 extra flows: {t:.1} s (then {:.1} s until the switch was idle)",
                                idle.as_secs_f64()
                            ),
                            Err(e) => println!("{p} add-flows 100,000 extra flows failed: {e}"),
                        }
                        extra_flows_ok =
                            r.clone().map(|_| ()).map_err(|e| format!("add-flows: {e}"));
                        record(&mut ms, "flows100k_install_s", r);
                    }
                }
            }
            drop(lab);
        }
    }
    let interrupted = lab::stopped();
    report(&args, &command, &devices, &measured, &ms, interrupted)
}

/// Summaries, ratios, table, JSON and SVG.
fn report(
    args: &Args,
    command: &str,
    devices: &[Device],
    measured: &BTreeMap<&'static str, BTreeSet<&'static str>>,
    ms: &[Measurement],
    interrupted: bool,
) -> ExitCode {
    let value = |round: usize, dev: &str, metric: &str| -> Option<f64> {
        ms.iter()
            .find(|m| m.round == round && m.device == dev && m.metric == metric)
            .and_then(|m| m.value)
    };
    let rounds = args.rounds;
    // Per device and metric.
    let mut summary: BTreeMap<String, BTreeMap<String, Option<Summary>>> = BTreeMap::new();
    for d in devices {
        let e = summary.entry(d.name().to_string()).or_default();
        for m in &measured[d.name()] {
            let vals: Vec<f64> = (0..rounds).filter_map(|r| value(r, d.name(), m)).collect();
            e.insert(m.to_string(), summarize(&vals));
        }
    }
    let ratio_of = |num: &dyn Fn(usize) -> Option<f64>, den: &dyn Fn(usize) -> Option<f64>| {
        let per_round: Vec<Option<f64>> = (0..rounds)
            .map(|i| match (num(i), den(i)) {
                (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                _ => None,
            })
            .collect();
        let vals: Vec<f64> = per_round.iter().flatten().copied().collect();
        let s = summarize(&vals);
        (per_round, s)
    };
    // Within-device ratios (delivered share, 100k vs 1 flow).
    let mut derived = Vec::new();
    for d in devices {
        for (name, num, den) in DERIVED {
            if !measured[d.name()].contains(num) || !measured[d.name()].contains(den) {
                continue;
            }
            let (per_round, summary) =
                ratio_of(&|i| value(i, d.name(), num), &|i| value(i, d.name(), den));
            derived.push(Ratio {
                name: d.name().into(),
                metric: name.into(),
                higher_is_better: true,
                per_round,
                summary,
            });
        }
    }
    // Cross-device ratios.
    let mut ratios = Vec::new();
    for (a, b) in PAIRS {
        if !devices.contains(&a) || !devices.contains(&b) {
            continue;
        }
        for md in METRICS {
            let m = md.name;
            if m.contains("offered") || m == "flows100k_install_s" {
                continue; // the generator's rate / a one-off cost, not a ratio of interest
            }
            if !measured[a.name()].contains(m) || !measured[b.name()].contains(m) {
                continue;
            }
            let (per_round, summary) =
                ratio_of(&|i| value(i, a.name(), m), &|i| value(i, b.name(), m));
            ratios.push(Ratio {
                name: format!("{}/{}", a.name(), b.name()),
                metric: m.into(),
                higher_is_better: md.higher_is_better,
                per_round,
                summary,
            });
        }
    }

    // Tables, one per metric group.
    println!(
        "\nmedian [min–max] over {} round(s){}; n/a = does not apply, - = not selected:",
        rounds,
        if interrupted { " (interrupted)" } else { "" }
    );
    for g in ["tcp", "udp", "ping", "flows100k"] {
        let cols: Vec<&MetricDef> = METRICS.iter().filter(|d| d.group == g).collect();
        let rows: Vec<&Device> = devices
            .iter()
            .filter(|d| cols.iter().any(|c| measured[d.name()].contains(c.name)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let w = if rounds > 1 { 24 } else { 15 };
        let mut head = format!("{:<15}", "device");
        for c in &cols {
            head.push_str(&format!(" {:>w$}", format!("{} {}", c.label, c.unit)));
        }
        println!("\n{head}");
        for d in rows {
            let mut line = format!("{:<15}", d.name());
            for c in &cols {
                let cell = if !applicable(*d, c.name) {
                    "n/a".to_string()
                } else if !measured[d.name()].contains(c.name) {
                    "-".to_string()
                } else {
                    fmt_summary(summary[d.name()][c.name], digits(c.unit))
                };
                line.push_str(&format!(" {cell:>w$}"));
            }
            println!("{line}");
        }
    }
    if !derived.is_empty() {
        println!("\nper device, per-round ratio median [min–max] (delivered/offered; 100k flows / 1 flow):");
        for r in &derived {
            println!(
                "{:<30} {:<28} {}",
                r.name,
                r.metric,
                fmt_summary(r.summary, 3)
            );
        }
    }
    if !ratios.is_empty() {
        println!("\nper-round ratios, median [min–max]:");
        for r in &ratios {
            println!(
                "{:<30} {:<28} {:<24} ({} is better)",
                r.name,
                r.metric,
                fmt_summary(r.summary, 2),
                if r.higher_is_better {
                    "higher"
                } else {
                    "lower"
                }
            );
        }
    }

    // JSON.
    let json = serde_json::json!({
        "command": command,
        "machine": {
            "uname": sh("uname -a"),
            "cpus": sh("nproc"),
            "cpu_model": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
            "iperf3": sh("iperf3 --version 2>&1 | head -1"),
            "ovs": sh("ovs-vswitchd --version 2>/dev/null | head -1"),
            "loadavg": sh("cat /proc/loadavg"),
        },
        "config": {
            "rounds": rounds,
            "seconds": args.seconds,
            "pings": args.pings,
            "udp_pps": args.udp_pps,
            "devices": devices.iter().map(|d| d.name()).collect::<Vec<_>>(),
            "measured": measured,
        },
        "metrics": METRICS.iter().map(|d| serde_json::json!({
            "name": d.name, "unit": d.unit, "group": d.group,
            "higher_is_better": d.higher_is_better,
        })).collect::<Vec<_>>(),
        "interrupted": interrupted,
        "measurements": ms,
        "summary": summary,
        "per_device_ratios": derived,
        "ratios": ratios,
    });
    let jp = args.out.join("results.json");
    if let Err(e) = std::fs::write(&jp, serde_json::to_string_pretty(&json).unwrap_or_default()) {
        eprintln!("rswitch-bench: {}: {e}", jp.display());
    }

    // SVG: one panel per metric group.
    let color = |d: Device| Device::ALL.iter().position(|x| *x == d).unwrap_or(0);
    let med = |d: Device, m: &str| {
        summary
            .get(d.name())
            .and_then(|s| s.get(m))
            .copied()
            .flatten()
            .map(|s| s.median)
    };
    let der = |d: Device, m: &str| {
        derived
            .iter()
            .find(|r| r.name == d.name() && r.metric == m)
            .and_then(|r| r.summary)
            .map(|s| s.median * 100.0)
    };
    type Get<'a> = &'a dyn Fn(Device, &str) -> Option<f64>;
    let mut panels = Vec::new();
    let mut panel = |title: &str, unit: &str, vx: bool, cats: &[(&str, &str)], get: Get| {
        let series: Vec<Series> = devices
            .iter()
            .filter(|d| d.is_vxlan() == vx)
            .filter(|d| {
                cats.iter().any(|(m, _)| {
                    measured[d.name()].contains(m)
                        || DERIVED
                            .iter()
                            .any(|(n, a, _)| n == m && measured[d.name()].contains(a))
                })
            })
            .map(|&d| Series {
                name: d.name().into(),
                color: color(d),
                values: cats.iter().map(|(m, _)| get(d, m)).collect(),
            })
            .collect();
        if !series.is_empty() {
            panels.push(Panel {
                title: title.into(),
                unit: unit.into(),
                categories: cats.iter().map(|(_, l)| l.to_string()).collect(),
                series,
            });
        }
    };
    panel(
        "TCP throughput (iperf3)",
        "Gbit/s",
        false,
        &[
            ("tcp_off_gbps", "1 stream, offl. off"),
            ("tcp_default_gbps", "1 stream, default"),
            ("tcp4_off_gbps", "4 streams, offl. off"),
            ("tcp4_default_gbps", "4 streams, default"),
        ],
        &med,
    );
    panel(
        "64-byte UDP",
        "kpps",
        false,
        &[
            ("udp1_offered_kpps", "1 flow offered"),
            ("udp1_delivered_kpps", "1 flow delivered"),
            ("udp1000_offered_kpps", "1000 fl. offered"),
            ("udp1000_delivered_kpps", "1000 fl. delivered"),
        ],
        &med,
    );
    panel(
        "Switch CPU per delivered packet (1000 flows)",
        "ns",
        false,
        &[("cpu_ns_per_pkt", "1000 flows, full rate")],
        &med,
    );
    panel(
        "Latency (ping)",
        "ms",
        false,
        &[("ping_p50_ms", "p50"), ("ping_p99_ms", "p99")],
        &med,
    );
    panel(
        "100,000 installed flows vs 1 flow",
        "% of 1-flow result",
        false,
        &[
            ("tcp_off_100k_vs_1flow", "TCP offl. off"),
            ("udp1000_100k_vs_1flow", "UDP 1000 fl. delivered"),
        ],
        &der,
    );
    panel(
        "VXLAN: TCP throughput",
        "Gbit/s",
        true,
        &[
            ("tcp_off_gbps", "1 stream, offl. off"),
            ("tcp_default_gbps", "1 stream, default"),
        ],
        &med,
    );
    panel(
        "VXLAN: latency",
        "ms",
        true,
        &[("ping_p50_ms", "p50"), ("ping_p99_ms", "p99")],
        &med,
    );
    let sp = args.out.join("results.svg");
    let title = format!(
        "rswitch-bench: medians over {} round(s), {} s runs",
        rounds, args.seconds
    );
    if let Err(e) = std::fs::write(&sp, render(&title, &panels)) {
        eprintln!("rswitch-bench: {}: {e}", sp.display());
    }
    println!("\nwrote {} and {}", jp.display(), sp.display());
    if interrupted {
        eprintln!("rswitch-bench: interrupted; lab cleaned up");
        return ExitCode::from(130);
    }
    ExitCode::SUCCESS
}
