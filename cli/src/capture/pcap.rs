//! Pcap files (what `tcpdump -w` writes) through the `pcap-file` crate:
//! written with nanosecond timestamps and link type Ethernet; read in
//! either byte order with micro- or nanosecond timestamps. The reader never
//! panics: a malformed file is an error naming the record and what is
//! wrong with it.

use std::borrow::Cow;
use std::io::{self, Write};

use pcap_file::pcap::{PcapHeader, PcapParser, RawPcapPacket};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

/// Magic of a nanosecond-resolution file (microsecond: 0xa1b2c3d4).
pub const MAGIC_NS: u32 = 0xa1b2_3c4d;
pub const MAGIC_US: u32 = 0xa1b2_c3d4;
/// Largest frame a record may hold (tcpdump's MAXIMUM_SNAPLEN).
pub const MAX_SNAPLEN: u32 = 262_144;

fn io_err(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        e => io::Error::other(e.to_string()),
    }
}

/// Writes a pcap stream (header and records through `pcap-file`, onto a
/// writer kept here so it can be flushed after each record).
pub struct Writer<W: Write> {
    out: W,
    snaplen: u32,
}

impl<W: Write> Writer<W> {
    /// Writes the global header.
    pub fn new(mut out: W, snaplen: u32) -> io::Result<Writer<W>> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
        };
        header.write_to(&mut out).map_err(io_err)?;
        Ok(Writer { out, snaplen })
    }

    /// Writes one frame (cut to the snap length) whose full length was
    /// `orig_len`, captured at `ts_ns` (Unix nanoseconds).
    pub fn write(&mut self, ts_ns: u64, frame: &[u8], orig_len: usize) -> io::Result<()> {
        let n = frame.len().min(self.snaplen as usize);
        let orig = orig_len.max(n).min(u32::MAX as usize) as u32;
        let pkt = RawPcapPacket {
            ts_sec: (ts_ns / 1_000_000_000).min(u32::MAX as u64) as u32,
            ts_frac: (ts_ns % 1_000_000_000) as u32,
            incl_len: n as u32,
            orig_len: orig,
            data: Cow::Borrowed(&frame[..n]),
        };
        pkt.write_to::<_, byteorder_slice::LittleEndian>(&mut self.out)
            .map(drop)
            .map_err(io_err)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
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
    let (mut rest, parser) = PcapParser::new(data).map_err(|e| {
        let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        if [MAGIC_NS, MAGIC_US].contains(&magic) || [MAGIC_NS, MAGIC_US].contains(&magic.swap_bytes()) {
            format!("not a pcap file: {e}")
        } else {
            format!(
                "not a pcap file: magic {magic:#010x} (pcapng is not supported; convert with `tcpdump -r IN -w OUT`)"
            )
        }
    })?;
    let header = parser.header();
    if header.datalink != DataLink::ETHERNET {
        return Err(format!(
            "link type {:?} is not Ethernet (1): only Ethernet captures can be traced",
            header.datalink
        ));
    }
    let big = header.endianness == Endianness::Big;
    let mut out = Vec::new();
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        if rest.len() < 16 {
            return Err(format!(
                "record {n}: truncated record header ({} of 16 bytes)",
                rest.len()
            ));
        }
        // The parser reports a short frame only as "incomplete": say how
        // short, from the record header's captured length.
        let w = [rest[8], rest[9], rest[10], rest[11]];
        let incl = if big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        };
        if incl > MAX_SNAPLEN {
            return Err(format!(
                "record {n}: captured length {incl} is larger than {MAX_SNAPLEN}"
            ));
        }
        // Raw records: pcap-file's checked records refuse an original
        // length above the snap length, i.e. every `tcpdump -s N` capture.
        let (next, pkt) = parser.next_raw_packet(rest).map_err(|e| match e {
            PcapError::IncompleteBuffer => format!(
                "record {n}: truncated frame ({} of {incl} bytes)",
                rest.len() - 16
            ),
            e => format!("record {n}: {e}"),
        })?;
        let frac = u64::from(pkt.ts_frac);
        let frac_ns = match header.ts_resolution {
            TsResolution::MicroSecond => frac * 1000,
            TsResolution::NanoSecond => frac,
        };
        out.push(PcapRecord {
            ts_ns: u64::from(pkt.ts_sec) * 1_000_000_000 + frac_ns,
            frame: pkt.data.into_owned(),
            orig_len: pkt.orig_len,
        });
        rest = next;
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
        let b = w.into_inner();
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
        let r = parse(&w.into_inner()).unwrap();
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
        let b = w.into_inner();
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
            let mut b = w.into_inner();
            let i = i % b.len();
            b[i] = v;
            let _ = parse(&b);
        }
    }
}
