//! The benchmark harness behind `rswitch-bench`: builds a namespace lab per
//! device under test, measures it with iperf3 and ping, and reports.
//!
//! Pure parts (rotation, statistics, parsing, SVG) are unit tested; the lab
//! part needs root and is exercised by running the binary.

pub mod lab;
pub mod parse;
pub mod stats;
pub mod svg;
