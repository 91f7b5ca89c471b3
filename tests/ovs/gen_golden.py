#!/usr/bin/env python3
"""Generate rswitch golden data from a real Open vSwitch.

Must run INSIDE tests/ovs/ovs-sandbox.sh (it uses plain ovs-vsctl / ovs-ofctl /
ovs-appctl, which the sandbox points at its private daemons).  Normally invoked
by tests/ovs/gen-golden.sh:

    tests/ovs/ovs-sandbox.sh python3 tests/ovs/gen_golden.py --out-dir ofproto/tests/data

Writes golden_flows.tsv, golden_stats.txt and golden_trace.txt into --out-dir
(each written to a temp file and renamed, so a failed run leaves old files).
Stdlib only.
"""

import argparse
import os
import re
import subprocess
import sys
import time

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\|", re.M)


def norm_stderr(s):
    """Strip the volatile vlog timestamp prefix ('2026-01-01T00:00:00Z|')."""
    return TS_RE.sub("", s)


def run(args, stdin=None, cwd=None):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=cwd)
    return p.returncode, p.stdout, norm_stderr(p.stderr)


def must(args, **kw):
    rc, out, err = run(args, **kw)
    if rc != 0:
        sys.exit("gen_golden: command failed (%d): %s\n%s%s" % (rc, " ".join(args), out, err))
    return out


def ovs_version():
    out = must(["ovs-vswitchd", "--version"])
    return out.splitlines()[0].strip()


def setup_br0():
    must(["ovs-vsctl", "--may-exist", "add-br", "br0", "--", "set", "bridge", "br0",
          "datapath_type=netdev", "fail_mode=secure"])
    for i in range(1, 5):
        must(["ovs-vsctl", "--may-exist", "add-port", "br0", "p%d" % i, "--",
              "set", "interface", "p%d" % i, "type=dummy", "ofport_request=%d" % i])
    # Wait until all four ports have their requested ofport numbers.
    deadline = time.time() + 20
    while time.time() < deadline:
        out = must(["ovs-ofctl", "show", "br0"])
        if all(" %d(p%d):" % (i, i) in out for i in range(1, 5)):
            return
        time.sleep(0.1)
    sys.exit("gen_golden: br0 ports did not come up:\n" + out)


