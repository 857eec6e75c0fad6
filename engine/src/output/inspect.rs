//! Inspection in Docker's own vocabulary at a moment of simulated time:
//! `docker network inspect`, `docker inspect`, `docker ps -a`, `docker logs`.
//! The JSON keeps Docker's field names; times are simulated, written as
//! RFC 3339 instants counted from the Unix epoch.

use crate::id::CtrId;
use crate::net::addr::Ip;
use crate::sim::record::Ev;
use crate::sim::spec::NetKind;
use crate::sim::world::State;
use crate::sim::World;
use crate::time::Time;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// Simulated time as an RFC 3339 instant after the epoch.
pub fn instant(t: Time) -> String {
    let us = t.0 / 1000;
    let (s, frac) = (us / 1_000_000, us % 1_000_000);
    format!("1970-01-01T{:02}:{:02}:{:02}.{frac:06}Z", s / 3600, (s / 60) % 60, s % 60)
}

/// Docker's classic MAC address for an IPv4 address: 02:42 then the four bytes.
pub fn mac(ip: Ip) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

fn full_id(name: &str) -> String {
    blake3::hash(name.as_bytes()).to_hex().to_string()
}

/// `docker network inspect NAME`.
pub fn network(w: &World, name: &str) -> Option<Value> {
    let id = w.net_by_name(name)?;
    let n = &w.nets[id];
    let driver = match n.kind {
        NetKind::DefaultBridge | NetKind::Bridge => "bridge",
        NetKind::Overlay => "overlay",
        NetKind::Host => "host",
        NetKind::None => "null",
    };
    let mut ctrs = Map::new();
    for (ip, c) in n.holders.iter() {
        let prefix = n.subnet().map_or(32, |s| s.prefix);
        ctrs.insert(
            full_id(&w.ctrs[c].name),
            json!({
                "Name": w.ctrs[c].name, "EndpointID": full_id(&format!("{}/{}", w.ctrs[c].name, name)),
                "MacAddress": mac(ip), "IPv4Address": format!("{ip}/{prefix}"), "IPv6Address": "",
            }),
        );
    }
    let config: Vec<Value> = n
        .pool
        .as_ref()
        .map(|p| vec![json!({ "Subnet": p.subnet.to_string(), "Gateway": p.gateway.to_string() })])
        .unwrap_or_default();
    Some(json!([{
        "Name": n.name, "Id": full_id(&format!("network/{}", n.name)),
        "Scope": if n.kind == NetKind::Overlay { "swarm" } else { "local" },
        "Driver": driver, "EnableIPv6": false,
        "IPAM": { "Driver": "default", "Options": {}, "Config": config },
        "Internal": n.internal, "Attachable": false, "Ingress": false,
        "Containers": ctrs,
        "Options": { "com.docker.network.bridge.enable_icc": n.icc.to_string() },
    }]))
}

fn status_word(s: State) -> &'static str {
    match s {
        State::Created => "created",
        State::Running => "running",
        State::Paused => "paused",
        State::Restarting => "restarting",
        State::Exited(_) => "exited",
        State::Removed => "removing",
    }
}

/// `docker inspect NAME`.
pub fn container(w: &World, name: &str) -> Option<Value> {
    let id = w.ctr_by_name(name)?;
    let c = &w.ctrs[id];
    let exit = match c.state {
        State::Exited(code) => code,
        _ => 0,
    };
    let health = c.health.as_ref().map(|h| {
        let log: Vec<Value> = w
            .trace
            .iter()
            .filter(|r| r.ctr == Some(id) && r.t >= c.started_at)
            .filter_map(|r| match r.ev {
                Ev::ProbeResult { ok, started } => {
                    Some(json!({ "Start": instant(started), "End": instant(r.t), "ExitCode": if ok { 0 } else { 1 } }))
                }
                _ => None,
            })
            .collect();
        let keep = log.len().saturating_sub(5);
        json!({ "Status": h.status.name(), "FailingStreak": h.failing_streak, "Log": log[keep..] })
    });
    let mut nets = Map::new();
    for e in &c.endpoints {
        let n = &w.nets[e.net];
        let aliases: Vec<String> = c
            .spec
            .attach
            .iter()
            .filter(|a| w.net_order.get(a.net) == Some(&e.net))
            .flat_map(|a| a.aliases.clone())
            .collect();
        nets.insert(
            n.name.clone(),
            json!({
                "IPAddress": e.ip.to_string(), "Gateway": n.gateway().map(|g| g.to_string()).unwrap_or_default(),
                "IPPrefixLen": n.subnet().map_or(0, |s| s.prefix), "MacAddress": mac(e.ip),
                "DNSNames": dns_names(w, id, &aliases, w.is_default_bridge(e.net)), "Aliases": aliases,
            }),
        );
    }
    // What is bound now (gone once the container stops), and what was asked
    // for (kept: `HostPort` "" where the port allocator draws one, `HostIp`
    // "" for every address), each port with all its bindings, as Docker
    // lists them.
    let bindings = |maps: &[crate::sim::publish::PortMap], asked: bool| {
        let mut out = Map::new();
        for pm in maps {
            let ip = if asked && pm.host_ip.is_unspecified() { String::new() } else { pm.host_ip.to_string() };
            let port = if asked && pm.host_port == 0 { String::new() } else { pm.host_port.to_string() };
            let list = out.entry(format!("{}/tcp", pm.ctr_port)).or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(json!({ "HostIp": ip, "HostPort": port }));
            }
        }
        out
    };
    let ports = bindings(&w.bound_ports(id), false);
    Some(json!([{
        "Id": full_id(&c.name), "Name": format!("/{}", c.name),
        "State": {
            "Status": status_word(c.state), "Running": c.is_up(), "Paused": c.state == State::Paused,
            "Restarting": c.state == State::Restarting, "ExitCode": exit,
            "StartedAt": instant(c.started_at), "Health": health,
        },
        "RestartCount": c.restart.restart_count,
        "HostConfig": { "RestartPolicy": { "Name": c.spec.restart.name() }, "PortBindings": bindings(&c.spec.ports, true) },
        "Config": { "Hostname": c.spec.hostname.clone().unwrap_or_else(|| c.short_id.clone()) },
        "NetworkSettings": { "Networks": nets, "Ports": ports },
    }]))
}

