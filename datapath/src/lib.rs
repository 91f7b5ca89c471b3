//! datapath: packets and ports (wire formats, port backends, forwarding engine). Filled in by the datapath issue.