# ---------------------------------------------------------------------------
# golden_flows.tsv cases.
#
# One case per line.  Lines starting with '#' become group comments in the
# output.  The token <EMPTY> stands for the empty string.  Lines are used
# verbatim (only the trailing newline is removed), so a case may start with a
# space.
# ---------------------------------------------------------------------------
CASES = r"""
# --- minimal / priority / table / cookie / timeouts / flags ---
actions=drop
priority=0,actions=drop
priority=1,actions=drop
priority=100,actions=drop
priority=32767,actions=drop
priority=32768,actions=drop
priority=32769,actions=drop
priority=65535,actions=drop
priority=0x10,actions=drop
priority=65536,actions=drop
priority=-1,actions=drop
priority=abc,actions=drop
table=0,actions=drop
table=1,actions=drop
table=100,actions=drop
table=254,actions=drop
table=255,actions=drop
table=256,actions=drop
table=-1,actions=drop
cookie=0,actions=drop
cookie=0x1,actions=drop
cookie=123,actions=drop
cookie=0xffffffffffffffff,actions=drop
cookie=0x1/0xff,actions=drop
cookie=0x10000000000000000,actions=drop
idle_timeout=10,actions=drop
idle_timeout=0,actions=drop
hard_timeout=20,actions=drop
idle_timeout=10,hard_timeout=20,actions=drop
hard_timeout=65535,actions=drop
idle_timeout=65536,actions=drop
importance=5,actions=drop
importance=65535,actions=drop
importance=65536,actions=drop
send_flow_rem,actions=drop
check_overlap,actions=drop
reset_counts,actions=drop
no_packet_counts,actions=drop
no_byte_counts,actions=drop
send_flow_rem,check_overlap,priority=7,actions=drop
table=3,cookie=0xabc,priority=300,idle_timeout=30,hard_timeout=60,importance=2,send_flow_rem,actions=drop
hard_timeout=60,cookie=0x5,idle_timeout=30,table=4,priority=10,actions=drop
out_port=1,actions=drop
out_group=1,actions=drop
duration=5,actions=drop
n_packets=5,actions=drop
# --- syntax variations: separators, case, keywords ---
in_port=1 actions=drop
in_port=1  actions=drop
 in_port=1,actions=drop
in_port=1, actions=drop
in_port:1,actions=drop
in_port=1,actions:drop
in_port=1,action=drop
in_port=1,ACTIONS=drop
IN_PORT=1,actions=drop
in_port=1,actions=DROP
in_port=1,actions=Output:2
in_port=1,actions=drop,
in_port=1,,actions=drop
in_port=1
actions
actions=
<EMPTY>
add in_port=1,actions=drop
add,in_port=1,actions=drop
modify in_port=1,actions=drop
delete in_port=1
in_port=1,actions=output:2 # comment
priority=5,in_port=1,in_port=2,actions=drop
dl_type=0x800,ip,actions=drop
ip,ip,actions=drop
tcp,udp,actions=drop
ip,arp,actions=drop
ip,ipv6,actions=drop
dl_src=00:11:22:33:44:55,dl_src=66:77:88:99:aa:bb,actions=drop
ip,nw_src=198.18.0.1,nw_src=198.18.0.2,actions=drop
tcp,tp_dst=80,tcp_dst=81,actions=drop
reg0=1,reg0=2/0xf,actions=drop
priority=1,priority=2,actions=drop
table=1,table=2,actions=drop
cookie=0x1,cookie=0x2,actions=drop
actions=drop,actions=output:1
in_port=1,actions=output:2,actions=output:3
# --- in_port ---
in_port=1,actions=drop
in_port=4,actions=drop
in_port=5,actions=drop
in_port=p1,actions=drop
in_port=p4,actions=drop
in_port="p2",actions=drop
in_port=LOCAL,actions=drop
in_port=local,actions=drop
in_port=65534,actions=drop
in_port=0xfffe,actions=drop
in_port=65279,actions=drop
in_port=65280,actions=drop
in_port=0xff00,actions=drop
in_port=65535,actions=drop
in_port=NONE,actions=drop
in_port=ANY,actions=drop
in_port=IN_PORT,actions=drop
in_port=CONTROLLER,actions=drop
in_port=NORMAL,actions=drop
in_port=0,actions=drop
in_port=70000,actions=drop
in_port=-1,actions=drop
in_port=foo,actions=drop
in_port=br0,actions=drop
# --- tunnel metadata ---
tun_id=0x1,actions=drop
tun_id=1,actions=drop
tunnel_id=5,actions=drop
tun_id=0x1/0xff,actions=drop
tun_id=0xff/0xf0,actions=drop
tun_id=0x1/0x1,actions=drop
tun_id=0/0,actions=drop
tun_id=0x0,actions=drop
tun_id=0x100000000,actions=drop
tun_id=0xffffffffffffffff,actions=drop
tun_id=0x1/0xffffffffffffffff,actions=drop
tun_id=0x10000000000000000,actions=drop
tun_src=198.18.0.1,actions=drop
tun_dst=198.18.0.2,actions=drop
tun_src=198.18.0.0/16,actions=drop
tun_dst=198.18.0.0/255.255.0.0,actions=drop
tun_src=198.18.0.1,tun_dst=198.18.0.2,tun_id=0x7,actions=drop
tun_ipv6_src=2001:db8::1,actions=drop
tun_flags=+oam,actions=drop
tun_gbp_id=5,actions=drop
# --- metadata / registers ---
metadata=0x1,actions=drop
metadata=0x1/0xff,actions=drop
metadata=0xffffffffffffffff,actions=drop
metadata=0/0xffffffff00000000,actions=drop
metadata=0x123456789abcdef0/0xfffffffffffffff0,actions=drop
reg0=1,actions=drop
reg0=0x1,actions=drop
reg0=0x1/0xff,actions=drop
reg0=0xffffffff,actions=drop
reg0=0/0xffffffff,actions=drop
reg0=0xf0/0xf0,actions=drop
reg0=0x100000000,actions=drop
reg1=2,actions=drop
reg2=3,actions=drop
reg3=0x4/0xf,actions=drop
reg4=5,actions=drop
reg5=6,actions=drop
reg6=7,actions=drop
reg7=8/0x8,actions=drop
reg8=9,actions=drop
reg9=10,actions=drop
reg10=11,actions=drop
reg11=12,actions=drop
reg12=13,actions=drop
reg13=14,actions=drop
reg14=15,actions=drop
reg15=0x5/0xf,actions=drop
reg16=1,actions=drop
reg0=1,reg1=2,reg15=3,actions=drop
xreg0=0x1,actions=drop
xreg0=0x100000001/0xffffffff00000000,actions=drop
xreg7=1,actions=drop
xxreg0=1,actions=drop
xxreg3=0x1/0x1,actions=drop
pkt_mark=0x5,actions=drop
skb_priority=1,actions=drop
conj_id=1,actions=drop
# --- ethernet ---
dl_src=00:11:22:33:44:55,actions=drop
eth_src=00:11:22:33:44:55,actions=drop
dl_src=AA:BB:CC:DD:EE:FF,actions=drop
dl_src=0:1:2:3:4:5,actions=drop
dl_src=01:00:00:00:00:00/01:00:00:00:00:00,actions=drop
dl_src=00:00:00:00:00:00/01:00:00:00:00:00,actions=drop
dl_src=00:11:22:33:44:55/ff:ff:ff:00:00:00,actions=drop
dl_src=00:11:22:33:44:55/ff:ff:ff:ff:ff:ff,actions=drop
dl_src=00:11:22:33:44:55/00:00:00:00:00:00,actions=drop
dl_src=00:11:22:33:44:55/fe:ff:ff:ff:ff:ff,actions=drop
dl_src=00:11:22:33:44,actions=drop
dl_src=00:11:22:33:44:55:66,actions=drop
dl_src=00-11-22-33-44-55,actions=drop
dl_src=00:11:22:33:44:gg,actions=drop
dl_src=001122334455,actions=drop
dl_dst=00:11:22:33:44:55,actions=drop
eth_dst=ff:ff:ff:ff:ff:ff,actions=drop
dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=drop
dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,actions=drop
eth_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=drop
dl_dst=ff:ff:ff:ff:ff:ff/ff:ff:ff:00:00:00,actions=drop
dl_dst=fe:ff:ff:ff:ff:ff/fe:ff:ff:ff:ff:ff,actions=drop
dl_dst=01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0,actions=drop
dl_dst=ff:ff:ff:ff:ff:ff/00:00:00:00:00:00,actions=drop
dl_src=00:11:22:33:44:55,dl_dst=66:77:88:99:aa:bb,actions=drop
dl_type=0x0800,actions=drop
dl_type=0x800,actions=drop
eth_type=0x86dd,actions=drop
dl_type=0x0806,actions=drop
dl_type=0x8035,actions=drop
dl_type=2048,actions=drop
dl_type=0x8847,actions=drop
dl_type=0x8848,actions=drop
dl_type=0x88cc,actions=drop
dl_type=0x1234,actions=drop
dl_type=0x8100,actions=drop
dl_type=0x0800/0xff00,actions=drop
dl_type=0x10000,actions=drop
# --- vlan ---
dl_vlan=1,actions=drop
dl_vlan=0,actions=drop
dl_vlan=9,actions=drop
dl_vlan=4095,actions=drop
dl_vlan=0xffff,actions=drop
dl_vlan=4096,actions=drop
dl_vlan=0x1000,actions=drop
dl_vlan_pcp=0,actions=drop
dl_vlan_pcp=3,actions=drop
dl_vlan_pcp=7,actions=drop
dl_vlan_pcp=8,actions=drop
dl_vlan=5,dl_vlan_pcp=3,actions=drop
dl_vlan_pcp=3,dl_vlan=5,actions=drop
dl_vlan=0xffff,dl_vlan_pcp=3,actions=drop
dl_vlan_pcp=3,dl_vlan=0xffff,actions=drop
vlan_tci=0,actions=drop
vlan_tci=0x0000,actions=drop
vlan_tci=0x1005,actions=drop
vlan_tci=0x1000/0x1000,actions=drop
vlan_tci=0/0x1fff,actions=drop
vlan_tci=0x0004/0x0fff,actions=drop
vlan_tci=0x1004/0x1fff,actions=drop
vlan_tci=0xf005,actions=drop
vlan_tci=0x0000/0xffff,actions=drop
vlan_tci=0x1234/0x0,actions=drop
vlan_tci=0x6000/0xe000,actions=drop
vlan_tci=0x10000,actions=drop
dl_vlan=5,vlan_tci=0x1005,actions=drop
vlan_tci=0x1005,dl_vlan=6,actions=drop
vlan_vid=5,actions=drop
vlan_vid=0x1005,actions=drop
vlan_vid=0x1000/0x1000,actions=drop
vlan_pcp=3,actions=drop
vlan_tci1=0x1005,actions=drop
# --- IPv4 addresses ---
ip,nw_src=198.18.0.1,actions=drop
ip,ip_src=198.18.0.1,actions=drop
ip,nw_src=198.18.0.0/24,actions=drop
ip,nw_src=198.18.0.0/255.255.0.0,actions=drop
ip,nw_src=198.18.0.0/255.0.255.0,actions=drop
ip,nw_src=198.18.0.1/255.255.255.254,actions=drop
ip,nw_src=198.18.0.1/32,actions=drop
ip,nw_src=198.18.0.1/0,actions=drop
ip,nw_src=0.0.0.0/0,actions=drop
ip,nw_src=198.18.0.1/16,actions=drop
ip,nw_src=198.18.1.1/23,actions=drop
ip,nw_src=198.18.0.1/31,actions=drop
ip,nw_src=198.18.0.1/1,actions=drop
ip,nw_src=198.18.0.1/33,actions=drop
ip,nw_src=300.1.1.1,actions=drop
ip,nw_src=198.18,actions=drop
ip,nw_src=198.18.0.1.5,actions=drop
ip,nw_src=0xc6120001,actions=drop
ip,nw_dst=198.18.0.2,actions=drop
ip,ip_dst=198.18.0.2,actions=drop
ip,nw_dst=198.18.0.0/24,actions=drop
ip,nw_dst=198.18.0.0/255.255.0.0,actions=drop
ip,nw_dst=198.18.255.0/0.0.255.0,actions=drop
ip,nw_dst=198.18.0.1/32,actions=drop
ip,nw_dst=198.18.0.0/0,actions=drop
ip,nw_src=198.18.0.1,nw_dst=198.18.0.2,actions=drop
dl_type=0x0800,nw_src=198.18.0.1,actions=drop
eth_type=0x800,ip_dst=198.18.0.0/15,actions=drop
# --- IPv4 other fields ---
ip,nw_proto=6,actions=drop
ip,ip_proto=17,actions=drop
ip,nw_proto=1,actions=drop
ip,nw_proto=0,actions=drop
ip,nw_proto=255,actions=drop
ip,nw_proto=256,actions=drop
ipv6,nw_proto=58,actions=drop
arp,nw_proto=1,actions=drop
ip,nw_tos=0,actions=drop
ip,nw_tos=16,actions=drop
ip,nw_tos=0x10,actions=drop
ip,nw_tos=252,actions=drop
ip,nw_tos=3,actions=drop
ip,nw_tos=256,actions=drop
ip,ip_dscp=4,actions=drop
ip,ip_dscp=63,actions=drop
ip,ip_dscp=64,actions=drop
ip,nw_ecn=0,actions=drop
ip,nw_ecn=3,actions=drop
ip,ip_ecn=2,actions=drop
ip,nw_ecn=4,actions=drop
ip,nw_ttl=64,actions=drop
ip,nw_ttl=0,actions=drop
ip,nw_ttl=256,actions=drop
ipv6,nw_ttl=1,actions=drop
ip,nw_tos=16,nw_ecn=1,actions=drop
ip,nw_frag=yes,actions=drop
ip,nw_frag=no,actions=drop
ip,nw_frag=first,actions=drop
ip,nw_frag=later,actions=drop
ip,nw_frag=not_later,actions=drop
ipv6,nw_frag=later,actions=drop
ip,nw_frag=foo,actions=drop
ip_frag=yes,ip,actions=drop
# --- L4 ports ---
tcp,tp_src=80,actions=drop
tcp,tp_dst=80,actions=drop
tcp,tp_dst=0,actions=drop
tcp,tp_dst=65535,actions=drop
tcp,tp_dst=0x1000/0xf000,actions=drop
tcp,tp_src=0x1000/0xf000,actions=drop
tcp,tp_dst=80/0xfff0,actions=drop
tcp,tp_dst=80/0xffff,actions=drop
tcp,tp_dst=80/0,actions=drop
tcp,tp_dst=70000,actions=drop
tcp,tp_dst=-1,actions=drop
udp,tp_src=53,actions=drop
udp,tp_dst=53,actions=drop
sctp,tp_dst=9,actions=drop
tcp,tcp_src=80,actions=drop
tcp,tcp_dst=443,actions=drop
tcp,tcp_dst=0x1000/0xf000,actions=drop
udp,udp_src=53,actions=drop
udp,udp_dst=4789,actions=drop
udp,udp_dst=0x1000/0xf000,actions=drop
sctp,sctp_src=1,actions=drop
sctp,sctp_dst=2,actions=drop
tcp6,tcp_dst=22,actions=drop
udp6,udp_src=546,actions=drop
tcp,udp_src=53,actions=drop
udp,tcp_dst=80,actions=drop
tcp,sctp_dst=80,actions=drop
tcp,tp_src=1,tp_dst=2,actions=drop
# --- tcp_flags ---
tcp,tcp_flags=+syn-ack,actions=drop
tcp,tcp_flags=+syn,actions=drop
tcp,tcp_flags=-syn,actions=drop
tcp,tcp_flags=+syn+ack,actions=drop
tcp,tcp_flags=+fin+rst,actions=drop
tcp,tcp_flags=+cwr+ece+urg+psh,actions=drop
tcp,tcp_flags=+ns,actions=drop
tcp,tcp_flags=-fin-syn-rst-psh-ack-urg-ece-cwr-ns,actions=drop
tcp,tcp_flags=+syn+syn,actions=drop
tcp,tcp_flags=+syn-syn,actions=drop
tcp,tcp_flags=0x002/0x012,actions=drop
tcp,tcp_flags=0x002,actions=drop
tcp,tcp_flags=0x012,actions=drop
tcp,tcp_flags=0/0x0fff,actions=drop
tcp,tcp_flags=0x0fff,actions=drop
tcp,tcp_flags=0x1000,actions=drop
tcp,tcp_flags=syn,actions=drop
tcp,tcp_flags=+SYN,actions=drop
tcp,tcp_flags=+foo,actions=drop
tcp6,tcp_flags=+syn,actions=drop
# --- ICMP ---
icmp,icmp_type=8,actions=drop
icmp,icmp_code=0,actions=drop
icmp,icmp_type=3,icmp_code=1,actions=drop
icmp,icmp_type=255,actions=drop
icmp,icmp_type=256,actions=drop
icmp,icmp_type=8/0xf0,actions=drop
icmp6,icmp_type=128,actions=drop
icmp6,icmpv6_type=135,actions=drop
icmp6,icmp6_type=135,actions=drop
icmp6,icmpv6_code=0,actions=drop
icmp6,icmp6_code=1,actions=drop
icmp6,icmpv6_type=1,icmpv6_code=4,actions=drop
icmp,icmpv6_type=128,actions=drop
# --- ARP / RARP ---
arp,arp_op=1,actions=drop
arp,arp_op=2,actions=drop
rarp,arp_op=3,actions=drop
arp,arp_op=256,actions=drop
arp,arp_spa=198.18.0.1,actions=drop
arp,arp_tpa=198.18.0.0/24,actions=drop
arp,arp_spa=198.18.0.0/255.255.0.0,actions=drop
arp,nw_src=198.18.0.1,actions=drop
arp,nw_dst=198.18.0.2,actions=drop
arp,arp_sha=00:11:22:33:44:55,actions=drop
arp,arp_tha=00:11:22:33:44:55,actions=drop
arp,arp_sha=00:11:22:33:44:55/ff:ff:ff:00:00:00,actions=drop
arp,arp_op=1,arp_spa=198.18.0.1,arp_tpa=198.18.0.2,arp_sha=00:11:22:33:44:55,arp_tha=00:00:00:00:00:00,actions=drop
rarp,arp_sha=00:11:22:33:44:55,actions=drop
# --- IPv6 ---
ipv6,ipv6_src=2001:db8::1,actions=drop
ipv6,ipv6_src=2001:0db8:0000:0000:0000:0000:0000:0001,actions=drop
ipv6,ipv6_src=2001:DB8::1,actions=drop
ipv6,ipv6_src=2001:db8::/64,actions=drop
ipv6,ipv6_src=2001:db8::1/64,actions=drop
ipv6,ipv6_src=2001:db8::/ffff:ffff::,actions=drop
ipv6,ipv6_src=2001:db8::/ffff:0:ffff::,actions=drop
ipv6,ipv6_src=2001:db8::1/128,actions=drop
ipv6,ipv6_src=::/0,actions=drop
ipv6,ipv6_src=::1,actions=drop
ipv6,ipv6_src=::,actions=drop
ipv6,ipv6_src=::ffff:198.18.0.1,actions=drop
ipv6,ipv6_src=2001:db8:0:0:1:0:0:1,actions=drop
ipv6,ipv6_src=2001:db8:0:1:0:0:0:1,actions=drop
ipv6,ipv6_src=fe80::1:0:0:0,actions=drop
ipv6,ipv6_src=2001:db8::1/129,actions=drop
ipv6,ipv6_src=2001:db8::g,actions=drop
ipv6,ipv6_dst=ff02::1,actions=drop
ipv6,ipv6_dst=fe80::/10,actions=drop
ipv6,ipv6_dst=2001:db8:1:2:3:4:5:6,actions=drop
ipv6,ipv6_label=0x12345,actions=drop
ipv6,ipv6_label=1,actions=drop
ipv6,ipv6_label=0xfffff,actions=drop
ipv6,ipv6_label=0x100000,actions=drop
ipv6,ipv6_label=0x1/0xf,actions=drop
ipv6,nw_tos=16,actions=drop
ipv6,ip_dscp=10,actions=drop
icmp6,icmp_type=135,nd_target=2001:db8::1,actions=drop
icmp6,icmpv6_type=136,nd_target=2001:db8::/64,actions=drop
icmp6,icmp_type=135,nd_sll=00:11:22:33:44:55,actions=drop
icmp6,icmp_type=136,nd_tll=00:11:22:33:44:55,actions=drop
icmp6,icmp_type=135,nd_target=fe80::1,nd_sll=00:11:22:33:44:55,actions=drop
icmp6,icmp_type=136,nd_sll=00:11:22:33:44:55,actions=drop
icmp6,icmp_type=135,nd_tll=00:11:22:33:44:55,actions=drop
icmp6,nd_target=2001:db8::1,actions=drop
icmp6,icmp_type=135,nd_reserved=0,actions=drop
# --- shorthands ---
ip,actions=drop
arp,actions=drop
rarp,actions=drop
icmp,actions=drop
tcp,actions=drop
udp,actions=drop
sctp,actions=drop
ipv6,actions=drop
ip6,actions=drop
tcp6,actions=drop
udp6,actions=drop
sctp6,actions=drop
icmp6,actions=drop
icmpv6,actions=drop
mpls,actions=drop
mplsm,actions=drop
igmp,actions=drop
ipv4,actions=drop
eth,actions=drop
# --- field ordering / combinations ---
tp_dst=80,nw_src=198.18.0.1,tcp,in_port=1,dl_vlan=5,priority=100,actions=drop
actions=drop,priority=5,in_port=1
nw_dst=198.18.0.0/24,udp,priority=10,udp_dst=53,table=2,actions=drop
dl_dst=00:11:22:33:44:55,in_port=2,dl_src=66:77:88:99:aa:bb,dl_type=0x0800,actions=drop
reg1=5,metadata=0x2,tun_id=0x3,in_port=3,reg0=1,actions=drop
icmp_code=0,icmp_type=8,icmp,nw_dst=198.18.0.1,actions=drop
ipv6_dst=2001:db8::2,tcp6,ipv6_src=2001:db8::1,tcp_dst=80,tcp_src=1024,actions=drop
arp_tpa=198.18.0.2,arp_op=1,arp,in_port=p2,actions=drop
nw_ttl=5,nw_ecn=1,ip_dscp=2,nw_proto=17,dl_type=0x0800,actions=drop
tcp_flags=+syn,tp_dst=22,tcp,actions=drop
in_port=1,dl_src=00:11:22:33:44:55,dl_dst=66:77:88:99:aa:bb,dl_type=0x0800,nw_src=198.18.0.1,nw_dst=198.18.0.2,nw_proto=6,nw_tos=0,tp_src=1,tp_dst=2,actions=drop
tcp,vlan_tci=0x1005,nw_tos=4,tun_id=9,metadata=1,reg2=2,in_port=LOCAL,actions=drop
# --- fields without prerequisites (what does OVS do?) ---
nw_src=198.18.0.1,actions=drop
nw_dst=198.18.0.0/24,actions=drop
ip_src=198.18.0.1,actions=drop
nw_proto=6,actions=drop
nw_tos=16,actions=drop
ip_dscp=4,actions=drop
nw_ecn=1,actions=drop
nw_ttl=64,actions=drop
nw_frag=yes,actions=drop
tp_dst=80,actions=drop
tp_src=80,actions=drop
ip,tp_dst=80,actions=drop
ipv6,tp_dst=80,actions=drop
arp,tp_dst=80,actions=drop
ip,nw_proto=6,tp_dst=80,actions=drop
dl_type=0x0800,nw_proto=6,tp_dst=80,actions=drop
dl_type=0x0800,nw_proto=17,tcp_dst=80,actions=drop
tcp_dst=80,actions=drop
udp_src=53,actions=drop
sctp_dst=1,actions=drop
ip,tcp_dst=80,actions=drop
tcp_flags=+syn,actions=drop
ip,tcp_flags=+syn,actions=drop
udp,tcp_flags=+syn,actions=drop
icmp_type=8,actions=drop
icmp_code=0,actions=drop
ip,icmp_type=8,actions=drop
tcp,icmp_type=8,actions=drop
icmpv6_type=135,actions=drop
ipv6,icmpv6_type=135,actions=drop
arp_op=1,actions=drop
arp_spa=198.18.0.1,actions=drop
arp_sha=00:11:22:33:44:55,actions=drop
ip,arp_op=1,actions=drop
ipv6_src=2001:db8::1,actions=drop
ipv6_label=5,actions=drop
ip,ipv6_src=2001:db8::1,actions=drop
ipv6,nw_src=198.18.0.1,actions=drop
nd_target=2001:db8::1,actions=drop
icmp6,nd_sll=00:11:22:33:44:55,actions=drop
in_port=1,nw_src=198.18.0.1,tp_dst=80,actions=output:2
vlan_tci=0x1005,nw_src=198.18.0.1,actions=drop
# --- output actions ---
actions=output:1
actions=output:4
actions=output:5
actions=1
actions=2,3
actions=output:p1
actions=p1
actions=p2,p3
actions=output:"p1"
actions=output:NXM_NX_REG0[0..15]
actions=output:NXM_NX_REG0[]
actions=output:NXM_NX_REG0[16..31]
actions=output:reg0
actions=output:reg0[0..15]
actions=output:reg1[0..7]
actions=output:NXM_OF_IN_PORT[]
actions=output:in_port
actions=output:NXM_NX_REG0[0..3]
actions=output:foo
actions=output:0
actions=output:65534
actions=output:65279
actions=output:65280
actions=output:70000
actions=output:LOCAL
actions=output:NORMAL
actions=output:IN_PORT
actions=output:CONTROLLER
actions=output:ANY
actions=NORMAL
actions=normal
actions=FLOOD
actions=flood
actions=ALL
actions=IN_PORT
actions=in_port
actions=LOCAL
actions=local
actions=NONE
actions=ANY
actions=TABLE
actions=output:1,output:1
in_port=1,actions=output:1
in_port=p1,actions=output:p1
in_port=1,actions=IN_PORT
actions=output(port=1,max_len=100)
actions=output(port=p2,max_len=65535)
actions=enqueue:1:2
actions=enqueue(1,2)
actions=enqueue(p1,0)
actions=set_queue:1
actions=set_queue:1,output:2,pop_queue
# --- controller ---
actions=CONTROLLER
actions=controller
actions=CONTROLLER:128
actions=CONTROLLER:0
actions=CONTROLLER:65535
actions=CONTROLLER:65536
actions=controller:100
actions=output:CONTROLLER:128
actions=controller(max_len=128)
actions=controller(reason=no_match)
actions=controller(reason=action)
actions=controller(reason=invalid_ttl)
actions=controller(reason=action_set)
actions=controller(reason=group)
actions=controller(reason=packet_out)
actions=controller(reason=foo)
actions=controller(id=5)
actions=controller(reason=no_match,id=5,max_len=64)
actions=controller(max_len=64,reason=no_match,id=5)
actions=controller(userdata=01.02.03)
actions=controller(userdata=010203)
actions=controller(pause)
actions=controller(meter_id=1)
actions=controller(reason=invalid_ttl,pause,userdata=aa)
actions=controller(foo=1)
actions=controller()
# --- drop / empty ---
actions=drop
actions=
in_port=1,actions=
actions=drop,output:1
actions=output:1,drop
actions=drop,drop
actions=drop()
# --- resubmit / goto_table ---
actions=resubmit:2
actions=resubmit:p2
actions=resubmit:IN_PORT
actions=resubmit(,3)
actions=resubmit(1,3)
actions=resubmit(p1,3)
actions=resubmit(2)
actions=resubmit(2,)
actions=resubmit(,)
actions=resubmit(,0)
actions=resubmit(,254)
actions=resubmit(,255)
actions=resubmit(,256)
actions=resubmit(,3,ct)
ip,actions=resubmit(,3,ct)
actions=resubmit(,3,foo)
actions=resubmit
actions=resubmit(1,2,3,4)
actions=goto_table:5
actions=goto_table:1
table=1,actions=goto_table:5
table=3,actions=goto_table:2
table=5,actions=goto_table:5
actions=goto_table:254
actions=goto_table:255
actions=goto_table:5,output:1
actions=output:1,goto_table:5
actions=goto_table:5,goto_table:6
actions=write_metadata:0x1,goto_table:1
actions=write_metadata:0x1/0xff
actions=write_actions(output:1)
actions=write_actions(output:1),goto_table:2
actions=clear_actions
actions=clear_actions,output:1
actions=meter:1
actions=group:1
# --- VLAN actions ---
actions=mod_vlan_vid:9
actions=mod_vlan_vid:0
actions=mod_vlan_vid:4095
actions=mod_vlan_vid:4096
actions=mod_vlan_vid:0x10
actions=mod_vlan_pcp:3
actions=mod_vlan_pcp:7
actions=mod_vlan_pcp:8
actions=mod_vlan_vid:9,mod_vlan_pcp:3
actions=strip_vlan
actions=pop_vlan
actions=push_vlan:0x8100
actions=push_vlan:0x88a8
actions=push_vlan:0x1234
actions=push_vlan:33024
dl_vlan=5,actions=strip_vlan,output:1
actions=push_vlan:0x8100,set_field:4101->vlan_vid
# --- tunnel actions ---
actions=set_tunnel:0x1
actions=set_tunnel:1
actions=set_tunnel:0xffffffff
actions=set_tunnel:0x100000000
actions=set_tunnel64:0x1
actions=set_tunnel64:0x100000000
actions=set_tunnel64:0xffffffffffffffff
actions=set_tunnel:0x10000000000000000
# --- set_field ---
actions=set_field:0x1->tun_id
actions=set_field:1->tun_id
actions=set_field:0x100000000->tunnel_id
actions=set_field:5->vlan_vid
actions=set_field:4101->vlan_vid
actions=set_field:0x1005->vlan_vid
actions=set_field:3->vlan_pcp
actions=set_field:5->dl_vlan
actions=set_field:3->dl_vlan_pcp
actions=set_field:0x1005->vlan_tci
actions=set_field:00:11:22:33:44:55->eth_src
actions=set_field:00:11:22:33:44:55->dl_src
actions=set_field:00:11:22:33:44:55->eth_dst
actions=set_field:00:11:22:33:44:55/ff:ff:ff:00:00:00->eth_dst
actions=set_field:198.18.0.1->ip_dst
ip,actions=set_field:198.18.0.1->ip_dst
ip,actions=set_field:198.18.0.1->nw_dst
ip,actions=set_field:198.18.0.1->ip_src
ip,actions=set_field:198.18.0.0/255.255.0.0->ip_src
ip,actions=set_field:4->ip_dscp
ip,actions=set_field:16->nw_tos
ip,actions=set_field:2->ip_ecn
ip,actions=set_field:64->nw_ttl
ipv6,actions=set_field:2001:db8::1->ipv6_src
ipv6,actions=set_field:5->ipv6_label
tcp,actions=set_field:80->tcp_dst
tcp,actions=set_field:80->tp_dst
udp,actions=set_field:53->udp_src
actions=set_field:80->tcp_dst
tcp,actions=set_field:80->udp_dst
arp,actions=set_field:2->arp_op
arp,actions=set_field:198.18.0.1->arp_spa
icmp,actions=set_field:0->icmp_type
actions=set_field:1->reg0
actions=set_field:0x1/0xff->reg0
actions=set_field:0xffffffff->reg15
actions=set_field:0x100000000->reg0
actions=set_field:1->reg16
actions=set_field:198.18.0.2->tun_dst
actions=set_field:198.18.0.1->tun_src
actions=set_field:0x1->metadata
actions=set_field:0x1/0xf->metadata
actions=set_field:1->in_port
actions=set_field:p2->in_port
actions=set_field:5->pkt_mark
actions=set_field:1->xreg0
actions=set_field:1->xxreg0
ip,actions=set_field:1->nw_proto
actions=set_field:0x800->eth_type
actions=set_field:0x800->dl_type
ip,actions=set_field:yes->nw_frag
actions=set_field:1->ct_state
actions=set_field:1->foo
actions=set_field:1
actions=set_field:->reg0
actions=set_field:xyz->reg0
actions=set_field:00:11:22:33:44->eth_src
# --- load ---
actions=load:0x1->NXM_OF_VLAN_TCI[0..11]
actions=load:1->NXM_NX_TUN_ID[]
actions=load:0x001122334455->NXM_OF_ETH_SRC[]
actions=load:0xf->NXM_NX_REG0[0..3]
actions=load:0x1->OXM_OF_METADATA[]
actions=load:1->reg0
actions=load:1->reg0[]
actions=load:1->reg0[5]
actions=load:1->NXM_NX_REG0[5]
actions=load:0x1->tun_id
actions=load:0x1->tun_id[0..31]
actions=load:0x10->NXM_NX_REG0[0..3]
actions=load:1->NXM_NX_REG0[40..50]
actions=load:1->NXM_NX_REG0[31..32]
actions=load:1->NXM_NX_REG0[3..1]
actions=load:0->NXM_OF_VLAN_TCI[]
actions=load:0xffffffff->NXM_NX_REG1[]
actions=load:0x100000000->NXM_NX_REG1[]
actions=load:1->NXM_NX_REG0
actions=load:1->NXM_OF_IP_DST[]
ip,actions=load:0xc6120001->NXM_OF_IP_DST[]
actions=load:1->NXM_OF_ETH_TYPE[]
actions=load:1->NXM_OF_IN_PORT[]
actions=load:5->OXM_OF_VLAN_VID[]
actions=load:1->NXM_NX_FOO[]
actions=load:NXM_NX_REG0[]->NXM_NX_REG1[]
actions=load:1->eth_src[0..7]
actions=load:1->xxreg0[100..127]
# --- move ---
actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]
actions=move:reg0[0..7]->reg1[8..15]
actions=move:NXM_OF_IN_PORT[]->NXM_NX_REG3[0..15]
actions=move:NXM_NX_REG0[]->NXM_NX_TUN_ID[0..31]
actions=move:NXM_NX_TUN_ID[]->OXM_OF_METADATA[]
actions=move:eth_src->eth_dst
actions=move:eth_src[]->eth_dst[]
actions=move:reg0->reg1
actions=move:reg0[0..7]->reg1[0..15]
actions=move:NXM_NX_REG0[]->NXM_OF_ETH_TYPE[0..15]
actions=move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[]
ip,actions=move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[]
actions=move:reg0[5]->reg1[31]
actions=move:reg0[0..15]->NXM_OF_IN_PORT[]
actions=move:NXM_OF_ETH_DST[0..7]->reg0[0..7]
actions=move:reg0[0..40]->reg1[0..40]
actions=move:reg0[]->
# --- mod_* header rewrites ---
actions=mod_dl_src:00:11:22:33:44:55
actions=mod_dl_dst:ff:ff:ff:ff:ff:ff
actions=mod_dl_src:00:11:22:33:44
actions=mod_nw_src:198.18.0.1
ip,actions=mod_nw_src:198.18.0.1
ip,actions=mod_nw_dst:198.18.0.2
ip,actions=mod_nw_tos:16
ip,actions=mod_nw_tos:3
ip,actions=mod_nw_ecn:2
ip,actions=mod_nw_ecn:4
ip,actions=mod_nw_ttl:64
ip,actions=mod_nw_ttl:256
tcp,actions=mod_tp_src:80
tcp,actions=mod_tp_dst:443
udp,actions=mod_tp_dst:53
actions=mod_tp_dst:80
ip,actions=mod_tp_dst:80
ipv6,actions=mod_nw_src:198.18.0.1
arp,actions=mod_nw_src:198.18.0.1
# --- TTL ---
actions=dec_ttl
ip,actions=dec_ttl
actions=dec_ttl(1,2)
actions=dec_ttl(1)
actions=dec_ttl()
actions=dec_ttl(0)
actions=dec_ttl(65535)
actions=dec_mpls_ttl
actions=set_mpls_ttl:5
actions=set_mpls_label:5
actions=push_mpls:0x8847
actions=pop_mpls:0x0800
mpls,actions=pop_mpls:0x0800
mpls,actions=set_mpls_label:5,dec_mpls_ttl
# --- note ---
actions=note:
actions=note:00
actions=note:ab
actions=note:ab.cd
actions=note:00.01.02
actions=note:00.01.02.03.04.05
actions=note:00.01.02.03.04.05.06
actions=note:00.01.02.03.04.05.06.07
actions=note:00.01.02.03.04.05.06.07.08.09.0a.0b.0c
actions=note:00.01.02.03.04.05.06.07.08.09.0a.0b.0c.0d.0e.0f
actions=note:0001
actions=note:000102030405
actions=note:ABCD
actions=note:a
actions=note:0.1
actions=note:zz
actions=note:00..01
actions=note:01,output:1
actions=output:1,note:01.02
# --- learn ---
actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[])
actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1
actions=learn(table=20,idle_timeout=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])
actions=learn(table=20,idle_timeout=10,hard_timeout=20,fin_idle_timeout=5,fin_hard_timeout=6,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(fin_idle_timeout=5)
actions=learn(fin_hard_timeout=6)
actions=learn(table=20,cookie=0x123,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=20,send_flow_rem,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=20,delete_learned,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=20,limit=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=20,limit=10,result_dst=reg0[0],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=20,result_dst=reg0[0],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=20,limit=10,result_dst=reg0[0..1],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=20,eth_src=eth_dst)
actions=learn(table=20,eth_dst=eth_src,load:reg0->reg1)
actions=learn(table=20,eth_src)
actions=learn(table=20,NXM_OF_ETH_SRC[])
actions=learn(table=20,in_port)
actions=learn(table=20,in_port=99)
actions=learn(table=20,dl_type=0x800)
actions=learn(table=20,eth_type=0x800,nw_dst=198.18.0.1)
actions=learn(table=20,dl_type=0x800,nw_dst=198.18.0.1)
actions=learn(table=20,dl_type=0x0800,nw_dst=198.18.0.0/24)
actions=learn(table=20,dl_type=0x800,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[])
ip,actions=learn(table=20,dl_type=0x800,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[])
ip,actions=learn(table=20,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[])
actions=learn(table=20,nw_src=198.18.0.1)
actions=learn(table=20,nw_src)
ip,actions=learn(table=20,nw_src)
ip,actions=learn(table=20,dl_type=0x800,nw_src)
udp,actions=learn(dl_type=0x800,nw_proto=17,udp_dst=udp_src)
udp,actions=learn(udp_dst=udp_src)
actions=learn(dl_type=0x800,nw_proto=17,udp_dst=udp_src)
actions=learn()
actions=learn(NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=0,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=254,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=255,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(priority=32768,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(priority=0,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(priority=65536,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(hard_timeout=300,table=20,priority=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
actions=learn(table=20,load:0xffff->NXM_NX_REG0[0..15])
actions=learn(table=20,load:0x1->reg0[0..3],load:reg1[]->reg2[],output:reg3[0..15])
actions=learn(table=20,load:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[])
actions=learn(table=20,output:NXM_NX_REG0[0..15])
actions=learn(table=20,reg0=5)
actions=learn(table=20,reg0[0..7]=0x5)
actions=learn(table=20,NXM_NX_REG0[0..7]=NXM_NX_REG1[8..15])
actions=learn(table=20,vlan_tci=0x1005)
actions=learn(table=20,tun_id=0x5)
actions=learn(table=20,NXM_NX_TUN_ID[])
actions=learn(table=20,eth_dst=ff:ff:ff:ff:ff:ff)
actions=learn(table=20,importance=5,eth_src)
actions=learn(foo)
actions=learn(table=20,foo=bar)
actions=learn(table=20,NXM_OF_ETH_DST[]=NXM_OF_IP_SRC[])
actions=learn(table=20,NXM_OF_ETH_DST[]=NXM_NX_REG0[])
actions=learn(table=20,load:1->NXM_OF_ETH_TYPE[])
actions=learn(table=20,load:0x10->NXM_NX_REG0[0..3])
actions=learn(table=20,output:NXM_NX_REG0[0..3])
actions=learn(table=20,output:1)
actions=learn(table=20,in_port=foo)
actions=learn(table=20,NXM_OF_ETH_DST[]=
actions=learn(table=20,move:reg0[]->reg1[])
actions=learn(table=20,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[]),learn(table=21,NXM_OF_ETH_SRC[])
# --- multiple actions ---
actions=mod_vlan_vid:9,output:1,output:2
actions=strip_vlan,output:NORMAL
actions=strip_vlan,NORMAL
actions=set_field:1->reg0,resubmit(,1)
actions=load:1->reg0,load:2->reg1,move:reg0[]->reg2[],output:3
actions=mod_dl_src:00:11:22:33:44:55,mod_dl_dst:66:77:88:99:aa:bb,IN_PORT
ip,actions=mod_nw_src:198.18.0.1,mod_nw_dst:198.18.0.2,dec_ttl,output:2
actions=push_vlan:0x8100,mod_vlan_vid:10,output:3,pop_vlan,output:4
actions=output:1,output:2,output:3,output:4,LOCAL,CONTROLLER:64
actions=note:aa,output:1,note:bb
actions=output:1 output:2
actions=output:1,,output:2
# --- clone / exit / misc actions ---
actions=clone(output:1)
actions=clone(mod_dl_src:00:11:22:33:44:55,output:2),output:3
actions=clone()
actions=clone(clone(output:1))
actions=exit
actions=output:1,exit
actions=exit,output:1
actions=fin_timeout(idle_timeout=10,hard_timeout=20)
actions=fin_timeout(idle_timeout=10)
actions=stack_push:reg0[],stack_pop:reg1[]
actions=stack_push:NXM_NX_REG0[0..15]
actions=multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])
actions=bundle(eth_src,0,hrw,ofport,members:1,2)
actions=bundle(eth_src,0,hrw,ofport,slaves:1,2)
actions=bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[],members:1,2)
actions=sample(probability=65535,collector_set_id=1)
actions=conjunction(1,1/2)
actions=conjunction(1,3/2)
ip,actions=ct(commit)
ip,actions=ct(commit,zone=1)
ip,actions=ct(table=1)
ip,actions=ct(commit,nat(src=198.18.0.1))
actions=ct(commit)
actions=ct_clear
actions=check_pkt_larger(1500)->reg0[0]
actions=encap(nsh)
actions=decap()
actions=delete_field:tun_metadata0
actions=frobnicate
actions=output
actions=output:
actions=mod_vlan_vid
actions=mod_vlan_vid:
actions=set_tunnel
actions=resubmit:foo
"""


