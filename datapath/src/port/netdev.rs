//! Network-interface helpers (ifindex, MAC, MTU, flags, link state) via the
//! classic `SIOC*` ioctls, in the network namespace of a chosen socket.
//!
//! Interface ioctls act in the namespace of the socket they are issued on,
//! not of the calling thread. The free functions open a fresh socket, so they
//! act in the *calling thread's current* namespace; [`IfCtl::from_socket`]
//! instead borrows the namespace of an existing socket (e.g. an AF_PACKET
//! port opened inside a lab namespace), which lets an engine thread living in
//! another namespace still ask about that port's device.
//!
//! Every error names the interface and the operation (a [`PortError`]), and a
//! missing device is reported as [`PortFault::Gone`] (`io::ErrorKind::NotFound`).

use std::ffi::CStr;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{PortError, PortFault};

/// `ETHTOOL_GLINK` from `<linux/ethtool.h>` (not in the `libc` crate).
const ETHTOOL_GLINK: u32 = 0x0000_000a;

/// `struct ethtool_value` from `<linux/ethtool.h>`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// Interface flags as returned by `SIOCGIFFLAGS` (the low 16 bits of the
/// kernel's `dev_get_flags`; `IFF_LOWER_UP` is not among them, see
/// [`LinkState::carrier`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfFlags(pub u32);

impl IfFlags {
    pub const UP: u32 = libc::IFF_UP as u32;
    pub const BROADCAST: u32 = libc::IFF_BROADCAST as u32;
    pub const LOOPBACK: u32 = libc::IFF_LOOPBACK as u32;
    pub const RUNNING: u32 = libc::IFF_RUNNING as u32;
    pub const NOARP: u32 = libc::IFF_NOARP as u32;
    pub const PROMISC: u32 = libc::IFF_PROMISC as u32;
    pub const ALLMULTI: u32 = libc::IFF_ALLMULTI as u32;
    pub const MULTICAST: u32 = libc::IFF_MULTICAST as u32;

    /// Administratively up (`IFF_UP`).
    pub fn is_up(self) -> bool {
        self.0 & Self::UP != 0
    }
    /// Operationally up (`IFF_RUNNING`: up and RFC 2863 operstate UP).
    pub fn is_running(self) -> bool {
        self.0 & Self::RUNNING != 0
    }
    /// `IFF_PROMISC` as set with `SIOCSIFFLAGS`. Promiscuity requested
    /// through `PACKET_ADD_MEMBERSHIP` is counted separately by the kernel
    /// and does *not* show here.
    pub fn is_promisc(self) -> bool {
        self.0 & Self::PROMISC != 0
    }
}

/// Administrative and operational state of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkState {
    /// `IFF_UP`.
    pub admin_up: bool,
    /// `IFF_RUNNING`.
    pub oper_up: bool,
    /// Carrier (`IFF_LOWER_UP`, read with `ETHTOOL_GLINK`); for drivers
    /// without ethtool link reporting this falls back to `oper_up`. A veth
    /// has carrier only while its peer is up; a TAP only while a queue fd is
    /// attached.
    pub carrier: bool,
}

/// A handle for interface ioctls in one network namespace: the namespace of
/// the socket it wraps.
#[derive(Debug)]
pub struct IfCtl {
    fd: OwnedFd,
}

