//! datapath: rswitch's packets and ports: wire formats, flow-key extraction,
//! header rewrites and offload handling, the port backends, and the
//! multithreaded forwarding engine.

pub mod packet;
pub mod port;