def parse_cases(text):
    out = []  # list of ("#", comment) or ("case", input)
    for line in text.split("\n"):
        if line == "":
            continue
        if line.startswith("#"):
            out.append(("#", line))
        elif line == "<EMPTY>":
            out.append(("case", ""))
        else:
            out.append(("case", line))
    return out


def enc_stderr(s):
    s = s.rstrip("\n")
    return s.replace("\t", "\\t").replace("\n", " \\n ")


def gen_flows(path, version):
    cases = parse_cases(CASES)
    n = sum(1 for k, _ in cases if k == "case")
    lines = [
        "# golden_flows.tsv -- generated by tests/ovs/gen-golden.sh; DO NOT EDIT BY HAND.",
        "# Truth data from real Open vSwitch: %s (ovs-ofctl/ovs-vswitchd, userspace netdev datapath)." % version,
        "# Bridge br0: datapath_type=netdev, fail_mode=secure, ports p1..p4 (type=dummy) = ofport 1..4.",
        "# For each case: `ovs-ofctl del-flows br0`; `ovs-ofctl add-flow br0 INPUT`;",
        "#   if accepted: `ovs-ofctl dump-flows --no-stats br0` (stdout is a pipe, so no port names).",
        "# Format (TAB separated), one case per line:",
        "#   INPUT<TAB>ok<TAB>DUMP<TAB>STDERR      flow accepted (add-flow exit 0)",
        "#   INPUT<TAB>err<TAB>EXITCODE<TAB>STDERR  flow rejected (add-flow exit != 0)",
        "# DUMP: dump-flows lines with the single leading space removed; several lines are joined",
        "#   with ' ;; ', no line at all gives an empty DUMP.",
        "# STDERR: ovs-ofctl stderr, trailing newline removed, each inner newline replaced by the",
        "#   4 characters ' \\n ' (space, backslash, 'n', space), tabs by '\\t'; the vlog timestamp",
        "#   prefix 'YYYY-MM-DDTHH:MM:SSZ|' of log lines is stripped (so lines look like",
        "#   '00001|ofp_match|INFO|...').  Empty when nothing was printed.",
        "# INPUT is verbatim (may be empty or start with a space).  Lines starting with '#' are",
        "#   comments ('# --- group ---' lines name the group of the following cases).",
        "# %d cases." % n,
    ]
    for kind, val in cases:
        if kind == "#":
            lines.append(val)
            continue
        must(["ovs-ofctl", "del-flows", "br0"])
        rc, out, err = run(["ovs-ofctl", "add-flow", "br0", val])
        if rc == 0:
            rc2, dump, err2 = run(["ovs-ofctl", "dump-flows", "--no-stats", "br0"])
            if rc2 != 0:
                sys.exit("dump-flows failed for %r: %s" % (val, err2))
            dl = [l[1:] if l.startswith(" ") else l for l in dump.splitlines()]
            fields = [val, "ok", " ;; ".join(dl), enc_stderr(err + out)]
        else:
            fields = [val, "err", str(rc), enc_stderr(err + out)]
        for f in fields:
            if "\t" in f or "\n" in f:
                sys.exit("unexpected tab/newline in %r" % (fields,))
        lines.append("\t".join(fields))
    must(["ovs-ofctl", "del-flows", "br0"])
    write(path, "\n".join(lines) + "\n")
    return n


