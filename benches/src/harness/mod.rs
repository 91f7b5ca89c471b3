//! The benchmark harness behind `rswitch-bench`: builds a namespace lab per
//! device under test, measures it with iperf3, its own 64-byte UDP
//! generator and ping, and reports.
//!
//! Pure parts (rotation, statistics, parsing, the generator's frames, the
//! extra-flows file, SVG) are unit tested; the lab part needs root and is
//! exercised by running the binary.

pub mod extraflows;
pub mod lab;
pub mod parse;
pub mod pktgen;
pub mod stats;
pub mod svg;
