//! Container lifecycle handlers: start (endpoints, IPs, DNS names), program
//! start, exit (sockets closed, addresses and names released before any
//! restart delay), restart policy, stop/kill, pause, healthchecks, Compose
//! dependency polling, scheduled actions (docker-facts §1.11, §2.4, §8, §9).

use super::event::{Event, Timer};
use super::record::Ev;
use super::spec::{ActionSpec, Condition, Probe, Sigterm};
use super::world::{Endpoint, State, World};
use crate::container::health::{Health, Status};
use crate::container::program::Input;
use crate::container::restart::Decision;
use crate::id::{CtrId, NetId};
use crate::net::addr::Ip;
use crate::net::ipam::IpamError;
use crate::time::{Dur, Time};

/// Cost of `docker exec` of a healthcheck command (unconfirmed; chosen).
pub const PROBE_EXEC: Dur = Dur::millis(10);
/// Compose polls dependency conditions every 500 ms.
pub const COMPOSE_POLL: Dur = Dur::millis(500);

impl World {
    /// Compose `up` of one container at `at`: waits for its dependencies first.
    pub(super) fn schedule_up(&mut self, ctr: CtrId, at: Time) {
        self.ctrs[ctr].waiting = true;
        self.queue.push(at, Event::Timer(Timer::ComposePoll { ctr }));
    }

    /// Compose visits a service once every service it depends on has been
    /// started (`InDependencyOrder`); then a `service_started` dependency
    /// is met at once, and the others are checked by a 500 ms ticker whose
    /// first tick is 500 ms later (`waitDependencies`). Until then the
    /// service waits to be told: `start_container` polls its dependents.
    pub(super) fn on_compose_poll(&mut self, ctr: CtrId) {
        let c = &self.ctrs[ctr];
        if !c.waiting || c.state != State::Created {
            return;
        }
        let unstarted = c.spec.depends_on.iter().find(|d| self.ctrs[self.ctr_order[d.on]].state == State::Created);
        if let Some(d) = unstarted {
            let (on, cond) = (self.ctr_order[d.on], d.condition);
            return self.compose_waiting(ctr, on, cond);
        }
        match c.spec.depends_on.iter().find(|d| d.condition != Condition::Started) {
            None => {
                self.ctrs[ctr].waiting = false;
                self.start_container(ctr);
            }
            Some(d) => {
                let (on, cond) = (self.ctr_order[d.on], d.condition);
                self.compose_waiting(ctr, on, cond);
                self.at(COMPOSE_POLL, Timer::ComposeCheck { ctr });
            }
        }
    }

    /// Records, once, that `ctr` waits for `on`.
    fn compose_waiting(&mut self, ctr: CtrId, on: CtrId, cond: Condition) {
        let first = !self
            .trace
            .iter()
            .rev()
            .take(64)
            .any(|r| r.ctr == Some(ctr) && matches!(r.ev, Ev::ComposeWaiting { on: o, .. } if o == on));
        if first {
            let condition = self.sym(cond.name());
            self.record(Some(ctr), Ev::ComposeWaiting { on, condition });
        }
    }

    /// A tick of Compose's 500 ms ticker: every condition met starts the
    /// service; a failed one fails it in Compose's words.
    pub(super) fn on_compose_check(&mut self, ctr: CtrId) {
        let c = &self.ctrs[ctr];
        if !c.waiting || c.state != State::Created {
            return;
        }
        let mut pending = None;
        for dep in c.spec.depends_on.clone() {
            let on = self.ctr_order[dep.on];
            match self.condition(on, dep.condition) {
                Ok(true) => {}
                Ok(false) => {
                    pending.get_or_insert((on, dep.condition));
                }
                Err(msg) if dep.required => {
                    self.ctrs[ctr].waiting = false;
                    let message = self.sym(&msg);
                    return self.record(Some(ctr), Ev::ComposeFailed { message });
                }
                Err(_) => {}
            }
        }
        match pending {
            None => {
                self.ctrs[ctr].waiting = false;
                self.start_container(ctr);
            }
            Some((on, cond)) => {
                self.compose_waiting(ctr, on, cond);
                self.at(COMPOSE_POLL, Timer::ComposeCheck { ctr });
            }
        }
    }

