//! TCP handlers: connect, the handshake, RST, FIN, data (docker-facts §6).

use super::event::{Event, Packet, Seg, Timer};
use super::fabric::{CachedRoute, Route};
use super::record::{DropReason, Ev, Flags};
use super::world::{Conn, TcpState, World};
use crate::container::program::{Input, Msg};
use crate::id::{ConnId, CtrId, DialId, StackId};
use crate::net::addr::{Ip, SockAddr};
use crate::proto::errno::Errno;
use crate::proto::tcp::{SynStep, ARP_PROBES, ARP_RETRANS, EPHEMERAL_FIRST, EPHEMERAL_LAST};
use crate::time::{Dur, Time};

const HEADER_BYTES: u32 = 66;
/// Linux's minimum retransmission timeout for an established connection.
const RTO_MIN: Dur = Dur::millis(200);
/// `tcp_retries2`: retransmissions of data before the connection is given up.
const TCP_RETRIES2: u64 = 15;

impl World {
    /// Sends a segment from namespace `from`; `flow`, the connection it
    /// belongs to, keeps one connection's segments in order (a bridge does
    /// not reorder a flow) and gives the packet its connection reference
    /// (`Packet::conn`). Returns whether it left.
    pub(super) fn transmit(
        &mut self,
        who: Option<CtrId>,
        from: StackId,
        src: SockAddr,
        dst: SockAddr,
        seg: Seg,
        flow: Option<ConnId>,
    ) -> bool {
        self.checks.attempts += 1;
        let size = HEADER_BYTES.saturating_add(if let Seg::Data { msg, .. } = seg { msg.size() } else { 0 });
        let (to, net) = match self.route_flow(flow, from, dst.ip) {
            Route::Deliver { to, net, .. } => (to, net),
            Route::Drop { reason, net, .. } => {
                if self.capturing() {
                    let iface = self.iface_for(net, self.stacks[from.0 as usize].owner);
                    self.capture(
                        iface,
                        src,
                        dst,
                        super::capture::What::Tcp(seg),
                        format!("dropped: {}", reason.name()),
                    );
                }
                self.dropped(who, src, dst, reason);
                if let Some(c) = flow.and_then(|c| self.conns.get_mut(c)) {
                    c.drops += 1;
                    c.last_drop = Some(reason);
                }
                return false;
            }
            Route::NoNeighbour { .. } | Route::Unroutable => {
                self.dropped(who, src, dst, DropReason::NoNeighbour);
                return false;
            }
        };
        let mut extra = Dur::ZERO;
        let mut rto = RTO_MIN;
        let mut d = self.link_delay(net, size, from, to);
        while d.is_none() {
            if self.capturing() {
                let iface = self.iface_for(net, self.stacks[from.0 as usize].owner);
                self.capture(iface, src, dst, super::capture::What::Tcp(seg), "lost on the link".into());
            }
            self.dropped(who, src, dst, DropReason::Loss);
            // A lost data segment is retransmitted after the RTO (Linux's
            // minimum 200 ms, doubling), up to tcp_retries2; other segments
            // have their own timers (SYN) or are idempotent.
            let data = matches!(seg, Seg::Data { .. });
            if !data || rto > RTO_MIN.saturating_mul(1 << TCP_RETRIES2) {
                return false;
            }
            self.checks.attempts += 1;
            extra = extra + rto;
            rto = rto.saturating_mul(2);
            d = self.link_delay(net, size, from, to);
        }
        let mut at = self.now + extra + d.expect("delivered");
        let mut conn = None;
        if let Some(id) = flow {
            if let Some(c) = self.conns.get_mut(id) {
                at = at.max(c.tx_last);
                c.tx_last = at;
                // The peer's connection, once its SYN or SYN-ACK named it.
                conn = c.peer;
            }
        }
        self.check_isolation(from, to, net);
        if self.capturing() {
            let iface = self.iface_for(net, self.stacks[from.0 as usize].owner);
            let note = if extra > Dur::ZERO { format!("retransmitted after {extra} of losses") } else { String::new() };
            self.capture(iface, src, dst, super::capture::What::Tcp(seg), note);
        }
        self.push_packet(at, Packet { src, dst, seg, to, conn });
        self.maybe_duplicate(net, at, Packet { src, dst, seg, to, conn });
        true
    }

