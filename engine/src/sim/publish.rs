//! Published ports (`-p HOST:CONTAINER`), as the host sees them (docker-facts §5.1, §5.5).
//!
//! While a container runs, each of its published ports maps a host port to
//! the container's address. A SYN reaching the host's namespace on such a
//! port (and no host process listening there) is forwarded: destination
//! rewritten to the container (DNAT); when the client is not in the host's
//! namespace, the source is rewritten to the bridge gateway too (hairpin
//! SNAT), so replies come back through the host. Traffic to a loopback
//! address goes through the userland proxy: the connect always succeeds, and
//! when nothing listens in the container the proxy closes the connection
//! (EOF) instead of the container's RST reaching the client.

use super::event::{Packet, Seg};
use super::record::Ev;
use super::world::World;
use crate::id::{CtrId, StackId};
use crate::net::addr::{Ip, SockAddr};

/// A port mapping of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortMap {
    pub host_ip: Ip,
    pub host_port: u16,
    pub ctr_port: u16,
}

/// One forwarded connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatEntry {
    pub client: SockAddr,
    pub published: SockAddr,
    /// The source the backend sees.
    pub source: SockAddr,
    pub backend: SockAddr,
    pub userland: bool,
    pub established: bool,
}

const NAT_PORT_FIRST: u16 = 20000;

/// The range Docker's port allocator draws a published port from when the
/// mapping names none (`-p 3000`, `127.0.0.1::3000`): Linux's
/// `ip_local_port_range`, 32768–60999 by default (moby's
/// `libnetwork/portallocator` reads it at start).
pub const EPHEMERAL_FIRST: u16 = 32768;
pub const EPHEMERAL_LAST: u16 = 60999;

impl World {
    /// Installs a started container's port mappings; `Err` with Docker's message on a clash.
    /// A mapping without a host port takes the allocator's next free port
    /// after the last one it handed out (wrapping in the ephemeral range),
    /// as Docker's does at every start: a restart usually gets a new one.
    pub(super) fn publish(&mut self, ctr: CtrId) -> Result<(), String> {
        for mut pm in self.ctrs[ctr].spec.ports.clone() {
            if pm.host_port == 0 {
                let span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
                let next = |p: u16| if p >= EPHEMERAL_LAST { EPHEMERAL_FIRST } else { p + 1 };
                let free = std::iter::successors(Some(next(self.ephemeral_port)), |&p| Some(next(p)))
                    .take(usize::from(span))
                    .find(|p| !self.published.contains_key(p));
                let Some(port) = free else {
                    return Err(format!("Bind for {}:0 failed: all ports are allocated", pm.host_ip));
                };
                self.ephemeral_port = port;
                pm.host_port = port;
            }
            if let Some((other, _)) = self.published.get(&pm.host_port) {
                if *other != ctr {
                    return Err(format!("Bind for {}:{} failed: port is already allocated", pm.host_ip, pm.host_port));
                }
            }
            self.published.insert(pm.host_port, (ctr, pm));
        }
        Ok(())
    }

    /// The port mappings a running container holds now (host ports
    /// resolved), in the order its spec lists them.
    pub fn bound_ports(&self, ctr: CtrId) -> Vec<PortMap> {
        let mut held: Vec<PortMap> = self.published.values().filter(|(c, _)| *c == ctr).map(|&(_, pm)| pm).collect();
        let spec = &self.ctrs[ctr].spec.ports;
        held.sort_by_key(|pm| spec.iter().position(|s| s.ctr_port == pm.ctr_port && s.host_ip == pm.host_ip));
        held
    }

    pub(super) fn unpublish(&mut self, ctr: CtrId) {
        self.published.retain(|_, (c, _)| *c != ctr);
    }

    fn host_local(&self, ip: Ip) -> bool {
        ip.is_loopback() || self.is_host_ip(ip)
    }

