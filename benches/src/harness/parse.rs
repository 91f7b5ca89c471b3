//! Parsers for iperf3 `-J` output and ping output.

/// Receiver-side throughput in bit/s from iperf3's JSON (`-J`) output:
/// `end.sum_received.bits_per_second`, else `end.sum_sent`. `None` when the
/// run failed (iperf3 puts an `error` member in the JSON) or no bytes moved.
pub fn iperf3_bps(json: &str) -> Result<f64, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("iperf3 output is not JSON: {e}"))?;
    if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
        return Err(format!("iperf3: {err}"));
    }
    let end = v.get("end").ok_or("iperf3 JSON has no 'end'")?;
    for key in ["sum_received", "sum_sent", "sum"] {
        if let Some(bps) = end
            .get(key)
            .and_then(|s| s.get("bits_per_second"))
            .and_then(|b| b.as_f64())
        {
            if bps > 0.0 {
                return Ok(bps);
            }
            return Err("iperf3: no data transferred".into());
        }
    }
    Err("iperf3 JSON has no throughput sum".into())
}

/// Round-trip times in milliseconds from ping's output (`time=0.045 ms`).
pub fn ping_rtts(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find("time=")? + 5..];
            let num: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let v: f64 = num.parse().ok()?;
            let unit = rest[num.len()..].trim_start();
            Some(if unit.starts_with("us") || unit.starts_with("µs") {
                v / 1000.0
            } else {
                v
            })
        })
        .collect()
}

/// utime + stime (clock ticks) from the text of `/proc/PID/stat`. The
/// command name (field 2) may hold spaces and parentheses, so fields are
/// counted after the last `)`: state is field 3, utime 14, stime 15.
pub fn proc_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The generator's report line `pktgen: sent P packets in T s`: (P, T).
pub fn pktgen_sent(output: &str) -> Option<(u64, f64)> {
    output.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("pktgen: sent ")?;
        let mut w = rest.split_whitespace();
        let p: u64 = w.next()?.parse().ok()?;
        if w.next()? != "packets" || w.next()? != "in" {
            return None;
        }
        let t: f64 = w.next()?.parse().ok()?;
        (t > 0.0).then_some((p, t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPERF_OK: &str = r#"{"start":{"connected":[]},"intervals":[],
        "end":{"sum_sent":{"bytes":100,"bits_per_second":3.9e9},
               "sum_received":{"bytes":100,"bits_per_second":3.8e9}}}"#;

    #[test]
    fn iperf3_json() {
        assert_eq!(iperf3_bps(IPERF_OK).unwrap(), 3.8e9);
        let sent_only = r#"{"end":{"sum_sent":{"bits_per_second":1.5e9}}}"#;
        assert_eq!(iperf3_bps(sent_only).unwrap(), 1.5e9);
        let err = r#"{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}"#;
        assert!(iperf3_bps(err).unwrap_err().contains("Connection refused"));
        let zero = r#"{"end":{"sum_received":{"bits_per_second":0}}}"#;
        assert!(iperf3_bps(zero).is_err());
        assert!(iperf3_bps("not json").is_err());
        assert!(iperf3_bps("{}").is_err());
    }

    #[test]
    fn ping_output() {
        let out = "PING 198.18.0.2 (198.18.0.2) 56(84) bytes of data.\n\
64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=0.071 ms\n\
64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=0.045 ms\n\
64 bytes from 198.18.0.2: icmp_seq=3 ttl=64 time=1.20 ms\n\
\n--- 198.18.0.2 ping statistics ---\n\
3 packets transmitted, 3 received, 0% packet loss, time 41ms\n\
rtt min/avg/max/mdev = 0.045/0.438/1.200/0.540 ms\n";
        assert_eq!(ping_rtts(out), vec![0.071, 0.045, 1.20]);
        assert!(ping_rtts("From 198.18.0.1 icmp_seq=1 Destination Host Unreachable").is_empty());
        assert_eq!(ping_rtts("64 bytes: time=12 ms"), vec![12.0]);
    }
    #[test]
    fn proc_stat() {
        let s = "4242 (rswitchd (w) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 99 1000 50";
        assert_eq!(proc_stat_cpu_ticks(s), Some(325));
        assert_eq!(proc_stat_cpu_ticks("1 (x) S 1 2"), None);
        assert_eq!(proc_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn pktgen_line() {
        let o = "pktgen: a-eth 1000 flow(s)\npktgen: sent 123456 packets in 1.002 s (123210 pps)\n";
        assert_eq!(pktgen_sent(o), Some((123456, 1.002)));
        assert_eq!(pktgen_sent("pktgen: sent x packets in 1 s"), None);
        assert_eq!(pktgen_sent("pktgen: sent 5 packets in 0 s"), None);
        assert_eq!(pktgen_sent(""), None);
    }
}
