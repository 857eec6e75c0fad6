//! The advisor: the seed document's best practices checked on a scenario
//! (hand-written or imported from compose), each finding with its place in
//! the file and the fix. Start-up races are not guessed: they are simulated
//! across seeds and reported with how often they happen.

use super::schema as s;
use crate::run::{run, Overrides};
use crate::sim::record::Ev;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub offset: usize,
    pub message: String,
    pub fix: String,
}

const DB_PORTS: [u16; 6] = [5432, 3306, 27017, 6379, 1433, 9200];

/// Where `path` is mentioned: each element as a key (`name:` in YAML,
/// `"name":` in RON) after the previous one, else as a plain mention.
fn locate(src: &str, path: &[&str]) -> usize {
    let mut at = 0;
    for seg in path {
        let key = src[at..].match_indices(seg).find(|(i, _)| {
            let after = src[at + i + seg.len()..].trim_start_matches('"');
            let before = src[..at + i].trim_end_matches('"');
            after.starts_with(':')
                && (before.ends_with('\n') || before.ends_with(' ') || before.ends_with('-') || before.is_empty())
        });
        match key
            .map(|(i, _)| at + i)
            .or_else(|| Some(super::diag::locate(&src[at..], &[seg]).0 + at).filter(|&x| x > at || at == 0))
        {
            Some(i) => at = i,
            None => break,
        }
    }
    at
}

/// An IPv4 literal used as a destination (not a bind address or a subnet).
fn is_ip(s: &str) -> bool {
    let host = s.split(':').next().unwrap_or("");
    host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| !ip.is_unspecified() && ip.octets()[3] != 0) && !s.contains('/')
}

fn targets(c: &s::Container) -> Vec<String> {
    match &c.program {
        s::Program::Client(cl) => vec![cl.target.clone()],
        s::Program::Server(sv) => sv.backend.iter().chain(&sv.also).chain(sv.needs.iter()).cloned().collect(),
        s::Program::Proxy(p) => p.upstreams.clone(),
        s::Program::Producer { target, .. }
        | s::Program::Worker { target, .. }
        | s::Program::UdpSender { target, .. }
        | s::Program::Pool { target, .. } => vec![target.clone()],
        _ => vec![],
    }
}

/// The container a name reaches: its own name, its Compose service (a
/// `depends_on` key, a service's DNS name) or a network alias.
fn container<'a>(sc: &'a s::Scenario, name: &str) -> Option<(&'a str, &'a s::Container)> {
    let all = || sc.containers.0.iter().map(|(n, c)| (n.as_str(), c));
    all()
        .find(|(n, _)| *n == name)
        .or_else(|| all().find(|(_, c)| c.service.as_deref() == Some(name)))
        .or_else(|| all().find(|(_, c)| c.aliases.0.iter().any(|(_, v)| v.iter().any(|a| a == name))))
}

fn listen_port(c: &s::Container) -> Option<u16> {
    match &c.program {
        s::Program::Server(sv) if sv.listen == Some(false) => None,
        s::Program::Server(sv) => Some(sv.port.unwrap_or(80)),
        s::Program::Proxy(p) => Some(p.port.unwrap_or(80)),
        s::Program::Broker { port, .. } => Some(port.unwrap_or(6379)),
        _ => None,
    }
}

