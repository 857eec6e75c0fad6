//! Packet captures with real encodings (pcapng): Ethernet, ARP, IPv4, ICMP,
//! TCP (flags, sequence numbers, SYN options), UDP, DNS, and a plausible
//! payload for each message (HTTP, Redis RESP, PostgreSQL, TLS records) —
//! checksums by etherparse, DNS by simple-dns. One interface per network
//! (`docker0`, `br-NAME`, `vx-NAME`) plus each container's loopback (where
//! Docker's embedded DNS at 127.0.0.11 is reached); timestamps are simulated
//! time after the epoch; every packet the simulator explains carries the
//! explanation as a pcapng comment.

use crate::container::program::{Msg, Op};
use crate::net::addr::{Ip, SockAddr};
use crate::proto::dns::Rcode;
use crate::sim::capture::{Captured, Iface, What};
use crate::sim::event::Seg;
use crate::sim::spec::NetKind;
use crate::sim::World;
use etherparse::{PacketBuilder, TcpOptionElement};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

const WINDOW: u16 = 64240;

fn mac(ip: Ip) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

fn iface_name(w: &World, i: Iface) -> String {
    match i {
        Iface::Net(n) => match w.nets[n].kind {
            NetKind::DefaultBridge => "docker0".into(),
            NetKind::Overlay => format!("vx-{}", w.nets[n].name),
            _ => format!("br-{}", w.nets[n].name),
        },
        Iface::Lo(c) => format!("{}:lo", w.ctrs[c].name),
    }
}

fn iface_description(w: &World, i: Iface) -> String {
    match i {
        Iface::Net(n) => {
            let net = &w.nets[n];
            format!("network {} {}", net.name, net.subnet().map(|s| s.to_string()).unwrap_or_default())
        }
        Iface::Lo(c) => format!("loopback of container {}", w.ctrs[c].name),
    }
}

/// Sequence numbers of every flow seen so far.
#[derive(Default)]
struct Flows {
    next: BTreeMap<(SockAddr, SockAddr), u32>,
}

fn isn(a: SockAddr, b: SockAddr) -> u32 {
    let h = blake3::hash(format!("{a}>{b}").as_bytes());
    u32::from_le_bytes(h.as_bytes()[..4].try_into().expect("4 bytes"))
}

impl Flows {
    fn my_next(&self, s: SockAddr, d: SockAddr) -> u32 {
        self.next.get(&(s, d)).copied().unwrap_or_else(|| isn(s, d).wrapping_add(1))
    }
    fn peer_next(&self, s: SockAddr, d: SockAddr) -> Option<u32> {
        self.next.get(&(d, s)).copied()
    }
}

fn http_request(m: &Msg, host: SockAddr) -> Vec<u8> {
    let (id, size) = match m {
        Msg::Request { id, size, .. } => (*id, *size as usize),
        Msg::Response { .. } => (0, 0),
    };
    let mut s = format!("GET /api/items HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wharf\r\nX-Request-Id: {id}\r\n");
    let pad = size.saturating_sub(s.len() + 14).min(1300);
    s.push_str(&format!("X-Pad: {}\r\n\r\n", "a".repeat(pad)));
    s.into_bytes()
}

fn http_response(status: u16, size: u32) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    };
    let body = (size as usize).saturating_sub(60).min(1300);
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {body}\r\n\r\n{}",
        "a".repeat(body)
    )
    .into_bytes()
}

fn resp_bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn redis(m: &Msg) -> Vec<u8> {
    let cmd = |parts: &[&str]| {
        let mut s = format!("*{}\r\n", parts.len());
        for p in parts {
            s.push_str(&resp_bulk(p));
        }
        s
    };
    match m {
        Msg::Request { op: Op::Push(t), .. } => cmd(&["LPUSH", "tasks", &t.to_string()]),
        Msg::Request { op: Op::Pop { reliable: false }, .. } => cmd(&["BRPOP", "tasks", "0"]),
        Msg::Request { op: Op::Pop { reliable: true }, .. } => {
            cmd(&["BLMOVE", "tasks", "processing", "RIGHT", "LEFT", "0"])
        }
        Msg::Request { op: Op::Ack(t), .. } => cmd(&["LREM", "processing", "1", &t.to_string()]),
        Msg::Request { .. } => cmd(&["GET", "key"]),
        Msg::Response { value: Some(v), .. } => resp_bulk(&v.to_string()),
        Msg::Response { .. } => "+OK\r\n".into(),
    }
    .into_bytes()
}

fn postgres(m: &Msg) -> Vec<u8> {
    match m {
        Msg::Request { .. } => {
            let q = b"SELECT 1;\0";
            let mut v = vec![b'Q'];
            v.extend_from_slice(&((4 + q.len()) as u32).to_be_bytes());
            v.extend_from_slice(q);
            v
        }
        Msg::Response { .. } => vec![b'Z', 0, 0, 0, 5, b'I'],
    }
}

