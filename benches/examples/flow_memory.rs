//! Steady memory per installed flow: heap bytes held by a FlowTables with
//! 100,000 flows, divided by the flow count (run with --release).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use ofproto::syntax::flow::{parse_flows_file, FlowModCommand};
use ofproto::table::FlowTables;
use rswitch_benches::flows::flow_lines;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only
// keeps a running total of live bytes on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by System.alloc with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let n = 100_000;
    let text = flow_lines(n);
    let fms = parse_flows_file(&text, FlowModCommand::Add, None).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    let mut t = FlowTables::new();
    t.apply_batch(&fms, 0).unwrap();
    let after = LIVE.load(Ordering::Relaxed);
    drop(fms);
    drop(text);
    assert_eq!(t.len(), n);
    println!(
        "{} flows: {} bytes of heap, {:.0} bytes per flow",
        n,
        after - before,
        (after - before) as f64 / n as f64
    );
}