    /// `docker compose up --wait`: every service running (and healthy when it
    /// has a healthcheck), or a failure in Compose's words.
    pub(super) fn on_compose_wait(&mut self, deadline: Time) {
        let mut pending = false;
        for &c in &self.ctr_order {
            let ctr = &self.ctrs[c];
            if ctr.spec.start_at.is_none() {
                continue;
            }
            let failure = match (ctr.state, ctr.health.as_ref().map(|h| h.status)) {
                (State::Exited(code), _) if code != 0 => Some(format!("container {} exited ({code})", ctr.name)),
                (_, Some(Status::Unhealthy)) => Some(format!("container {} is unhealthy", ctr.name)),
                (State::Exited(0), _) | (State::Running, None | Some(Status::Healthy)) => None,
                _ => {
                    pending = true;
                    None
                }
            };
            if let Some(msg) = failure {
                let message = self.sym(&msg);
                return self.record(None, Ev::ComposeFailed { message });
            }
        }
        if !pending {
            let message = self.sym("up --wait: every service is running or healthy");
            return self.record(None, Ev::ComposeReady { message });
        }
        if self.now >= deadline {
            let message = self.sym("up --wait: timeout waiting for services to be running or healthy");
            return self.record(None, Ev::ComposeFailed { message });
        }
        self.at(COMPOSE_POLL, Timer::ComposeWait { deadline });
    }

    /// Whether a dependency condition holds; `Err` with Compose's message when it never will.
    fn condition(&self, on: CtrId, cond: Condition) -> Result<bool, String> {
        let c = &self.ctrs[on];
        let name = &c.name;
        match (cond, c.state) {
            (Condition::Started, s) => Ok(matches!(s, State::Running | State::Paused | State::Exited(_))),
            (Condition::Healthy, _) if c.spec.health.is_none() => {
                Err(format!("dependency failed to start: container {name} has no healthcheck configured"))
            }
            (Condition::Healthy, State::Exited(code)) => {
                Err(format!("dependency failed to start: container {name} exited ({code})"))
            }
            (Condition::Healthy, _) => match c.health.as_ref().map(|h| h.status) {
                Some(Status::Healthy) => Ok(true),
                Some(Status::Unhealthy) => Err(format!("dependency failed to start: container {name} is unhealthy")),
                _ => Ok(false),
            },
            (Condition::CompletedSuccessfully, State::Exited(0)) => Ok(true),
            (Condition::CompletedSuccessfully, State::Exited(code)) => {
                Err(format!("service \"{name}\" didn't complete successfully: exit {code}"))
            }
            (Condition::CompletedSuccessfully, _) => Ok(false),
        }
    }

    /// `docker start`: endpoints (lowest free IP or the static one), DNS
    /// names, then the process begins its start-up delay.
    pub(super) fn start_container(&mut self, ctr: CtrId) {
        if self.ctrs[ctr].is_up() || self.ctrs[ctr].state == State::Removed {
            return;
        }
        let owner = self.net_owner(ctr);
        if owner != ctr && !self.ctrs[owner].is_up() {
            let reason = format!("cannot join network namespace of a non running container: {}", self.ctrs[owner].name);
            return self.start_failed(ctr, &reason);
        }
        for net in self.ctrs[ctr].nets.clone() {
            if let Err(e) = self.attach(ctr, net) {
                self.detach_all(ctr);
                return self.start_failed(ctr, &e);
            }
        }
        if let Err(e) = self.publish(ctr) {
            self.detach_all(ctr);
            return self.start_failed(ctr, &e);
        }
        let now = self.now;
        let c = &mut self.ctrs[ctr];
        c.inc += 1;
        c.state = State::Running;
        c.started_at = now;
        c.manually_stopped = false;
        c.health = c.spec.health.map(|h| Health::new(h.cfg, now));
        let inc = c.inc;
        // Behind start-up gates the script starts at once and the
        // program initialises once they open (`WaitFor` draws the delay).
        let startup = if c.spec.wait_for.is_empty() { c.spec.startup.sample(&mut c.rng) } else { Dur::ZERO };
        let probe_in = c.health.as_ref().map(|h| h.next_delay(now));
        self.record(Some(ctr), Ev::Start);
        if let Some(d) = probe_in {
            self.at(d, Timer::Probe { ctr, inc });
        }
        self.at(startup, Timer::ProgramStart { ctr, inc });
        self.tell_dependents(ctr, None);
    }