impl IfCtl {
    /// A control socket in the calling thread's current network namespace.
    pub fn current_ns() -> io::Result<IfCtl> {
        // AF_UNIX needs no protocol module and interface ioctls on it fall
        // through to the generic dev_ioctl() of its namespace.
        // SAFETY: socket() takes no pointers; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor that nothing else owns.
        Ok(IfCtl {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// A control handle in the namespace of `sock` (a socket of any family).
    /// The descriptor is duplicated, so `sock` may be closed afterwards.
    pub fn from_socket(sock: BorrowedFd<'_>) -> io::Result<IfCtl> {
        Ok(IfCtl {
            fd: sock.try_clone_to_owned()?,
        })
    }

    fn ioctl(
        &self,
        name: &str,
        op: &'static str,
        req: libc::c_ulong,
        ifr: &mut libc::ifreq,
    ) -> io::Result<()> {
        // SAFETY: every request issued here (SIOCG*/SIOCS* interface
        // requests and SIOCETHTOOL) reads and/or writes one `struct ifreq`,
        // which `ifr` points to and which lives for the call; pointers
        // inside it (ethtool's ifr_data) are set by the caller to memory
        // that also outlives the call.
        let r = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                req as libc::Ioctl,
                ifr as *mut libc::ifreq,
            )
        };
        if r < 0 {
            return Err(PortError::wrap(name, op, io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Interface index (`SIOCGIFINDEX`).
    pub fn ifindex(&self, name: &str) -> io::Result<u32> {
        let mut ifr = ifreq(name)?;
        self.ioctl(name, "SIOCGIFINDEX", libc::SIOCGIFINDEX, &mut ifr)?;
        // SAFETY: SIOCGIFINDEX filled the ifru_ifindex member.
        Ok(unsafe { ifr.ifr_ifru.ifru_ifindex } as u32)
    }

    /// Interface name for an index (`SIOCGIFNAME`); `Gone` when no device
    /// has that index (any more).
    pub fn ifname(&self, ifindex: u32) -> io::Result<String> {
        // SAFETY: ifreq is plain old data; all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { mem::zeroed() };
        ifr.ifr_ifru.ifru_ifindex = ifindex as libc::c_int;
        self.ioctl(
            &format!("ifindex {ifindex}"),
            "SIOCGIFNAME",
            libc::SIOCGIFNAME,
            &mut ifr,
        )?;
        // SAFETY: the kernel wrote a NUL-terminated name into ifr_name
        // (IFNAMSIZ bytes, the last of which it always leaves 0).
        let name = unsafe { CStr::from_ptr(ifr.ifr_name.as_ptr()) };
        Ok(name.to_string_lossy().into_owned())
    }

    /// Whether an interface of that name exists.
    pub fn exists(&self, name: &str) -> bool {
        self.ifindex(name).is_ok()
    }

    /// Hardware (MAC) address (`SIOCGIFHWADDR`).
    pub fn mac(&self, name: &str) -> io::Result<[u8; 6]> {
        let mut ifr = ifreq(name)?;
        self.ioctl(name, "SIOCGIFHWADDR", libc::SIOCGIFHWADDR, &mut ifr)?;
        // SAFETY: SIOCGIFHWADDR filled the ifru_hwaddr member.
        let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
        let mut mac = [0u8; 6];
        for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
            *m = *b as u8;
        }
        Ok(mac)
    }

    /// Sets the MAC address (`SIOCSIFHWADDR`, Ethernet devices).
    pub fn set_mac(&self, name: &str, mac: [u8; 6]) -> io::Result<()> {
        let mut ifr = ifreq(name)?;
        // SAFETY: sockaddr is plain old data; all-zero is a valid value.
        let mut sa: libc::sockaddr = unsafe { mem::zeroed() };
        sa.sa_family = libc::ARPHRD_ETHER;
        for (d, m) in sa.sa_data.iter_mut().zip(mac) {
            *d = m as libc::c_char;
        }
        ifr.ifr_ifru.ifru_hwaddr = sa;
        self.ioctl(name, "SIOCSIFHWADDR", libc::SIOCSIFHWADDR, &mut ifr)
    }

    /// MTU (`SIOCGIFMTU`).
    pub fn mtu(&self, name: &str) -> io::Result<u32> {
        let mut ifr = ifreq(name)?;
        self.ioctl(name, "SIOCGIFMTU", libc::SIOCGIFMTU, &mut ifr)?;
        // SAFETY: SIOCGIFMTU filled the ifru_mtu member.
        Ok(unsafe { ifr.ifr_ifru.ifru_mtu } as u32)
    }

    /// Sets the MTU (`SIOCSIFMTU`).
    pub fn set_mtu(&self, name: &str, mtu: u32) -> io::Result<()> {
        let mut ifr = ifreq(name)?;
        ifr.ifr_ifru.ifru_mtu = mtu as libc::c_int;
        self.ioctl(name, "SIOCSIFMTU", libc::SIOCSIFMTU, &mut ifr)
    }

    /// Interface flags (`SIOCGIFFLAGS`).
    pub fn flags(&self, name: &str) -> io::Result<IfFlags> {
        let mut ifr = ifreq(name)?;
        self.ioctl(name, "SIOCGIFFLAGS", libc::SIOCGIFFLAGS, &mut ifr)?;
        // SAFETY: SIOCGIFFLAGS filled the ifru_flags member.
        Ok(IfFlags(unsafe { ifr.ifr_ifru.ifru_flags } as u16 as u32))
    }

    /// Sets the `set` flags and clears the `clear` flags (read-modify-write
    /// with `SIOCGIFFLAGS`/`SIOCSIFFLAGS`; not atomic against other writers).
    pub fn set_flags(&self, name: &str, set: u32, clear: u32) -> io::Result<()> {
        let cur = self.flags(name)?.0;
        let new = (cur | set) & !clear;
        if new == cur {
            return Ok(());
        }
        let mut ifr = ifreq(name)?;
        ifr.ifr_ifru.ifru_flags = new as u16 as libc::c_short;
        self.ioctl(name, "SIOCSIFFLAGS", libc::SIOCSIFFLAGS, &mut ifr)
    }

    /// Brings the interface administratively up or down.
    pub fn set_up(&self, name: &str, up: bool) -> io::Result<()> {
        if up {
            self.set_flags(name, IfFlags::UP, 0)
        } else {
            self.set_flags(name, 0, IfFlags::UP)
        }
    }

    /// Admin state, operational state and carrier.
    pub fn link_state(&self, name: &str) -> io::Result<LinkState> {
        let f = self.flags(name)?;
        let mut ev = EthtoolValue {
            cmd: ETHTOOL_GLINK,
            data: 0,
        };
        let mut ifr = ifreq(name)?;
        ifr.ifr_ifru.ifru_data = (&mut ev as *mut EthtoolValue).cast();
        let carrier = match self.ioctl(name, "SIOCETHTOOL", libc::SIOCETHTOOL, &mut ifr) {
            Ok(()) => ev.data != 0,
            Err(e) if super::port_fault(&e) == Some(PortFault::Gone) => return Err(e),
            // No ethtool get_link in the driver (EOPNOTSUPP): RUNNING is
            // the best approximation the ioctl interface has.
            Err(_) => f.is_running(),
        };
        Ok(LinkState {
            admin_up: f.is_up(),
            oper_up: f.is_running(),
            carrier,
        })
    }
}

/// A zeroed `ifreq` carrying `name`; rejects names the kernel cannot hold
/// (empty, ≥ IFNAMSIZ bytes, containing NUL or '/').
pub(crate) fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    check_ifname(name)?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(ifr)
}

/// Validates an interface name (1..=15 bytes, no NUL, '/', or whitespace).
pub fn check_ifname(name: &str) -> io::Result<()> {
    let bad = name.is_empty()
        || name.len() >= libc::IFNAMSIZ
        || name
            .bytes()
            .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace());
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?}: invalid interface name (1 to 15 bytes, no '/', NUL or spaces)"),
        ));
    }
    Ok(())
}