/// Checks `sc`; `src` is the file's text (RON or compose YAML) for locations;
/// `seeds` runs of `loaded` measure start-up races.
pub fn advise(sc: &s::Scenario, src: &str, loaded: Option<&super::Loaded>, seeds: u64) -> Vec<Finding> {
    let mut out = vec![];
    let mut add = |path: &[&str], message: String, fix: &str| {
        out.push(Finding { offset: locate(src, path), message, fix: fix.to_string() });
    };
    let calls: BTreeMap<&str, Vec<String>> = sc
        .containers
        .0
        .iter()
        .map(|(n, c)| {
            (
                n.as_str(),
                targets(c).iter().map(|t| t.rsplit_once(':').map_or(t.clone(), |(h, _)| h.to_string())).collect(),
            )
        })
        .collect();
    for (name, c) in &sc.containers.0 {
        for t in targets(c) {
            if is_ip(&t) {
                add(
                    &[name, &t],
                    format!("{name} connects to an IP literal ({t}): addresses change when containers are recreated"),
                    "use the service name; Docker's DNS follows the container",
                );
            }
        }
        for (k, v) in &c.env.0 {
            if is_ip(v) || v.split("://").nth(1).is_some_and(|r| is_ip(r.rsplit('@').next().unwrap_or(r))) {
                add(
                    &[name, k],
                    format!("{name}: {k}={v} is an IP literal"),
                    "use the service name instead of an address",
                );
            }
        }
        let on_default_bridge = c.networks.as_ref().is_none_or(|n| n.iter().any(|x| x == "bridge"));
        let named: Vec<&String> = calls[name.as_str()].iter().filter(|h| container(sc, h).is_some()).collect();
        if on_default_bridge && !named.is_empty() && c.links.is_empty() {
            add(
                &[name],
                format!(
                    "{name} is on the default bridge but reaches {} by name: names do not resolve there (ENOTFOUND)",
                    named[0]
                ),
                "put both on a user-defined network",
            );
        }
        if !c.links.is_empty() {
            add(
                &[name, "links"],
                format!("{name} uses legacy --link"),
                "use a user-defined network: every container name resolves there",
            );
        }
        if let s::Program::Server(sv) = &c.program {
            if sv.bind.is_some_and(|b| b.0.is_loopback()) {
                add(
                    &[name, "bind"],
                    format!("{name} listens on 127.0.0.1 only: other containers get ECONNREFUSED"),
                    "bind 0.0.0.0 inside containers",
                );
            }
        }
        let db_like = listen_port(c).is_some_and(|p| DB_PORTS.contains(&p));
        if db_like && !c.ports.is_empty() {
            add(
                &[name, "ports"],
                format!("{name} (a database) publishes {} on the host", c.ports.join(", ")),
                "drop `ports` (other containers reach it over the network); publish on 127.0.0.1 if the host needs it",
            );
        }
        for (dep, d) in &c.depends_on.0 {
            let target = container(sc, dep);
            if matches!(d.condition, s::DepCondition::Healthy) && target.is_some_and(|(_, t)| t.healthcheck.is_none()) {
                add(
                    &[name, "depends_on", dep],
                    format!("{name} waits for {dep} to be healthy, but {dep} has no healthcheck"),
                    "add a healthcheck to the dependency (Compose refuses to start otherwise)",
                );
            }
            let calls_back = |v: &Vec<String>| v.iter().any(|x| container(sc, x).is_some_and(|(n, _)| n == name));
            if target.and_then(|(t, _)| calls.get(t)).is_some_and(calls_back) {
                add(
                    &[name, "depends_on", dep],
                    format!("{name} and {dep} depend on each other"),
                    "break the cycle: one side must start without the other (retry, or split the service)",
                );
            }
        }
        if let Some(nets) = &c.networks {
            for n in nets.iter().filter(|n| {
                !["bridge", "host", "none", "default"].contains(&n.as_str()) && !n.starts_with("container:")
            }) {
                let peers_here = sc
                    .containers
                    .0
                    .iter()
                    .filter(|(o, oc)| o != name && oc.networks.as_ref().is_some_and(|v| v.contains(n)));
                let talks = peers_here
                    .clone()
                    .any(|(o, _)| calls[name.as_str()].contains(o) || calls[o.as_str()].contains(name));
                if nets.len() > 1 && !talks {
                    add(
                        &[name, n],
                        format!("{name} is on network {n} but talks to nobody there"),
                        "leave the network out: least privilege",
                    );
                }
            }
        }
    }
    if let Some(l) = loaded {
        out.extend(races(sc, src, l, seeds));
    }
    out
}

