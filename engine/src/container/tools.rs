//! The debugging tools of the trade, run inside a container the way one runs
//! them from a netshoot container (`docker exec`): ping, nslookup, curl,
//! nc -z. Each prints what the real tool prints, then exits.

use super::program::{Cmd, Ctx, Input, Msg, Op, Program};
use crate::id::{ConnId, Sym};
use crate::net::addr::{Ip, SockAddr};
use crate::proto::errno::Errno;
use crate::time::{Dur, Time};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub enum Tool {
    /// `ping -c COUNT HOST` (iputils).
    Ping { host: Sym, name: String, count: u16 },
    /// `nslookup NAME` (bind-tools): asks the container's nameserver.
    Nslookup { host: Sym, name: String, server: Ip },
    /// `curl -sS -i --max-time T http://HOST:PORT/PATH`.
    Curl { host: Sym, name: String, port: u16, path: String, max_time: Dur },
    /// `nc -zv -w T HOST PORT`.
    Nc { host: Sym, name: String, port: u16, timeout: Dur },
}

pub struct Run {
    tool: Tool,
    ip: Option<Ip>,
    sent: BTreeMap<u16, Time>,
    received: u16,
    errors: u16,
    started: Time,
    conn: Option<ConnId>,
    done: bool,
}

const TAG_LOOKUP: u64 = 1;
const TAG_CONNECT: u64 = 2;
const TOKEN_NEXT_PING: u64 = 1;
const TOKEN_PING_WAIT: u64 = 2;
const TOKEN_MAX_TIME: u64 = 3;

fn ms(d: Dur) -> u64 {
    d.0 / 1_000_000
}

impl Run {
    pub fn new(tool: Tool) -> Run {
        Run {
            tool,
            ip: None,
            sent: BTreeMap::new(),
            received: 0,
            errors: 0,
            started: Time::ZERO,
            conn: None,
            done: false,
        }
    }

    fn exit(&mut self, cx: &mut Ctx<'_>) {
        if !self.done {
            self.done = true;
            cx.push(Cmd::Exit { code: 0 });
        }
    }

    fn host(&self) -> Sym {
        match &self.tool {
            Tool::Ping { host, .. } | Tool::Nslookup { host, .. } | Tool::Curl { host, .. } | Tool::Nc { host, .. } => {
                *host
            }
        }
    }

    fn name(&self) -> &str {
        match &self.tool {
            Tool::Ping { name, .. } | Tool::Nslookup { name, .. } | Tool::Curl { name, .. } | Tool::Nc { name, .. } => {
                name
            }
        }
    }

    fn on_lookup(&mut self, cx: &mut Ctx<'_>, result: crate::proto::dns::Lookup) {
        let name = self.name().to_string();
        match (&self.tool, result) {
            (Tool::Nslookup { server, .. }, r) => {
                cx.print(format!("Server:\t\t{server}"));
                cx.print(format!("Address:\t{server}#53"));
                match r {
                    Ok(ips) => {
                        cx.print("Non-authoritative answer:");
                        for ip in ips {
                            cx.print(format!("Name:\t{name}"));
                            cx.print(format!("Address: {ip}"));
                        }
                    }
                    Err(Errno::Enotfound) => cx.print(format!("** server can't find {name}: NXDOMAIN")),
                    Err(_) => cx.print(";; connection timed out; no servers could be reached"),
                }
                self.exit(cx);
            }
            (Tool::Ping { .. }, Err(_)) => {
                cx.print(format!("ping: {name}: Name or service not known"));
                self.exit(cx);
            }
            (Tool::Curl { .. }, Err(_)) => {
                cx.print(format!("curl: (6) Could not resolve host: {name}"));
                self.exit(cx);
            }
            (Tool::Nc { port, .. }, Err(_)) => {
                cx.print(format!("nc: getaddrinfo for host \"{name}\" port {port}: Name or service not known"));
                self.exit(cx);
            }
            (Tool::Ping { .. }, Ok(ips)) => {
                self.ip = Some(ips[0]);
                cx.print(format!("PING {name} ({}) 56(84) bytes of data.", ips[0]));
                self.ping_next(cx);
            }
            (Tool::Curl { port, max_time, .. } | Tool::Nc { port, timeout: max_time, .. }, Ok(ips)) => {
                self.ip = Some(ips[0]);
                let (port, max_time) = (*port, *max_time);
                cx.push(Cmd::ConnectAddr {
                    addr: SockAddr::new(ips[0], port),
                    timeout: Some(max_time),
                    tag: TAG_CONNECT,
                });
                cx.timer(max_time, TOKEN_MAX_TIME);
            }
        }
    }

