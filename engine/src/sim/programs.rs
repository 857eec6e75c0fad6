//! Running programs: hand them inputs, carry out their commands.

use super::event::Timer;
use super::record::Ev;
use super::spec::ProgramSpec;
use super::world::{Dial, Listener, State, TcpState, World};
use crate::container::client::Client;
use crate::container::program::{Cmd, Ctx, Idle, Input, Program, Report};
use crate::container::server::Server;
use crate::dist::Delay;
use crate::id::CtrId;
use crate::proto::tcp::SOMAXCONN;

/// A process that exits by itself after a delay (a one-shot job, a crash).
struct Job {
    after: Delay,
    code: i32,
}

impl Program for Job {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => {
                let d = self.after.sample(cx.rng);
                cx.timer(d, 0);
            }
            Input::Timer(0) => cx.push(Cmd::Exit { code: self.code }),
            _ => {}
        }
    }
}

/// A spec's program, boxed. `World::on_program_start` keeps a `Client`
/// main program inline in its container instead and boxes the others
/// here, so the `Client` arm is the general form, unused by the engine
/// (a boxed client runs the same through `procs[0]`).
pub fn instantiate(spec: &ProgramSpec) -> Box<dyn Program> {
    match spec {
        ProgramSpec::Idle => Box::new(Idle),
        ProgramSpec::Server(c) => Box::new(Server::new(c.clone())),
        ProgramSpec::Client(c) => Box::new(Client::new(*c)),
        ProgramSpec::Proxy(c) => Box::new(crate::container::proxy::Proxy::new(c.clone())),
        ProgramSpec::Broker(c) => Box::new(crate::container::queue::Broker::new(*c)),
        ProgramSpec::Producer(c) => Box::new(crate::container::queue::Producer::new(*c)),
        ProgramSpec::Worker(c) => Box::new(crate::container::queue::Worker::new(*c)),
        ProgramSpec::UdpServer(port) => Box::new(crate::container::tools::UdpServer { port: *port }),
        ProgramSpec::UdpSender(c) => Box::new(crate::container::tools::UdpSender::new(*c)),
        ProgramSpec::Pool(c) => Box::new(crate::container::pool::Pool::new(*c)),
        ProgramSpec::Exit { after, code } => Box::new(Job { after: *after, code: *code }),
    }
}

impl World {
    /// Hands one input to process `proc` of a container (deferred while paused).
    pub(super) fn deliver_input(&mut self, ctr: CtrId, proc: u8, input: Input) {
        let c = &mut self.ctrs[ctr];
        if c.state == State::Paused {
            c.deferred.push((proc, input));
            return;
        }
        if !c.procs.get(usize::from(proc)).is_some_and(|p| p.alive) {
            return;
        }
        if let Input::Accepted { conn } = input {
            if !self.accept(conn) {
                return;
            }
        }
        let c = &mut self.ctrs[ctr];
        let mut cmds = std::mem::take(&mut self.cmds);
        match (proc, c.client.as_mut()) {
            (0, Some(client)) => client.handle(&mut Ctx::new(self.now, &mut c.rng, &mut cmds), input),
            _ => {
                let Some(mut prog) = c.procs[usize::from(proc)].prog.take() else {
                    self.cmds = cmds;
                    return;
                };
                prog.handle(&mut Ctx::new(self.now, &mut c.rng, &mut cmds), input);
                if let Some(slot) = self.ctrs[ctr].procs.get_mut(usize::from(proc)) {
                    slot.prog = Some(prog);
                }
            }
        }
        self.apply(ctr, proc, &mut cmds);
        cmds.clear();
        if self.cmds.is_empty() {
            self.cmds = cmds;
        }
    }

    /// Starts a transient process (`docker exec`) in a running container.
    pub(super) fn exec(&mut self, ctr: CtrId, prog: Box<dyn Program>) {
        if !self.ctrs[ctr].is_up() {
            return;
        }
        let c = &mut self.ctrs[ctr];
        // A new process takes a slot never used in this incarnation while
        // there is one (timers, lookups and echoes of an ended process may
        // still be pending, addressed by its slot, and find it dead); only
        // when all 255 are taken is an ended one's reused. With none free,
        // the exec does not start.
        let proc = if c.procs.len() <= usize::from(u8::MAX) {
            c.procs.len()
        } else {
            match c.procs.iter().skip(1).position(|p| !p.alive) {
                Some(i) => i + 1,
                None => return,
            }
        };
        let slot = super::world::Proc { prog: Some(prog), alive: true };
        if proc == c.procs.len() {
            c.procs.push(slot);
        } else {
            c.procs[proc] = slot;
        }
        self.deliver_input(ctr, proc as u8, Input::Start);
    }

    /// An exec'd process ended: its sockets close, the container goes on.
    fn end_proc(&mut self, ctr: CtrId, proc: u8) {
        let owned: Vec<_> =
            self.conns.iter().filter(|(_, c)| c.owner == ctr && c.proc == proc).map(|(k, _)| k).collect();
        for conn in owned {
            self.tcp_close(conn);
        }
        self.dials.retain(|_, d| !(d.ctr == ctr && d.proc == proc));
        let stack = self.ctrs[ctr].stack;
        self.stacks[stack.0 as usize].listeners.retain(|_, l| !(l.owner == ctr && l.proc == proc));
        if let Some(p) = self.ctrs[ctr].procs.get_mut(usize::from(proc)) {
            p.alive = false;
            p.prog = None;
        }
    }

