//! The devices behind ports: opening system interfaces with AF_PACKET,
//! creating and re-attaching TAP devices for internal and tap ports
//! (including ones the user moved into another network namespace), and
//! removing what rswitch created.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;

use datapath::port::afpacket::{AfPacketOptions, AfPacketPort};
use datapath::port::netdev;
use datapath::port::tap::{TapOptions, TapPort};
use datapath::port::PortIo;

/// Link facts shown by `rswitch show`/`list Interface` and `dump-ports`.
pub struct DevStatus {
    pub mac: String,
    pub admin_up: bool,
    pub oper_up: bool,
}

pub fn status(name: &str) -> Option<DevStatus> {
    let ls = netdev::link_state(name).ok()?;
    let mac = netdev::mac(name).ok()?;
    Some(DevStatus {
        mac: mac_string(mac),
        admin_up: ls.admin_up,
        oper_up: ls.oper_up,
    })
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        m[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(m)
}

/// Opens an existing interface (a veth end, say) as a system port.
pub fn open_system(name: &str) -> Result<Box<dyn PortIo>, String> {
    if !netdev::exists(name) {
        return Err(format!(
            "could not open network device {name} (No such device)"
        ));
    }
    // The port must be up to carry traffic; OVS brings it up too.
    let _ = netdev::set_up(name, true);
    // Room for bursts of 64 KiB super-frames while a worker is busy: the
    // default ~200 KiB holds three, and drops become TCP retransmissions.
    let opts = AfPacketOptions {
        rcvbuf: Some(8 << 20),
        sndbuf: Some(8 << 20),
        ..AfPacketOptions::default()
    };
    AfPacketPort::open(name, opts)
        .map(|p| Box::new(p) as Box<dyn PortIo>)
        .map_err(|e| format!("could not open network device {name} ({e})"))
}

/// Creates the TAP device of an internal or tap port, or re-attaches the
/// existing one (after a restart; possibly in another namespace). Returns
/// the port and whether rswitch owns the device (always: it made it).
pub fn open_tap(name: &str, known_mac: Option<&str>) -> Result<(Box<dyn PortIo>, bool), String> {
    let opts = TapOptions {
        multi_queue: false,
        offloads: true,
    };
    // An internal port from an earlier run may live on, persistent, here or
    // (when we know its MAC) in the namespace a lab moved it to: re-attach
    // rather than create a second device of the same name.
    if let Ok(p) = attach_tap(name, known_mac) {
        return Ok((p, true));
    }
    match TapPort::create(name, opts) {
        Ok(t) => {
            // Persistent, so an internal port moved into a namespace
            // survives a daemon restart and can be re-attached.
            t.set_persist(true)
                .map_err(|e| format!("{name}: cannot make persistent: {e}"))?;
            netdev::set_up(name, true).map_err(|e| format!("{name}: cannot bring up: {e}"))?;
            Ok((Box::new(t), true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            attach_tap(name, None).map(|p| (p, true))
        }
        Err(e) => Err(format!("could not create internal device {name} ({e})")),
    }
}

fn mac_string(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A `type=tap` port: a persistent TAP device for a VM or a process to open
/// (`qemu -netdev tap,ifname=NAME,script=no`). The program owns the TAP's
/// file descriptor; rswitch is the kernel side and talks to it with
/// AF_PACKET, like a system port. Until the program attaches, the device
/// has no carrier and frames sent to it are dropped by the kernel.
pub fn open_vm_tap(name: &str) -> Result<(Box<dyn PortIo>, bool), String> {
    if !netdev::exists(name) {
        let opts = TapOptions {
            multi_queue: false,
            offloads: true,
        };
        let t = TapPort::create(name, opts)
            .map_err(|e| format!("could not create tap device {name} ({e})"))?;
        t.set_persist(true)
            .map_err(|e| format!("{name}: cannot make persistent: {e}"))?;
        // Dropping our descriptor leaves the (persistent) device for the VM.
        drop(t);
    }
    // rswitch owns tap-type devices (also one left by an earlier run), and
    // removes them with the port, as Open vSwitch does.
    open_system(name).map(|io| (io, true))
}

/// Re-attaches an existing persistent TAP by name: here, or in a named
/// network namespace (`ip netns`) where a lab moved it — there only when
/// its MAC is the one we recorded, because other switches' devices (two
/// lab "hosts" on one machine) may carry the same name.
pub fn attach_tap(name: &str, known_mac: Option<&str>) -> Result<Box<dyn PortIo>, String> {
    if netdev::exists(name) {
        return TapPort::attach(name)
            .map(|t| Box::new(t) as Box<dyn PortIo>)
            .map_err(|e| format!("could not attach {name} ({e})"));
    }
    let Some(mac) = known_mac.map(str::to_string) else {
        return Err(format!(
            "could not open network device {name} (No such device)"
        ));
    };
    for ns in named_namespaces() {
        let n = name.to_string();
        let want = mac.clone();
        let found = in_namespace(&ns, move || {
            let ours = netdev::mac(&n).map(mac_string).is_ok_and(|m| m == want);
            if ours {
                Some(TapPort::attach(&n))
            } else {
                None
            }
        });
        match found {
            Ok(Some(Ok(t))) => return Ok(Box::new(t)),
            Ok(Some(Err(e))) => {
                return Err(format!("could not attach {name} in namespace {ns} ({e})"))
            }
            _ => {}
        }
    }
    Err(format!(
        "could not open network device {name} (No such device)"
    ))
}

fn named_namespaces() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `f` on a thread that has entered namespace `ns` (the thread ends
/// afterwards, so the daemon's own threads never change namespace).
fn in_namespace<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let file = File::open(format!("/run/netns/{ns}"))?;
    std::thread::spawn(move || {
        // SAFETY: setns on a valid, open namespace fd affects only this
        // short-lived thread; the fd outlives the call.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    })
    .join()
    .map_err(|_| std::io::Error::other("namespace thread panicked"))?
}

pub fn exists_here(name: &str) -> bool {
    netdev::exists(name)
}

pub fn delete_here(name: &str) {
    // `dev` keeps names like `brd` from being read as ip keywords.
    let _ = Command::new("ip")
        .args(["link", "del", "dev", name])
        .status();
}

/// Removes a device rswitch created, wherever it now lives (elsewhere only
/// when its MAC proves it is ours).
pub fn delete_anywhere(name: &str, known_mac: Option<&str>) {
    if netdev::exists(name) {
        delete_here(name);
        return;
    }
    let Some(mac) = known_mac.map(str::to_string) else {
        return;
    };
    for ns in named_namespaces() {
        let n = name.to_string();
        let want = mac.clone();
        let _ = in_namespace(&ns, move || {
            if netdev::mac(&n).map(mac_string).is_ok_and(|m| m == want) {
                let _ = Command::new("ip").args(["link", "del", "dev", &n]).status();
            }
        });
    }
}

/// The interface index of `name` here, if it exists.
pub fn ifindex(name: &str) -> Option<u32> {
    netdev::ifindex(name).ok()
}

pub fn set_admin(name: &str, up: bool) -> std::io::Result<()> {
    netdev::set_up(name, up)
}