    /// The Engine refused the start (`docker start` fails: an address or a
    /// port taken, a namespace owner down).
    fn start_failed(&mut self, ctr: CtrId, reason: &str) {
        let sym = self.sym(reason);
        self.record(Some(ctr), Ev::StartFailed { reason: sym });
        self.ctrs[ctr].state = State::Exited(128);
        self.tell_dependents(ctr, Some(reason));
    }

    /// Compose visits a dependent once this start has returned; when it
    /// failed, `up` fails with the Engine's error and the services that
    /// need this one never start (one that does not, `required: false`,
    /// goes on).
    fn tell_dependents(&mut self, ctr: CtrId, failed: Option<&str>) {
        for i in 0..self.dependents.get(&ctr).map_or(0, Vec::len) {
            let (w, required) = self.dependents[&ctr][i];
            if !self.ctrs[w].waiting || self.ctrs[w].state != State::Created {
                continue;
            }
            match failed {
                Some(reason) if required => {
                    self.ctrs[w].waiting = false;
                    let name = &self.ctrs[ctr].name;
                    let message = self.sym(&format!("dependency failed to start: container {name}: {reason}"));
                    self.record(Some(w), Ev::ComposeFailed { message });
                }
                _ => self.at(Dur::ZERO, Timer::ComposePoll { ctr: w }),
            }
        }
    }

    /// Joins one network: address, holder table, DNS names.
    fn attach(&mut self, ctr: CtrId, net: NetId) -> Result<(), String> {
        let idx = self.net_order.iter().position(|&n| n == net).expect("known network");
        let c = &self.ctrs[ctr];
        let spec = c.spec.attach.iter().find(|a| a.net == idx);
        let fixed = spec.and_then(|a| a.ip);
        let aliases = spec.map(|a| a.aliases.clone()).unwrap_or_default();
        let n = &mut self.nets[net];
        let Some(pool) = n.pool.as_mut() else {
            return Ok(());
        };
        let ip = match fixed {
            Some(ip) => pool.reserve(ip),
            None => pool.allocate(),
        }
        .map_err(|e| ipam_message(e, fixed, &n.name))?;
        n.holders.insert(ip, ctr);
        if n.kind.user_defined() {
            let c = &self.ctrs[ctr];
            let plain = [Some(&c.name), Some(&c.short_id), c.spec.hostname.as_ref(), c.spec.service.as_ref()];
            let plain: smallvec::SmallVec<[&str; 6]> =
                plain.into_iter().flatten().chain(&aliases).map(String::as_str).collect();
            self.dns.join(net, ctr, ip, &plain, Some(&n.name));
        }
        // The sandbox keeps its endpoints in libnetwork's order (`Less`):
        // internal networks last, then by priority (highest first), then by
        // network name — whatever the order they were joined in. The DNS
        // scope and the first address follow it.
        let attach = &self.ctrs[ctr].spec.attach;
        let priority = |n: NetId| {
            let idx = self.net_order.iter().position(|&x| x == n);
            attach.iter().find(|a| Some(a.net) == idx).map_or(0, |a| a.priority)
        };
        let key = |n: NetId| (self.nets[n].internal, -i64::from(priority(n)), self.nets[n].name.as_str());
        let at = self.ctrs[ctr].endpoints.iter().position(|e| key(e.net) > key(net));
        let c = &mut self.ctrs[ctr];
        c.endpoints.insert(at.unwrap_or(c.endpoints.len()), Endpoint { net, ip });
        match c.last_ips.iter_mut().find(|(n, _)| *n == net) {
            Some(last) => last.1 = ip,
            None => c.last_ips.push((net, ip)),
        }
        self.topology_changed();
        self.record(Some(ctr), Ev::NetConnect { net, ip });
        Ok(())
    }

