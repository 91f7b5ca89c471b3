//! The classic pcap file format (what `tcpdump -w` writes): a 24-byte
//! global header, then a 16-byte header before each frame. Written with
//! nanosecond timestamps and link type Ethernet; read in either byte order
//! with micro- or nanosecond timestamps. The reader never panics: a
//! malformed file is an error naming the record.

use std::io::{self, Write};

/// Magic of a nanosecond-resolution file (microsecond: 0xa1b2c3d4).
pub const MAGIC_NS: u32 = 0xa1b2_3c4d;
pub const MAGIC_US: u32 = 0xa1b2_c3d4;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest frame a record may hold (tcpdump's MAXIMUM_SNAPLEN).
pub const MAX_SNAPLEN: u32 = 262_144;

/// Writes a pcap stream.
pub struct Writer<W: Write> {
    out: W,
    snaplen: u32,
}

impl<W: Write> Writer<W> {
    /// Writes the global header.
    pub fn new(mut out: W, snaplen: u32) -> io::Result<Writer<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&MAGIC_NS.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(Writer { out, snaplen })
    }

    /// Writes one frame (cut to the snap length) whose full length was
    /// `orig_len`, captured at `ts_ns` (Unix nanoseconds).
    pub fn write(&mut self, ts_ns: u64, frame: &[u8], orig_len: usize) -> io::Result<()> {
        let n = frame.len().min(self.snaplen as usize);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts_ns % 1_000_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(n as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(orig_len.max(n) as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..n])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One frame read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    pub ts_ns: u64,
    pub frame: Vec<u8>,
    pub orig_len: u32,
}

/// Parses a whole pcap file. Errors name the record (1-based) and what is
/// wrong with it.
pub fn parse(data: &[u8]) -> Result<Vec<PcapRecord>, String> {
    if data.len() < 24 {
        return Err(format!(
            "not a pcap file: {} bytes, shorter than the 24-byte header",
            data.len()
        ));
    }
    let magic_le = u32::from_le_bytes(data[0..4].try_into().expect("4 bytes"));
    let (le, nanos) = match magic_le {
        MAGIC_US => (true, false),
        MAGIC_NS => (true, true),
        m if m.swap_bytes() == MAGIC_US => (false, false),
        m if m.swap_bytes() == MAGIC_NS => (false, true),
        m => {
            return Err(format!(
                "not a pcap file: magic {m:#010x} (pcapng is not supported; convert with `tcpdump -r IN -w OUT`)"
            ))
        }
    };
    let u32_at = |b: &[u8], i: usize| {
        let w: [u8; 4] = b[i..i + 4].try_into().expect("4 bytes");
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let linktype = u32_at(data, 20) & 0x0fff_ffff;
    if linktype != LINKTYPE_ETHERNET {
        return Err(format!(
            "link type {linktype} is not Ethernet (1): only Ethernet captures can be traced"
        ));
    }
    let mut out = Vec::new();
    let mut at = 24;
    let mut n = 0;
    while at < data.len() {
        n += 1;
        if data.len() - at < 16 {
            return Err(format!(
                "record {n}: truncated record header ({} of 16 bytes)",
                data.len() - at
            ));
        }
        let sec = u32_at(data, at) as u64;
        let frac = u32_at(data, at + 4) as u64;
        let incl = u32_at(data, at + 8);
        let orig = u32_at(data, at + 12);
        if incl > MAX_SNAPLEN {
            return Err(format!(
                "record {n}: captured length {incl} is larger than {MAX_SNAPLEN}"
            ));
        }
        let body = at + 16;
        if data.len() - body < incl as usize {
            return Err(format!(
                "record {n}: truncated frame ({} of {incl} bytes)",
                data.len() - body
            ));
        }
        let ts_ns = sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        out.push(PcapRecord {
            ts_ns,
            frame: data[body..body + incl as usize].to_vec(),
            orig_len: orig,
        });
        at = body + incl as usize;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_bytes() {
        let mut w = Writer::new(Vec::new(), 65535).unwrap();
        w.write(1_700_000_000_123_456_789, &[0xaa, 0xbb, 0xcc], 60)
            .unwrap();
        let b = w.out;
        let want: Vec<u8> = vec![
            0x4d, 0x3c, 0xb2, 0xa1, // magic (ns)
            2, 0, 4, 0, // version 2.4
            0, 0, 0, 0, 0, 0, 0, 0, // zone, sigfigs
            0xff, 0xff, 0, 0, // snaplen 65535
            1, 0, 0, 0, // Ethernet
            0x00, 0xf1, 0x53, 0x65, // 1700000000 s
            0x15, 0xcd, 0x5b, 0x07, // 123456789 ns
            3, 0, 0, 0, // incl_len
            60, 0, 0, 0, // orig_len
            0xaa, 0xbb, 0xcc,
        ];
        assert_eq!(b, want);
        let r = parse(&b).unwrap();
        assert_eq!(
            r,
            vec![PcapRecord {
                ts_ns: 1_700_000_000_123_456_789,
                frame: vec![0xaa, 0xbb, 0xcc],
                orig_len: 60
            }]
        );
    }

    #[test]
    fn snaplen_cuts_frames() {
        let mut w = Writer::new(Vec::new(), 2).unwrap();
        w.write(0, &[1, 2, 3, 4], 4).unwrap();
        let r = parse(&w.out).unwrap();
        assert_eq!(r[0].frame, vec![1, 2]);
        assert_eq!(r[0].orig_len, 4);
    }

    #[test]
    fn microsecond_big_endian_files_read() {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC_US.to_be_bytes());
        b.extend_from_slice(&[
            0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1,
        ]);
        b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 9]);
        let r = parse(&b).unwrap();
        assert_eq!(r[0].ts_ns, 1_000_002_000);
        assert_eq!(r[0].frame, vec![9]);
    }

    #[test]
    fn errors_name_the_record() {
        let mut w = Writer::new(Vec::new(), 65535).unwrap();
        w.write(0, &[1; 20], 20).unwrap();
        w.write(0, &[2; 20], 20).unwrap();
        let b = w.out;
        let e = parse(&b[..b.len() - 5]).unwrap_err();
        assert_eq!(e, "record 2: truncated frame (15 of 20 bytes)");
        let e = parse(&b[..24 + 36 + 7]).unwrap_err();
        assert_eq!(e, "record 2: truncated record header (7 of 16 bytes)");
        assert!(parse(b"hello").unwrap_err().contains("shorter"));
        assert!(parse(&[0u8; 40]).unwrap_err().contains("magic"));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&data);
        }

        #[test]
        fn mutated_files_never_panic(i in 0usize..80, v in any::<u8>()) {
            let mut w = Writer::new(Vec::new(), 65535).unwrap();
            w.write(5, &[7; 20], 20).unwrap();
            w.write(6, &[8; 10], 10).unwrap();
            let mut b = w.out;
            let i = i % b.len();
            b[i] = v;
            let _ = parse(&b);
        }
    }
}
