//! Which OpenFlow "flow formats" can carry a flow-mod, as ovs-ofctl tracks
//! them (`enum ofputil_protocol`).
//!
//! rswitch speaks ovs-ofctl's default dialect, OpenFlow 1.0 plus NXM. What a
//! flow can be sent as matters for byte compatibility: ovs-ofctl sends a
//! flow as plain OpenFlow 1.0 when it can, and OpenFlow 1.0's match format
//! silently loses VLAN details; a flow that needs OpenFlow 1.1+ (`push_vlan`,
//! `reset_counts`) cannot be sent at all.

/// A set of protocols (bit per protocol, OVS's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Protocols(pub u16);

impl Protocols {
    pub const NONE: Protocols = Protocols(0);
    pub const OF10_STD: Protocols = Protocols(1 << 0);
    pub const OF10_STD_TID: Protocols = Protocols(1 << 1);
    pub const OF10_NXM: Protocols = Protocols(1 << 2);
    pub const OF10_NXM_TID: Protocols = Protocols(1 << 3);
    pub const OF11_STD: Protocols = Protocols(1 << 4);
    pub const OF12_OXM: Protocols = Protocols(1 << 5);
    pub const OF13_OXM: Protocols = Protocols(1 << 6);
    pub const OF14_OXM: Protocols = Protocols(1 << 7);
    pub const OF15_OXM: Protocols = Protocols(1 << 8);

    pub const ANY: Protocols = Protocols(0x1ff);
    pub const OF10_STD_ANY: Protocols = Protocols(0b11);
    pub const NXM_ANY: Protocols = Protocols(0b1100);
    pub const ANY_OXM: Protocols = Protocols(0b1_1110_0000);
    pub const OF10_ANY: Protocols = Protocols(0b1111);
    pub const OF11_UP: Protocols = Protocols(0b1_1111_0000);
    pub const OF12_UP: Protocols = Protocols(0b1_1110_0000);
    pub const OF13_UP: Protocols = Protocols(0b1_1100_0000);
    pub const NXM_OXM_ANY: Protocols = Protocols(0b1_1110_1100);
    pub const NXM_OF11_UP: Protocols = Protocols(0b1_1111_1100);
    /// Protocols that can name a table in a flow-mod.
    pub const TID: Protocols = Protocols(0b1_1111_1010);
    /// What ovs-ofctl allows by default: OpenFlow 1.0 and NXM.
    pub const ALLOWED: Protocols = Protocols(0b1111);

    pub fn and(self, o: Protocols) -> Protocols {
        Protocols(self.0 & o.0)
    }

    pub fn intersects(self, o: Protocols) -> bool {
        self.0 & o.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn single_name(bit: u16) -> &'static str {
        match bit {
            0x001 => "OpenFlow10-table_id",
            0x002 => "OpenFlow10+table_id",
            0x004 => "NXM-table_id",
            0x008 => "NXM+table_id",
            0x010 => "OpenFlow11",
            0x020 => "OXM-OpenFlow12",
            0x040 => "OXM-OpenFlow13",
            0x080 => "OXM-OpenFlow14",
            _ => "OXM-OpenFlow15",
        }
    }
}

impl Default for Protocols {
    /// Nothing has restricted the flow yet.
    fn default() -> Protocols {
        Protocols::ANY
    }
}

impl std::fmt::Display for Protocols {
    /// OVS's `ofputil_protocols_to_string`: group abbreviations first.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const ABBREVS: &[(Protocols, &str)] = &[
            (Protocols::ANY, "any"),
            (Protocols::OF10_STD_ANY, "OpenFlow10"),
            (Protocols::NXM_ANY, "NXM"),
            (Protocols::ANY_OXM, "OXM"),
        ];
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut left = self.0;
        let mut parts = Vec::new();
        'outer: while left != 0 {
            for (p, name) in ABBREVS {
                if left & p.0 == p.0 {
                    parts.push(name.to_string());
                    left &= !p.0;
                    continue 'outer;
                }
            }
            let bit = left & left.wrapping_neg();
            parts.push(Protocols::single_name(bit).to_string());
            left &= !bit;
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_ovs() {
        assert_eq!(Protocols::OF12_UP.to_string(), "OXM");
        assert_eq!(Protocols::OF11_UP.to_string(), "OXM,OpenFlow11");
        assert_eq!(
            Protocols::OF13_UP.to_string(),
            "OXM-OpenFlow13,OXM-OpenFlow14,OXM-OpenFlow15"
        );
        assert_eq!(Protocols::ALLOWED.to_string(), "OpenFlow10,NXM");
    }
}
