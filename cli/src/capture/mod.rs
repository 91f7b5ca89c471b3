//! `rswitch capture` and tracing real packets: the streaming capture
//! protocol, its daemon side ([`server`]) and client ([`client`]), pcap
//! files ([`pcap`]), tcpdump-style summaries ([`decode`]), and flow keys
//! from captured frames for `rswitch-ofctl trace --pcap` ([`packet_key`]).

pub mod client;
pub mod decode;
pub mod ofctl_pcap;
pub mod pcap;
pub mod server;

use datapath::capture::Direction;
use ofproto::key::FlowKey;
use ofproto::syntax::PortMap;
use serde::{Deserialize, Serialize};

/// What `rswitch capture` asks the daemon for (sent as the request's only
/// argv element, in JSON).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaptureArgs {
    /// `[BR] PORT [FILTER...]` as typed.
    pub operands: Vec<String>,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// `in`, `out` or `both` (default).
    pub direction: Option<String>,
    /// Tunnel ports: the rebuilt outer frame instead of the inner one.
    #[serde(default)]
    pub outer: bool,
    /// Attach a trace: `text` or `json`.
    pub trace: Option<String>,
    /// Bytes kept per frame.
    pub snaplen: Option<usize>,
}

/// One line of the daemon's answer to a capture request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The tap runs.
    Started {
        bridge: String,
        port: String,
        ofport: u32,
        outer: bool,
    },
    Packet(PacketEvent),
    /// The capture ended (COUNT reached or the client stopped it).
    Summary {
        captured: u64,
        dropped: u64,
    },
    /// The capture could not start.
    Error {
        message: String,
    },
}

/// One captured packet.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PacketEvent {
    /// Unix time in nanoseconds.
    pub ts_ns: u64,
    pub bridge: String,
    pub port: String,
    pub ofport: u32,
    pub direction: Direction,
    /// The frame's full length (`frame` may be cut to the snap length).
    pub orig_len: usize,
    /// The frame, in hex.
    pub frame: String,
    /// The trace (text) when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// The trace (JSON) when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_json: Option<serde_json::Value>,
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// Decodes hex; the error names the offending position.
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if s.len() & 1 == 1 {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("bad hex digits at offset {i}"))
        })
        .collect()
}

/// The flow key of a real frame for a trace: `desc` (flow syntax) gives
/// `in_port` and tunnel metadata; `frame` gives everything else.
pub fn frame_key(desc: &str, frame: &[u8], ports: Option<&PortMap>) -> Result<FlowKey, String> {
    let mut key = if desc.trim().is_empty() {
        FlowKey::ZERO
    } else {
        ofproto::trace::parse_packet(desc, ports).map_err(|e| format!("{desc}: {e}"))?
    };
    let in_port = key.in_port();
    datapath::extract::extract_key(frame, in_port, &mut key)
        .map_err(|e| format!("{} byte frame: {e}", frame.len()))?;
    Ok(key)
}

/// rswitch's extension of `trace`'s packet description: `packet=HEX` (a
/// whole Ethernet frame) next to `in_port=N` and tunnel fields. Returns
/// the description without it and the frame, if present.
pub fn split_packet_field(desc: &str) -> Result<(String, Option<Vec<u8>>), String> {
    let mut rest = Vec::new();
    let mut frame = None;
    for tok in desc.split(',') {
        match tok.trim().strip_prefix("packet=") {
            Some(h) => frame = Some(unhex(h).map_err(|e| format!("packet={}: {e}", short(h)))?),
            None => rest.push(tok),
        }
    }
    Ok((rest.join(","), frame))
}

fn short(s: &str) -> String {
    if s.len() > 16 {
        format!("{}…", &s[..16])
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_errors_name_the_offset() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])).unwrap(),
            vec![0, 1, 0xab, 0xff]
        );
        assert_eq!(unhex("0g").unwrap_err(), "bad hex digits at offset 0");
        assert_eq!(unhex("00zz").unwrap_err(), "bad hex digits at offset 2");
        assert!(unhex("abc").is_err());
        assert!(unhex("é0").is_err());
    }

    #[test]
    fn packet_field_gives_the_key() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 18, 0, 1]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 198, 18, 0, 2]);
        let desc = format!("in_port=3,packet={},tun_id=5", hex(&f));
        let (rest, frame) = split_packet_field(&desc).unwrap();
        assert_eq!(rest, "in_port=3,tun_id=5");
        let k = frame_key(&rest, &frame.unwrap(), None).unwrap();
        assert_eq!(k.in_port(), 3);
        assert_eq!(k.tun_id(), 5);
        assert_eq!(k.eth_type(), 0x0806);
        assert!(split_packet_field("packet=xyz")
            .unwrap_err()
            .starts_with("packet=xyz"));
        assert!(frame_key("", &[1, 2], None).is_err());
    }
}
