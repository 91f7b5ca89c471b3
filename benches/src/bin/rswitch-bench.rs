//! rswitch-bench: builds a namespace lab per device under test (rswitch in
//! secure and standalone mode, Open vSwitch userspace, the Linux bridge, a
//! plain veth pair) and measures TCP throughput and latency in interleaved
//! rounds. Run as root. See BENCHMARKS.md, "Benchmark harness".

#[path = "../harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use harness::lab::{self, Device, Lab, Tools};
use harness::stats::{percentile, rotation, summarize, Summary};
use harness::svg::{render, Panel};
use serde::Serialize;

#[derive(Parser, Debug)]
#[command(
    name = "rswitch-bench",
    about = "side-by-side switch benchmark (run as root)"
)]
struct Args {
    /// Interleaved rounds (device order rotated each round).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds per iperf3 run.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Output directory for results.json and results.svg.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// One round of 1-second runs: a smoke test of the harness.
    #[arg(long)]
    quick: bool,
    /// Comma-separated devices [default: all available]:
    /// rswitch-secure, rswitch-normal, ovs, bridge, veth.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// Directory holding rswitchd, rswitch and rswitch-ofctl.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Pings per latency measurement.
    #[arg(long, default_value_t = 50)]
    pings: u32,
}

const METRICS: [(&str, &str); 4] = [
    ("tcp_off_gbps", "Gbit/s"),
    ("tcp_default_gbps", "Gbit/s"),
    ("ping_p50_ms", "ms"),
    ("ping_p99_ms", "ms"),
];

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