    fn ping_next(&mut self, cx: &mut Ctx<'_>) {
        // Only once the host is resolved (a timer of this token before that
        // is not this ping's: nothing to send yet).
        let (&Tool::Ping { count, .. }, Some(ip)) = (&self.tool, self.ip) else { return };
        let seq = self.sent.len() as u16 + 1;
        if seq > count {
            // iputils lingers up to 10 s (-W) for outstanding replies.
            return cx.timer(Dur::secs(10), TOKEN_PING_WAIT);
        }
        self.sent.insert(seq, cx.now);
        cx.push(Cmd::Ping { ip, seq });
        cx.timer(Dur::secs(1), TOKEN_NEXT_PING);
    }

    fn ping_summary(&mut self, cx: &mut Ctx<'_>) {
        let n = self.sent.len() as u32;
        let r = u32::from(self.received);
        let loss = ((n - r) * 100).checked_div(n).unwrap_or(0);
        let errors = if self.errors > 0 { format!(" +{} errors,", self.errors) } else { String::new() };
        cx.print(format!("--- {} ping statistics ---", self.name()));
        let time = ms(cx.now.since(self.started));
        cx.print(format!("{n} packets transmitted, {r} received,{errors} {loss}% packet loss, time {time}ms"));
        self.exit(cx);
    }

    /// Every probe sent has been answered (reply or error): print the summary.
    fn ping_maybe_done(&mut self, cx: &mut Ctx<'_>) {
        let Tool::Ping { count, .. } = self.tool else { return };
        if self.sent.len() as u16 == count && self.received + self.errors == count {
            self.ping_summary(cx);
        }
    }

    fn connect_failed(&mut self, cx: &mut Ctx<'_>, errno: Errno) {
        let name = self.name().to_string();
        let ip = self.ip.map_or_else(String::new, |i| i.to_string());
        let after = ms(cx.now.since(self.started));
        match self.tool {
            Tool::Curl { port, .. } => match errno {
                Errno::Etimedout => cx.print(format!(
                    "curl: (28) Failed to connect to {name} port {port} after {after} ms: Timeout was reached"
                )),
                _ => cx.print(format!(
                    "curl: (7) Failed to connect to {name} port {port} after {after} ms: Couldn't connect to server"
                )),
            },
            Tool::Nc { port, .. } => {
                let why = match errno {
                    Errno::Etimedout => "timed out: Operation now in progress",
                    Errno::Econnrefused => "failed: Connection refused",
                    Errno::Ehostunreach => "failed: No route to host",
                    Errno::Enetunreach => "failed: Network is unreachable",
                    _ => "failed: Connection reset by peer",
                };
                cx.print(format!("nc: connect to {name} ({ip}) port {port} (tcp) {why}"));
            }
            _ => {}
        }
        self.exit(cx);
    }