# ---------------------------------------------------------------------------
# Sectioned transcript helpers (golden_stats.txt / golden_trace.txt)
# ---------------------------------------------------------------------------
class Transcript:
    """Sections: '### COMMAND' then the command's raw stdout.  If the command
    wrote to stderr, each stderr line follows as '##! LINE' (vlog timestamps
    stripped); if it exited non-zero, a line '##? exit=N' follows."""

    def __init__(self, cwd):
        self.parts = []
        self.cwd = cwd

    def comment(self, text):
        for l in text.splitlines():
            self.parts.append("# " + l if l else "#")

    def file(self, name, content):
        with open(os.path.join(self.cwd, name), "w") as f:
            f.write(content)
        self.parts.append("### cat " + name)
        self.parts.extend(content.rstrip("\n").split("\n"))

    def cmd(self, argv, shown=None, quiet=False):
        rc, out, err = run(argv, cwd=self.cwd)
        if quiet:
            if rc != 0:
                sys.exit("gen_golden: setup command failed: %s\n%s" % (" ".join(argv), err))
            return rc, out, err
        self.parts.append("### " + (shown or " ".join(shell_quote(a) for a in argv)))
        if out:
            self.parts.extend(out.rstrip("\n").split("\n"))
        for l in err.rstrip("\n").split("\n") if err else []:
            self.parts.append("##! " + l)
        if rc != 0:
            self.parts.append("##? exit=%d" % rc)
        return rc, out, err

    def text(self):
        return "\n".join(self.parts) + "\n"


