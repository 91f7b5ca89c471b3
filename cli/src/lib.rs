//! rswitch's command-line tools as a library: the `ovs-vsctl` language
//! ([`vsctl`]) that the `rswitch` command and the daemon share.

pub mod control;
pub mod daemon;
pub mod ofctl;
pub mod vsctl;
