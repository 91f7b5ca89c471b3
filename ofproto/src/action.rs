//! OpenFlow actions as rswitch keeps them: one variant per thing a flow can
//! do to a packet, already in the form ovs-ofctl prints (see `syntax::actions`).

use crate::field::Field;
use crate::learn::Learn;

/// A bit range of a field: `NXM_NX_REG0[0..15]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubField {
    pub field: Field,
    pub ofs: u8,
    pub n_bits: u8,
}

impl SubField {
    pub fn whole(field: Field) -> SubField {
        SubField {
            field,
            ofs: 0,
            n_bits: field.width(),
        }
    }

    pub fn is_whole(&self) -> bool {
        self.ofs == 0 && self.n_bits == self.field.width()
    }

    /// Mask of the selected bits, in field units.
    pub fn mask(&self) -> u128 {
        let ones = if self.n_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << self.n_bits) - 1
        };
        ones << self.ofs
    }

    /// Reads the selected bits (shifted down to bit 0).
    pub fn read(&self, key: &crate::FlowKey) -> u128 {
        (self.field.read(key) & self.mask()) >> self.ofs
    }

    /// Writes `value` (low `n_bits` bits) into the selected bits.
    pub fn write(&self, key: &mut crate::FlowKey, value: u128) {
        self.field
            .write_masked(key, value << self.ofs, self.mask());
    }
}

/// One action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Output to a port (physical or reserved: NORMAL, FLOOD, ALL, IN_PORT, LOCAL, TABLE).
    Output { port: u32 },
    /// Send to the controller (rswitch has none: counted as a "to controller" drop).
    Controller { max_len: u16 },
    /// `output:SRC[a..b]`: port number taken from a field.
    OutputReg { src: SubField, max_len: u16 },
    /// `resubmit(port,table)`; `port` = OFPP_IN_PORT keeps the packet's in_port,
    /// `table` = None means the current table.
    Resubmit { in_port: u32, table: Option<u8> },
    /// OpenFlow 1.1 goto_table: continue in a later table after this list.
    GotoTable(u8),
    /// `mod_vlan_vid`: rewrites the VID, pushing a tag if there is none.
    SetVlanVid(u16),
    /// `mod_vlan_pcp`: rewrites the PCP, pushing a tag if there is none.
    SetVlanPcp(u8),
    StripVlan,
    PushVlan(u16),
    /// `set_tunnel` (32-bit form) or `set_tunnel64`.
    SetTunnel { id: u64, wide: bool },
    /// `set_field` / `load`: write `value` under `mask` (field units) into `field`.
    /// `as_load` records that OVS prints it as `load:` (NXAST_REG_LOAD) rather
    /// than `set_field:`.
    SetField {
        field: Field,
        value: u128,
        mask: u128,
        as_load: bool,
    },
    Move { src: SubField, dst: SubField },
    SetEthSrc([u8; 6]),
    SetEthDst([u8; 6]),
    SetIpv4Src(u32),
    SetIpv4Dst(u32),
    /// `mod_nw_tos`: the DSCP bits as a TOS byte (low two bits zero).
    SetIpTos(u8),
    SetIpEcn(u8),
    SetIpTtl(u8),
    SetTpSrc(u16),
    SetTpDst(u16),
    /// `dec_ttl` / `dec_ttl(ids)`.
    DecTtl(Vec<u16>),
    Note(Vec<u8>),
    Learn(Box<Learn>),
    Exit,
}

impl Action {
    /// Whether this action can send the packet to `port` (for `out_port=` filters).
    pub fn outputs_to(&self, port: u32) -> bool {
        match self {
            Action::Output { port: p } => *p == port,
            Action::Controller { .. } => port == crate::port::OFPP_CONTROLLER,
            // OVS treats output:REG as possibly any port.
            Action::OutputReg { .. } => false,
            _ => false,
        }
    }
}

/// Whether an action list outputs to `port` (OVS's `ofpacts_output_to_port`).
pub fn actions_output_to(actions: &[Action], port: u32) -> bool {
    actions.iter().any(|a| a.outputs_to(port))
}