    /// The program takes a connection off the accept queue.
    fn accept(&mut self, conn: crate::id::ConnId) -> bool {
        let Some(c) = self.conns.get_mut(conn) else {
            return false;
        };
        if c.state != TcpState::Queued {
            return false;
        }
        c.state = TcpState::Established;
        let (stack, port, peer, owner) = (c.stack, c.local.port, c.remote, c.owner);
        if let Some(l) = self.stacks[stack.0 as usize].listeners.get_mut(&port) {
            l.queued = l.queued.saturating_sub(1);
        }
        self.record(Some(owner), Ev::Accepted { peer });
        true
    }

    fn apply(&mut self, ctr: CtrId, proc: u8, cmds: &mut Vec<Cmd>) {
        let inc = self.ctrs[ctr].inc;
        // Popped from the back of the reversed buffer, in order: a loop of
        // `pop`s, where a `Drain` left its drop (which drops what a `break`
        // leaves) to an out-of-line call on every input.
        cmds.reverse();
        while let Some(cmd) = cmds.pop() {
            if !self.live(ctr, inc) || !self.ctrs[ctr].procs.get(usize::from(proc)).is_some_and(|p| p.alive) {
                break; // what is left is dropped by the caller's `clear`
            }
            match cmd {
                Cmd::Listen { bind, port, backlog } => self.listen(ctr, proc, bind, port, backlog),
                Cmd::Unlisten { port } => self.unlisten(ctr, port),
                Cmd::Connect { host, port, timeout, tag } => {
                    let started = self.now;
                    let dial =
                        self.dials.insert(Dial { ctr, proc, inc, tag, host, port, started, conn: None, addr: None });
                    if let Some(t) = timeout {
                        self.at(t, Timer::DialTimeout { dial });
                    }
                    self.resolve_and_connect(dial);
                }
                Cmd::Send { conn, msg } => self.tcp_send(conn, msg),
                Cmd::Close { conn } => self.tcp_close(conn),
                Cmd::Timer { after, token } => self.at(after, Timer::ProgTimer { ctr, inc, proc, token }),
                Cmd::Exit { code } if proc == 0 => self.exit_container(ctr, code),
                Cmd::Exit { .. } => self.end_proc(ctr, proc),
                Cmd::Report(r) => {
                    let ev = self.report_ev(r);
                    self.record(Some(ctr), ev);
                }
                Cmd::ConnectAddr { addr, timeout, tag } => {
                    let (started, host) = (self.now, self.sym(&addr.ip.to_string()));
                    let port = addr.port;
                    let dial =
                        self.dials.insert(Dial { ctr, proc, inc, tag, host, port, started, conn: None, addr: None });
                    if let Some(t) = timeout {
                        self.at(t, Timer::DialTimeout { dial });
                    }
                    self.tcp_connect(dial, addr.ip);
                }
                Cmd::Resolve { host, tag } => {
                    self.getaddrinfo(ctr, host, super::dns::Waiter::Lookup { proc, inc, tag })
                }
                Cmd::Ping { ip, seq } => self.ping(ctr, proc, ip, seq),
                Cmd::UdpBind { port } => {
                    let stack = self.ctrs[ctr].stack;
                    self.stacks[stack.0 as usize].udp.insert(port, (ctr, proc));
                }
                Cmd::UdpSend { to, seq, size } => self.udp_send(ctr, proc, to, seq, size),
            }
        }
    }

    fn listen(&mut self, ctr: CtrId, proc: u8, bind: crate::net::addr::Ip, port: u16, backlog: u32) {
        let stack = self.ctrs[ctr].stack;
        let l = Listener { owner: ctr, proc, since: self.now, bind, backlog: backlog.min(SOMAXCONN), queued: 0 };
        self.stacks[stack.0 as usize].listeners.insert(port, l);
        let addr = crate::net::addr::SockAddr::new(bind, port);
        self.record(Some(ctr), Ev::Listen { addr });
    }

    fn unlisten(&mut self, ctr: CtrId, port: u16) {
        let stack = self.ctrs[ctr].stack;
        let Some(l) = self.stacks[stack.0 as usize].listeners.remove(&port) else { return };
        let addr = crate::net::addr::SockAddr::new(l.bind, port);
        self.record(Some(ctr), Ev::Unlisten { addr });
    }

    pub(super) fn on_prog_timer(&mut self, ctr: CtrId, inc: u32, proc: u8, token: u64) {
        if self.live(ctr, inc) {
            self.deliver_input(ctr, proc, Input::Timer(token));
        }
    }
}

impl World {
    fn report_ev(&mut self, r: Report) -> Ev {
        match r {
            Report::RetryScheduled { attempt, delay } => Ev::RetryScheduled { attempt, delay },
            Report::GaveUp { attempts } => Ev::GaveUp { attempts },
            Report::RequestTimedOut { id } => Ev::RequestTimedOut { id },
            Report::Task { id, state } => Ev::Task { id, state },
            Report::Proxied { status, upstream, tries } => Ev::Proxied { status, upstream, tries },
            Report::Peer { addr, down } => Ev::Peer { addr, down },
            Report::Breaker(state) => Ev::Breaker { state },
            Report::Output(line) => Ev::Output { line: self.sym(&line) },
            Report::TlsDone { took } => Ev::TlsDone { took },
            Report::DatagramIn { from, seq } => Ev::DatagramIn { from, seq },
            Report::Served { status } => Ev::Served { status },
            Report::Waited { host, port, ok, after, kind } => Ev::Waited { host, port, ok, after, kind },
            Report::ProgramStarted => Ev::ProgramStarted,
        }
    }
}