    /// Handles a packet reaching the host's namespace if NAT applies; returns
    /// whether it was consumed.
    pub(super) fn host_nat(&mut self, p: Packet) -> bool {
        if let Some(&i) = self.nat_rev.get(&(p.dst, p.src)) {
            self.nat_reply(i, p);
            return true;
        }
        if let Some(&i) = self.nat_fwd.get(&(p.src, p.dst)) {
            let e = self.nat[i];
            self.transmit(None, StackId::HOST, e.source, e.backend, p.seg.relayed(), None);
            return true;
        }
        if !matches!(p.seg, Seg::Syn { .. }) || self.stacks[0].listeners.contains_key(&p.dst.port) {
            return false;
        }
        let Some(&(ctr, pm)) = self.published.get(&p.dst.port) else { return false };
        if !(pm.host_ip.is_unspecified()
            || pm.host_ip == p.dst.ip
            || (pm.host_ip.is_loopback() && p.dst.ip.is_loopback()))
        {
            return false;
        }
        let Some(ep) = self.ctrs[ctr].endpoints.first().copied() else { return false };
        let backend = SockAddr::new(ep.ip, pm.ctr_port);
        let source = if self.host_local(p.src.ip) && !p.src.ip.is_loopback() {
            p.src
        } else {
            let gw = self.nets[ep.net].gateway().unwrap_or(Ip::UNSPECIFIED);
            self.nat_port = self.nat_port.checked_add(1).unwrap_or(NAT_PORT_FIRST);
            SockAddr::new(gw, self.nat_port)
        };
        let userland = p.dst.ip.is_loopback();
        let e = NatEntry { client: p.src, published: p.dst, source, backend, userland, established: false };
        self.nat.push(e);
        let i = self.nat.len() - 1;
        self.nat_fwd.insert((p.src, p.dst), i);
        self.nat_rev.insert((source, backend), i);
        self.record(Some(ctr), Ev::PortForward { published: p.dst, backend, userland });
        self.transmit(None, StackId::HOST, source, backend, Seg::Syn { from: None }, None);
        true
    }

    /// A packet from the backend back to the client, source rewritten to the published address.
    fn nat_reply(&mut self, i: usize, p: Packet) {
        let e = self.nat[i];
        let seg = match (p.seg, e.userland, e.established) {
            (Seg::SynAck { .. }, _, _) => {
                self.nat[i].established = true;
                Seg::SynAck { from: None }
            }
            (Seg::Rst, true, false) => {
                // The userland proxy had accepted: the client sees a connection, then EOF.
                self.reply_to_client(e, Seg::SynAck { from: None });
                Seg::Fin
            }
            (seg, _, _) => seg,
        };
        self.reply_to_client(e, seg);
    }

    fn reply_to_client(&mut self, e: NatEntry, seg: Seg) {
        if self.host_local(e.client.ip) {
            let q = Packet { src: e.published, dst: e.client, seg, to: StackId::HOST, conn: None };
            self.send_packet(q, super::fabric::LOOPBACK_DELAY);
        } else {
            self.transmit(None, StackId::HOST, e.published, e.client, seg, None);
        }
    }
}

/// Parses Docker's port syntax: `"8080:80"`, `"127.0.0.1:8080:80"`, `"80"`,
/// with an optional `/tcp` (UDP mappings are not modelled). A mapping that
/// names no host port (`"80"`, `":80"`, `"127.0.0.1::80"`) gets host port
/// 0: one drawn from the ephemeral range at each start.
pub fn parse_port(s: &str) -> Result<PortMap, String> {
    let (spec, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    if proto != "tcp" {
        return Err(format!("`{s}`: only TCP port mappings are modelled"));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    let port = |x: &str| x.parse::<u16>().map_err(|_| format!("`{x}` in `{s}` is not a port"));
    let host = |x: &str| if x.is_empty() { Ok(0) } else { port(x) };
    let (host_ip, host_port, ctr_port) = match parts.as_slice() {
        [c] => (Ip::UNSPECIFIED, 0, port(c)?),
        [h, c] => (Ip::UNSPECIFIED, host(h)?, port(c)?),
        [ip, h, c] => (ip.parse().map_err(|_| format!("`{ip}` in `{s}` is not an IPv4 address"))?, host(h)?, port(c)?),
        _ => return Err(format!("`{s}` is not a port mapping (expected \"8080:80\" or \"127.0.0.1:8080:80\")")),
    };
    Ok(PortMap { host_ip, host_port, ctr_port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_syntax() {
        assert_eq!(parse_port("8080:80").unwrap(), PortMap { host_ip: Ip::UNSPECIFIED, host_port: 8080, ctr_port: 80 });
        assert_eq!(parse_port("127.0.0.1:5432:5432/tcp").unwrap().host_ip, Ip::LOCALHOST);
        assert_eq!(parse_port("80").unwrap(), PortMap { host_ip: Ip::UNSPECIFIED, host_port: 0, ctr_port: 80 });
        assert_eq!(
            parse_port("127.0.0.1::80").unwrap(),
            PortMap { host_ip: Ip::LOCALHOST, host_port: 0, ctr_port: 80 }
        );
        assert!(parse_port("53:53/udp").is_err());
        assert!(parse_port("a:b").is_err());
        assert!(parse_port("1:2:3:4").is_err());
    }
}