    fn connected(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        let name = self.name().to_string();
        let ip = self.ip.map_or_else(String::new, |i| i.to_string());
        match &self.tool {
            Tool::Nc { port, .. } => {
                cx.print(format!("Connection to {name} ({ip}) {port} port [tcp/*] succeeded!"));
                cx.push(Cmd::Close { conn });
                self.exit(cx);
            }
            Tool::Curl { .. } => {
                self.conn = Some(conn);
                cx.send(conn, Msg::Request { id: 0, op: Op::Get, size: 120, sent_at: cx.now });
            }
            _ => {}
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        _ => "",
    }
}

impl Program for Run {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        if self.done {
            return;
        }
        match input {
            Input::Start => {
                self.started = cx.now;
                let host = self.host();
                cx.push(Cmd::Resolve { host, tag: TAG_LOOKUP });
            }
            Input::Resolved { tag: TAG_LOOKUP, result } => self.on_lookup(cx, result),
            Input::Pong { seq, from } => {
                if let Some(t) = self.sent.get(&seq) {
                    self.received += 1;
                    let rtt = cx.now.since(*t);
                    let name = self.name().to_string();
                    cx.print(format!(
                        "64 bytes from {name} ({from}): icmp_seq={seq} ttl=64 time={:.3} ms",
                        rtt.0 as f64 / 1e6
                    ));
                }
                self.ping_maybe_done(cx);
            }
            Input::PingFailed { seq, errno, from } => match errno {
                Errno::Enetunreach => {
                    cx.print("ping: connect: Network is unreachable");
                    self.exit(cx);
                }
                _ => {
                    self.errors += 1;
                    cx.print(format!("From {from} icmp_seq={seq} Destination Host Unreachable"));
                    self.ping_maybe_done(cx);
                }
            },
            Input::Timer(TOKEN_NEXT_PING) => self.ping_next(cx),
            Input::Timer(TOKEN_PING_WAIT) => self.ping_summary(cx),
            Input::Timer(TOKEN_MAX_TIME) => {
                if let Tool::Curl { max_time, .. } = self.tool {
                    if self.conn.is_some() {
                        cx.print(format!(
                            "curl: (28) Operation timed out after {} milliseconds with 0 bytes received",
                            ms(max_time)
                        ));
                        self.exit(cx);
                    }
                }
            }
            Input::Connected { conn, .. } => self.connected(cx, conn),
            Input::ConnectFailed { errno, .. } => self.connect_failed(cx, errno),
            Input::Received { msg: Msg::Response { status, .. }, conn } => {
                cx.print(format!("HTTP/1.1 {status} {}", reason(status)).trim_end().to_string());
                cx.push(Cmd::Close { conn });
                self.exit(cx);
            }
            Input::Closed { errno, .. } => {
                match errno {
                    Some(_) => cx.print("curl: (56) Recv failure: Connection reset by peer"),
                    None => cx.print("curl: (52) Empty reply from server"),
                }
                self.exit(cx);
            }
            _ => {}
        }
    }
}

/// Sends `count` datagrams to a target, one every `interval` (StatsD-style).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UdpSenderConfig {
    pub host: Sym,
    pub port: u16,
    pub count: u32,
    pub interval: Dur,
    pub size: u32,
}

pub struct UdpSender {
    cfg: UdpSenderConfig,
    to: Option<SockAddr>,
    sent: u32,
}

impl UdpSender {
    pub fn new(cfg: UdpSenderConfig) -> UdpSender {
        UdpSender { cfg, to: None, sent: 0 }
    }
}

impl Program for UdpSender {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => cx.push(Cmd::Resolve { host: self.cfg.host, tag: 0 }),
            Input::Resolved { result: Ok(ips), .. } => {
                self.to = Some(SockAddr::new(ips[0], self.cfg.port));
                cx.timer(Dur::ZERO, 0);
            }
            Input::Timer(0) => {
                let Some(to) = self.to else { return };
                if self.sent >= self.cfg.count {
                    return;
                }
                self.sent += 1;
                cx.push(Cmd::UdpSend { to, seq: self.sent, size: self.cfg.size });
                cx.timer(self.cfg.interval, 0);
            }
            Input::UdpRefused { to } => cx.print(format!("send to {to}: ECONNREFUSED (ICMP port unreachable)")),
            _ => {}
        }
    }
}

/// Reads datagrams on a port.
pub struct UdpServer {
    pub port: u16,
}