fn tls_record(size: u32) -> Vec<u8> {
    let n = (size as usize).clamp(32, 1300);
    let mut v = vec![23, 3, 3];
    v.extend_from_slice(&(n as u16).to_be_bytes());
    v.extend((0..n).map(|i| (i * 37 % 251) as u8));
    v
}

fn payload(m: &Msg, src: SockAddr, dst: SockAddr) -> Vec<u8> {
    let server_port = if matches!(m, Msg::Request { .. }) { dst.port } else { src.port };
    if matches!(m, Msg::Request { op: Op::TlsHello, .. }) || matches!(server_port, 443 | 8443) {
        return tls_record(m.size());
    }
    match (server_port, m) {
        (6379, _) => redis(m),
        (5432, _) => postgres(m),
        (_, Msg::Request { .. }) => http_request(m, dst),
        (_, Msg::Response { status, size, .. }) => http_response(*status, *size),
    }
}

fn dns_bytes(what: &What) -> Vec<u8> {
    use simple_dns::{
        rdata::RData, rdata::A, Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QCLASS, QTYPE, RCODE, TYPE,
    };
    let build = |id: u16, name: &str, answer: Option<(Rcode, &[Ip])>| -> Vec<u8> {
        let qname = Name::new_unchecked(name);
        let mut p = match answer {
            None => Packet::new_query(id),
            Some(_) => Packet::new_reply(id),
        };
        p.set_flags(PacketFlag::RECURSION_DESIRED);
        p.questions.push(Question::new(qname.clone(), QTYPE::TYPE(TYPE::A), QCLASS::CLASS(CLASS::IN), false));
        if let Some((rcode, ips)) = answer {
            p.set_flags(PacketFlag::RECURSION_AVAILABLE);
            *p.rcode_mut() = match rcode {
                Rcode::NoError => RCODE::NoError,
                Rcode::NxDomain => RCODE::NameError,
                Rcode::ServFail => RCODE::ServerFailure,
            };
            for ip in ips {
                p.answers.push(ResourceRecord::new(
                    qname.clone(),
                    CLASS::IN,
                    600,
                    RData::A(A { address: u32::from(*ip) }),
                ));
            }
        }
        p.build_bytes_vec().unwrap_or_default()
    };
    match what {
        What::DnsQuery { id, name } => build(*id, name, None),
        What::DnsAnswer { id, name, rcode, ips } => build(*id, name, Some((*rcode, ips))),
        _ => vec![],
    }
}

fn arp(sender: Ip, target: Ip) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac(sender));
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac(sender));
    f.extend_from_slice(&sender.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// The Ethernet addresses of a frame on `iface`.
fn macs(w: &World, iface: Iface, src: Ip, dst: Ip) -> ([u8; 6], [u8; 6]) {
    let Iface::Net(n) = iface else { return ([0; 6], [0; 6]) };
    let net = &w.nets[n];
    let on_link = |ip: Ip| net.subnet().is_some_and(|s| s.contains(ip));
    let gw = net.gateway().unwrap_or(Ip::UNSPECIFIED);
    let hop = |ip: Ip| if on_link(ip) { mac(ip) } else { mac(gw) };
    (hop(src), hop(dst))
}

fn tcp_frame(w: &World, c: &Captured, seg: Seg, flows: &mut Flows) -> Vec<u8> {
    let (s, d) = (c.src, c.dst);
    let (sm, dm) = macs(w, c.iface, s.ip, d.ip);
    let b = PacketBuilder::ethernet2(sm, dm).ipv4(s.ip.octets(), d.ip.octets(), 64);
    let mut out = Vec::new();
    let syn_opts = [
        TcpOptionElement::MaximumSegmentSize(1460),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
        TcpOptionElement::SelectiveAcknowledgementPermitted,
    ];
    let peer = flows.peer_next(s, d);
    let result = match seg {
        Seg::Syn { .. } => {
            let seq = isn(s, d);
            flows.next.insert((s, d), seq.wrapping_add(1));
            b.tcp(s.port, d.port, seq, WINDOW).syn().options(&syn_opts).map(|t| t.write(&mut out, &[]))
        }
        Seg::SynAck { .. } => {
            let seq = isn(s, d);
            flows.next.insert((s, d), seq.wrapping_add(1));
            let ack = peer.unwrap_or(0);
            b.tcp(s.port, d.port, seq, WINDOW).syn().ack(ack).options(&syn_opts).map(|t| t.write(&mut out, &[]))
        }
        Seg::Ack => Ok(b.tcp(s.port, d.port, flows.my_next(s, d), WINDOW).ack(peer.unwrap_or(0)).write(&mut out, &[])),
        Seg::Data { msg, .. } => {
            let data = payload(&msg, s, d);
            let seq = flows.my_next(s, d);
            flows.next.insert((s, d), seq.wrapping_add(data.len() as u32));
            Ok(b.tcp(s.port, d.port, seq, WINDOW).psh().ack(peer.unwrap_or(0)).write(&mut out, &data))
        }
        Seg::Fin => {
            let seq = flows.my_next(s, d);
            flows.next.insert((s, d), seq.wrapping_add(1));
            Ok(b.tcp(s.port, d.port, seq, WINDOW).fin().ack(peer.unwrap_or(0)).write(&mut out, &[]))
        }
        Seg::Rst => match (flows.next.contains_key(&(s, d)), peer) {
            (false, Some(p)) => Ok(b.tcp(s.port, d.port, 0, 0).rst().ack(p).write(&mut out, &[])),
            _ => Ok(b.tcp(s.port, d.port, flows.my_next(s, d), 0).rst().write(&mut out, &[])),
        },
        _ => return vec![],
    };
    match result {
        Ok(Ok(())) => out,
        _ => vec![],
    }
}

fn frame(w: &World, c: &Captured, flows: &mut Flows) -> Vec<u8> {
    let (s, d) = (c.src, c.dst);
    let (sm, dm) = macs(w, c.iface, s.ip, d.ip);
    let mut out = Vec::new();
    let eth_ip = || PacketBuilder::ethernet2(sm, dm).ipv4(s.ip.octets(), d.ip.octets(), 64);
    let ok = match &c.what {
        What::Tcp(seg) => return tcp_frame(w, c, *seg, flows),
        What::ArpRequest { sender, target } => return arp(*sender, *target),
        What::Echo { reply, seq } => {
            let data: Vec<u8> = (0..56u8).collect();
            let b = eth_ip();
            if *reply {
                b.icmpv4_echo_reply(1, *seq).write(&mut out, &data)
            } else {
                b.icmpv4_echo_request(1, *seq).write(&mut out, &data)
            }
        }
        What::Udp { seq, size } => {
            let mut line = format!("wharf.requests:{seq}|c\n").into_bytes();
            line.resize((*size as usize).clamp(line.len(), 1400), b' ');
            eth_ip().udp(s.port, d.port).write(&mut out, &line)
        }
        What::PortUnreachable { orig_src, orig_dst } => {
            let mut orig = Vec::new();
            let ob =
                PacketBuilder::ipv4(orig_src.ip.octets(), orig_dst.ip.octets(), 64).udp(orig_src.port, orig_dst.port);
            let _ = ob.write(&mut orig, b"wharf");
            orig.truncate(28);
            let t = etherparse::Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Port);
            eth_ip().icmpv4(t).write(&mut out, &orig)
        }
        What::DnsQuery { .. } | What::DnsAnswer { .. } => {
            eth_ip().udp(s.port, d.port).write(&mut out, &dns_bytes(&c.what))
        }
    };
    if ok.is_ok() {
        out
    } else {
        vec![]
    }
}