    /// `route`, through the connection's cache when the segment belongs to one.
    fn route_flow(&mut self, flow: Option<ConnId>, from: StackId, dst: Ip) -> Route {
        let Some(conn) = flow else {
            return self.route(from, dst);
        };
        if let Some(c) = self.conns.get(conn) {
            if let Some((to, net)) = c.route.get(self.topo) {
                return Route::Deliver { to, net, src: c.local.ip };
            }
        }
        let r = self.route(from, dst);
        if let Some(c) = self.conns.get_mut(conn) {
            c.route = CachedRoute::of(r, self.topo);
        }
        r
    }

    /// Records and counts a dropped transmission.
    pub(super) fn dropped(&mut self, who: Option<CtrId>, src: SockAddr, dst: SockAddr, reason: DropReason) {
        self.count_drop();
        self.record(who, Ev::Dropped { src, dst, reason });
    }

    fn segment(
        &mut self,
        who: Option<CtrId>,
        from: StackId,
        src: SockAddr,
        dst: SockAddr,
        flags: Flags,
        retransmit: u8,
    ) {
        self.record(who, Ev::Segment { src, dst, flags, retransmit });
        self.transmit(who, from, src, dst, flags.seg(None), None);
    }

    /// Sends `seg` on connection `conn`, in order with its earlier segments.
    fn send_on(&mut self, conn: ConnId, seg: Seg) {
        let c = &self.conns[conn];
        let (who, stack, local, remote) = (Some(c.owner), c.stack, c.local, c.remote);
        self.transmit(who, stack, local, remote, seg, Some(conn));
    }

    /// Records and sends a flagged segment on connection `conn`.
    fn segment_on(&mut self, conn: ConnId, flags: Flags, retransmit: u8) {
        let c = &self.conns[conn];
        let (who, local, remote) = (Some(c.owner), c.local, c.remote);
        self.record(who, Ev::Segment { src: local, dst: remote, flags, retransmit });
        if retransmit > 0 && self.capturing() {
            self.next_note = format!("{} retransmission #{retransmit}", flags.tcpdump());
        }
        self.send_on(conn, flags.seg(Some(conn)));
    }

    /// The next ephemeral port of `stack` that no open connection from `src`
    /// to `remote` uses: like Linux, every 4-tuple stays unique (so the
    /// demultiplexing table maps each open connection to itself alone);
    /// `None` when every port of `EPHEMERAL_FIRST..=EPHEMERAL_LAST` is taken
    /// (connect fails with EADDRNOTAVAIL).
    fn ephemeral_port(&mut self, stack: StackId, src: Ip, remote: SockAddr) -> Option<u16> {
        for _ in EPHEMERAL_FIRST..=EPHEMERAL_LAST {
            let s = &mut self.stacks[stack.0 as usize];
            let p = s.next_port;
            s.next_port = if p >= EPHEMERAL_LAST { EPHEMERAL_FIRST } else { p + 1 };
            if self.demux.get(&(stack, SockAddr::new(src, p), remote), &self.conns).is_none() {
                return Some(p);
            }
        }
        None
    }