    fn detach(&mut self, ctr: CtrId, net: NetId) {
        let c = &mut self.ctrs[ctr];
        let Some(pos) = c.endpoints.iter().position(|e| e.net == net) else {
            return;
        };
        let ep = c.endpoints.remove(pos);
        let n = &mut self.nets[net];
        n.holders.remove(&ep.ip);
        if let Some(p) = n.pool.as_mut() {
            p.release(ep.ip);
        }
        self.topology_changed();
        self.dns.leave(net, ctr);
        self.record(Some(ctr), Ev::NetDisconnect { net, ip: ep.ip });
    }

    fn detach_all(&mut self, ctr: CtrId) {
        for net in self.ctrs[ctr].endpoints.iter().map(|e| e.net).collect::<Vec<_>>() {
            self.detach(ctr, net);
        }
    }

    pub(super) fn on_program_start(&mut self, ctr: CtrId, inc: u32) {
        if !self.live(ctr, inc) {
            return;
        }
        let c = &mut self.ctrs[ctr];
        let gated = !c.spec.wait_for.is_empty();
        let (prog, client) = match &c.spec.program {
            // Behind start-up gates, the program (a client too) runs boxed inside them.
            p if gated => {
                let inner = super::programs::instantiate(p);
                let gates = c.spec.wait_for.clone();
                (Some(Box::new(crate::container::wait::WaitFor::new(gates, c.spec.startup, inner)) as _), None)
            }
            crate::sim::spec::ProgramSpec::Client(cfg) => (None, Some(crate::container::client::Client::new(*cfg))),
            other => (Some(super::programs::instantiate(other)), None),
        };
        c.procs = smallvec::smallvec![super::world::Proc { prog, alive: true }];
        c.client = client;
        // Behind gates the script runs now; the program's own start is
        // recorded when they let it run.
        if !gated {
            self.record(Some(ctr), Ev::ProgramStarted);
        }
        self.deliver_input(ctr, 0, Input::Start);
    }

    /// The process exited: sockets closed, then the network released; then
    /// the restart manager decides.
    pub(super) fn exit_container(&mut self, ctr: CtrId, code: i32) {
        if !self.ctrs[ctr].is_up() {
            return;
        }
        let owned: Vec<_> = self.conns.iter().filter(|(_, c)| c.owner == ctr).map(|(k, _)| k).collect();
        for conn in owned {
            self.tcp_close(conn);
        }
        let stack = self.ctrs[ctr].stack;
        self.stacks[stack.0 as usize].listeners.retain(|_, l| l.owner != ctr);
        self.dials.retain(|_, d| d.ctr != ctr);
        self.queries.retain(|_, q| q.ctr != ctr);
        self.unpublish(ctr);
        self.detach_all(ctr);
        let now = self.now;
        let c = &mut self.ctrs[ctr];
        c.procs.clear();
        c.client = None;
        c.deferred.clear();
        c.health = None;
        c.state = State::Exited(code);
        let ran_for = now.since(c.started_at);
        let decision = c.restart.on_exit(code, c.manually_stopped, ran_for);
        let (inc, count) = (c.inc, c.restart.restart_count);
        self.record(Some(ctr), Ev::Die { code });
        if let Decision::Restart { delay } = decision {
            self.ctrs[ctr].state = State::Restarting;
            self.record(Some(ctr), Ev::Restart { delay, count });
            self.at(delay, Timer::Restart { ctr, inc });
        }
    }

    pub(super) fn on_restart(&mut self, ctr: CtrId, inc: u32) {
        let c = &self.ctrs[ctr];
        if c.state == State::Restarting && c.inc == inc {
            self.start_container(ctr);
        }
    }

    pub(super) fn on_kill_after_grace(&mut self, ctr: CtrId, inc: u32) {
        if self.live(ctr, inc) {
            self.record(Some(ctr), Ev::Kill { signal: 9 });
            self.exit_container(ctr, 137);
            self.record(Some(ctr), Ev::Stop);
            if std::mem::take(&mut self.ctrs[ctr].start_after_stop) {
                self.manual_start(ctr);
            }
        }
    }

