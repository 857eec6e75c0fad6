//! Validation and lowering: names become indices, defaults are filled in
//! from docker-facts.md, and every problem is collected with its location.

use super::diag::{did_you_mean, locate, Diagnostics};
use super::schema as s;
use crate::container::{client, health, proxy, queue, restart, server, tools};
use crate::dist::Delay;
use crate::net::addr::{Ip, Subnet};
use crate::net::ipam;
use crate::output::expect::{Expectation, Kind, Pattern};
use crate::proto::dns::CachePolicy;
use crate::proto::tcp::SynSchedule;
use crate::sim::spec::*;
use crate::time::Dur;
use std::collections::BTreeMap;

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub name: String,
    pub description: String,
    pub spec: WorldSpec,
    pub expect: Vec<Expectation>,
}

/// The largest `Pool` size a scenario may ask for (it opens them all in one step).
const MAX_POOL_SIZE: u32 = 65_536;
/// The most faults a chaos section may draw per seed.
const MAX_CHAOS_FAULTS: u32 = 10_000;
/// The most replicas one container entry may ask for.
const MAX_REPLICAS: u32 = 1_000_000;

struct Lower<'a> {
    d: Diagnostics,
    src: &'a str,
    nets: Vec<NetSpec>,
    /// Container names after replica expansion (`web-1`, `web-2`, …).
    ctr_names: Vec<String>,
    /// The service each container belongs to (its own name when not replicated).
    services: Vec<String>,
    /// Indexes of the two lists above, so lookups stay logarithmic with
    /// tens of thousands of containers.
    ctr_by_name: BTreeMap<String, usize>,
    ctrs_by_service: BTreeMap<String, Vec<usize>>,
    /// Whether each container is on a user-defined network (nameserver 127.0.0.11).
    user_net: Vec<bool>,
    tools: Vec<tools::Tool>,
    partitions: Vec<crate::sim::fault::Partition>,
    degrades: Vec<crate::sim::fault::Degrade>,
    nodes: Vec<String>,
    syms: Symbols,
}

/// Fixed networks every engine has, before the user's.
const BUILTIN: [&str; 3] = ["bridge", "host", "none"];

