//! Trace rendering. One line per record; text like a merged `docker logs`
//! plus `tcpdump -n`, or JSON lines with the same content.
//!
//! JSON schema, version 1 (`"v": 1` on every line): `t_ns` (integer,
//! nanoseconds of simulated time), `container` (name, or null for the
//! engine), `event` (snake_case kind) and the kind's fields: addresses as
//! strings `ip:port`, durations as integer `*_ns` fields, errno by name.

use crate::container::wait::GateKind;
use crate::proto::dns::EMBEDDED_TTL;
use crate::sim::record::{ConnectFailure, Ev, Resolution};
use crate::sim::World;
use serde_json::{json, Value};
use std::fmt::Write;
use std::io::Write as _;

pub const JSON_SCHEMA_VERSION: u32 = 1;

fn via(v: Resolution) -> &'static str {
    match v {
        Resolution::Literal => "literal",
        Resolution::Hosts => "/etc/hosts",
        Resolution::Cache => "cache",
        Resolution::Dns => "dns",
    }
}

fn signal(s: u8) -> &'static str {
    if s == 9 {
        "SIGKILL"
    } else {
        "SIGTERM"
    }
}

/// The human text of one record (without time and container).
pub fn describe(w: &World, ev: &Ev) -> String {
    let mut t = Vec::new();
    let _ = describe_into(&mut t, w, ev);
    utf8(t)
}