    /// `docker stop`: SIGTERM, SIGKILL after the grace period; cancels a pending restart.
    fn stop(&mut self, ctr: CtrId) {
        let c = &mut self.ctrs[ctr];
        c.manually_stopped = true;
        c.waiting = false;
        if c.state == State::Restarting {
            c.inc += 1;
            c.state = State::Exited(0);
            return self.record(Some(ctr), Ev::Stop);
        }
        if !c.is_up() {
            return;
        }
        let (inc, grace, sigterm) = (c.inc, c.spec.stop_grace, c.spec.on_sigterm);
        self.record(Some(ctr), Ev::Kill { signal: 15 });
        match sigterm {
            Sigterm::Exit => self.exit_container(ctr, 0),
            Sigterm::Ignore => self.at(grace, Timer::KillAfterGrace { ctr, inc }),
        }
        if !self.ctrs[ctr].is_up() {
            self.record(Some(ctr), Ev::Stop);
        }
    }

    fn kill(&mut self, ctr: CtrId) {
        if !self.ctrs[ctr].is_up() {
            return;
        }
        self.ctrs[ctr].manually_stopped = true;
        self.record(Some(ctr), Ev::Kill { signal: 9 });
        self.exit_container(ctr, 137);
    }

    fn manual_start(&mut self, ctr: CtrId) {
        self.ctrs[ctr].restart.manual_start();
        if matches!(self.ctrs[ctr].state, State::Created | State::Exited(_)) {
            self.start_container(ctr);
        }
    }

    pub(super) fn on_action(&mut self, i: u32) {
        let a = self.actions[i as usize].1;
        let id = |w: &World, k: usize| w.ctr_order[k];
        match a {
            ActionSpec::Start(k) => self.manual_start(id(self, k)),
            ActionSpec::Stop(k) => self.stop(id(self, k)),
            ActionSpec::Kill(k) => self.kill(id(self, k)),
            ActionSpec::Crash(k, code) => {
                let c = id(self, k);
                if self.ctrs[c].is_up() {
                    self.last_fault = self.now;
                }
                self.exit_container(c, code)
            }
            ActionSpec::ComposeRestart(k) => self.compose_restart(k),
            ActionSpec::Exec(k, t) => {
                let c = id(self, k);
                let tool = crate::container::tools::Run::new(self.tools[t].clone());
                self.exec(c, Box::new(tool));
            }
            ActionSpec::Partition(p) => self.start_partition(p),
            ActionSpec::PartitionFor(p, d) => {
                self.partitions[p].heal_after = Some(d);
                self.start_partition(p);
            }
            ActionSpec::Degrade(d) => {
                let d = self.degrades[d];
                self.start_degrade(d);
            }
            ActionSpec::DegradeLoss(net, millionths, d) => {
                let loss = Some(f64::from(millionths) / 1e6);
                let spec = super::fault::Degrade {
                    net,
                    latency: None,
                    jitter: None,
                    loss,
                    duplicate: 0.0,
                    reorder: 0.0,
                    duration: d,
                };
                self.start_degrade(spec);
            }
            ActionSpec::Dns(o, d) => self.start_dns_outage(o, d),
            ActionSpec::ComposeUp(k) => {
                let c = id(self, k);
                if self.ctrs[c].state == State::Created {
                    self.schedule_up(c, self.now);
                }
            }
            ActionSpec::Restart(k) => self.restart(id(self, k)),
            ActionSpec::Pause(k) => self.pause(id(self, k), true),
            ActionSpec::Unpause(k) => self.pause(id(self, k), false),
            ActionSpec::Remove(k) => {
                let c = id(self, k);
                self.kill(c);
                self.ctrs[c].state = State::Removed;
                self.record(Some(c), Ev::Remove);
            }
            ActionSpec::Disconnect(k, n) => {
                let (c, net) = (id(self, k), self.net_order[n]);
                self.ctrs[c].nets.retain(|x| *x != net);
                self.detach(c, net);
            }
            ActionSpec::Connect(k, n) => {
                let (c, net) = (id(self, k), self.net_order[n]);
                if !self.ctrs[c].nets.contains(&net) {
                    self.ctrs[c].nets.push(net);
                    if self.ctrs[c].is_up() {
                        if let Err(e) = self.attach(c, net) {
                            let reason = self.sym(&e);
                            self.record(Some(c), Ev::StartFailed { reason });
                        }
                    }
                }
            }
        }
    }