def shell_quote(a):
    if re.fullmatch(r"[A-Za-z0-9_./:=,+-]+", a):
        return a
    return "'" + a.replace("'", "'\\''") + "'"


def write(path, content):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(content)
    os.replace(tmp, path)


def settle():
    """Let ovs-vswitchd process queued packets and push stats to the rules."""
    run(["ovs-appctl", "revalidator/wait"])
    time.sleep(0.3)
    run(["ovs-appctl", "revalidator/wait"])


PKT_TCP80 = ("in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),"
             "ipv4(src=198.18.0.1,dst=198.18.1.1,proto=6,tos=0,ttl=64,frag=no),tcp(src=1234,dst=80)")
PKT_UDP53 = ("in_port(2),eth(src=00:00:00:00:00:02,dst=00:00:00:00:00:01),eth_type(0x0800),"
             "ipv4(src=198.18.0.2,dst=198.18.1.1,proto=17,tos=0,ttl=64,frag=no),udp(src=1234,dst=53)")

STATS_FLOWS = """\
# golden_stats flow set (a comment line)
priority=32768,in_port=1,actions=output:2
table=0,priority=100,ip,nw_src=198.18.0.0/16,actions=output:3
cookie=0x1,table=0,priority=200,tcp,tp_dst=80,actions=output:2
cookie=0x1,table=0,priority=150,tcp,tp_dst=443,actions=output:p4
cookie=0x2,table=1,priority=10,udp,tp_dst=53,idle_timeout=60,actions=output:4
table=1,hard_timeout=120,priority=5,arp,actions=NORMAL
importance=7,send_flow_rem,priority=300,in_port=p3,actions=drop
cookie=0x10,table=2,priority=0,idle_timeout=30,hard_timeout=90,send_flow_rem,actions=resubmit(,1)
priority=1,tcp,tp_dst=22,actions=output:p2
priority=0,actions=resubmit(,1)
"""