impl Program for UdpServer {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => cx.push(Cmd::UdpBind { port: self.port }),
            Input::Datagram { from, seq } => cx.report(super::program::Report::DatagramIn { from, seq }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::program::step;

    fn lines(cmds: &[Cmd]) -> Vec<String> {
        cmds.iter()
            .filter_map(|c| match c {
                Cmd::Report(super::super::program::Report::Output(l)) => Some(l.clone()),
                _ => None,
            })
            .collect()
    }

    const IP: Ip = Ip::new(172, 18, 0, 2);

    #[test]
    fn ping_prints_replies_then_the_summary_once_everything_is_answered() {
        let mut p = Run::new(Tool::Ping { host: Sym(0), name: "db".into(), count: 2 });
        step(&mut p, Time::ZERO, Input::Start);
        let c = step(&mut p, Time::ZERO, Input::Resolved { tag: TAG_LOOKUP, result: Ok(smallvec::smallvec![IP]) });
        assert_eq!(lines(&c), ["PING db (172.18.0.2) 56(84) bytes of data."]);
        let t = Time::ZERO + Dur::micros(100);
        let c = step(&mut p, t, Input::Pong { seq: 1, from: IP });
        assert_eq!(lines(&c), ["64 bytes from db (172.18.0.2): icmp_seq=1 ttl=64 time=0.100 ms"]);
        step(&mut p, Time::ZERO + Dur::secs(1), Input::Timer(TOKEN_NEXT_PING));
        let c = step(
            &mut p,
            Time::ZERO + Dur::secs(4),
            Input::PingFailed { seq: 2, errno: Errno::Ehostunreach, from: Ip::new(172, 18, 0, 3) },
        );
        let l = lines(&c);
        assert_eq!(l[0], "From 172.18.0.3 icmp_seq=2 Destination Host Unreachable");
        assert_eq!(l[2], "2 packets transmitted, 1 received, +1 errors, 50% packet loss, time 4000ms");
        assert!(c.contains(&Cmd::Exit { code: 0 }));
    }

    #[test]
    fn nslookup_nxdomain_and_answers() {
        let server = Ip::new(127, 0, 0, 11);
        let mut p = Run::new(Tool::Nslookup { host: Sym(0), name: "db".into(), server });
        step(&mut p, Time::ZERO, Input::Start);
        let l = lines(&step(&mut p, Time::ZERO, Input::Resolved { tag: TAG_LOOKUP, result: Err(Errno::Enotfound) }));
        assert_eq!(l, ["Server:\t\t127.0.0.11", "Address:\t127.0.0.11#53", "** server can't find db: NXDOMAIN"]);
        let mut p = Run::new(Tool::Nslookup { host: Sym(0), name: "db".into(), server });
        let l =
            lines(&step(&mut p, Time::ZERO, Input::Resolved { tag: TAG_LOOKUP, result: Ok(smallvec::smallvec![IP]) }));
        assert_eq!(&l[2..], ["Non-authoritative answer:", "Name:\tdb", "Address: 172.18.0.2"]);
    }

    #[test]
    fn curl_and_nc_report_connect_failures_like_the_real_tools() {
        let curl =
            Tool::Curl { host: Sym(0), name: "api".into(), port: 9090, path: "/".into(), max_time: Dur::secs(10) };
        let mut p = Run::new(curl);
        step(&mut p, Time::ZERO, Input::Start);
        step(&mut p, Time::ZERO, Input::Resolved { tag: TAG_LOOKUP, result: Ok(smallvec::smallvec![IP]) });
        let l = lines(&step(&mut p, Time::ZERO, Input::ConnectFailed { tag: TAG_CONNECT, errno: Errno::Econnrefused }));
        assert_eq!(l, ["curl: (7) Failed to connect to api port 9090 after 0 ms: Couldn't connect to server"]);
        let mut n = Run::new(Tool::Nc { host: Sym(0), name: "db".into(), port: 5433, timeout: Dur::secs(5) });
        step(&mut n, Time::ZERO, Input::Start);
        step(&mut n, Time::ZERO, Input::Resolved { tag: TAG_LOOKUP, result: Ok(smallvec::smallvec![IP]) });
        let l = lines(&step(&mut n, Time::ZERO, Input::ConnectFailed { tag: TAG_CONNECT, errno: Errno::Econnrefused }));
        assert_eq!(l, ["nc: connect to db (172.18.0.2) port 5433 (tcp) failed: Connection refused"]);
    }
}