/// Text assembled from `&str` pieces as bytes: always UTF-8 (a lossy
/// conversion backs that up rather than a panic).
fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `describe`, appended to `o` as bytes (no allocation per record, and no
/// UTF-8 validation per piece: `text` validates the whole trace once).
pub fn describe_into(o: &mut Vec<u8>, w: &World, ev: &Ev) -> std::io::Result<()> {
    let s = |k| w.syms.get(k);
    let net = |n| w.nets[n].name.as_str();
    match ev {
        Ev::Create => o.write_all(b"create"),
        Ev::Start => o.write_all(b"start"),
        Ev::StartFailed { reason } => {
            write!(o, "start failed: Error response from daemon: {}", s(*reason))
        }
        Ev::NetConnect { net: n, ip } => write!(o, "network connect {} ip {}", net(*n), crate::ascii::ip(*ip)),
        Ev::NetDisconnect { net: n, ip } => {
            write!(o, "network disconnect {} ip {} released", net(*n), crate::ascii::ip(*ip))
        }
        Ev::ProgramStarted => o.write_all(b"process initialised, program started"),
        Ev::Listen { addr } => write!(o, "listen {addr}"),
        Ev::Unlisten { addr } => write!(o, "close listener {addr}"),
        Ev::Kill { signal: sig } => write!(o, "kill signal={}", signal(*sig)),
        Ev::Stop => o.write_all(b"stop"),
        Ev::Die { code } => write!(o, "die exitCode={code}"),
        Ev::Restart { delay, count } => {
            write!(o, "restart scheduled in {delay} (restart count {count})")
        }
        Ev::Health { status } => write!(o, "health_status: {}", status.name()),
        Ev::Pause => o.write_all(b"pause"),
        Ev::Unpause => o.write_all(b"unpause"),
        Ev::Remove => o.write_all(b"destroy"),
        Ev::ComposeWaiting { on, condition } => {
            write!(o, "compose: waiting for {} ({})", w.ctrs[*on].name, s(*condition))
        }
        Ev::ComposeFailed { message } => write!(o, "compose: {}", s(*message)),
        Ev::ComposeReady { message } => write!(o, "compose: {}", s(*message)),
        Ev::DnsQuery { name, server, attempt } => write!(o, "dns query A {}? @{server} (attempt {attempt})", s(*name)),
        Ev::DnsAnswer { name, rcode, ips } => {
            let ips = w.trace.ips(*ips);
            write!(o, "dns answer {} {}", s(*name), rcode.name())?;
            for ip in ips {
                write!(o, " A {}", crate::ascii::ip(*ip))?;
            }
            if !ips.is_empty() {
                write!(o, " ttl {}", EMBEDDED_TTL.0 / 1_000_000_000)?;
            }
            Ok(())
        }
        Ev::Resolved { name, ip, via: v } => {
            write!(o, "resolved {} -> {} (via {})", s(*name), crate::ascii::ip(*ip), via(*v))
        }
        Ev::ResolveFailed { name, errno, cause } => {
            write!(o, "getaddrinfo {} failed: {errno}{}", s(*name), because(s(*cause)))
        }
        Ev::Segment { src, dst, flags, retransmit } => {
            // The most frequent record: its pieces are pushed directly.
            for part in
                [&b"tcp "[..], src.ascii().as_bytes(), b" > ", dst.ascii().as_bytes(), b" ", flags.tcpdump().as_bytes()]
            {
                o.extend_from_slice(part);
            }
            if *retransmit > 0 {
                write!(o, " retransmission #{retransmit}")?;
            }
            Ok(())
        }
        Ev::Dropped { src, dst, reason } => write!(o, "drop {src} > {dst}: {}", reason.name()),
        Ev::ArpProbe { target, n } => write!(o, "arp who-has {target} (probe {n}/3)"),
        Ev::Connected { target, addr, after } => {
            let shown = format!("{}:{}", s(*target), addr.port);
            let a = if addr.to_string() == shown { String::new() } else { format!(" ({addr})") };
            write!(o, "connect {shown}{a} ok after {after}")
        }
        Ev::ConnectFailed(f) => {
            let ConnectFailure { target, port, addr, errno, after, cause } = &**f;
            let shown = format!("{}:{port}", s(*target));
            let a = addr.filter(|a| a.to_string() != shown).map_or_else(String::new, |a| format!(" ({a})"));
            write!(o, "connect {shown}{a} failed {errno} after {after}{}", because(s(*cause)))
        }
        Ev::Accepted { peer } => {
            o.extend_from_slice(b"accept from ");
            o.extend_from_slice(peer.ascii().as_bytes());
            Ok(())
        }
        Ev::Response { peer, status, latency } => {
            for part in [&b"response "[..], dec(*status).as_bytes(), b" from ", peer.ascii().as_bytes(), b" in "] {
                o.extend_from_slice(part);
            }
            write!(o, "{latency}")
        }
        Ev::RequestTimedOut { id } => write!(o, "request #{id} failed ETIMEDOUT (no response)"),
        Ev::Closed { peer, errno: None } => write!(o, "connection with {peer} closed by peer (FIN)"),
        Ev::Closed { peer, errno: Some(e) } => write!(o, "connection with {peer} reset: {e}"),
        Ev::RetryScheduled { attempt, delay } => write!(o, "retry: attempt {attempt} in {delay}"),
        Ev::GaveUp { attempts } => write!(o, "gave up after {attempts} attempts"),
        Ev::ProbeResult { ok, started } => {
            write!(
                o,
                "healthcheck probe {} (started {})",
                if *ok { "ok" } else { "failed" },
                started.to_string().trim_start()
            )
        }
        Ev::RunEnded { reason } => write!(o, "run ended: {}", s(*reason)),
        Ev::Served { status } => {
            o.extend_from_slice(b"served request: ");
            o.extend_from_slice(dec(*status).as_bytes());
            Ok(())
        }
        Ev::Task { id, state } => write!(o, "task {id} {}", state.name()),
        Ev::Proxied { status, upstream, tries } => {
            let via = upstream.map_or_else(|| "no upstream".to_string(), |u| format!("upstream {u}"));
            write!(o, "proxied {status} via {via} ({tries} tr{})", if *tries == 1 { "y" } else { "ies" })
        }
        Ev::Peer { addr, down: true } => write!(o, "upstream {addr} marked down"),
        Ev::Peer { addr, down: false } => write!(o, "upstream {addr} back up"),
        Ev::Breaker { state } => write!(o, "circuit breaker {}", state.name()),
        Ev::Output { line } => write!(o, "| {}", s(*line)),
        // wait-for-it prints its own lines; `wait-for` (on success) and
        // the `nc` loop print nothing: the engine says what they did.
        Ev::Waited { host, port, ok, after, kind: GateKind::WaitForIt } => {
            write!(o, "| {}", waited_line(s(*host), *port, *ok, *after))
        }
        Ev::Waited { host, port, ok: true, after, kind: GateKind::WaitFor } => {
            write!(o, "wait-for {}:{port} done after {after}", s(*host))
        }
        Ev::Waited { host, port, ok: false, after, kind: GateKind::WaitFor } => {
            write!(o, "wait-for {}:{port} gave up after {after}", s(*host))
        }
        Ev::Waited { host, port, after, kind: GateKind::NcLoop, .. } => {
            write!(o, "wait loop `until nc -z {} {port}` done after {after}", s(*host))
        }
        Ev::TlsDone { took } => write!(o, "tls handshake done in {took}"),
        Ev::Datagram { src, dst, seq } => write!(o, "udp {src} > {dst} seq {seq}"),
        Ev::PortUnreachable { src, dst } => write!(o, "icmp {src} > {dst} port unreachable"),
        Ev::DatagramIn { from, seq } => write!(o, "udp datagram seq {seq} from {from} received"),
        Ev::PortForward { published, backend, userland: true } => write!(o, "docker-proxy {published} -> {backend}"),
        Ev::PortForward { published, backend, userland: false } => write!(o, "dnat {published} -> {backend}"),
        Ev::Fault { text } => write!(o, "fault: {}", s(*text)),
    }
}

/// `{}` of a status code, on the stack.
fn dec(n: u16) -> crate::ascii::Ascii<5> {
    let mut a = crate::ascii::Ascii::default();
    a.push_dec(u64::from(n), 0, b'0');
    a
}

fn because(cause: &str) -> String {
    if cause.is_empty() {
        String::new()
    } else {
        format!(" -- {cause}")
    }
}

/// The whole trace as text, one line per record.
pub fn text(w: &World) -> String {
    let mut all = Vec::with_capacity(w.trace.len() * 80);
    render(w, CHUNK, |chunk| all.extend_from_slice(chunk));
    utf8(all)
}

/// The fingerprint of `text(w)`, hashed as it is rendered: the text is
/// never held whole (for the 1,000-container mesh of the benches, 10
/// simulated minutes, about 63 MB).
pub fn fingerprint_of(w: &World) -> String {
    let mut h = blake3::Hasher::new();
    render(w, CHUNK, |chunk| {
        h.update(chunk);
    });
    h.finalize().to_hex()[..16].to_string()
}

/// Bytes rendered before they are handed on.
const CHUNK: usize = 64 * 1024;

/// Renders the text trace, handing it to `sink` in pieces of about
/// `chunk` bytes, whole lines each; their concatenation is `text`.
fn render(w: &World, chunk: usize, mut sink: impl FnMut(&[u8])) {
    let width = w.ctrs.values().map(|c| c.name.len()).max().unwrap_or(1).max(4);
    let mut out = Vec::with_capacity(chunk.min(w.trace.len() * 80) + 256);
    for r in &w.trace {
        let who = r.ctr.map_or("-", |c| w.ctrs[c].name.as_str());
        line_start(&mut out, r.t, who, width);
        let _ = describe_into(&mut out, w, &r.ev);
        out.push(b'\n');
        if out.len() >= chunk {
            sink(&out);
            out.clear();
        }
    }
    sink(&out);
}

/// `"{t} {who:<width$}  "`, written directly: a trace line's time and
/// container column (the formatter pads by characters, so this does too).
fn line_start(out: &mut Vec<u8>, t: crate::time::Time, who: &str, width: usize) {
    out.extend_from_slice(t.ascii().as_bytes());
    out.push(b' ');
    out.extend_from_slice(who.as_bytes());
    out.extend(std::iter::repeat_n(b' ', width.saturating_sub(who.chars().count()) + 2));
}

/// The short fingerprint of a text trace: the first 16 hex digits of its BLAKE3 hash.
pub fn fingerprint(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
}

fn kind(ev: &Ev) -> &'static str {
    match ev {
        Ev::Create => "create",
        Ev::Start => "start",
        Ev::StartFailed { .. } => "start_failed",
        Ev::NetConnect { .. } => "network_connect",
        Ev::NetDisconnect { .. } => "network_disconnect",
        Ev::ProgramStarted => "program_started",
        Ev::Listen { .. } => "listen",
        Ev::Unlisten { .. } => "unlisten",
        Ev::Kill { .. } => "kill",
        Ev::Stop => "stop",
        Ev::Die { .. } => "die",
        Ev::Restart { .. } => "restart_scheduled",
        Ev::Health { .. } => "health_status",
        Ev::Pause => "pause",
        Ev::Unpause => "unpause",
        Ev::Remove => "destroy",
        Ev::ComposeWaiting { .. } => "compose_waiting",
        Ev::ComposeFailed { .. } => "compose_failed",
        Ev::ComposeReady { .. } => "compose_ready",
        Ev::DnsQuery { .. } => "dns_query",
        Ev::DnsAnswer { .. } => "dns_answer",
        Ev::Resolved { .. } => "resolved",
        Ev::ResolveFailed { .. } => "resolve_failed",
        Ev::Segment { .. } => "tcp_segment",
        Ev::Dropped { .. } => "dropped",
        Ev::ArpProbe { .. } => "arp_probe",
        Ev::Connected { .. } => "connected",
        Ev::ConnectFailed(_) => "connect_failed",
        Ev::Accepted { .. } => "accepted",
        Ev::Response { .. } => "response",
        Ev::RequestTimedOut { .. } => "request_timed_out",
        Ev::Closed { .. } => "closed",
        Ev::RetryScheduled { .. } => "retry_scheduled",
        Ev::GaveUp { .. } => "gave_up",
        Ev::ProbeResult { .. } => "probe_result",
        Ev::RunEnded { .. } => "run_ended",
        Ev::Served { .. } => "served",
        Ev::Task { .. } => "task",
        Ev::Proxied { .. } => "proxied",
        Ev::Peer { .. } => "upstream_peer",
        Ev::Breaker { .. } => "circuit_breaker",
        Ev::Output { .. } => "output",
        Ev::Waited { .. } => "waited",
        Ev::TlsDone { .. } => "tls_done",
        Ev::Datagram { .. } => "udp",
        Ev::PortUnreachable { .. } => "icmp_port_unreachable",
        Ev::DatagramIn { .. } => "udp_received",
        Ev::PortForward { .. } => "port_forward",
        Ev::Fault { .. } => "fault",
    }
}