    /// `connect()` of a dial to `ip` once the name is resolved.
    pub(super) fn tcp_connect(&mut self, dial: DialId, ip: Ip) {
        let d = &self.dials[dial];
        let (ctr, port) = (d.ctr, d.port);
        let stack = self.ctrs[ctr].stack;
        let remote = SockAddr::new(ip, port);
        self.dials[dial].addr = Some(remote);
        let route = self.route(stack, ip);
        let src = match route {
            Route::Unroutable => return self.dial_fail(dial, Errno::Enetunreach),
            Route::Deliver { src, .. } | Route::Drop { src, .. } | Route::NoNeighbour { src, .. } => src,
        };
        let Some(port) = self.ephemeral_port(stack, src, remote) else {
            return self.dial_fail(dial, Errno::Eaddrnotavail);
        };
        let local = SockAddr::new(src, port);
        let conn = self.conns.insert(Conn {
            stack,
            owner: ctr,
            proc: self.dials[dial].proc,
            inc: self.ctrs[ctr].inc,
            local,
            remote,
            state: TcpState::SynSent,
            dial: Some(dial),
            tx_last: self.now,
            tx_seq: 0,
            rx_seq: 0,
            drops: 0,
            last_drop: None,
            // The route just computed is this connection's first cached one.
            route: CachedRoute::of(route, self.topo),
            peer: None,
        });
        self.demux.insert(&(stack, local, remote), conn);
        self.dials[dial].conn = Some(conn);
        self.send_syn(conn, 1, self.now);
    }

    /// Sends SYN number `n` (1 = the original, sent now; the first was sent
    /// at `started`), or starts ARP if nobody holds the address.
    fn send_syn(&mut self, conn: ConnId, n: u8, started: Time) {
        let c = &self.conns[conn];
        let (who, stack, remote) = (Some(c.owner), c.stack, c.remote);
        if let Route::NoNeighbour { net, src } = self.route_flow(Some(conn), stack, remote.ip) {
            self.conns[conn].state = TcpState::ArpWait;
            self.capture_arp(net, src, remote.ip, 1);
            self.record(who, Ev::ArpProbe { target: remote.ip, n: 1 });
            self.at(ARP_RETRANS, Timer::ArpTimer { conn, probes: 1 });
            return;
        }
        self.conns[conn].state = TcpState::SynSent;

        self.segment_on(conn, Flags::Syn, n - 1);
        let at = if n == 1 {
            self.syn_schedule.first_timer()
        } else {
            match self.syn_schedule.after_timeout(n - 1) {
                SynStep::Retransmit { next_timer_at } => next_timer_at,
                SynStep::GiveUp => self.syn_schedule.give_up_after(),
            }
        };
        if n == 1 {
            // First timers all have the same delay: a queue lane.
            self.queue.push_after(self.now, at, Timer::SynTimer { conn, sent: n, started });
        } else {
            self.queue.push(started + at, Event::Timer(Timer::SynTimer { conn, sent: n, started }));
        }
    }

