//! ofproto: rswitch's OpenFlow brain as a pure library.
//!
//! No sockets, threads or clocks: the caller passes packets' flow keys and
//! the current time in, and gets back what to do. Every rule of the pipeline
//! is therefore testable in microseconds without root.

pub mod action;
pub mod classifier;
pub mod dump;
pub mod exact_cache;
pub mod field;
pub mod flow_match;
pub mod key;
pub mod learn;
pub mod normal;
pub mod pipeline;
pub mod port;
pub mod syntax;
pub mod table;
pub mod trace;

pub use field::Field;
pub use flow_match::Match;
pub use key::FlowKey;

/// Monotonic time in milliseconds, supplied by the caller (ofproto never
/// reads a clock).
pub type Millis = u64;