/// What `wait-for-it.sh` prints when its gate opens or times out (whole
/// seconds, as its `date +%s` differences give).
pub fn waited_line(host: &str, port: u16, ok: bool, after: crate::time::Dur) -> String {
    let secs = after.0 / 1_000_000_000;
    if ok {
        format!("wait-for-it.sh: {host}:{port} is available after {secs} seconds")
    } else {
        format!("wait-for-it.sh: timeout occurred after waiting {secs} seconds for {host}:{port}")
    }
}

fn fields(w: &World, ev: &Ev) -> Value {
    let s = |k| w.syms.get(k).to_string();
    let net = |n| w.nets[n].name.clone();
    match ev {
        Ev::StartFailed { reason } => json!({ "reason": s(*reason) }),
        Ev::NetConnect { net: n, ip } | Ev::NetDisconnect { net: n, ip } => {
            json!({ "network": net(*n), "ip": ip.to_string() })
        }
        Ev::Listen { addr } | Ev::Unlisten { addr } => json!({ "addr": addr.to_string() }),
        Ev::Kill { signal: sig } => json!({ "signal": signal(*sig) }),
        Ev::Die { code } => json!({ "exit_code": code }),
        Ev::Restart { delay, count } => json!({ "delay_ns": delay.0, "restart_count": count }),
        Ev::Health { status } => json!({ "status": status.name() }),
        Ev::ComposeWaiting { on, condition } => {
            json!({ "on": w.ctrs[*on].name, "condition": s(*condition) })
        }
        Ev::ComposeFailed { message } | Ev::ComposeReady { message } => json!({ "message": s(*message) }),
        Ev::DnsQuery { name, server, attempt } => {
            json!({ "name": s(*name), "server": server.to_string(), "attempt": attempt })
        }
        Ev::DnsAnswer { name, rcode, ips } => json!({
            "name": s(*name), "rcode": rcode.name(),
            "answers": w.trace.ips(*ips).iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        }),
        Ev::Resolved { name, ip, via: v } => {
            json!({ "name": s(*name), "ip": ip.to_string(), "via": via(*v) })
        }
        Ev::ResolveFailed { name, errno, cause } => {
            json!({ "name": s(*name), "errno": errno.name(), "cause": s(*cause) })
        }
        Ev::Segment { src, dst, flags, retransmit } => json!({
            "src": src.to_string(), "dst": dst.to_string(), "flags": flags.tcpdump(), "retransmission": retransmit,
        }),
        Ev::Dropped { src, dst, reason } => {
            json!({ "src": src.to_string(), "dst": dst.to_string(), "reason": reason.name() })
        }
        Ev::ArpProbe { target, n } => json!({ "target": target.to_string(), "probe": n }),
        Ev::Connected { target, addr, after } => {
            json!({ "target": format!("{}:{}", s(*target), addr.port), "addr": addr.to_string(), "after_ns": after.0 })
        }
        Ev::ConnectFailed(f) => json!({
            "cause": s(f.cause),
            "target": format!("{}:{}", s(f.target), f.port), "addr": f.addr.map(|a| a.to_string()), "errno": f.errno.name(), "after_ns": f.after.0,
        }),
        Ev::Accepted { peer } => json!({ "peer": peer.to_string() }),
        Ev::Response { peer, status, latency } => {
            json!({ "peer": peer.to_string(), "status": status, "latency_ns": latency.0 })
        }
        Ev::RequestTimedOut { id } => json!({ "request": id, "errno": "ETIMEDOUT" }),
        Ev::Closed { peer, errno } => {
            json!({ "peer": peer.to_string(), "errno": errno.map(|e| e.name()) })
        }
        Ev::RetryScheduled { attempt, delay } => json!({ "attempt": attempt, "delay_ns": delay.0 }),
        Ev::GaveUp { attempts } => json!({ "attempts": attempts }),
        Ev::ProbeResult { ok, started } => json!({ "ok": ok, "started_ns": started.0 }),
        Ev::RunEnded { reason } => json!({ "reason": s(*reason) }),
        Ev::Served { status } => json!({ "status": status }),
        Ev::Task { id, state } => json!({ "task": id, "state": state.name() }),
        Ev::Proxied { status, upstream, tries } => {
            json!({ "status": status, "upstream": upstream.map(|u| u.to_string()), "tries": tries })
        }
        Ev::Peer { addr, down } => json!({ "addr": addr.to_string(), "down": down }),
        Ev::Breaker { state } => json!({ "state": state.name() }),
        Ev::Output { line } => json!({ "line": s(*line) }),
        Ev::Waited { host, port, ok, after, kind } => {
            json!({ "host": s(*host), "port": port, "ok": ok, "after_ns": after.0, "tool": kind.name() })
        }
        Ev::TlsDone { took } => json!({ "took_ns": took.0 }),
        Ev::Datagram { src, dst, seq } => json!({ "src": src.to_string(), "dst": dst.to_string(), "seq": seq }),
        Ev::PortUnreachable { src, dst } => json!({ "src": src.to_string(), "dst": dst.to_string() }),
        Ev::DatagramIn { from, seq } => json!({ "from": from.to_string(), "seq": seq }),
        Ev::Fault { text } => json!({ "text": s(*text) }),
        Ev::PortForward { published, backend, userland } => {
            json!({ "published": published.to_string(), "backend": backend.to_string(), "userland_proxy": userland })
        }
        Ev::Create | Ev::Start | Ev::ProgramStarted | Ev::Stop | Ev::Pause | Ev::Unpause | Ev::Remove => json!({}),
    }
}

