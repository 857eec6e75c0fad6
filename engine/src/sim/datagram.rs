//! ICMP echo (ping) and UDP: no handshake, no retransmission; a datagram to a
//! closed port draws ICMP port unreachable, a lost one is simply gone.

use super::capture::What;
use super::event::{Packet, Seg, Timer};
use super::fabric::Route;
use super::record::{DropReason, Ev};
use super::world::World;
use crate::container::program::Input;
use crate::id::CtrId;
use crate::net::addr::{Ip, SockAddr};
use crate::proto::errno::Errno;
use crate::proto::tcp::{ARP_PROBES, ARP_RETRANS};

const ICMP_BYTES: u32 = 98;

impl World {
    /// Routes and sends one datagram; records why it was dropped, if it was.
    fn send_datagram(
        &mut self,
        who: Option<CtrId>,
        from: crate::id::StackId,
        src: SockAddr,
        dst: SockAddr,
        seg: Seg,
        size: u32,
    ) {
        self.checks.attempts += 1;
        let owner = self.stacks[from.0 as usize].owner;
        let what = match seg {
            Seg::Echo { seq, reply, .. } => Some(What::Echo { reply, seq }),
            Seg::Udp { seq, size, .. } => Some(What::Udp { seq, size }),
            Seg::PortUnreachable { .. } => Some(What::PortUnreachable { orig_src: dst, orig_dst: src }),
            _ => None,
        };
        let (to, net) = match self.route(from, dst.ip) {
            Route::Deliver { to, net, .. } => (to, net),
            Route::Drop { reason, net, .. } => {
                if let (true, Some(w)) = (self.capturing(), what.clone()) {
                    self.capture(self.iface_for(net, owner), src, dst, w, format!("dropped: {}", reason.name()));
                }
                return self.dropped(who, src, dst, reason);
            }
            Route::NoNeighbour { .. } | Route::Unroutable => {
                return self.dropped(who, src, dst, DropReason::NoNeighbour)
            }
        };
        match self.link_delay(net, size, from, to) {
            Some(d) => {
                self.check_isolation(from, to, net);
                if let (true, Some(w)) = (self.capturing(), what) {
                    self.capture(self.iface_for(net, owner), src, dst, w, String::new());
                }
                let at = self.now + d;
                self.push_packet(at, Packet { src, dst, seg, to, conn: None });
            }
            None => self.dropped(who, src, dst, DropReason::Loss),
        }
    }

    /// Source address a namespace uses towards `dst`, if it has a route.
    fn source_for(&self, stack: crate::id::StackId, dst: Ip) -> Option<(Ip, bool)> {
        match self.route(stack, dst) {
            Route::Unroutable => None,
            Route::NoNeighbour { src, .. } => Some((src, false)),
            Route::Deliver { src, .. } | Route::Drop { src, .. } => Some((src, true)),
        }
    }

    pub(super) fn ping(&mut self, ctr: CtrId, proc: u8, ip: Ip, seq: u16) {
        let stack = self.ctrs[ctr].stack;
        match self.source_for(stack, ip) {
            None => {
                let from = Ip::UNSPECIFIED;
                self.deliver_input(ctr, proc, Input::PingFailed { seq, errno: Errno::Enetunreach, from })
            }
            Some((from, false)) => {
                let inc = self.ctrs[ctr].inc;
                let wait = ARP_RETRANS.saturating_mul(u64::from(ARP_PROBES));
                self.at(wait, Timer::EchoUnreachable { ctr, inc, proc, seq, from });
            }
            Some((src, true)) => {
                let seg = Seg::Echo { seq, reply: false, ctr, proc };
                self.send_datagram(Some(ctr), stack, SockAddr::new(src, 0), SockAddr::new(ip, 0), seg, ICMP_BYTES);
            }
        }
    }

    pub(super) fn on_echo(&mut self, p: Packet, seq: u16, reply: bool, ctr: CtrId, proc: u8) {
        if reply {
            return self.deliver_input(ctr, proc, Input::Pong { seq, from: p.src.ip });
        }
        let who = self.stacks[p.to.0 as usize].owner;
        let seg = Seg::Echo { seq, reply: true, ctr, proc };
        self.send_datagram(who, p.to, p.dst, p.src, seg, ICMP_BYTES);
    }

    pub(super) fn udp_send(&mut self, ctr: CtrId, proc: u8, to: SockAddr, seq: u32, size: u32) {
        let stack = self.ctrs[ctr].stack;
        let Some((src_ip, _)) = self.source_for(stack, to.ip) else {
            return self.record(
                Some(ctr),
                Ev::Dropped { src: SockAddr::new(Ip::UNSPECIFIED, 0), dst: to, reason: DropReason::NoNeighbour },
            );
        };
        let port =
            self.stacks[stack.0 as usize].udp.iter().find(|(_, &(c, p))| c == ctr && p == proc).map_or(0, |(k, _)| *k);
        let src = SockAddr::new(src_ip, if port == 0 { 40000 + u16::from(proc) } else { port });
        self.record(Some(ctr), Ev::Datagram { src, dst: to, seq });
        self.send_datagram(Some(ctr), stack, src, to, Seg::Udp { seq, size, ctr, proc }, size + 42);
    }

    pub(super) fn on_udp(&mut self, p: Packet, seq: u32, ctr: CtrId, proc: u8) {
        match self.stacks[p.to.0 as usize].udp.get(&p.dst.port).copied() {
            Some((c, pr)) => self.deliver_input(c, pr, Input::Datagram { from: p.src, seq }),
            None => {
                let who = self.stacks[p.to.0 as usize].owner;
                self.record(who, Ev::PortUnreachable { src: p.dst, dst: p.src });
                self.send_datagram(who, p.to, p.dst, p.src, Seg::PortUnreachable { ctr, proc }, 70);
            }
        }
    }

    pub(super) fn on_port_unreachable(&mut self, p: Packet, ctr: CtrId, proc: u8) {
        self.deliver_input(ctr, proc, Input::UdpRefused { to: p.src });
    }
}