impl Lower<'_> {
    fn err(&mut self, path: &[&str], msg: impl Into<String>, hint: Option<String>) {
        let (off, len) = locate(self.src, path);
        self.d.push(off, len, msg, hint);
    }

    fn net_index(&self, name: &str) -> Option<usize> {
        self.nets.iter().position(|n| n.name == name)
    }

    fn ctr_index(&self, name: &str) -> Option<usize> {
        self.ctr_by_name.get(name).copied()
    }

    /// A container by name, or every replica of a service by the service's name.
    fn refs(&self, name: &str) -> Vec<usize> {
        match self.ctr_index(name) {
            Some(i) => vec![i],
            None => self.ctrs_by_service.get(name).cloned().unwrap_or_default(),
        }
    }

    /// Like `refs`, reporting an unknown name at `path`.
    fn refs_or_err(&mut self, path: &[&str], name: &str) -> Vec<usize> {
        let r = self.refs(name);
        if r.is_empty() {
            self.unknown_ctr(path, name);
        }
        r
    }

    fn unknown_ctr(&mut self, path: &[&str], name: &str) {
        let mut known: Vec<&str> = self.services.iter().map(String::as_str).collect();
        known.dedup();
        let hint = did_you_mean(name, known.iter().copied())
            .or_else(|| Some(format!("containers defined: {}", known.join(", "))));
        self.err(path, format!("unknown container `{name}`"), hint);
    }

    fn networks(&mut self, sc: &s::Scenario) {
        let mut explicit: Vec<Subnet> = vec![Subnet::parse("172.17.0.0/16").expect("valid")];
        for (name, net) in &sc.networks.0 {
            let sub = match net {
                s::Network::Bridge(b) => b.subnet,
                s::Network::Overlay(o) => o.subnet,
            };
            if let (Some(sub), false) = (sub, name == "bridge") {
                if let Some(prev) = explicit.iter().find(|p| p.overlaps(&sub.0)) {
                    let msg = format!("subnet {} of network `{name}` overlaps {prev}", sub.0);
                    let hint = Some("Docker refuses overlapping pools: pick another range".into());
                    self.err(&["networks", name, "subnet"], msg, hint);
                }
                explicit.push(sub.0);
            }
        }
        let mut taken = explicit.clone();
        let default_bridge = match sc.networks.get("bridge") {
            Some(s::Network::Bridge(b)) => Some(b),
            _ => None,
        };
        self.nets.push(bridge_spec("bridge", NetKind::DefaultBridge, default_bridge, Some(explicit[0])));
        for (name, kind) in [("host", NetKind::Host), ("none", NetKind::None)] {
            self.nets.push(bridge_spec(name, kind, None, None));
        }
        for (name, net) in &sc.networks.0 {
            if name == "host" || name == "none" {
                self.err(&["networks", name], format!("`{name}` is a built-in network and cannot be redefined"), None);
                continue;
            }
            match net {
                s::Network::Bridge(b) => self.bridge(name, b, &mut taken),
                s::Network::Overlay(o) => self.overlay(name, o, &mut taken),
            }
        }
    }

    fn bridge(&mut self, name: &str, b: &s::Bridge, taken: &mut Vec<Subnet>) {
        if name == "bridge" {
            if b.subnet.is_some() || b.gateway.is_some() {
                let hint = Some("define a user network instead".into());
                self.err(&["networks", "bridge"], "the default bridge's subnet is fixed at 172.17.0.0/16", hint);
            }
            return;
        }
        let subnet = b.subnet.map(|x| x.0).or_else(|| {
            let sub = ipam::next_free_subnet(taken)?;
            taken.push(sub);
            Some(sub)
        });
        if subnet.is_none() {
            self.err(&["networks", name], "no free subnet left in the default pools", None);
        }
        if let (Some(sub), Some(gw)) = (subnet, b.gateway) {
            if !sub.contains(gw.0) || gw.0 == sub.host(0) || gw.0 == sub.broadcast() {
                let msg = format!("gateway {} is not a host address of {sub}", gw.0);
                self.err(&["networks", name, "gateway"], msg, None);
            }
        }
        if let (Some(sub), Some(r)) = (subnet, b.ip_range) {
            if !(sub.contains(r.0.host(0)) && sub.contains(r.0.broadcast())) {
                let msg = format!("ip_range {} is not inside the subnet {sub}", r.0);
                self.err(
                    &["networks", name, "ip_range"],
                    msg,
                    Some("Docker refuses it: \"ip-range is not a subset of the subnet\"".into()),
                );
            }
        }
        if b.loss.is_some_and(|l| !(0.0..=1.0).contains(&l)) {
            let hint = Some("0.01 means 1% of packets".into());
            self.err(&["networks", name, "loss"], "loss must be between 0.0 and 1.0", hint);
        }
        self.nets.push(bridge_spec(name, NetKind::Bridge, Some(b), subnet));
    }

    fn overlay(&mut self, name: &str, o: &s::Overlay, taken: &mut Vec<Subnet>) {
        let subnet = o.subnet.map(|x| x.0).or_else(|| {
            let sub = ipam::overlay_pool_subnets().find(|s| taken.iter().all(|t| !t.overlaps(s)))?;
            taken.push(sub);
            Some(sub)
        });
        let mut spec = bridge_spec(name, NetKind::Overlay, None, subnet);
        spec.internal = o.internal;
        // Unconfirmed, chosen: a same-datacentre underlay plus VXLAN encapsulation,
        // and AES-GCM ESP with AES-NI per packet.
        spec.cross_node = o.cross_node_latency.map_or(Dur::micros(250), |d| d.0);
        spec.encryption = if o.encrypted { o.encryption_cost.map_or(Dur::micros(15), |d| d.0) } else { Dur::ZERO };
        self.nets.push(spec);
    }

    /// Lowers one container instance `inst` of the file's entry `name`.
    fn container(
        &mut self,
        inst: &str,
        name: &str,
        c: &s::Container,
        used: &mut BTreeMap<Ip, String>,
    ) -> Option<CtrSpec> {
        let used_ips = used;
        let (mode, attach) = self.attachments(name, c, used_ips)?;
        let bridge_gw = self.nets[0].gateway.expect("default bridge has a gateway");
        let resolver = self.resolv_options(name, &c.dns_options);
        let mut extra_hosts = Vec::new();
        for (host, v) in &c.extra_hosts.0 {
            match v.as_str() {
                "host-gateway" => extra_hosts.push((host.clone(), bridge_gw)),
                other => match other.parse::<Ip>() {
                    Ok(ip) => extra_hosts.push((host.clone(), ip)),
                    Err(_) => self.err(
                        &["containers", name, "extra_hosts", other],
                        format!("`{other}` is not an IPv4 address or `host-gateway`"),
                        None,
                    ),
                },
            }
        }
        let mut links = Vec::new();
        for l in &c.links {
            let (target, alias) = l.split_once(':').unwrap_or((l, l));
            match self.refs(target).first() {
                Some(&i) => links.push((i, alias.to_string())),
                None => self.unknown_ctr(&["containers", name, "links", l], target),
            }
        }
        let program = self.program(name, c)?;
        let wait_for = self.wait_for(name, c)?;
        let restart = match c.restart.as_deref().map(parse_restart) {
            None => restart::Policy::No,
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                let value = c.restart.as_deref().unwrap_or_default();
                self.err(
                    &["containers", name, "restart", value],
                    e,
                    Some("one of \"no\", \"always\", \"unless-stopped\", \"on-failure\", \"on-failure:N\"".into()),
                );
                restart::Policy::No
            }
        };
        let depends_on = c
            .depends_on
            .0
            .iter()
            .flat_map(|(on, dep)| {
                let condition = match dep.condition {
                    s::DepCondition::Started => Condition::Started,
                    s::DepCondition::Healthy => Condition::Healthy,
                    s::DepCondition::CompletedSuccessfully => Condition::CompletedSuccessfully,
                };
                let refs = self.refs_or_err(&["containers", name, "depends_on", on], on);
                refs.into_iter().map(move |i| Dep { on: i, condition, required: dep.required, restart: dep.restart })
            })
            .collect();
        let replicated = c.replicas.is_some_and(|n| n > 1);
        let node = match &c.node {
            None => 0,
            Some(n) => match self.nodes.iter().position(|x| x == n) {
                Some(i) => i as u32,
                None => {
                    let hint = Some(format!("nodes defined: {}", self.nodes.join(", ")));
                    self.err(&["containers", name, "node", n], format!("unknown node `{n}`"), hint);
                    0
                }
            },
        };
        let mut ports = Vec::new();
        for p in &c.ports {
            match crate::sim::publish::parse_port(p) {
                Ok(pm) if mode == Mode::Bridge => ports.push(pm),
                Ok(_) => {
                    let hint = Some("a container on the host network uses the host's ports directly".into());
                    self.err(&["containers", name, p], "published ports need a bridge network", hint);
                }
                Err(e) => self.err(&["containers", name, p], e, None),
            }
        }
        // Compose starts the service whose namespace is shared first.
        let mut depends_on: Vec<Dep> = depends_on;
        if let Mode::Container(k) = mode {
            if !depends_on.iter().any(|d| d.on == k) {
                depends_on.push(Dep { on: k, condition: Condition::Started, required: true, restart: false });
            }
        }
        Some(CtrSpec {
            name: inst.to_string(),
            hostname: c.hostname.clone(),
            service: c.service.clone().or_else(|| replicated.then(|| name.to_string())),
            mode,
            attach,
            extra_hosts,
            links,
            start_at: if c.manual_start { None } else { Some(c.start_at.map_or(Dur::ZERO, |d| d.0)) },
            startup: c.startup.map_or(Delay::Fixed(Dur::ZERO), |d| d.0),
            program,
            wait_for,
            dns_cache: match c.dns_cache {
                s::DnsCache::None => CachePolicy::None,
                s::DnsCache::Once => CachePolicy::Once,
                s::DnsCache::Jvm => CachePolicy::JVM,
                s::DnsCache::Ttl(d) => CachePolicy::Ttl { ttl: d.0, negative: Dur::ZERO },
            },
            resolver,
            restart,
            health: c.healthcheck.as_ref().map(health_spec),
            stop_grace: c.stop_grace_period.map_or(Dur::secs(10), |d| d.0),
            on_sigterm: match c.on_sigterm {
                s::OnSigterm::Exit => Sigterm::Exit,
                s::OnSigterm::Ignore => Sigterm::Ignore,
            },
            depends_on,
            ports,
            node,
        })
    }

    /// resolv.conf options as glibc reads them: `timeout:N` seconds (at
    /// most 30) and `attempts:N` (at most 5) change the simulation;
    /// `ndots:N` is accepted (names are looked up as written).
    fn resolv_options(&mut self, name: &str, opts: &[String]) -> ResolvOptions {
        let mut r = ResolvOptions::default();
        for o in opts {
            let at = ["containers", name, "dns_options", o.as_str()];
            let (key, value) = o.split_once(':').unwrap_or((o.as_str(), ""));
            let n = value.parse::<u64>();
            match (key, n) {
                ("timeout", Ok(n)) => r.timeout = Dur::secs(n.clamp(1, 30)),
                ("attempts", Ok(0)) => self.err(
                    &at,
                    "`attempts:0` sends no query: every lookup would fail at once",
                    Some("glibc sends each query `attempts` times (default 2, at most 5)".into()),
                ),
                ("attempts", Ok(n)) => r.attempts = n.min(5) as u8,
                ("ndots", Ok(_)) => {}
                ("timeout" | "attempts" | "ndots", Err(_)) => {
                    self.err(&at, format!("`{o}` needs a whole number after `{key}:`"), None)
                }
                _ => self.err(
                    &at,
                    format!("unknown resolver option `{o}`"),
                    Some("`timeout:N` (seconds), `attempts:N` or `ndots:N`".into()),
                ),
            }
        }
        r
    }

    fn attachments(
        &mut self,
        name: &str,
        c: &s::Container,
        used_ips: &mut BTreeMap<Ip, String>,
    ) -> Option<(Mode, Vec<AttachSpec>)> {
        let nets = c.networks.clone().unwrap_or_else(|| vec!["bridge".into()]);
        if let Some(target) =
            nets.iter().find_map(|n| n.strip_prefix("container:").or_else(|| n.strip_prefix("service:")))
        {
            let path = ["containers", name, target];
            if nets.len() > 1 {
                self.err(&path, "a container sharing another's network namespace joins no other network", None);
            }
            let Some(k) = self.refs(target).first().copied() else {
                self.unknown_ctr(&path, target);
                return None;
            };
            if k >= self.ctr_names.iter().position(|n| n == name || n.starts_with(&format!("{name}-"))).unwrap_or(0) {
                let hint = Some(format!("define `{target}` before `{name}`"));
                self.err(
                    &path,
                    format!("`{target}` must be defined before the containers that share its network"),
                    hint,
                );
                return None;
            }
            return Some((Mode::Container(k), vec![]));
        }
        let special = nets.iter().find(|n| *n == "host" || *n == "none");
        if let Some(sp) = special {
            if nets.len() > 1 {
                self.err(
                    &["containers", name, sp],
                    format!("network mode `{sp}` cannot be combined with other networks"),
                    Some(format!("a container in `{sp}` mode joins no other network")),
                );
            }
            let mode = if sp == "host" { Mode::Host } else { Mode::None };
            return Some((mode, vec![]));
        }
        let mut attach = Vec::new();
        for n in &nets {
            let Some(idx) = self.net_index(n) else {
                let user: Vec<&str> =
                    self.nets.iter().map(|x| x.name.as_str()).filter(|x| !BUILTIN.contains(x)).collect();
                let hint = did_you_mean(n, self.nets.iter().map(|x| x.name.as_str())).or_else(|| {
                    Some(format!("networks defined: {} (plus the built-in bridge, host, none)", user.join(", ")))
                });
                self.err(&["containers", name, n], format!("unknown network `{n}`"), hint);
                continue;
            };
            let aliases = c.aliases.get(n).cloned().unwrap_or_default();
            let ip = c.ipv4_address.get(n).map(|x| x.0);
            if let Some(ip) = ip {
                self.check_static_ip(name, n, idx, ip, used_ips);
            }
            let priority = c.priority.get(n).copied().unwrap_or(0);
            attach.push(AttachSpec { net: idx, aliases, ip, priority });
        }
        let keyed = c.aliases.0.iter().map(|(k, _)| k).chain(c.ipv4_address.0.iter().map(|(k, _)| k));
        for k in keyed.chain(c.priority.0.iter().map(|(k, _)| k)) {
            if !nets.contains(k) {
                self.err(
                    &["containers", name, k],
                    format!("`{name}` is not attached to network `{k}`"),
                    Some(format!("add \"{k}\" to its networks")),
                );
            }
        }
        Some((Mode::Bridge, attach))
    }

    fn check_static_ip(&mut self, name: &str, net: &str, idx: usize, ip: Ip, used: &mut BTreeMap<Ip, String>) {
        let path = ["containers", name, "ipv4_address", net];
        let n = &self.nets[idx];
        if n.kind == NetKind::DefaultBridge {
            return self.err(
                &path,
                "user specified IP address is supported on user defined networks only",
                Some("attach the container to a user-defined network to give it a static address".into()),
            );
        }
        let sub = n.subnet.expect("bridges have subnets");
        if !sub.contains(ip) || ip == sub.host(0) || ip == sub.broadcast() || Some(ip) == n.gateway {
            return self.err(&path, format!("{ip} is not a free host address of {net} ({sub})"), None);
        }
        if let Some(other) = used.get(&ip) {
            let msg = format!("{ip} is already given to `{other}`");
            return self.err(
                &path,
                msg,
                Some("the second container would fail to start: Address already in use".into()),
            );
        }
        used.insert(ip, name.to_string());
    }

    /// A `host:port` target of a program, after `${VAR}` interpolation from `env`.
    fn target(&mut self, name: &str, env: &s::Ordered<String>, text: &str) -> Option<(crate::id::Sym, u16, String)> {
        let target = match interpolate(text, env) {
            Ok(t) => t,
            Err(e) => {
                let hint = Some("define it under `env`, or give a default: ${VAR:-value}".into());
                self.err(&["containers", name, text], e, hint);
                return None;
            }
        };
        let Some((host, port)) = split_host_port(&target) else {
            let hint = Some("e.g. \"db:5432\" or \"172.18.0.2:80\"".into());
            self.err(&["containers", name, text], format!("target `{target}` is not host:port"), hint);
            return None;
        };
        Some((self.syms.intern(host), port, host.to_string()))
    }

    /// The container's start-up gates.
    fn wait_for(&mut self, name: &str, c: &s::Container) -> Option<Vec<crate::container::wait::Gate>> {
        use crate::container::wait::Tool;
        let mut gates = vec![];
        for g in &c.wait_for {
            let (host, port, written) = self.target(name, &c.env, g.target())?;
            let mut whole = |d: Option<s::D>, script: &str| {
                let d = d.map_or(Dur::secs(15), |d| d.0);
                if d.0 % 1_000_000_000 != 0 {
                    let hint = Some(format!("{script}'s -t takes whole seconds, e.g. \"30s\""));
                    let at = ["containers", name, "wait_for", g.target()];
                    self.err(&at, format!("timeout {d} is not whole seconds"), hint);
                }
                d
            };
            let tool = match g {
                s::Gate::WaitForIt { timeout, strict, .. } => {
                    Tool::WaitForIt { timeout: whole(*timeout, "wait-for-it"), strict: *strict }
                }
                s::Gate::WaitFor { timeout, .. } => Tool::WaitFor {
                    tries: u32::try_from(whole(*timeout, "wait-for").0 / 1_000_000_000).unwrap_or(u32::MAX),
                },
                s::Gate::NcLoop { sleep, .. } => Tool::NcLoop { sleep: sleep.map_or(Dur::secs(1), |d| d.0) },
            };
            gates.push(crate::container::wait::Gate { host, name: written, port, tool });
        }
        Some(gates)
    }

    fn program(&mut self, name: &str, c: &s::Container) -> Option<ProgramSpec> {
        let env = &c.env;
        Some(match &c.program {
            s::Program::Idle => ProgramSpec::Idle,
            s::Program::Exit { after, code } => {
                ProgramSpec::Exit { after: after.map_or(Delay::Fixed(Dur::ZERO), |d| d.0), code: *code }
            }
            s::Program::Server(sv) => {
                if sv.listen == Some(false) && sv.warmup.is_some() {
                    let hint = Some("a warm-up is a listening server's: drop `warmup` or `listen: false`".into());
                    self.err(&["containers", name, "warmup"], "`warmup` with `listen: false`", hint);
                }
                let backend = match &sv.backend {
                    Some(t) => Some(self.target(name, env, t)?),
                    None => None,
                };
                let needs = match &sv.needs {
                    Some(t) => Some(self.target(name, env, t)?),
                    None => None,
                };
                let also =
                    sv.also.iter().map(|t| self.target(name, env, t).map(|(h, p, _)| (h, p))).collect::<Option<_>>()?;
                ProgramSpec::Server(server::Config {
                    port: sv.port.unwrap_or(80),
                    bind: sv.bind.map_or(Ip::UNSPECIFIED, |b| b.0),
                    backlog: sv.backlog.unwrap_or(511),
                    service_time: sv.service_time.map_or(Delay::Fixed(Dur::millis(1)), |d| d.0),
                    status: sv.status.unwrap_or(200),
                    response_size: sv.response_size.unwrap_or(512),
                    warmup: sv.warmup.as_ref().map(|w| server::Warmup {
                        bind: w.bind.map_or(Ip::LOCALHOST, |b| b.0),
                        duration: w.duration.0,
                        gap: w.gap.map_or(Dur::ZERO, |g| g.0),
                    }),
                    crash_after_requests: sv.crash_after_requests,
                    crash_code: sv.crash_code.unwrap_or(1),
                    backend: backend.map(|(h, p, _)| (h, p)),
                    backend_retry: sv.backend_retry.as_ref().map(lower_retry),
                    also,
                    listen: sv.listen.unwrap_or(true),
                    needs: needs.map(|(h, p, _)| (h, p)),
                    tls: sv.tls.map(|d| d.0),
                })
            }
            s::Program::Client(cl) => {
                let (host, port, _) = self.target(name, env, &cl.target)?;
                ProgramSpec::Client(client::Config {
                    host,
                    port,
                    connect_timeout: cl.connect_timeout.map(|d| d.0),
                    retry: lower_retry(&cl.retry),
                    requests: cl.requests.as_ref().map(|r| client::Requests {
                        count: r.count,
                        interval: r.interval.map_or(Dur::secs(1), |d| d.0),
                        timeout: r.timeout.map(|d| d.0),
                        size: r.size.unwrap_or(256),
                    }),
                    give_up_exit: cl.give_up_exit.unwrap_or(1),
                    exit_when_done: cl.exit_when_done,
                    tls: cl.tls,
                })
            }
            s::Program::Proxy(px) => ProgramSpec::Proxy(self.proxy(name, env, px)?),
            s::Program::Broker { port, requeue_after } => ProgramSpec::Broker(queue::BrokerConfig {
                port: port.unwrap_or(6379),
                requeue_after: requeue_after.map(|d| d.0),
            }),
            s::Program::Producer { target, count, interval, first_task } => {
                let (host, port, _) = self.target(name, env, target)?;
                ProgramSpec::Producer(queue::ProducerConfig {
                    host,
                    port,
                    count: *count,
                    interval: interval.map_or(Dur::millis(100), |d| d.0),
                    first_task: first_task.unwrap_or(1),
                })
            }
            s::Program::Worker { target, reliable, work_time, crash_on_task } => {
                let (host, port, _) = self.target(name, env, target)?;
                ProgramSpec::Worker(queue::WorkerConfig {
                    host,
                    port,
                    reliable: *reliable,
                    work_time: work_time.map_or(Dur::secs(1), |d| d.0),
                    crash_on_task: *crash_on_task,
                })
            }
            s::Program::UdpServer { port } => ProgramSpec::UdpServer(*port),
            s::Program::Pool { target, size, connect_timeout, retry } => {
                let (host, port, _) = self.target(name, env, target)?;
                if *size == Some(0) {
                    self.err(&["containers", name, "size"], "a pool needs at least one connection", None);
                }
                // A pool opens its connections all at once, in one step:
                // bounded, so a mistyped size is a diagnostic, not an
                // out-of-memory abort.
                if size.is_some_and(|n| n > MAX_POOL_SIZE) {
                    use crate::proto::tcp::{EPHEMERAL_FIRST as FIRST, EPHEMERAL_LAST as LAST};
                    let hint = format!(
                        "at most {MAX_POOL_SIZE}; a container has {} ephemeral ports ({FIRST}-{LAST}) per destination, and real pools hold tens to hundreds",
                        LAST - FIRST + 1
                    );
                    self.err(&["containers", name, "size"], "pool size too large", Some(hint));
                }
                ProgramSpec::Pool(crate::container::pool::PoolConfig {
                    host,
                    port,
                    size: size.unwrap_or(10),
                    connect_timeout: connect_timeout.map(|d| d.0),
                    retry: retry.map_or(Dur::secs(1), |d| d.0),
                })
            }
            s::Program::UdpSender { target, count, interval, size } => {
                let (host, port, _) = self.target(name, env, target)?;
                ProgramSpec::UdpSender(tools::UdpSenderConfig {
                    host,
                    port,
                    count: *count,
                    interval: interval.map_or(Dur::secs(1), |d| d.0),
                    size: size.unwrap_or(64),
                })
            }
        })
    }

    fn proxy(&mut self, name: &str, env: &s::Ordered<String>, px: &s::Proxy) -> Option<proxy::Config> {
        let mut upstreams = Vec::new();
        let mut names = Vec::new();
        for u in &px.upstreams {
            let (target, weight) = match u.split_once(" weight=") {
                Some((t, w)) => match w.trim().parse::<u32>() {
                    Ok(w) if w > 0 => (t, w),
                    _ => {
                        self.err(
                            &["containers", name, u],
                            format!("bad weight in `{u}`"),
                            Some("e.g. \"app:8080 weight=3\"".into()),
                        );
                        return None;
                    }
                },
                None => (u.as_str(), 1),
            };
            let (host, port, hname) = self.target(name, env, target)?;
            upstreams.push((host, port, weight));
            names.push(hname);
        }
        if upstreams.is_empty() {
            self.err(&["containers", name, "upstreams"], "a proxy needs at least one upstream", None);
            return None;
        }
        let mut cfg = proxy::Config::nginx(px.port.unwrap_or(80), upstreams);
        cfg.upstream_names = names;
        cfg.mode = match px.mode {
            s::ProxyMode::Http => proxy::Mode::Http,
            s::ProxyMode::Tcp => proxy::Mode::Tcp,
        };
        cfg.resolve_every = px.resolve_every.map(|d| d.0);
        cfg.max_fails = px.max_fails.unwrap_or(cfg.max_fails);
        cfg.fail_timeout = px.fail_timeout.map_or(cfg.fail_timeout, |d| d.0);
        cfg.connect_timeout = px.connect_timeout.map_or(cfg.connect_timeout, |d| d.0);
        cfg.read_timeout = px.read_timeout.map_or(cfg.read_timeout, |d| d.0);
        cfg.tries = px.tries.unwrap_or(0);
        cfg.next_upstream = px.next_upstream.unwrap_or(true);
        cfg.reuse_servers = px.reuse_servers;
        cfg.breaker = px.breaker.map(|b| proxy::BreakerCfg { failures: b.failures.max(1), open_for: b.open_for.0 });
        cfg.retry_budget = px.retry_budget;
        cfg.upstream_tls = px.upstream_tls.map_or(Dur::ZERO, |d| d.0);
        Some(cfg)
    }

    /// A bridge network lives on one host: containers on different nodes can
    /// only share an overlay.
    fn bridges_on_one_node(&mut self, specs: &[CtrSpec]) {
        let mut seen: Vec<Option<(u32, usize)>> = vec![None; self.nets.len()];
        for (i, c) in specs.iter().enumerate() {
            for a in &c.attach {
                if self.nets[a.net].kind == NetKind::Overlay {
                    continue;
                }
                match seen[a.net] {
                    None => seen[a.net] = Some((c.node, i)),
                    Some((node, first)) if node != c.node => {
                        let (net, other) = (self.nets[a.net].name.clone(), specs[first].name.clone());
                        let msg = format!("`{}` and `{other}` share bridge `{net}` but run on different nodes", c.name);
                        let hint = Some("a bridge is local to one host: use an Overlay network".into());
                        self.err(&["containers", &self.services[i].clone(), "node"], msg, hint);
                        return;
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn cycles(&mut self, specs: &[CtrSpec]) {
        let n = specs.len();
        let mut state = vec![0u8; n];
        let mut stack = Vec::new();
        for start in 0..n {
            if let Some(cycle) = dfs(specs, start, &mut state, &mut stack) {
                let names: Vec<&str> = cycle.iter().map(|&i| self.services[i].as_str()).collect();
                let first = names[0].to_string();
                let next = names.get(1).copied().unwrap_or(&first).to_string();
                let (first, next) = (first.as_str(), next.as_str());
                self.err(
                    &["containers", first, "depends_on", next],
                    format!("dependency cycle: {}", names.join(" -> ")),
                    Some("Compose cannot start any of these: remove one edge".into()),
                );
                return;
            }
        }
    }
}

fn bridge_spec(name: &str, kind: NetKind, b: Option<&s::Bridge>, subnet: Option<Subnet>) -> NetSpec {
    let def = s::Bridge::default();
    let b = b.unwrap_or(&def);
    let d = Link::default();
    let link = Link {
        latency: b.latency.map_or(d.latency, |x| x.0),
        jitter: b.jitter.map_or(d.jitter, |x| x.0),
        loss: b.loss.unwrap_or(0.0),
        bandwidth_bps: b.bandwidth_mbps.map_or(d.bandwidth_bps, |m| m * 1_000_000),
    };
    let gateway = b.gateway.map(|g| g.0).or_else(|| subnet.map(|s| s.host(1)));
    NetSpec {
        name: name.into(),
        kind,
        subnet,
        gateway,
        ip_range: b.ip_range.map(|r| r.0),
        internal: b.internal,
        icc: b.icc.unwrap_or(true),
        link,
        cross_node: Dur::ZERO,
        encryption: Dur::ZERO,
    }
}

fn dfs(specs: &[CtrSpec], i: usize, state: &mut [u8], stack: &mut Vec<usize>) -> Option<Vec<usize>> {
    if state[i] == 2 {
        return None;
    }
    if state[i] == 1 {
        let pos = stack.iter().position(|&x| x == i).expect("on stack");
        let mut c = stack[pos..].to_vec();
        c.push(i);
        return Some(c);
    }
    state[i] = 1;
    stack.push(i);
    for d in &specs[i].depends_on {
        if let Some(c) = dfs(specs, d.on, state, stack) {
            return Some(c);
        }
    }
    stack.pop();
    state[i] = 2;
    None
}

/// The event a `Latency` expectation measures.
const RESPONSE: s::Event = s::Event::Response { status: None };

fn dns_mode(m: s::DnsMode) -> DnsOutage {
    match m {
        s::DnsMode::Drop => DnsOutage::Drop,
        s::DnsMode::ServFail => DnsOutage::ServFail,
        s::DnsMode::Slow(d) => DnsOutage::Slow(d.0),
    }
}

fn lower_retry(r: &s::Retry) -> client::Retry {
    match r {
        s::Retry::None => client::Retry::None,
        s::Retry::Fixed { delay, attempts } => client::Retry::Fixed { delay: delay.0, attempts: *attempts },
        s::Retry::Exponential { first, factor, max, attempts, jitter } => client::Retry::Exponential {
            first: first.0,
            factor: factor.unwrap_or(2.0),
            max: max.map_or(Dur::secs(30), |d| d.0),
            attempts: *attempts,
            jitter: *jitter,
        },
    }
}

fn health_spec(h: &s::Healthcheck) -> HealthSpec {
    let d = health::Config::default();
    HealthSpec {
        cfg: health::Config {
            interval: h.interval.map_or(d.interval, |x| x.0),
            timeout: h.timeout.map_or(d.timeout, |x| x.0),
            retries: h.retries.unwrap_or(d.retries),
            start_period: h.start_period.map_or(d.start_period, |x| x.0),
            start_interval: h.start_interval.map_or(d.start_interval, |x| x.0),
        },
        probe: match h.test {
            s::HealthTest::Tcp(p) => Probe::Tcp(p),
            s::HealthTest::Http(p) => Probe::Http(p),
            s::HealthTest::Ready => Probe::Ready,
        },
    }
}

/// Parses Docker's restart policy syntax.
pub fn parse_restart(s: &str) -> Result<restart::Policy, String> {
    match s {
        "no" => Ok(restart::Policy::No),
        "always" => Ok(restart::Policy::Always),
        "unless-stopped" => Ok(restart::Policy::UnlessStopped),
        "on-failure" => Ok(restart::Policy::OnFailure { max_retries: 0 }),
        _ => s
            .strip_prefix("on-failure:")
            .and_then(|n| n.parse().ok())
            .map(|max_retries| restart::Policy::OnFailure { max_retries })
            .ok_or_else(|| format!("unknown restart policy `{s}`")),
    }
}

/// `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$VAR` from the container's env.
pub fn interpolate(text: &str, env: &s::Ordered<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (expr, tail) = if let Some(b) = after.strip_prefix('{') {
            let end = b.find('}').ok_or_else(|| format!("unclosed `${{` in `{text}`"))?;
            (&b[..end], &b[end + 1..])
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let (var, default) = match expr.split_once(":-").or_else(|| expr.split_once('-')) {
            Some((v, d)) => (v, Some(d)),
            None => (expr, None),
        };
        match (env.get(var), default) {
            (Some(v), _) if !v.is_empty() || !expr.contains(":-") => out.push_str(v),
            (_, Some(d)) => out.push_str(d),
            (None, None) => return Err(format!("variable `{var}` is not set in this container's env")),
            (Some(v), None) => out.push_str(v),
        }
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

fn split_host_port(t: &str) -> Option<(&str, u16)> {
    let (h, p) = t.rsplit_once(':')?;
    let port = p.parse().ok()?;
    (!h.is_empty()).then_some((h, port))
}

fn pattern(e: &s::Event) -> Pattern {
    match e {
        s::Event::Connected { to } => Pattern::Connected { to: to.clone() },
        s::Event::Error { errno, to } => Pattern::Error { errno: errno.map(|e| e.0), to: to.clone() },
        s::Event::Resolved { name, ip } => Pattern::Resolved { name: name.clone(), ip: ip.clone() },
        s::Event::Response { status } => Pattern::Response { status: *status },
        s::Event::Started => Pattern::Started,
        s::Event::Exited { code } => Pattern::Exited { code: *code },
        s::Event::RestartScheduled => Pattern::RestartScheduled,
        s::Event::Healthy => Pattern::Healthy,
        s::Event::Unhealthy => Pattern::Unhealthy,
        s::Event::ComposeFailed => Pattern::ComposeFailed,
        s::Event::ComposeReady => Pattern::ComposeReady,
        s::Event::GaveUp => Pattern::GaveUp,
        s::Event::Served { status } => Pattern::Served { status: *status },
        s::Event::Proxied { status } => Pattern::Proxied { status: *status },
        s::Event::Task { id, state } => Pattern::Task { id: *id, state: state.clone() },
        s::Event::Breaker { state } => Pattern::Breaker { state: state.clone() },
        s::Event::Output { contains } => Pattern::Output { contains: contains.clone() },
        s::Event::DatagramReceived => Pattern::DatagramReceived,
    }
}

fn describe_pattern(p: &Pattern) -> String {
    let opt = |o: &Option<String>| o.as_ref().map_or(String::new(), |t| format!(" to {t}"));
    match p {
        Pattern::Connected { to } => format!("connected{}", opt(to)),
        Pattern::Error { errno, to } => format!("{}{}", errno.map_or("an error".into(), |e| e.to_string()), opt(to)),
        Pattern::Resolved { name, ip } => {
            format!("resolved {name}{}", ip.as_ref().map_or(String::new(), |i| format!(" to {i}")))
        }
        Pattern::Response { status } => format!("response {}", status.map_or("any".into(), |s| s.to_string())),
        Pattern::Started => "started".into(),
        Pattern::Exited { code } => format!("exited{}", code.map_or(String::new(), |c| format!(" with code {c}"))),
        Pattern::RestartScheduled => "restart scheduled".into(),
        Pattern::Healthy => "healthy".into(),
        Pattern::Unhealthy => "unhealthy".into(),
        Pattern::ComposeFailed => "compose up failed".into(),
        Pattern::ComposeReady => "compose up --wait ready".into(),
        Pattern::GaveUp => "gave up".into(),
        Pattern::Served { status } => format!("served {}", status.map_or("any".into(), |s| s.to_string())),
        Pattern::Proxied { status } => format!("proxied {}", status.map_or("any".into(), |s| s.to_string())),
        Pattern::Task { id, state } => format!(
            "task {} {}",
            id.map_or("any".into(), |i| i.to_string()),
            state.clone().unwrap_or_else(|| "any state".into())
        ),
        Pattern::Breaker { state } => format!("circuit breaker {state}"),
        Pattern::Output { contains } => format!("output containing {contains:?}"),
        Pattern::DatagramReceived => "datagram received".into(),
    }
}

impl Lower<'_> {
    fn expectation(&mut self, e: &s::Expect) -> Option<Expectation> {
        let (kind, who, event, from, until) = match e {
            s::Expect::Eventually { who, event, after, within } => (Kind::Eventually, who, event, after, within),
            s::Expect::Never { who, event, after, before } => (Kind::Never, who, event, after, before),
            s::Expect::Sometimes { who, event, after, before } => (Kind::Sometimes, who, event, after, before),
            s::Expect::Always { who, event, after, before } => (Kind::Always, who, event, after, before),
            s::Expect::Latency { who, p, max, after, before } => {
                (Kind::Latency { p: *p, max: max.0 }, who, &RESPONSE, after, before)
            }
            s::Expect::Rate { who, event, min_per_s, max_per_s, after, before } => {
                (Kind::Rate { min: *min_per_s, max: *max_per_s }, who, event, after, before)
            }
            s::Expect::Count { who, event, min, max, after, before } => {
                (Kind::Count { min: *min, max: *max }, who, event, after, before)
            }
        };
        let idx = match who {
            Some(w) => {
                let r = self.refs_or_err(&["expect", w], w);
                if r.is_empty() {
                    return None;
                }
                r
            }
            None => vec![],
        };
        let pattern = pattern(event);
        let who_name = who.clone().unwrap_or_else(|| "any container".into());
        let verb = match &kind {
            Kind::Eventually => "eventually".to_string(),
            Kind::Never => "never".to_string(),
            Kind::Sometimes => "sometimes".to_string(),
            Kind::Always => "always".to_string(),
            Kind::Latency { p, max } => format!("p{p} latency <= {max} of"),
            Kind::Rate { min, max } => format!(
                "rate in [{}, {}]/s of",
                min.map_or("0".into(), |m| m.to_string()),
                max.map_or("∞".into(), |m| m.to_string())
            ),
            Kind::Count { min, max } => format!(
                "count in [{}, {}] of",
                min.map_or("0".into(), |m| m.to_string()),
                max.map_or("∞".into(), |m| m.to_string())
            ),
        };
        let mut text = format!("{who_name}: {verb} {}", describe_pattern(&pattern));
        if let Some(a) = from {
            text.push_str(&format!(" after {}", a.0));
        }
        if let Some(u) = until {
            text.push_str(&format!(" {} {}", if kind == Kind::Eventually { "within" } else { "before" }, u.0));
        }
        Some(Expectation {
            kind,
            who: idx,
            who_name,
            pattern,
            from: from.map_or(Dur::ZERO, |d| d.0),
            until: until.map(|d| d.0),
            after_last_fault: false,
            text,
        })
    }

    fn refs_all(&mut self, path: &str, names: &[String]) -> Vec<usize> {
        names.iter().flat_map(|n| self.refs_or_err(&[path, n], n)).collect()
    }

    fn net_ref(&mut self, path: &str, name: &str) -> Option<usize> {
        let i = self
            .net_index(name)
            .filter(|&k| self.nets[k].kind.user_defined() || self.nets[k].kind == NetKind::DefaultBridge);
        if i.is_none() {
            let hint = did_you_mean(name, self.nets.iter().map(|n| n.name.as_str()));
            self.err(&[path, name], format!("unknown network `{name}`"), hint);
        }
        i
    }

    fn partition(
        &mut self,
        path: &str,
        name: String,
        a: &[String],
        b: &[String],
        one_way: bool,
        heal: Option<Dur>,
    ) -> usize {
        let (a, b) = (self.refs_all(path, a), self.refs_all(path, b));
        self.partitions.push(crate::sim::fault::Partition { name, a, b, one_way, heal_after: heal });
        self.partitions.len() - 1
    }

    fn chaos(&mut self, c: &s::Chaos) -> ChaosSpec {
        let mut kinds = Vec::new();
        for f in &c.faults {
            let k = match f {
                s::ChaosFault::Crash(v) => ChaosKind::Crash(self.refs_all("chaos", v)),
                s::ChaosFault::Restart(v) => ChaosKind::Restart(self.refs_all("chaos", v)),
                s::ChaosFault::Pause { containers, duration } => {
                    ChaosKind::Pause(self.refs_all("chaos", containers), duration.0)
                }
                s::ChaosFault::Partition { a, b, duration } => {
                    let name = format!("chaos-{}", self.partitions.len() + 1);
                    ChaosKind::Partition(self.partition("chaos", name, a, b, false, None), duration.0)
                }
                s::ChaosFault::Loss { network, max } => match self.net_ref("chaos", network) {
                    Some(n) => ChaosKind::Loss(n, max.clamp(0.0, 1.0)),
                    None => continue,
                },
                s::ChaosFault::DnsOutage { mode, duration } => ChaosKind::Dns(dns_mode(*mode), duration.0),
            };
            if matches!(&k, ChaosKind::Crash(v) | ChaosKind::Restart(v) | ChaosKind::Pause(v, _) if v.is_empty()) {
                continue;
            }
            kinds.push(k);
        }
        if c.window.1 .0 < c.window.0 .0 {
            self.err(&["chaos", "window"], "the window ends before it starts", None);
        }
        // Each seed draws up to max_faults actions at once: bounded, so a
        // mistyped count is a diagnostic, not an out-of-memory abort.
        if c.max_faults > MAX_CHAOS_FAULTS {
            let hint = format!("at most {MAX_CHAOS_FAULTS} faults per seed");
            self.err(&["chaos", "max_faults"], "max_faults too large", Some(hint));
        }
        ChaosSpec { window: (c.window.0 .0, c.window.1 .0), max_faults: c.max_faults, kinds }
    }

    fn tool(&mut self, ctr: &str, i: usize, t: &s::Tool) -> Option<tools::Tool> {
        let no_env = s::Ordered::default();
        Some(match t {
            s::Tool::Ping { host, count } => {
                tools::Tool::Ping { host: self.syms.intern(host), name: host.clone(), count: count.unwrap_or(3) }
            }
            s::Tool::Nslookup { name } => {
                let server = if self.user_net.get(i).copied().unwrap_or(false) {
                    crate::sim::world::EMBEDDED_DNS
                } else {
                    crate::sim::world::UPSTREAM_DNS
                };
                tools::Tool::Nslookup { host: self.syms.intern(name), name: name.clone(), server }
            }
            s::Tool::Curl { url, max_time } => {
                let (https, rest) = match url.split_once("://") {
                    Some(("https", r)) => (true, r),
                    Some(("http", r)) => (false, r),
                    Some(_) | None => {
                        let hint = Some("e.g. \"http://api:8080/health\"".into());
                        self.err(&["actions", ctr, url], format!("`{url}` is not an http(s) URL"), hint);
                        return None;
                    }
                };
                let (hostport, path) =
                    rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
                let (host, port) = match split_host_port(hostport) {
                    Some((h, p)) => (h.to_string(), p),
                    None => (hostport.to_string(), if https { 443 } else { 80 }),
                };
                let max_time = max_time.map_or(Dur::secs(10), |d| d.0);
                tools::Tool::Curl { host: self.syms.intern(&host), name: host, port, path, max_time }
            }
            s::Tool::Nc { target, timeout } => {
                let (host, port, name) = self.target(ctr, &no_env, target)?;
                tools::Tool::Nc { host, name, port, timeout: timeout.map_or(Dur::secs(5), |d| d.0) }
            }
        })
    }

    /// One scenario action; a service name expands to one action per replica.
    fn action(&mut self, a: &s::Action) -> Vec<ActionSpec> {
        use s::Action as A;
        let name = match a {
            A::Start(n) | A::Stop(n) | A::Kill(n) | A::Restart(n) | A::Pause(n) | A::Unpause(n) | A::Remove(n) => n,
            A::Crash(n, _) | A::ComposeRestart(n) | A::ComposeUp(n) | A::Disconnect(n, _) | A::Connect(n, _) => n,
            A::Exec(n, _) => n,
            A::Partition { name, a, b, one_way, heal_after } => {
                let name = name.clone().unwrap_or_else(|| format!("p{}", self.partitions.len() + 1));
                let p = self.partition("actions", name, a, b, *one_way, heal_after.map(|d| d.0));
                return vec![ActionSpec::Partition(p)];
            }
            A::Degrade { network, latency, jitter, loss, duplicate, reorder, duration } => {
                let Some(net) = self.net_ref("actions", network) else { return vec![] };
                let bad = |x: &Option<f64>| x.is_some_and(|v| !(0.0..=1.0).contains(&v));
                if bad(loss) || bad(duplicate) || bad(reorder) {
                    self.err(&["actions", network], "loss and duplicate are probabilities between 0.0 and 1.0", None);
                }
                self.degrades.push(crate::sim::fault::Degrade {
                    net,
                    latency: latency.map(|d| d.0),
                    jitter: jitter.map(|d| d.0),
                    loss: *loss,
                    duplicate: duplicate.unwrap_or(0.0),
                    reorder: reorder.unwrap_or(0.0),
                    duration: duration.0,
                });
                return vec![ActionSpec::Degrade(self.degrades.len() - 1)];
            }
            A::DnsOutage { mode, duration } => return vec![ActionSpec::Dns(dns_mode(*mode), duration.0)],
        };
        let refs = self.refs_or_err(&["actions", name], name);
        refs.into_iter().filter_map(|i| self.action_on(a, i)).collect()
    }

    fn action_on(&mut self, a: &s::Action, i: usize) -> Option<ActionSpec> {
        use s::Action as A;
        Some(match a {
            A::Start(_) => ActionSpec::Start(i),
            A::Stop(_) => ActionSpec::Stop(i),
            A::Kill(_) => ActionSpec::Kill(i),
            A::Crash(_, code) => ActionSpec::Crash(i, *code),
            A::Restart(_) => ActionSpec::Restart(i),
            A::ComposeRestart(_) => ActionSpec::ComposeRestart(i),
            A::ComposeUp(_) => ActionSpec::ComposeUp(i),
            A::Partition { .. } | A::Degrade { .. } | A::DnsOutage { .. } => return None,
            A::Exec(n, tool) => {
                let ci = i;
                let t = self.tool(n, ci, tool)?;
                self.tools.push(t);
                ActionSpec::Exec(ci, self.tools.len() - 1)
            }
            A::Pause(_) => ActionSpec::Pause(i),
            A::Unpause(_) => ActionSpec::Unpause(i),
            A::Remove(_) => ActionSpec::Remove(i),
            A::Disconnect(_, net) | A::Connect(_, net) => {
                let ci = i;
                let Some(ni) = self
                    .net_index(net)
                    .filter(|&k| self.nets[k].kind.user_defined() || self.nets[k].kind == NetKind::DefaultBridge)
                else {
                    self.err(&["actions", net], format!("unknown network `{net}`"), None);
                    return None;
                };
                if matches!(a, A::Disconnect(..)) {
                    ActionSpec::Disconnect(ci, ni)
                } else {
                    ActionSpec::Connect(ci, ni)
                }
            }
        })
    }
}

fn ron_extensions() -> ron::extensions::Extensions {
    ron::extensions::Extensions::IMPLICIT_SOME | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES
}

/// Parses a scenario file into its schema (no validation beyond syntax).
pub fn parse(file: &str, src: &str) -> Result<s::Scenario, Diagnostics> {
    let opts = ron::Options::default().with_default_extension(ron_extensions());
    opts.from_str(src).map_err(|e| {
        let mut d = Diagnostics::new(file, src);
        let (off, len) = super::diag::offset_of(src, e.position.line, e.position.col);
        let hint = if looks_like_compose(src) {
            "this looks like a docker-compose file: wharf reads one by its name, so call it .yml or .yaml"
        } else {
            "see \"Scenario format\" in README.md for every field and its syntax"
        };
        d.push(off, len, e.code.to_string(), Some(hint.to_string()));
        d
    })
}

/// Whether a file that failed to parse as RON has, at the start of a line,
/// one of a compose file's top-level keys that no scenario field shares
/// (`name:` and `networks:` are both, so they say nothing).
fn looks_like_compose(src: &str) -> bool {
    src.lines().any(|l| {
        ["services:", "version:", "volumes:", "configs:", "secrets:", "include:"].iter().any(|k| l.starts_with(k))
    })
}

/// Writes a scenario back as RON (loadable by `parse`).
pub fn to_ron(sc: &s::Scenario) -> String {
    let cfg = ron::ser::PrettyConfig::new().indentor("    ".to_string()).compact_arrays(true);
    let opts = ron::Options::default().with_default_extension(ron_extensions());
    format!("Scenario{}", opts.to_string_pretty(sc, cfg).expect("the schema serializes"))
}

/// Parses, validates and lowers a scenario.
pub fn load_str(file: &str, src: &str) -> Result<Loaded, Diagnostics> {
    lower(file, src, &parse(file, src)?)
}

/// Validates and lowers a parsed scenario; `src` is used to locate problems.
pub fn lower(file: &str, src: &str, sc: &s::Scenario) -> Result<Loaded, Diagnostics> {
    let d = Diagnostics::new(file, src);
    let mut l = Lower {
        d,
        src,
        nets: Vec::new(),
        ctr_names: vec![],
        services: vec![],
        ctr_by_name: BTreeMap::new(),
        ctrs_by_service: BTreeMap::new(),
        user_net: vec![],
        tools: vec![],
        partitions: vec![],
        degrades: vec![],
        nodes: if sc.nodes.is_empty() { vec!["node-1".into()] } else { sc.nodes.clone() },
        syms: Symbols::default(),
    };
    let mut instances = Vec::new();
    for (key, c) in &sc.containers.0 {
        let n = c.replicas.unwrap_or(1);
        if n > MAX_REPLICAS {
            // Bounded before any instance is made: a mistyped count is a
            // diagnostic, not an out-of-memory abort.
            let hint = format!("at most {MAX_REPLICAS} (a world of 2,000,000 containers takes about 10 GiB)");
            l.err(&["containers", key, "replicas"], "too many replicas", Some(hint));
            continue;
        }
        for k in 1..=n {
            let name = if n > 1 { format!("{key}-{k}") } else { key.clone() };
            let service = c.service.clone().unwrap_or_else(|| key.clone());
            l.ctr_by_name.entry(name.clone()).or_insert(l.ctr_names.len());
            l.ctrs_by_service.entry(service.clone()).or_default().push(l.ctr_names.len());
            l.ctr_names.push(name.clone());
            l.services.push(service);
            instances.push((name, key.as_str(), c));
        }
        if n == 0 || (n > 1 && !c.ipv4_address.0.is_empty()) {
            let why = if n == 0 {
                "replicas must be at least 1"
            } else {
                "a static ipv4_address cannot be shared by replicas"
            };
            l.err(&["containers", key, "replicas"], why, None);
        }
    }
    l.networks(sc);
    let mut used_ips = BTreeMap::new();
    let mut containers = Vec::new();
    for (name, key, c) in instances {
        if name == "host" || name.is_empty() {
            l.err(&["containers", key], format!("`{name}` cannot be a container name"), None);
        }
        if let Some(spec) = l.container(&name, key, c, &mut used_ips) {
            containers.push(spec);
        }
    }
    if containers.len() == l.ctr_names.len() {
        l.cycles(&containers);
    }
    l.bridges_on_one_node(&containers);
    l.user_net = containers.iter().map(|c| c.attach.iter().any(|a| l.nets[a.net].kind.user_defined())).collect();
    let actions: Vec<(Dur, ActionSpec)> =
        sc.actions.iter().flat_map(|(t, a)| l.action(a).into_iter().map(move |x| (t.0, x))).collect();
    let mut expect: Vec<Expectation> = sc.expect.iter().filter_map(|e| l.expectation(e)).collect();
    let chaos = sc.chaos.as_ref().map(|c| l.chaos(c));
    if let Some(cv) = &sc.converge {
        for e in cv.expect.iter().filter_map(|e| l.expectation(e)) {
            let until = Some(e.until.map_or(cv.within.0, |u| u.min(cv.within.0)));
            let text = format!("after the last fault: {}", e.text);
            expect.push(Expectation { after_last_fault: true, until, text, ..e });
        }
    }
    if !l.d.problems.is_empty() {
        return Err(l.d);
    }
    let upstream = match sc.dns.upstream.clone() {
        s::Upstream::Answering { latency, records } => Upstream::Answering {
            latency: latency.map_or(Dur::millis(20), |d| d.0),
            records: records.0.into_iter().map(|(n, ip)| (n, ip.0)).collect(),
        },
        s::Upstream::Unreachable => Upstream::Unreachable,
        s::Upstream::NotConfigured => Upstream::NotConfigured,
    };
    let spec = WorldSpec {
        seed: sc.seed,
        until: sc.until.0,
        max_events: sc.max_events,
        syn_schedule: match sc.kernel.syn_schedule {
            s::SynSchedule::Linear => SynSchedule::Linear,
            s::SynSchedule::Classic => SynSchedule::Classic,
        },
        upstream,
        networks: l.nets,
        containers: containers.into_iter().map(std::sync::Arc::new).collect(),
        actions,
        partitions: l.partitions,
        degrades: l.degrades,
        chaos,
        tools: l.tools,
        up_wait: sc.up_wait.map(|d| d.0),
        syms: l.syms,
    };
    Ok(Loaded { name: sc.name.clone(), description: sc.description.clone(), spec, expect })
}

/// Reads and loads a scenario file.
pub fn load_file(path: &std::path::Path) -> Result<Loaded, Diagnostics> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(src) => load_str(&file, &src),
        Err(e) => {
            let mut d = Diagnostics::new(&file, "");
            d.push(0, 0, format!("cannot read the file: {e}"), Some("check the path".into()));
            Err(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> s::Ordered<String> {
        s::Ordered(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn interpolation_forms() {
        let e = env(&[("DB", "postgres-db"), ("EMPTY", "")]);
        assert_eq!(interpolate("${DB}:5432", &e).unwrap(), "postgres-db:5432");
        assert_eq!(interpolate("$DB:5432", &e).unwrap(), "postgres-db:5432");
        assert_eq!(interpolate("${NOPE:-db}:1", &e).unwrap(), "db:1");
        assert_eq!(interpolate("${EMPTY:-db}:1", &e).unwrap(), "db:1");
        assert_eq!(interpolate("${EMPTY-db}:1", &e).unwrap(), ":1");
        assert!(interpolate("${NOPE}:1", &e).is_err());
        assert!(interpolate("${DB:1", &e).is_err());
    }

    #[test]
    fn restart_policies() {
        assert_eq!(parse_restart("on-failure:3"), Ok(restart::Policy::OnFailure { max_retries: 3 }));
        assert_eq!(parse_restart("unless-stopped"), Ok(restart::Policy::UnlessStopped));
        assert!(parse_restart("sometimes").is_err());
    }
}