    /// `docker restart`: stop (SIGTERM, grace), then start by hand.
    fn restart(&mut self, c: CtrId) {
        self.stop(c);
        if self.ctrs[c].is_up() {
            self.ctrs[c].start_after_stop = true;
        } else {
            self.manual_start(c);
        }
    }

    /// `docker compose restart SERVICE`: restarts it, then every service that
    /// depends on it with `restart: true`.
    fn compose_restart(&mut self, k: usize) {
        self.restart(self.ctr_order[k]);
        let dependents: Vec<CtrId> = self
            .ctr_order
            .iter()
            .copied()
            .filter(|&c| self.ctrs[c].spec.depends_on.iter().any(|d| d.on == k && d.restart))
            .collect();
        for c in dependents {
            self.restart(c);
        }
    }

    fn pause(&mut self, ctr: CtrId, on: bool) {
        let c = &mut self.ctrs[ctr];
        match (on, c.state) {
            (true, State::Running) => {
                c.state = State::Paused;
                self.record(Some(ctr), Ev::Pause);
            }
            (false, State::Paused) => {
                c.state = State::Running;
                self.record(Some(ctr), Ev::Unpause);
                let deferred = std::mem::take(&mut self.ctrs[ctr].deferred);
                for (proc, input) in deferred {
                    self.deliver_input(ctr, proc, input);
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_probe(&mut self, ctr: CtrId, inc: u32) {
        if !self.live(ctr, inc) {
            return;
        }
        let c = &self.ctrs[ctr];
        let Some(h) = c.spec.health else { return };
        let ok = c.state == State::Running
            && match h.probe {
                Probe::Tcp(port) => self.listening_locally(ctr, port),
                Probe::Http(port) => {
                    self.listening_locally(ctr, port) && c.main_program().is_some_and(|p| p.http_ok(port))
                }
                Probe::Ready => c.main_program().is_some_and(|p| p.ready()),
            };
        let started = self.now;
        let took = if c.state == State::Paused { h.cfg.timeout } else { PROBE_EXEC.min(h.cfg.timeout) };
        self.at(took, Timer::ProbeDone { ctr, inc, started, ok });
    }

    /// Would a connect to 127.0.0.1:port inside the container succeed?
    fn listening_locally(&self, ctr: CtrId, port: u16) -> bool {
        let stack = self.ctrs[ctr].stack;
        self.stacks[stack.0 as usize]
            .listeners
            .get(&port)
            .is_some_and(|l| l.bind.is_unspecified() || l.bind == Ip::LOCALHOST)
    }

    pub(super) fn on_probe_done(&mut self, ctr: CtrId, inc: u32, started: Time, ok: bool) {
        if !self.live(ctr, inc) {
            return;
        }
        self.record(Some(ctr), Ev::ProbeResult { ok, started });
        let now = self.now;
        let Some(h) = self.ctrs[ctr].health.as_mut() else {
            return;
        };
        let changed = h.on_result(started, ok);
        let next = h.next_delay(now);
        if let Some(status) = changed {
            self.record(Some(ctr), Ev::Health { status });
        }
        self.at(next, Timer::Probe { ctr, inc });
    }
}

fn ipam_message(e: IpamError, ip: Option<Ip>, net: &str) -> String {
    match (e, ip) {
        (IpamError::AlreadyAllocated, Some(ip)) => {
            format!("Address already in use: {ip} on network {net}")
        }
        (IpamError::OutOfSubnet, Some(ip)) => {
            format!("invalid address {ip}: it does not belong to any of network {net}'s subnets")
        }
        _ => format!("no available IPv4 addresses on network {net}"),
    }
}
