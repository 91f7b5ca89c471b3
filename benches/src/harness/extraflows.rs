//! The 100,000 extra flows of the `flows100k` measurement: priority 5,
//! `actions=drop`, in four shapes (so the classifier holds several
//! subtables), none of which matches the test traffic (198.18.0.1 ↔
//! 198.18.0.2, TCP to 5201–5290, UDP to 9, ICMP): addresses from
//! 198.19.0.0/16 and 02:bb:… MACs the lab never uses.

use std::fmt::Write;

/// `n` distinct flow lines in ovs-ofctl `add-flows` syntax, one per line.
pub fn extra_flows(n: usize) -> String {
    let mut s = String::with_capacity(n * 64);
    for i in 0..n {
        let (hi, lo) = ((i / 4) / 256, (i / 4) % 256);
        let _ = match i % 4 {
            0 => writeln!(s, "priority=5,ip,nw_dst=198.19.{hi}.{lo},actions=drop"),
            1 => writeln!(
                s,
                "priority=5,tcp,nw_src=198.19.{hi}.{lo},tp_dst=80,actions=drop"
            ),
            2 => writeln!(
                s,
                "priority=5,udp,nw_dst=198.19.{}.0/24,tp_dst={},actions=drop",
                (i / 4) % 256,
                1000 + (i / 4) / 256
            ),
            _ => writeln!(
                s,
                "priority=5,dl_src=02:bb:00:00:{:02x}:{:02x},actions=drop",
                hi, lo
            ),
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn distinct_and_well_formed() {
        let s = extra_flows(100_000);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 100_000);
        assert_eq!(lines.iter().collect::<HashSet<_>>().len(), 100_000);
        assert!(lines
            .iter()
            .all(|l| l.starts_with("priority=5,") && l.ends_with(",actions=drop")));
        // Addresses stay in 198.19.0.0/16 with octets in range.
        assert!(s.contains("nw_dst=198.19.97.167,"));
        assert!(!s.contains("198.18."));
        assert!(!s.contains(".256"));
    }
}