/// Start-up races shown by simulation: in how many seeds a service's connect
/// to a dependency it only waits to be *started* got ECONNREFUSED.
fn races(sc: &s::Scenario, src: &str, l: &super::Loaded, seeds: u64) -> Vec<Finding> {
    let mut hits: BTreeMap<(String, String), u64> = BTreeMap::new();
    // Start-up gates that gave up: (service, host:port, seconds waited,
    // the script, its exit status if it refused to run the program) → seeds.
    type GaveUp = (String, String, u64, crate::container::wait::GateKind, Option<i32>);
    let mut timeouts: BTreeMap<GaveUp, u64> = BTreeMap::new();
    for seed in 0..seeds {
        let r = run(l, Overrides { seed: Some(seed), ..Overrides::default() });
        let mut seen = BTreeSet::new();
        // A container's start-up gates still closed: their refused probes
        // are how they wait, not a race.
        let mut gates: BTreeMap<crate::id::CtrId, usize> = BTreeMap::new();
        let mut timed_out = BTreeSet::new();
        let service =
            |c: crate::id::CtrId| r.world.ctrs[c].spec.service.clone().unwrap_or_else(|| r.world.ctrs[c].name.clone());
        for rec in &r.world.trace {
            let Some(c) = rec.ctr else { continue };
            match &rec.ev {
                Ev::Start => {
                    gates.insert(c, r.world.ctrs[c].spec.wait_for.len());
                }
                &Ev::Waited { host, port, ok, after, kind } => {
                    gates.entry(c).and_modify(|n| *n = n.saturating_sub(1));
                    if !ok {
                        let gate = r.world.ctrs[c].spec.wait_for.iter().find(|g| g.host == host && g.port == port);
                        let refusal = gate.and_then(|g| g.tool.refusal());
                        let target = format!("{}:{port}", r.world.syms.get(host));
                        timed_out.insert((service(c), target, after.0 / 1_000_000_000, kind, refusal));
                    }
                }
                Ev::ConnectFailed(f)
                    if f.errno == crate::proto::errno::Errno::Econnrefused && gates.get(&c).is_none_or(|&n| n == 0) =>
                {
                    seen.insert((service(c), r.world.syms.get(f.target).to_string()));
                }
                _ => {}
            }
        }
        for k in seen {
            *hits.entry(k).or_default() += 1;
        }
        for k in timed_out {
            *timeouts.entry(k).or_default() += 1;
        }
    }
    let mut out = vec![];
    for ((svc, target, secs, kind, refusal), n) in timeouts {
        use crate::container::wait::GateKind;
        let then = refusal.map_or_else(|| "ran its program anyway".to_string(), |code| format!("exited {code}"));
        let host = target.rsplit_once(':').map_or(target.as_str(), |(h, _)| h);
        let script = if kind == GateKind::WaitFor { "wait-for" } else { "wait-for-it.sh" };
        out.push(Finding {
            // The RON field, or the compose command's words.
            offset: ["wait_for", "wait-for"]
                .iter()
                .map(|k| locate(src, &[&svc, k]))
                .find(|&at| at != locate(src, &[&svc]))
                .unwrap_or_else(|| locate(src, &[&svc])),
            message: format!(
                "{svc}'s {script} gave up on {target} after {secs} s and {then} in {n} of {seeds} simulated seeds"
            ),
            fix: if container(sc, host).is_none() {
                format!("no container, service or alias is named {host}: check the name")
            } else {
                format!(
                    "wait longer (-t {}), or give {host} a healthcheck and make {svc} depend on it with condition: service_healthy",
                    (secs * 4).max(60)
                )
            },
        });
    }
    for ((svc, dep), n) in hits {
        let c = container(sc, &svc).map(|(_, c)| c);
        // The dependency as `depends_on` names it: the target's container
        // or its service (the connect named either, or an alias).
        let target = container(sc, &dep);
        let waits_healthy = target.is_some_and(|(t, _)| {
            c.is_some_and(|c| {
                c.depends_on.0.iter().any(|(k, d)| {
                    matches!(d.condition, s::DepCondition::Healthy) && container(sc, k).is_some_and(|(n, _)| n == t)
                })
            })
        });
        if !waits_healthy {
            let fix = if target.is_some_and(|(_, t)| t.healthcheck.is_some()) {
                format!("{dep} has a healthcheck: make {svc} depend on it with condition: service_healthy (or retry with backoff)")
            } else {
                format!("give {dep} a healthcheck and make {svc} depend on it with condition: service_healthy (or retry with backoff)")
            };
            out.push(Finding {
                offset: locate(src, &[&svc, "depends_on"]),
                message: format!("{svc} got ECONNREFUSED from {dep} at start-up in {n} of {seeds} simulated seeds"),
                fix,
            });
        }
    }
    out
}

/// Renders findings as `file:line:col: advice: …` lines with their fixes.
pub fn render(file: &str, src: &str, findings: &[Finding]) -> String {
    let d = super::diag::Diagnostics::new(file, src);
    let mut out = String::new();
    for f in findings {
        let (l, c) = d.line_col(f.offset);
        out.push_str(&format!("{file}:{l}:{c}: advice: {}\n    fix: {}\n", f.message, f.fix));
    }
    out.push_str(&format!("{} finding(s)\n", findings.len()));
    out
}
