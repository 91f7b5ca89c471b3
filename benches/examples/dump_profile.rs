//! Formats a 100,000-flow dump repeatedly (for profiling with perf).
use ofproto::syntax::flow::{parse_flows_file, FlowModCommand};
use ofproto::table::FlowTables;
use rswitch_benches::flows::flow_lines;
fn main() {
    let fms = parse_flows_file(&flow_lines(100_000), FlowModCommand::Add, None).unwrap();
    let mut t = FlowTables::new();
    t.apply_batch(&fms, 0).unwrap();
    let opts = ofproto::dump::DumpOptions::default();
    let start = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..5 {
        n += ofproto::dump::dump_flows(&t, 5_000, &opts).len();
    }
    println!("{} bytes, {:?} per dump", n / 5, start.elapsed() / 5);
}
