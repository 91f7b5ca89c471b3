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
        self.field.write_masked(key, value << self.ofs, self.mask());
    }
}

/// Why a packet is sent to the controller (OpenFlow's packet-in reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PacketInReason {
    NoMatch,
    /// The usual reason: an explicit output to the controller.
    #[default]
    Action,
    InvalidTtl,
    ActionSet,
    Group,
    PacketOut,
}

impl PacketInReason {
    pub const ALL: [PacketInReason; 6] = [
        PacketInReason::NoMatch,
        PacketInReason::Action,
        PacketInReason::InvalidTtl,
        PacketInReason::ActionSet,
        PacketInReason::Group,
        PacketInReason::PacketOut,
    ];

    /// The name ovs-ofctl uses (`reason=no_match`).
    pub fn name(self) -> &'static str {
        match self {
            PacketInReason::NoMatch => "no_match",
            PacketInReason::Action => "action",
            PacketInReason::InvalidTtl => "invalid_ttl",
            PacketInReason::ActionSet => "action_set",
            PacketInReason::Group => "group",
            PacketInReason::PacketOut => "packet_out",
        }
    }
}

/// One action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Output to a port (physical or reserved: NORMAL, FLOOD, ALL, IN_PORT, LOCAL, TABLE).
    Output {
        port: u32,
    },
    /// Send to the controller (rswitch has none: the pipeline counts it as a
    /// "to controller" drop). The other fields are what `controller(...)`
    /// can say; they are kept so that flows print back as OVS prints them.
    Controller {
        max_len: u16,
        reason: PacketInReason,
        /// Controller connection id (0 = all).
        id: u16,
        userdata: Vec<u8>,
        pause: bool,
        meter_id: Option<u32>,
    },
    /// `output:SRC[a..b]`: port number taken from a field.
    OutputReg {
        src: SubField,
        max_len: u16,
    },
    /// `resubmit(port,table)`; `port` = OFPP_IN_PORT keeps the packet's in_port,
    /// `table` = None means the current table.
    Resubmit {
        in_port: u32,
        table: Option<u8>,
    },
    /// OpenFlow 1.1 goto_table: continue in a later table after this list.
    /// `goto_table:N`. ovs-ofctl sends it in OpenFlow 1.0 as
    /// `resubmit(,N)`, so it prints that way; the pipeline runs it as
    /// goto_table (continue in table N after this list).
    GotoTable(u8),
    /// `mod_vlan_vid`: rewrites the VID, pushing a tag if there is none.
    SetVlanVid(u16),
    /// `mod_vlan_pcp`: rewrites the PCP, pushing a tag if there is none.
    SetVlanPcp(u8),
    StripVlan,
    /// `push_vlan`: OpenFlow 1.1+ only, so the OpenFlow 1.0 + NXM flow
    /// syntax rejects it as ovs-ofctl does; kept for programmatic use.
    PushVlan(u16),
    /// `set_tunnel` (32-bit form) or `set_tunnel64`.
    SetTunnel {
        id: u64,
        wide: bool,
    },
    /// `set_field` / `load`: write `value` under `mask` (field units) into `field`.
    /// `as_load` records that OVS prints it as `load:` (NXAST_REG_LOAD) rather
    /// than `set_field:`.
    SetField {
        field: Field,
        value: u128,
        mask: u128,
        as_load: bool,
    },
    Move {
        src: SubField,
        dst: SubField,
    },
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
    /// A plain `CONTROLLER:max_len` output.
    pub fn controller(max_len: u16) -> Action {
        Action::Controller {
            max_len,
            reason: PacketInReason::Action,
            id: 0,
            userdata: Vec::new(),
            pause: false,
            meter_id: None,
        }
    }

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