/// Where the capture is taken: on each network's bridge, or inside each
/// container (its `ethN` per network and its `lo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Per {
    #[default]
    Network,
    Container,
}

/// The interfaces a packet is seen on, with their names and descriptions.
fn seen_on(w: &World, c: &Captured, per: Per) -> Vec<(String, String)> {
    let one = |i: Iface| (iface_name(w, i), iface_description(w, i));
    match (per, c.iface) {
        (Per::Network, i) | (Per::Container, i @ Iface::Lo(_)) => vec![one(i)],
        (Per::Container, Iface::Net(n)) => c
            .ends
            .iter()
            .flatten()
            .map(|&ctr| {
                let k = w.ctrs[ctr].nets.iter().position(|&x| x == n).unwrap_or(0);
                let name = format!("{}:eth{k}", w.ctrs[ctr].name);
                (name, format!("container {} on network {}", w.ctrs[ctr].name, w.nets[n].name))
            })
            .collect(),
    }
}

/// Writes the captured packets as pcapng.
pub fn write<W: Write>(w: &World, caps: &[Captured], out: W, per: Per) -> Result<usize, String> {
    let mut writer = PcapNgWriter::new(out).map_err(|e| e.to_string())?;
    let mut ifaces: Vec<String> = Vec::new();
    let mut flows = Flows::default();
    let mut n = 0;
    for c in caps {
        let data = frame(w, c, &mut flows);
        if data.is_empty() {
            continue;
        }
        for (name, description) in seen_on(w, c, per) {
            let id = match ifaces.iter().position(|i| *i == name) {
                Some(i) => i,
                None => {
                    let idb = InterfaceDescriptionBlock {
                        linktype: DataLink::ETHERNET,
                        snaplen: 0,
                        options: vec![
                            InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                            InterfaceDescriptionOption::IfDescription(Cow::Owned(description)),
                            InterfaceDescriptionOption::IfTsResol(9),
                        ],
                    };
                    writer.write_pcapng_block(idb).map_err(|e| e.to_string())?;
                    ifaces.push(name);
                    ifaces.len() - 1
                }
            };
            let options = if c.note.is_empty() {
                vec![]
            } else {
                vec![EnhancedPacketOption::Comment(Cow::Owned(c.note.clone()))]
            };
            let epb = EnhancedPacketBlock {
                interface_id: id as u32,
                timestamp: Duration::from_nanos(c.t.0),
                original_len: data.len() as u32,
                data: Cow::Borrowed(&data),
                options,
            };
            writer.write_pcapng_block(epb).map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    Ok(n)
}
