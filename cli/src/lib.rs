//! rswitch's command-line tools as a library: the `ovs-vsctl` language
//! ([`vsctl`]) that the `rswitch` command and the daemon share.

pub mod capture;
pub mod control;
pub mod daemon;
pub mod lab;
pub mod ofctl;
pub mod picture;
pub mod vsctl;