/// Interface index in the current namespace (`if_nametoindex`).
pub fn ifindex(name: &str) -> io::Result<u32> {
    check_ifname(name)?;
    let c =
        std::ffi::CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c` is a valid NUL-terminated string for the call's duration.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(PortError::wrap(
            name,
            "if_nametoindex",
            io::Error::last_os_error(),
        ));
    }
    Ok(idx)
}

/// Interface name for an index in the current namespace.
pub fn ifname(ifindex: u32) -> io::Result<String> {
    IfCtl::current_ns()?.ifname(ifindex)
}

/// Whether the interface exists in the current namespace.
pub fn exists(name: &str) -> bool {
    ifindex(name).is_ok()
}

/// MAC address of an interface in the current namespace.
pub fn mac(name: &str) -> io::Result<[u8; 6]> {
    IfCtl::current_ns()?.mac(name)
}

/// Sets the MAC address of an interface in the current namespace.
pub fn set_mac(name: &str, mac: [u8; 6]) -> io::Result<()> {
    IfCtl::current_ns()?.set_mac(name, mac)
}

/// MTU of an interface in the current namespace.
pub fn mtu(name: &str) -> io::Result<u32> {
    IfCtl::current_ns()?.mtu(name)
}

/// Sets the MTU of an interface in the current namespace.
pub fn set_mtu(name: &str, mtu: u32) -> io::Result<()> {
    IfCtl::current_ns()?.set_mtu(name, mtu)
}

/// Flags of an interface in the current namespace.
pub fn flags(name: &str) -> io::Result<IfFlags> {
    IfCtl::current_ns()?.flags(name)
}

/// Sets/clears flags of an interface in the current namespace. Prefer
/// `PACKET_ADD_MEMBERSHIP` (what [`super::afpacket::AfPacketPort`] does)
/// over setting `IFF_PROMISC` here: the membership is reference-counted and
/// undone by the kernel when the socket closes, even after a crash.
pub fn set_flags(name: &str, set: u32, clear: u32) -> io::Result<()> {
    IfCtl::current_ns()?.set_flags(name, set, clear)
}

/// Brings an interface in the current namespace up or down.
pub fn set_up(name: &str, up: bool) -> io::Result<()> {
    IfCtl::current_ns()?.set_up(name, up)
}

/// Link state of an interface in the current namespace.
pub fn link_state(name: &str) -> io::Result<LinkState> {
    IfCtl::current_ns()?.link_state(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_ifname("veth0").is_ok());
        assert!(check_ifname("123456789012345").is_ok());
        assert!(check_ifname("1234567890123456").is_err());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("a b").is_err());
    }

    #[test]
    fn loopback_is_visible_and_missing_names_are_gone() {
        // Every namespace has "lo"; works unprivileged.
        let ctl = IfCtl::current_ns().unwrap();
        let idx = ctl.ifindex("lo").unwrap();
        assert_eq!(ifindex("lo").unwrap(), idx);
        assert_eq!(ctl.ifname(idx).unwrap(), "lo");
        assert!(ctl.flags("lo").unwrap().0 & IfFlags::LOOPBACK != 0);
        assert_eq!(ctl.mac("lo").unwrap(), [0; 6]);
        assert!(ctl.mtu("lo").unwrap() > 0);
        let e = ctl.mtu("rsw-no-such").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(super::super::port_fault(&e), Some(PortFault::Gone));
        assert!(e.to_string().contains("rsw-no-such"), "{e}");
        let e = ifindex("rsw-no-such").unwrap_err();
        assert!(e.to_string().contains("rsw-no-such"), "{e}");
        assert!(!exists("rsw-no-such"));
    }
}