/// The names the embedded DNS answers for the container on one network, in
/// moby's order (`buildEndpointDNSNames`; the first names the PTR record):
/// the container's name, its aliases (Compose's service name first), its
/// short ID, its hostname; each once. None on the default bridge, which
/// has no embedded DNS.
fn dns_names(w: &World, id: CtrId, aliases: &[String], default_bridge: bool) -> Option<Vec<String>> {
    if default_bridge {
        return None;
    }
    let c = &w.ctrs[id];
    let hostname = c.spec.hostname.clone().unwrap_or_else(|| c.short_id.clone());
    let all = std::iter::once(c.name.clone())
        .chain(c.spec.service.clone())
        .chain(aliases.iter().cloned())
        .chain([c.short_id.clone(), hostname]);
    let mut names: Vec<String> = vec![];
    for n in all {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    Some(names)
}

/// `docker ps -a` at the world's current time: the newest container first,
/// as the daemon lists them.
pub fn ps(w: &World) -> String {
    let mut rows = vec![["CONTAINER ID", "NAMES", "STATUS", "PORTS", "NETWORKS"].map(String::from)];
    for &id in w.ctr_order.iter().rev() {
        let c = &w.ctrs[id];
        let since = w.now.since(c.started_at);
        let last_exit = w
            .trace
            .iter()
            .rev()
            .find(|r| r.ctr == Some(id) && matches!(r.ev, Ev::Die { .. }))
            .map(|r| w.now.since(r.t));
        let status = match c.state {
            State::Created => "Created".to_string(),
            State::Running | State::Paused => {
                let h = c.health.as_ref().map_or(String::new(), |h| match h.status.name() {
                    "starting" => " (health: starting)".into(),
                    s => format!(" ({s})"),
                });
                let p = if c.state == State::Paused { " (Paused)" } else { "" };
                format!("Up {}{p}{h}", human(since))
            }
            State::Restarting => {
                format!("Restarting ({}) {} ago", last_code(w, id), human(last_exit.unwrap_or_default()))
            }
            State::Exited(code) => format!("Exited ({code}) {} ago", human(last_exit.unwrap_or_default())),
            State::Removed => "Removal In Progress".into(),
        };
        let ports = displayable_ports(&w.bound_ports(id));
        let nets: Vec<&str> = c.nets.iter().map(|&n| w.nets[n].name.as_str()).collect();
        rows.push([c.short_id.clone(), c.name.clone(), status, ports, nets.join(",")]);
    }
    table(&rows)
}

/// Columns as docker/cli's table formatter aligns them (Go's `tabwriter`
/// with a minimum width of 10 and a padding of 3): each column as wide as
/// its widest cell plus 3, at least 10; the last column unpadded.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [10; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count() + 3);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            match i + 1 == N {
                true => out.push_str(cell),
                false => {
                    let _ = write!(out, "{cell:<0$}", widths[i]);
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The PORTS column as `docker ps` writes it (docker/cli's
/// `DisplayablePorts`): sorted by container port, then host address and
/// port; a mapping to the same port number on one address joins a run of
/// consecutive ports (`0.0.0.0:9000-9001->9000-9001/tcp`), runs first in the
/// order they began, then the mappings that change the port number.
pub fn displayable_ports(bound: &[crate::sim::publish::PortMap]) -> String {
    let mut ports: Vec<(u16, String, u16)> =
        bound.iter().map(|p| (p.ctr_port, p.host_ip.to_string(), p.host_port)).collect();
    ports.sort();
    // Open runs (address, first, last) in the order they began.
    let mut runs: Vec<(String, u16, u16)> = vec![];
    let (mut done, mut moved): (Vec<String>, Vec<String>) = (vec![], vec![]);
    let run = |ip: &str, first: u16, last: u16| {
        let span = if first == last { first.to_string() } else { format!("{first}-{last}") };
        format!("{ip}:{span}->{span}/tcp")
    };
    for (ctr, ip, host) in ports {
        if host != ctr {
            moved.push(format!("{ip}:{host}->{ctr}/tcp"));
            continue;
        }
        match runs.iter_mut().find(|r| r.0 == ip) {
            Some(r) if ctr == r.2.wrapping_add(1) => r.2 = ctr,
            Some(r) => {
                done.push(run(&r.0, r.1, r.2));
                (r.1, r.2) = (ctr, ctr);
            }
            None => runs.push((ip, ctr, ctr)),
        }
    }
    done.extend(runs.iter().map(|r| run(&r.0, r.1, r.2)));
    done.extend(moved);
    done.join(", ")
}

/// Docker's human durations (go-units `HumanDuration`, as `docker ps`
/// prints them): seconds and minutes truncated, hours rounded to the
/// nearest (1 h 29 min is "About an hour", 1 h 31 min "2 hours"), then
/// days below two weeks, weeks below two 30-day months, months below
/// two 365-day years, and years.
pub fn human(d: crate::time::Dur) -> String {
    const SEC: u64 = 1_000_000_000;
    const HOUR: u64 = 3_600 * SEC;
    let (secs, mins) = (d.0 / SEC, d.0 / (60 * SEC));
    // Rounded half up, as Go's `math.Round` rounds a positive duration.
    let hours = d.0.saturating_add(HOUR / 2) / HOUR;
    match (secs, mins, hours) {
        (0, ..) => "Less than a second".into(),
        (1, ..) => "1 second".into(),
        (2..=59, ..) => format!("{secs} seconds"),
        (_, 1, _) => "About a minute".into(),
        (_, 2..=59, _) => format!("{mins} minutes"),
        (.., 1) => "About an hour".into(),
        (.., 2..48) => format!("{hours} hours"),
        (.., 48..336) => format!("{} days", hours / 24),
        (.., 336..1_440) => format!("{} weeks", hours / (24 * 7)),
        (.., 1_440..17_520) => format!("{} months", hours / (24 * 30)),
        _ => format!("{} years", d.0 / HOUR / (24 * 365)),
    }
}

fn last_code(w: &World, id: CtrId) -> i32 {
    w.trace
        .iter()
        .rev()
        .find_map(|r| match r.ev {
            Ev::Die { code } if r.ctr == Some(id) => Some(code),
            _ => None,
        })
        .unwrap_or(0)
}

/// `docker logs NAME`: the container's view of the trace.
pub fn logs(w: &World, name: &str) -> Option<String> {
    let id = w.ctr_by_name(name)?;
    let mut out = String::new();
    for r in w.trace.iter().filter(|r| r.ctr == Some(id)) {
        let _ = writeln!(out, "{} {}", r.t, crate::output::trace::describe(w, &r.ev));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(instant(Time(3_723_500_000_000)), "1970-01-01T01:02:03.500000Z");
        assert_eq!(mac(Ip::new(172, 18, 0, 2)), "02:42:ac:12:00:02");
    }

    /// The boundaries of go-units' `HumanDuration` (its own test's cases:
    /// minutes truncated to 59, hours rounded, then days, weeks, months
    /// and years).
    #[test]
    fn human_durations_match_docker() {
        use crate::time::Dur;
        let (m, h) = (|n: u64| Dur::secs(60 * n), |n: u64| Dur::secs(3_600 * n));
        let (day, week, month, year) = (h(24), h(24 * 7), h(24 * 30), h(24 * 365));
        let cases = [
            (Dur::millis(450), "Less than a second"),
            (Dur::secs(1), "1 second"),
            (Dur::secs(59), "59 seconds"),
            (m(1), "About a minute"),
            (Dur::secs(119), "About a minute"),
            (m(3), "3 minutes"),
            (m(45) + Dur::secs(40), "45 minutes"),
            (m(59), "59 minutes"),
            (h(1), "About an hour"),
            (h(1) + m(29), "About an hour"),
            (h(1) + m(30), "2 hours"),
            (h(1) + m(31), "2 hours"),
            (h(3) + m(29), "3 hours"),
            (h(3) + m(31), "4 hours"),
            (h(24), "24 hours"),
            (day + h(12), "36 hours"),
            (day + day, "2 days"),
            (Dur(13 * day.0) + h(5), "13 days"),
            (Dur(2 * week.0), "2 weeks"),
            (Dur(2 * week.0 + 4 * day.0), "2 weeks"),
            (month, "4 weeks"),
            (month + Dur(2 * week.0), "6 weeks"),
            (Dur(2 * month.0), "2 months"),
            (Dur(5 * month.0 + 2 * week.0), "5 months"),
            (Dur(24 * month.0), "24 months"),
            (Dur(24 * month.0 + 2 * week.0), "2 years"),
            (Dur(3 * year.0 + 2 * month.0), "3 years"),
            (Dur(u64::MAX), "584 years"),
        ];
        for (d, want) in cases {
            assert_eq!(human(d), want, "{d:?}");
        }
    }
}