DIFF_FILE = """\
# desired state for diff-flows / replace-flows
# (comment lines and blank lines are ignored)

priority=32768,in_port=1,actions=output:2
table=0,priority=100,ip,nw_src=198.18.0.0/16,actions=output:4
cookie=0x1,table=0,priority=200,tcp,tp_dst=80,actions=output:2
table=1,hard_timeout=120,priority=5,arp,actions=NORMAL
priority=2,udp,tp_dst=123,actions=output:1
cookie=0x3,priority=1,tcp,tp_dst=22,actions=output:2
  priority=3,in_port=4 actions=drop
"""

DIFF_FILE_T0 = """\
# table-0-only desired state (replace-flows works with the default protocol)
priority=32768,in_port=1,actions=output:2
priority=100,ip,nw_src=198.18.0.0/16,actions=output:4
cookie=0x1,priority=200,tcp,tp_dst=80,actions=output:2
"""

# Flows that need OpenFlow 1.1+ (push_vlan, meter, goto_table as an instruction,
# OF1.3 flags, importance...), added and dumped with -O OpenFlow13 / OpenFlow15.
OF13_FLOWS = [
    "actions=push_vlan:0x8100",
    "actions=push_vlan:0x88a8,set_field:4101->vlan_vid,output:1",
    "actions=push_vlan:0x8100,mod_vlan_vid:10,output:3,pop_vlan,output:4",
    "actions=set_field:4101->vlan_vid",
    "vlan_tci=0x1000/0x1000,actions=set_field:5->vlan_vid",
    "dl_vlan=5,actions=set_field:3->vlan_pcp,set_field:6->vlan_vid",
    "vlan_vid=0x1005,actions=drop",
    "vlan_vid=0x1000/0x1000,actions=drop",
    "vlan_vid=0,actions=drop",
    "dl_vlan=5,actions=mod_vlan_vid:6,mod_vlan_pcp:2",
    "actions=set_field:00:11:22:33:44:55/ff:ff:ff:00:00:00->eth_dst",
    "actions=set_field:00:11:22:33:44:55->eth_src",
    "ip,actions=set_field:198.18.0.0/255.255.0.0->ip_src",
    "ip,actions=set_field:198.18.0.1->ip_dst,set_field:4->ip_dscp,set_field:1->ip_ecn,set_field:9->nw_ttl",
    "ip,actions=mod_nw_src:198.18.0.1,mod_nw_tos:16,mod_nw_ecn:1,mod_nw_ttl:9,dec_ttl",
    "tcp,actions=set_field:80->tcp_dst,mod_tp_src:1",
    "actions=set_field:0x1->tun_id,set_field:1->reg0,set_field:0x1/0xff->reg1",
    "actions=load:0x1->NXM_NX_REG0[0..3],move:reg0[]->reg1[]",
    "actions=set_tunnel:0x5,set_tunnel64:0x100000000",
    "actions=set_field:0x1/0xf->metadata",
    "actions=write_metadata:0x1/0xff,goto_table:3",
    "actions=write_actions(output:1),goto_table:2",
    "actions=output:1,write_actions(output:2,set_field:1->reg0),clear_actions",
    "actions=clear_actions,goto_table:1",
    "actions=goto_table:1",
    "table=3,actions=goto_table:2",
    "actions=meter:1",
    "actions=meter:1,output:1",
    "actions=group:1",
    "actions=strip_vlan,pop_vlan",
    "actions=mod_dl_src:00:11:22:33:44:55,mod_dl_dst:66:77:88:99:aa:bb",
    "actions=note:01.02,controller(reason=no_match),CONTROLLER:128",
    "actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1",
    "reset_counts,actions=drop",
    "send_flow_rem,check_overlap,no_packet_counts,no_byte_counts,actions=drop",
    "importance=5,actions=drop",
    "OpenFlow14:importance=5,actions=drop",
    "OpenFlow14:cookie=0x5,table=7,priority=9,idle_timeout=1000,hard_timeout=2000,importance=3,send_flow_rem,actions=drop",
    "OpenFlow15:importance=65535,reset_counts,actions=drop",
    "cookie=0x5,table=7,priority=9,idle_timeout=1000,hard_timeout=2000,importance=3,send_flow_rem,actions=drop",
    "nw_src=198.18.0.1,actions=drop",
    "tp_dst=80,actions=drop",
    "ip,tp_dst=80,actions=drop",
    "icmp_type=8,actions=drop",
    "in_port=p1,actions=output:p2",
    "tcp,tcp_flags=+syn-ack,actions=drop",
    "actions=encap(nsh),decap()",
]

ADDFLOWS_KEYWORDS = """\
# add-flows with add/modify/delete keywords
add priority=10,in_port=1,actions=output:2
add priority=20,in_port=2,actions=output:1
add priority=30,in_port=3,actions=output:4
modify in_port=1,actions=output:3
modify_strict priority=20,in_port=2,actions=output:4
delete_strict priority=30,in_port=3
priority=40,in_port=4,actions=LOCAL
delete in_port=4
add table=1,priority=5,actions=drop
"""


