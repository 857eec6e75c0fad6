//! Packet capture: when switched on, every packet put on a wire (or a
//! container's loopback, where Docker's embedded DNS is reached) is kept
//! with the interface it crossed and the simulator's explanation. The
//! output layer encodes them as real frames (`output::pcap`). Off by
//! default: nothing is kept and nothing is drawn.

use super::event::Seg;
use super::world::World;
use crate::id::{CtrId, NetId};
use crate::net::addr::{Ip, SockAddr};
use crate::proto::dns::Rcode;
use crate::time::Time;

/// Where a packet was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Iface {
    /// The bridge (or overlay) of a network: `docker0`, `br-NAME`.
    Net(NetId),
    /// A container's loopback (`lo` inside its namespace).
    Lo(CtrId),
}

/// What was seen.
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    Tcp(Seg),
    Echo { reply: bool, seq: u16 },
    Udp { seq: u32, size: u32 },
    PortUnreachable { orig_src: SockAddr, orig_dst: SockAddr },
    DnsQuery { id: u16, name: String },
    DnsAnswer { id: u16, name: String, rcode: Rcode, ips: Vec<Ip> },
    ArpRequest { sender: Ip, target: Ip },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Captured {
    pub t: Time,
    pub iface: Iface,
    pub src: SockAddr,
    pub dst: SockAddr,
    pub what: What,
    /// Why it matters: dropped and why, retransmission, answer to…
    pub note: String,
    /// The containers holding the source and destination addresses on that network, then.
    pub ends: [Option<CtrId>; 2],
}

impl World {
    /// Keeps a packet if capturing.
    pub(super) fn capture(&mut self, iface: Option<Iface>, src: SockAddr, dst: SockAddr, what: What, note: String) {
        let extra = std::mem::take(&mut self.next_note);
        if self.captured.is_none() {
            return;
        }
        let Some(iface) = iface else { return };
        let note = match (extra.is_empty(), note.is_empty()) {
            (true, _) => note,
            (false, true) => extra,
            (false, false) => format!("{extra}; {note}"),
        };
        let holder = |ip: Ip| match iface {
            Iface::Net(n) => self.nets[n].holders.get(&ip).copied(),
            Iface::Lo(c) => Some(c),
        };
        let ends = [holder(src.ip), holder(dst.ip)];
        let Some(cap) = self.captured.as_mut() else { return };
        cap.push(Captured { t: self.now, iface, src, dst, what, note, ends });
    }

    /// An ARP request for `target` on `net`, from `sender`.
    pub(super) fn capture_arp(&mut self, net: NetId, sender: Ip, target: Ip, n: u8) {
        if !self.capturing() {
            return;
        }
        let (src, dst) = (SockAddr::new(sender, 0), SockAddr::new(target, 0));
        let note = format!("ARP probe {n}/3 for an address nobody may hold");
        self.capture(Some(Iface::Net(net)), src, dst, What::ArpRequest { sender, target }, note);
    }

    /// The DNS message id used in captures for a query.
    pub(super) fn dns_id(q: crate::id::QueryId) -> u16 {
        use slotmap::Key;
        let k = q.data().as_ffi();
        ((k ^ (k >> 32).wrapping_mul(0x9e37)) & 0xffff) as u16
    }

    pub(super) fn capturing(&self) -> bool {
        self.captured.is_some()
    }

    /// The interface a packet from namespace owner `who` over `net` is seen on.
    pub(super) fn iface_for(&self, net: Option<NetId>, who: Option<CtrId>) -> Option<Iface> {
        match (net, who) {
            (Some(n), _) => Some(Iface::Net(n)),
            (None, Some(c)) => Some(Iface::Lo(c)),
            (None, None) => None,
        }
    }
}