/// One JSON object per line, same records as [`text`].
pub fn json_lines(w: &World) -> String {
    let mut out = String::new();
    for r in &w.trace {
        // A BTreeMap, so keys come out sorted whatever serde_json's
        // `preserve_order` feature (another crate in a build may turn it on) says.
        let mut m: std::collections::BTreeMap<String, Value> = [
            ("v".to_string(), json!(JSON_SCHEMA_VERSION)),
            ("t_ns".to_string(), json!(r.t.0)),
            ("container".to_string(), json!(r.ctr.map(|c| w.ctrs[c].name.clone()))),
            ("event".to_string(), json!(kind(&r.ev))),
        ]
        .into();
        if let Value::Object(f) = fields(w, &r.ev) {
            m.extend(f);
        }
        let _ = writeln!(out, "{}", serde_json::to_string(&m).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::time::Time;

    /// Rendered in pieces (of any size) and hashed as it goes, the trace
    /// gives the text and the fingerprint rendered whole.
    #[test]
    fn pieces_make_the_text_and_its_fingerprint() {
        let loaded = crate::scenario::load_file(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/patterns/three-tier.ron"
        )))
        .expect("a shipped scenario");
        let r = crate::run::run(&loaded, crate::run::Overrides::default());
        let text = super::text(&r.world);
        assert!(text.len() > 10_000, "several pieces below");
        for chunk in [1, 100, 4096, usize::MAX] {
            let mut all = Vec::new();
            let mut pieces = 0;
            super::render(&r.world, chunk, |c| {
                all.extend_from_slice(c);
                pieces += 1;
            });
            assert_eq!(all, text.as_bytes(), "chunk {chunk}");
            assert!(chunk == usize::MAX || pieces > 2);
        }
        assert_eq!(super::fingerprint_of(&r.world), super::fingerprint(&text));
    }

    #[test]
    fn line_start_is_the_format_it_replaces() {
        let times = [Time(0), Time(1_500), Time(999_999_999), Time(12_345_678_901_234), Time(u64::MAX)];
        let names = ["-", "db", "api-1", "a-very-long-container-name", "café", "数据库"];
        for t in times {
            for who in names {
                for width in [0, 1, 4, 9, 30] {
                    let mut out = b"x".to_vec();
                    super::line_start(&mut out, t, who, width);
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        format!("x{t} {who:<width$}  "),
                        "{t:?} {who:?} {width}"
                    );
                }
            }
        }
    }
}