def gen_stats(path, version, workdir):
    t = Transcript(workdir)
    t.comment(
        "golden_stats.txt -- generated by tests/ovs/gen-golden.sh; DO NOT EDIT BY HAND.\n"
        "Open vSwitch: %s.  Bridge br0: datapath_type=netdev, fail_mode=secure,\n"
        "ports p1..p4 (type=dummy) = ofport 1..4.\n"
        "Format: each section starts with '### COMMAND' (the command as run, with cwd = a scratch\n"
        "dir holding the files shown by '### cat FILE' sections) followed by the raw stdout.\n"
        "Stderr lines (if any) follow as '##! LINE' (vlog timestamps stripped), and a non-zero\n"
        "exit status as '##? exit=N'.  Lines starting with '# ' before the first section are\n"
        "comments.  Volatile values: duration=, idle_age=, hard_age= depend on timing.\n"
        "Packets were injected with `ovs-appctl netdev-dummy/receive` so some n_packets/n_bytes\n"
        "are non-zero (two TCP/80 packets from p1, one UDP/53 packet from p2).\n"
        "The last part ('-O OpenFlow1x add-flow' sections) records syntax that needs OpenFlow 1.1+\n"
        "(push_vlan, meter, instructions, OF1.3 flags, importance): each flow is added alone (after\n"
        "an unrecorded del-flows) with -O OpenFlow13 (a few with 14/15), then dumped with -O OpenFlow13, with the\n"
        "default protocol (OpenFlow10+NXM) and with -O OpenFlow15." % version)
    must(["ovs-ofctl", "del-flows", "br0"])
    t.file("flows.txt", STATS_FLOWS)
    t.cmd(["ovs-ofctl", "add-flows", "br0", "flows.txt"])
    for _ in range(2):
        t.cmd(["ovs-appctl", "netdev-dummy/receive", "p1", PKT_TCP80], quiet=True)
    t.cmd(["ovs-appctl", "netdev-dummy/receive", "p2", PKT_UDP53], quiet=True)
    settle()
    time.sleep(1.2)  # make idle_age / duration non-trivial
    dumps = [
        ["ovs-ofctl", "dump-flows", "br0"],
        ["ovs-ofctl", "--names", "dump-flows", "br0"],
        ["ovs-ofctl", "--no-names", "dump-flows", "br0"],
        ["ovs-ofctl", "--no-stats", "dump-flows", "br0"],
        ["ovs-ofctl", "--no-stats", "--names", "dump-flows", "br0"],
        ["ovs-ofctl", "--sort", "dump-flows", "br0"],
        ["ovs-ofctl", "--rsort", "dump-flows", "br0"],
        ["ovs-ofctl", "--rsort=priority", "dump-flows", "br0"],
        ["ovs-ofctl", "--sort=priority", "dump-flows", "br0"],
        ["ovs-ofctl", "--sort=tp_dst", "dump-flows", "br0"],
        ["ovs-ofctl", "--rsort=tp_dst", "dump-flows", "br0"],
        ["ovs-ofctl", "--sort=in_port", "--sort=priority", "dump-flows", "br0"],
        ["ovs-ofctl", "--no-stats", "--sort", "dump-flows", "br0"],
        ["ovs-ofctl", "dump-flows", "br0", "table=1"],
        ["ovs-ofctl", "dump-flows", "br0", "table=2"],
        ["ovs-ofctl", "dump-flows", "br0", "cookie=0x1/-1"],
        ["ovs-ofctl", "dump-flows", "br0", "cookie=0x1/0xffffffffffffffff"],
        ["ovs-ofctl", "dump-flows", "br0", "cookie=0x0/0x1"],
        ["ovs-ofctl", "dump-flows", "br0", "out_port=2"],
        ["ovs-ofctl", "dump-flows", "br0", "out_port=p4"],
        ["ovs-ofctl", "dump-flows", "br0", "ip,nw_src=198.18.0.0/16"],
        ["ovs-ofctl", "dump-flows", "br0", "tcp"],
        ["ovs-ofctl", "dump-flows", "br0", "in_port=1"],
        ["ovs-ofctl", "dump-flows", "--strict", "br0", "priority=100,ip,nw_src=198.18.0.0/16"],
        ["ovs-ofctl", "dump-flows", "--strict", "br0", "ip,nw_src=198.18.0.0/16"],
        ["ovs-ofctl", "dump-flows", "br0", "table=255"],
        ["ovs-ofctl", "dump-flows", "br0", "foo=1"],
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br0"],
        ["ovs-ofctl", "-O", "OpenFlow15", "dump-flows", "br0"],
        ["ovs-ofctl", "-O", "OpenFlow15", "--no-stats", "dump-flows", "br0"],
        ["ovs-ofctl", "dump-aggregate", "br0"],
        ["ovs-ofctl", "dump-aggregate", "br0", "table=1"],
        ["ovs-ofctl", "dump-aggregate", "br0", "tcp"],
        ["ovs-ofctl", "dump-aggregate", "br0", "cookie=0x1/-1"],
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-aggregate", "br0"],
        ["ovs-ofctl", "dump-tables", "br0"],
    ]
    for argv in dumps:
        t.cmd(argv)

    t.file("desired.txt", DIFF_FILE)
    t.cmd(["ovs-ofctl", "diff-flows", "desired.txt", "br0"])
    t.cmd(["ovs-ofctl", "diff-flows", "br0", "desired.txt"])
    t.cmd(["ovs-ofctl", "diff-flows", "desired.txt", "desired.txt"])
    t.cmd(["ovs-ofctl", "--names", "diff-flows", "desired.txt", "br0"])
    t.cmd(["ovs-ofctl", "--no-stats", "--names", "dump-flows", "br0"], quiet=True)
    t.file("desired-names.txt", "priority=5,in_port=p1,actions=output:p2\n")
    t.cmd(["ovs-ofctl", "diff-flows", "desired-names.txt", "br0"])
    t.file("desired-kw.txt", "add priority=5,in_port=2,actions=output:1\n")
    t.cmd(["ovs-ofctl", "diff-flows", "desired-kw.txt", "br0"])
    t.file("desired-bad.txt", "priority=5,in_port=2,actions=output:1\nfoo=1,actions=drop\n")
    t.cmd(["ovs-ofctl", "diff-flows", "desired-bad.txt", "br0"])
    t.cmd(["ovs-ofctl", "add-flows", "br0", "desired-bad.txt"])
    # replace-flows: with the default protocol (OpenFlow10/NXM, no table_id
    # extension) multi-table files are refused; -O OpenFlow13 works.
    t.cmd(["ovs-ofctl", "replace-flows", "br0", "desired.txt"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow13", "replace-flows", "br0", "desired.txt"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "diff-flows", "desired.txt", "br0"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow13", "replace-flows", "br0", "desired.txt"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow13", "--readd", "replace-flows", "br0", "desired.txt"])
    t.cmd(["ovs-ofctl", "dump-flows", "br0"])
    t.file("desired-t0.txt", DIFF_FILE_T0)
    t.cmd(["ovs-ofctl", "diff-flows", "desired-t0.txt", "br0"])
    t.cmd(["ovs-ofctl", "replace-flows", "br0", "desired-t0.txt"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow13", "replace-flows", "br0", "desired.txt"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])

    # mod-flows / del-flows examples
    t.cmd(["ovs-ofctl", "mod-flows", "br0", "tcp,tp_dst=80,actions=output:4"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "mod-flows", "br0", "tcp,actions=output:3"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "mod-flows", "--strict", "br0", "priority=2,udp,tp_dst=123,actions=output:2"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "mod-flows", "--strict", "br0", "udp,tp_dst=123,actions=drop"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "mod-flows", "br0", "cookie=0x3/-1,actions=output:1"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "mod-flows", "br0", "cookie=0x99,in_port=1,actions=output:3"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "mod-flows", "br0", "in_port=7,actions=output:3"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    time.sleep(1.1)
    t.cmd(["ovs-ofctl", "mod-flows", "br0", "in_port=1,actions=output:4"])
    t.cmd(["ovs-ofctl", "dump-flows", "br0", "in_port=1"])
    t.cmd(["ovs-ofctl", "del-flows", "--strict", "br0", "ip,nw_src=198.18.0.0/16"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "del-flows", "--strict", "br0", "priority=100,ip,nw_src=198.18.0.0/16"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "del-flows", "br0", "tcp"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "del-flows", "br0", "table=1"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "del-flows", "br0", "out_port=2"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "del-flows", "br0"])
    t.cmd(["ovs-ofctl", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "dump-aggregate", "br0"])

    # add-flows with keywords
    t.file("keywords.txt", ADDFLOWS_KEYWORDS)
    t.cmd(["ovs-ofctl", "add-flows", "br0", "keywords.txt"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "diff-flows", "keywords.txt", "br0"])

    # flows with timeouts/flags, dump with stats in several protocols
    t.cmd(["ovs-ofctl", "del-flows", "br0"])
    t.cmd(["ovs-ofctl", "add-flow", "br0",
           "cookie=0xabc,table=3,priority=300,idle_timeout=30,hard_timeout=60,importance=2,send_flow_rem,in_port=1,actions=drop"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow14", "add-flow", "br0",
           "table=4,importance=9,send_flow_rem,check_overlap,reset_counts,no_packet_counts,no_byte_counts,actions=drop"])
    t.cmd(["ovs-ofctl", "add-flow", "br0", "priority=32768,actions=drop"])
    t.cmd(["ovs-ofctl", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow14", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow15", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "del-flows", "br0"])

    # OpenFlow 1.1+ only syntax: add with -O OpenFlow13, dump in three ways.
    for f in OF13_FLOWS:
        ver = "OpenFlow13"
        m = re.match(r"(OpenFlow1[0-5]):(.*)", f)
        if m:
            ver, f = m.groups()
        t.cmd(["ovs-ofctl", "del-flows", "br0"], quiet=True)
        rc, _, _ = t.cmd(["ovs-ofctl", "-O", ver, "add-flow", "br0", f])
        if rc == 0:
            t.cmd(["ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows", "br0"])
            t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br0"])
            t.cmd(["ovs-ofctl", "-O", "OpenFlow15", "--no-stats", "dump-flows", "br0"])
    t.cmd(["ovs-ofctl", "del-flows", "br0"], quiet=True)
    write(path, t.text())


BR_TUN_FLOWS = """\
table=0,priority=1,in_port=1 actions=resubmit(,1)
table=0,priority=1,in_port=2 actions=resubmit(,2)
table=0,priority=0 actions=drop
table=1,priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=1,priority=1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)
table=2,priority=1,tun_id=0x1 actions=mod_vlan_vid:4,resubmit(,10)
table=2,priority=0 actions=drop
table=3,priority=0 actions=drop
table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1
table=20,priority=0 actions=resubmit(,21)
table=21,priority=1,dl_vlan=4 actions=strip_vlan,set_tunnel:0x1,output:2
table=21,priority=0 actions=drop
"""


def gen_trace(path, version, workdir):
    t = Transcript(workdir)
    vs = ["ovs-vsctl"]
    t.comment(
        "golden_trace.txt -- generated by tests/ovs/gen-golden.sh; DO NOT EDIT BY HAND.\n"
        "Open vSwitch: %s, userspace (netdev) datapath, dummy/patch/gre ports.\n"
        "Format: '### COMMAND' section headers followed by raw stdout; stderr lines as\n"
        "'##! LINE' (vlog timestamps stripped), non-zero exit as '##? exit=N'.\n"
        "Topology (OpenStack Neutron compute node style):\n"
        "  br-int (netdev, fail_mode=secure): patch-tun (ofport 1, patch peer patch-int),\n"
        "         vm1 (dummy, ofport 2); flow 'priority=0,actions=NORMAL'.\n"
        "  br-tun (netdev, fail_mode=secure): patch-int (ofport 1, patch peer patch-tun),\n"
        "         gre-c6120002 (type=gre, ofport 2, remote_ip=198.18.0.2, key=flow).\n"
        "  No route exists in the sandbox, so output to the gre port ends in\n"
        "  'native tunnel routing failed' (genuine OVS behaviour, no kernel involved).\n"
        "  br-loop (netdev, fail_mode=secure, dummy l1 = ofport 1): resubmit loop.\n"
        "  br-sa (netdev, fail_mode=standalone, dummy s1..s3 = ofport 1..3): NORMAL." % version)
    setup = [
        vs + ["add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev", "fail_mode=secure"],
        vs + ["add-br", "br-tun", "--", "set", "bridge", "br-tun", "datapath_type=netdev", "fail_mode=secure"],
        vs + ["add-port", "br-int", "patch-tun", "--", "set", "interface", "patch-tun", "type=patch",
              "options:peer=patch-int", "ofport_request=1"],
        vs + ["add-port", "br-int", "vm1", "--", "set", "interface", "vm1", "type=dummy", "ofport_request=2"],
        vs + ["add-port", "br-tun", "patch-int", "--", "set", "interface", "patch-int", "type=patch",
              "options:peer=patch-tun", "ofport_request=1"],
        vs + ["add-port", "br-tun", "gre-c6120002", "--", "set", "interface", "gre-c6120002", "type=gre",
              "ofport_request=2", "options:remote_ip=198.18.0.2", "options:local_ip=198.18.0.1",
              "options:key=flow", "options:in_key=flow", "options:out_key=flow"],
    ]
    for argv in setup:
        t.cmd(argv)
    t.cmd(["ovs-ofctl", "del-flows", "br-int"])
    t.cmd(["ovs-ofctl", "add-flow", "br-int", "priority=0,actions=NORMAL"])
    t.file("br-tun-flows.txt", BR_TUN_FLOWS)
    t.cmd(["ovs-ofctl", "add-flows", "br-tun", "br-tun-flows.txt"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br-tun"])
    t.cmd(["ovs-ofctl", "show", "br-tun"])

    pkt_a = "in_port=2,tun_id=1,dl_src=fa:16:3e:32:28:af,dl_dst=ff:ff:ff:ff:ff:ff"
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", pkt_a])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br-tun", "table=20"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", pkt_a, "-generate"])
    t.cmd(["ovs-ofctl", "dump-flows", "br-tun"])
    t.cmd(["ovs-ofctl", "dump-flows", "br-tun", "table=20"])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br-tun", "table=20"])
    t.cmd(["ovs-ofctl", "--names", "--no-stats", "dump-flows", "br-tun", "table=20"])
    t.cmd(["ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows", "br-tun", "table=20"])
    # (b) packet from patch-int towards the learned MAC
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", "in_port=1,dl_vlan=4,dl_dst=fa:16:3e:32:28:af"])
    # (c) unicast miss (unknown MAC) -> table 20 default -> table 21 flood
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", "in_port=1,dl_vlan=4,dl_dst=fa:16:3e:00:00:01"])
    # broadcast from br-int side, other VLAN (dropped), and a tunnel miss
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", "in_port=1,dl_vlan=4,dl_dst=ff:ff:ff:ff:ff:ff"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", "in_port=1,dl_vlan=5,dl_dst=ff:ff:ff:ff:ff:ff"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", "in_port=2,tun_id=2,dl_dst=ff:ff:ff:ff:ff:ff"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun",
           "in_port=1,dl_vlan=4,dl_src=fa:16:3e:11:11:11,dl_dst=fa:16:3e:32:28:af,ip,nw_src=198.18.0.10,nw_dst=198.18.0.11"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", "in_port=patch-int,dl_vlan=4,dl_dst=fa:16:3e:32:28:af"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", "in_port=3,dl_dst=fa:16:3e:32:28:af"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-tun", "foo=1"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-nope", "in_port=1"])
    # datapath-flow syntax
    t.cmd(["ovs-appctl", "ofproto/trace", "ovs-netdev",
           "in_port(3),eth(src=fa:16:3e:11:11:11,dst=fa:16:3e:32:28:af),eth_type(0x8100),vlan(vid=4,pcp=0),encap(eth_type(0x0800))"])

    # Resubmit loop.
    t.cmd(vs + ["add-br", "br-loop", "--", "set", "bridge", "br-loop", "datapath_type=netdev", "fail_mode=secure"])
    t.cmd(vs + ["add-port", "br-loop", "l1", "--", "set", "interface", "l1", "type=dummy", "ofport_request=1"])
    t.cmd(["ovs-ofctl", "add-flow", "br-loop", "table=0,actions=resubmit(,0)"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-loop", "in_port=1"])
    t.cmd(["ovs-ofctl", "del-flows", "br-loop"])
    t.cmd(["ovs-ofctl", "add-flow", "br-loop", "table=0,actions=resubmit(,1)"])
    t.cmd(["ovs-ofctl", "add-flow", "br-loop", "table=1,actions=resubmit(,0)"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-loop", "in_port=1"])
    # Exponential resubmit fan-out (hits the total-resubmit limit, not depth).
    t.cmd(["ovs-ofctl", "del-flows", "br-loop"])
    for i in range(0, 14):
        t.cmd(["ovs-ofctl", "add-flow", "br-loop",
               "table=%d,actions=resubmit(,%d),resubmit(,%d)" % (i, i + 1, i + 1)], quiet=True)
    t.cmd(["ovs-ofctl", "add-flow", "br-loop", "table=14,actions=drop"], quiet=True)
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br-loop"])
    rc, out, err = run(["ovs-appctl", "ofproto/trace", "br-loop", "in_port=1"])
    # The full output is huge (tens of thousands of lines); keep head and tail.
    lines = out.rstrip("\n").split("\n")
    t.parts.append("### ovs-appctl ofproto/trace br-loop in_port=1   [fan-out: first 40 and last 20 of %d lines]" % len(lines))
    t.parts.extend(lines[:40] + ["[... %d lines omitted ...]" % (len(lines) - 60)] + lines[-20:])
    for l in err.rstrip("\n").split("\n") if err else []:
        t.parts.append("##! " + l)
    if rc != 0:
        t.parts.append("##? exit=%d" % rc)

    # NORMAL on a standalone bridge.
    t.cmd(vs + ["add-br", "br-sa", "--", "set", "bridge", "br-sa", "datapath_type=netdev", "fail_mode=standalone"])
    for i in range(1, 4):
        t.cmd(vs + ["add-port", "br-sa", "s%d" % i, "--", "set", "interface", "s%d" % i, "type=dummy",
                    "ofport_request=%d" % i])
    t.cmd(["ovs-ofctl", "--no-stats", "dump-flows", "br-sa"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-sa",
           "in_port=1,dl_src=00:00:5e:00:53:01,dl_dst=00:00:5e:00:53:02"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-sa",
           "in_port=2,dl_src=00:00:5e:00:53:02,dl_dst=00:00:5e:00:53:01", "-generate"])
    t.cmd(["ovs-appctl", "fdb/show", "br-sa"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-sa",
           "in_port=1,dl_src=00:00:5e:00:53:01,dl_dst=00:00:5e:00:53:02"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-sa",
           "in_port=3,dl_src=00:00:5e:00:53:03,dl_dst=ff:ff:ff:ff:ff:ff,dl_vlan=10"])
    t.cmd(["ovs-appctl", "ofproto/trace", "br-sa",
           "in_port=1,dl_src=00:00:5e:00:53:01,dl_dst=01:80:c2:00:00:00"])
    write(path, t.text())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--only", choices=["flows", "stats", "trace"], action="append")
    a = ap.parse_args()
    if not os.environ.get("SANDBOX_DIR"):
        sys.exit("gen_golden.py must run inside tests/ovs/ovs-sandbox.sh")
    os.makedirs(a.out_dir, exist_ok=True)
    work = os.path.join(os.environ["SANDBOX_DIR"], "work")
    os.makedirs(work, exist_ok=True)
    version = ovs_version()
    only = set(a.only or ["flows", "stats", "trace"])
    setup_br0()
    t0 = time.time()
    if "flows" in only:
        n = gen_flows(os.path.join(a.out_dir, "golden_flows.tsv"), version)
        print("golden_flows.tsv: %d cases (%.1fs)" % (n, time.time() - t0), file=sys.stderr)
    if "stats" in only:
        gen_stats(os.path.join(a.out_dir, "golden_stats.txt"), version, work)
        print("golden_stats.txt written (%.1fs)" % (time.time() - t0), file=sys.stderr)
    if "trace" in only:
        gen_trace(os.path.join(a.out_dir, "golden_trace.txt"), version, work)
        print("golden_trace.txt written (%.1fs)" % (time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
