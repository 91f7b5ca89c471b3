//! datapath: rswitch's packets and ports: wire formats, flow-key extraction,
//! header rewrites and offload handling, the port backends, and the
//! multithreaded forwarding engine.

pub mod capture;
pub mod engine;
pub mod extract;
pub mod gro;
pub mod offload;
pub mod packet;
pub mod port;
pub mod rewrite;
pub mod tunnel;
pub mod tunnel_gso;
pub mod wire;