    pub(super) fn on_syn_timer(&mut self, conn: ConnId, sent: u8, started: Time) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        if c.state != TcpState::SynSent {
            return;
        }
        match self.syn_schedule.after_timeout(sent) {
            SynStep::Retransmit { .. } => self.send_syn(conn, sent + 1, started),
            SynStep::GiveUp => {
                if let Some(d) = c.dial {
                    self.dial_fail(d, Errno::Etimedout);
                }
            }
        }
    }

    pub(super) fn on_arp_timer(&mut self, conn: ConnId, probes: u8) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        if c.state != TcpState::ArpWait {
            return;
        }
        let (who, stack, target, dial) = (Some(c.owner), c.stack, c.remote.ip, c.dial);
        let Route::NoNeighbour { net, src } = self.route(stack, target) else {
            return self.send_syn(conn, 1, self.now);
        };
        if probes < ARP_PROBES {
            self.capture_arp(net, src, target, probes + 1);
            self.record(who, Ev::ArpProbe { target, n: probes + 1 });
            self.at(ARP_RETRANS, Timer::ArpTimer { conn, probes: probes + 1 });
        } else if let Some(d) = dial {
            self.dial_fail(d, Errno::Ehostunreach);
        }
    }

    pub(super) fn on_deliver(&mut self, p: Packet) {
        if p.to == StackId::HOST && self.host_nat(p) {
            return;
        }
        match p.seg {
            Seg::Syn { from } => self.on_syn(p, from),
            Seg::SynAck { from } => self.on_synack(p, from),
            Seg::Ack => self.on_ack(p),
            Seg::Rst => self.on_rst(p),
            Seg::Fin => self.on_fin(p),
            Seg::Data { msg, seq } => self.on_data(p, msg, seq),
            Seg::Echo { seq, reply, ctr, proc } => self.on_echo(p, seq, reply, ctr, proc),
            Seg::Udp { seq, ctr, proc, .. } => self.on_udp(p, seq, ctr, proc),
            Seg::PortUnreachable { ctr, proc } => self.on_port_unreachable(p, ctr, proc),
        }
    }

    fn demux_of(&self, p: &Packet) -> Option<ConnId> {
        self.demux.get(&(p.to, p.dst, p.src), &self.conns)
    }

    /// The receiving connection of a segment: the packet's reference when
    /// it names an open connection with this very 4-tuple (the table maps
    /// each open connection's 4-tuple to it alone, so that is the table's
    /// answer too), else the demultiplexing table's.
    fn conn_of(&self, p: &Packet) -> Option<ConnId> {
        if let Some(id) = p.conn {
            if self.conns.get(id).is_some_and(|c| c.stack == p.to && c.local == p.dst && c.remote == p.src) {
                return Some(id);
            }
        }
        self.demux_of(p)
    }

    fn stack_owner(&self, s: StackId) -> Option<CtrId> {
        self.stacks[s.0 as usize].owner
    }

    fn reset(&mut self, p: &Packet) {
        let who = self.stack_owner(p.to);
        self.segment(who, p.to, p.dst, p.src, Flags::Rst, 0);
    }

    fn on_syn(&mut self, p: Packet, from: Option<ConnId>) {
        if let Some(conn) = self.demux_of(&p) {
            return self.segment_on(conn, Flags::SynAck, 1);
        }
        let l = self.stacks[p.to.0 as usize].listeners.get(&p.dst.port);
        let Some(l) = l.filter(|l| l.bind.is_unspecified() || l.bind == p.dst.ip) else {
            return self.reset(&p);
        };
        let (owner, proc) = (l.owner, l.proc);
        if l.queued >= l.backlog {
            return self.record(Some(owner), Ev::Dropped { src: p.src, dst: p.dst, reason: DropReason::Backlog });
        }
        let conn = self.conns.insert(Conn {
            stack: p.to,
            owner,
            proc,
            inc: self.ctrs[owner].inc,
            local: p.dst,
            remote: p.src,
            state: TcpState::SynRcvd,
            dial: None,
            tx_last: self.now,
            tx_seq: 0,
            rx_seq: 0,
            drops: 0,
            last_drop: None,
            route: CachedRoute::NONE,
            peer: from,
        });
        self.demux.insert(&(p.to, p.dst, p.src), conn);
        self.segment_on(conn, Flags::SynAck, 0);
    }

    fn on_synack(&mut self, p: Packet, from: Option<ConnId>) {
        let Some(conn) = self.conn_of(&p) else {
            return self.reset(&p);
        };
        let c = &mut self.conns[conn];
        c.peer = from;
        if c.state != TcpState::SynSent {
            return self.send_on(conn, Seg::Ack);
        }
        c.state = TcpState::Established;
        let (remote, dial) = (c.remote, c.dial.take());
        self.send_on(conn, Seg::Ack);
        let Some(dial) = dial else { return };
        let Some(d) = self.dials.remove(dial) else {
            return;
        };
        let target = d.host;
        let after = self.now.since(d.started);
        self.record(Some(d.ctr), Ev::Connected { target, addr: remote, after });
        self.deliver_input(d.ctr, d.proc, Input::Connected { tag: d.tag, conn });
    }

    fn on_ack(&mut self, p: Packet) {
        if let Some(conn) = self.conn_of(&p) {
            self.complete_handshake(conn);
        }
    }

    /// SYN_RCVD + ACK: the connection joins the listener's accept queue.
    fn complete_handshake(&mut self, conn: ConnId) {
        let c = &mut self.conns[conn];
        if c.state != TcpState::SynRcvd {
            return;
        }
        c.state = TcpState::Queued;
        let (owner, proc, port, stack) = (c.owner, c.proc, c.local.port, c.stack);
        if let Some(l) = self.stacks[stack.0 as usize].listeners.get_mut(&port) {
            l.queued += 1;
        }
        self.deliver_input(owner, proc, Input::Accepted { conn });
    }

    fn on_rst(&mut self, p: Packet) {
        let Some(conn) = self.conn_of(&p) else { return };
        let c = &self.conns[conn];
        match (c.state, c.dial) {
            (TcpState::SynSent, Some(d)) => self.dial_fail(d, Errno::Econnrefused),
            _ => self.peer_closed(conn, Some(Errno::Econnreset)),
        }
    }

    fn on_fin(&mut self, p: Packet) {
        if let Some(conn) = self.conn_of(&p) {
            self.peer_closed(conn, None);
        }
    }

    fn on_data(&mut self, p: Packet, msg: Msg, seq: u32) {
        let Some(conn) = self.conn_of(&p) else {
            return self.reset(&p);
        };
        // A data segment carries the ACK: it completes a handshake whose ACK was lost.
        self.complete_handshake(conn);
        let Some(c) = self.conns.get_mut(conn) else { return };
        if !matches!(c.state, TcpState::Established | TcpState::Queued) || seq <= c.rx_seq {
            return;
        }
        c.rx_seq = seq;
        let (owner, proc) = (c.owner, c.proc);
        if let Msg::Response { status, sent_at, .. } = msg {
            let latency = self.now.since(sent_at);
            self.record(Some(owner), Ev::Response { peer: p.src, status, latency });
        }
        self.deliver_input(owner, proc, Input::Received { conn, msg });
    }

    fn peer_closed(&mut self, conn: ConnId, errno: Option<Errno>) {
        let Some(c) = self.free_conn(conn) else {
            return;
        };
        self.record(Some(c.owner), Ev::Closed { peer: c.remote, errno });
        if c.inc == self.ctrs[c.owner].inc {
            self.deliver_input(c.owner, c.proc, Input::Closed { conn, errno });
        }
    }

    pub(super) fn free_conn(&mut self, conn: ConnId) -> Option<Conn> {
        let c = self.conns.remove(conn)?;
        self.demux.remove(&(c.stack, c.local, c.remote), conn);
        if c.state == TcpState::Queued {
            if let Some(l) = self.stacks[c.stack.0 as usize].listeners.get_mut(&c.local.port) {
                l.queued = l.queued.saturating_sub(1);
            }
        }
        Some(c)
    }

    /// The program sends a message on an open connection.
    pub(super) fn tcp_send(&mut self, conn: ConnId, msg: Msg) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        if !matches!(c.state, TcpState::Established | TcpState::Queued) {
            return;
        }

        let c = &mut self.conns[conn];
        c.tx_seq += 1;
        let seq = c.tx_seq;
        self.send_on(conn, Seg::Data { msg, seq });
    }

    /// The program (or the kernel, when the process dies) closes a connection: FIN.
    pub(super) fn tcp_close(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        if matches!(c.state, TcpState::Established | TcpState::Queued | TcpState::SynRcvd) {
            self.segment_on(conn, Flags::Fin, 0);
        }
        self.free_conn(conn);
    }
}

impl Flags {
    /// The segment of a flagged transmission; a SYN or SYN-ACK names the
    /// sending connection `from`.
    fn seg(self, from: Option<ConnId>) -> Seg {
        match self {
            Flags::Syn => Seg::Syn { from },
            Flags::SynAck => Seg::SynAck { from },
            Flags::Rst => Seg::Rst,
            Flags::Fin => Seg::Fin,
        }
    }
}