fn main() -> ExitCode {
    let mut args = Args::parse();
    if args.quick {
        args.rounds = 1;
        args.seconds = 1;
    }
    args.rounds = args.rounds.max(1);
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
    let bin_dir = args.bin_dir.clone().unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release"))
    });
    let tools = Tools { bin_dir };

    let mut devices: Vec<Device> = if args.devices.is_empty() {
        Device::ALL.to_vec()
    } else {
        let mut v = Vec::new();
        for d in &args.devices {
            match Device::from_name(d) {
                Some(d) => v.push(d),
                None => {
                    eprintln!("rswitch-bench: unknown device {d}");
                    return ExitCode::from(2);
                }
            }
        }
        v
    };
    if devices.contains(&Device::Ovs) && !lab::ovs_installed() {
        eprintln!("rswitch-bench: Open vSwitch not installed; skipping device ovs");
        devices.retain(|d| *d != Device::Ovs);
    }
    if devices
        .iter()
        .any(|d| matches!(d, Device::RswitchSecure | Device::RswitchNormal))
        && !["rswitchd", "rswitch", "rswitch-ofctl"]
            .iter()
            .all(|b| tools.bin_dir.join(b).is_file())
    {
        eprintln!(
            "rswitch-bench: rswitchd/rswitch/rswitch-ofctl not found in {}; build them with `cargo build --release -p rswitch-cli` or pass --bin-dir",
            tools.bin_dir.display()
        );
        return ExitCode::from(2);
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("rswitch-bench: {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    lab::install_signal_handlers();

    let per_device = 3; // ping, tcp default, tcp offloads off
    let total = args.rounds * devices.len() * per_device;
    let mut k = 0;
    let mut ms: Vec<Measurement> = Vec::new();
    let mut port: u16 = 5201;
    println!(
        "rswitch-bench: {} round(s), {} s per iperf3 run, devices: {}",
        args.rounds,
        args.seconds,
        devices
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    'rounds: for round in 0..args.rounds {
        for dev in rotation(&devices, round) {
            if lab::stopped() {
                break 'rounds;
            }
            let record = |ms: &mut Vec<Measurement>, metric: &str, r: Result<f64, String>| {
                ms.push(Measurement {
                    round,
                    device: dev.name().into(),
                    metric: metric.into(),
                    value: r.as_ref().ok().copied(),
                    error: r.err(),
                });
            };
            let mut lab = match Lab::build(dev, &tools) {
                Ok(l) => l,
                Err(e) => {
                    k += per_device;
                    println!(
                        "[{k}/{total}] round {} {}: lab setup failed: {e}",
                        round + 1,
                        dev.name()
                    );
                    for (m, _) in METRICS {
                        record(&mut ms, m, Err(format!("setup: {e}")));
                    }
                    continue;
                }
            };
            // Latency.
            k += 1;
            match lab.ping(args.pings) {
                Ok(rtts) => {
                    let p50 = percentile(&rtts, 50.0).unwrap_or(f64::NAN);
                    let p99 = percentile(&rtts, 99.0).unwrap_or(f64::NAN);
                    println!(
                        "[{k}/{total}] round {} {:<15} ping        p50 {p50:.3} ms  p99 {p99:.3} ms ({} replies)",
                        round + 1,
                        dev.name(),
                        rtts.len()
                    );
                    record(&mut ms, "ping_p50_ms", Ok(p50));
                    record(&mut ms, "ping_p99_ms", Ok(p99));
                }
                Err(e) => {
                    println!(
                        "[{k}/{total}] round {} {:<15} ping        failed: {e}",
                        round + 1,
                        dev.name()
                    );
                    record(&mut ms, "ping_p50_ms", Err(e.clone()));
                    record(&mut ms, "ping_p99_ms", Err(e));
                }
            }
            // TCP at default offloads, then with offloads off.
            for (metric, label) in [
                ("tcp_default_gbps", "tcp default"),
                ("tcp_off_gbps", "tcp off    "),
            ] {
                if lab::stopped() {
                    break 'rounds;
                }
                k += 1;
                let r = if metric == "tcp_off_gbps" {
                    lab.offloads_off()
                        .and_then(|_| lab.iperf3(args.seconds, port))
                } else {
                    lab.iperf3(args.seconds, port)
                };
                port = if port >= 5290 { 5201 } else { port + 1 };
                let r = r.map(|bps| bps / 1e9);
                match &r {
                    Ok(g) => println!(
                        "[{k}/{total}] round {} {:<15} {label} {g:.3} Gbit/s",
                        round + 1,
                        dev.name()
                    ),
                    Err(e) => println!(
                        "[{k}/{total}] round {} {:<15} {label} failed: {e}",
                        round + 1,
                        dev.name()
                    ),
                }
                record(&mut ms, metric, r);
            }
            drop(lab);
        }
    }
    let interrupted = lab::stopped();

    // Summaries per device and metric.
    let value = |round: usize, dev: &str, metric: &str| -> Option<f64> {
        ms.iter()
            .find(|m| m.round == round && m.device == dev && m.metric == metric)
            .and_then(|m| m.value)
    };
    let mut summary: BTreeMap<String, BTreeMap<String, Option<Summary>>> = BTreeMap::new();
    for d in &devices {
        let e = summary.entry(d.name().to_string()).or_default();
        for (m, _) in METRICS {
            let vals: Vec<f64> = (0..args.rounds)
                .filter_map(|r| value(r, d.name(), m))
                .collect();
            e.insert(m.to_string(), summarize(&vals));
        }
    }
    // Per-round ratios rswitch / baseline.
    let mut ratios = Vec::new();
    for r in [Device::RswitchSecure, Device::RswitchNormal] {
        for base in [Device::Ovs, Device::Bridge] {
            if !devices.contains(&r) || !devices.contains(&base) {
                continue;
            }
            for metric in ["tcp_off_gbps", "tcp_default_gbps", "ping_p50_ms"] {
                let per_round: Vec<Option<f64>> = (0..args.rounds)
                    .map(
                        |i| match (value(i, r.name(), metric), value(i, base.name(), metric)) {
                            (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                            _ => None,
                        },
                    )
                    .collect();
                let vals: Vec<f64> = per_round.iter().flatten().copied().collect();
                ratios.push(Ratio {
                    name: format!("{}/{}", r.name(), base.name()),
                    metric: metric.into(),
                    per_round,
                    summary: summarize(&vals),
                });
            }
        }
    }

    // Table.
    println!(
        "\nmedian [min–max] over {} round(s){}:",
        args.rounds,
        if interrupted { " (interrupted)" } else { "" }
    );
    println!(
        "{:<15} {:>26} {:>26} {:>22} {:>22}",
        "device",
        "TCP offl. off (Gbit/s)",
        "TCP default (Gbit/s)",
        "ping p50 (ms)",
        "ping p99 (ms)"
    );
    for d in &devices {
        let s = &summary[d.name()];
        println!(
            "{:<15} {:>26} {:>26} {:>22} {:>22}",
            d.name(),
            fmt_summary(s["tcp_off_gbps"], 2),
            fmt_summary(s["tcp_default_gbps"], 2),
            fmt_summary(s["ping_p50_ms"], 3),
            fmt_summary(s["ping_p99_ms"], 3)
        );
    }
    if !ratios.is_empty() {
        println!("\nper-round ratios, median [min–max] (throughput: higher is better; latency: lower is better):");
        for r in &ratios {
            println!(
                "{:<30} {:<17} {}",
                r.name,
                r.metric,
                fmt_summary(r.summary, 2)
            );
        }
    }
    let todo = [
        "64-byte UDP pps (offered and delivered), 1 and 1000 flows",
        "TCP with 4 streams",
        "switch CPU time per packet",
        "100,000 installed flows",
        "VXLAN variant (rswitch, OVS, kernel vxlan)",
    ];
    println!("\nTODO (not measured yet): {}", todo.join("; "));

    // JSON.
    let json = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": {
            "uname": sh("uname -a"),
            "cpus": sh("nproc"),
            "cpu_model": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
            "iperf3": sh("iperf3 --version 2>&1 | head -1"),
            "ovs": sh("ovs-vswitchd --version 2>/dev/null | head -1"),
        },
        "config": {
            "rounds": args.rounds,
            "seconds": args.seconds,
            "pings": args.pings,
            "devices": devices.iter().map(|d| d.name()).collect::<Vec<_>>(),
        },
        "interrupted": interrupted,
        "measurements": ms,
        "summary": summary,
        "ratios": ratios,
        "todo": todo,
    });
    let jp = args.out.join("results.json");
    if let Err(e) = std::fs::write(&jp, serde_json::to_string_pretty(&json).unwrap_or_default()) {
        eprintln!("rswitch-bench: {}: {e}", jp.display());
    }
    // SVG.
    let panels: Vec<Panel> = [
        ("TCP, offloads off", "tcp_off_gbps", "Gbit/s"),
        ("TCP, default offloads", "tcp_default_gbps", "Gbit/s"),
        ("ping p50", "ping_p50_ms", "ms"),
    ]
    .iter()
    .map(|(title, m, unit)| Panel {
        title: title.to_string(),
        unit: unit.to_string(),
        bars: devices
            .iter()
            .map(|d| {
                (
                    d.name().to_string(),
                    summary[d.name()][*m].map(|s| s.median),
                )
            })
            .collect(),
    })
    .collect();
    let sp = args.out.join("results.svg");
    let title = format!(
        "rswitch-bench: medians over {} round(s), {} s runs",
        args.rounds, args.seconds
    );
    if let Err(e) = std::fs::write(&sp, render(&title, &panels)) {
        eprintln!("rswitch-bench: {}: {e}", sp.display());
    }
    println!("wrote {} and {}", jp.display(), sp.display());
    if interrupted {
        eprintln!("rswitch-bench: interrupted; lab cleaned up");
        return ExitCode::from(130);
    }
    ExitCode::SUCCESS
}
