//! Running programs: hand them inputs, carry out their commands.

use super::event::Event;
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

pub fn instantiate(spec: &ProgramSpec) -> Box<dyn Program> {
    match spec {
        ProgramSpec::Idle => Box::new(Idle),
        ProgramSpec::Server(c) => Box::new(Server::new(c.clone())),
        ProgramSpec::Client(c) => Box::new(Client::new(*c)),
        ProgramSpec::Exit { after, code } => Box::new(Job { after: *after, code: *code }),
    }
}

impl World {
    /// Hands one input to a container's program (deferred while paused).
    pub(super) fn deliver_input(&mut self, ctr: CtrId, input: Input) {
        let c = &mut self.ctrs[ctr];
        if c.state == State::Paused {
            c.deferred.push(input);
            return;
        }
        if !c.program_running {
            return;
        }
        if let Input::Accepted { conn } = input {
            if !self.accept(conn) {
                return;
            }
        }
        let c = &mut self.ctrs[ctr];
        let Some(mut prog) = c.program.take() else {
            return;
        };
        let mut cmds = std::mem::take(&mut self.cmds);
        prog.handle(&mut Ctx::new(self.now, &mut c.rng, &mut cmds), input);
        if self.ctrs[ctr].program_running {
            self.ctrs[ctr].program = Some(prog);
        }
        self.apply(ctr, &mut cmds);
        cmds.clear();
        if self.cmds.is_empty() {
            self.cmds = cmds;
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

    fn apply(&mut self, ctr: CtrId, cmds: &mut Vec<Cmd>) {
        let inc = self.ctrs[ctr].inc;
        for cmd in cmds.drain(..) {
            if !self.live(ctr, inc) {
                break;
            }
            match cmd {
                Cmd::Listen { bind, port, backlog } => self.listen(ctr, bind, port, backlog),
                Cmd::Unlisten { port } => self.unlisten(ctr, port),
                Cmd::Connect { host, port, timeout, tag } => {
                    let started = self.now;
                    let dial = self.dials.insert(Dial { ctr, inc, tag, host, port, started, conn: None, addr: None });
                    if let Some(t) = timeout {
                        self.at(t, Event::DialTimeout { dial });
                    }
                    self.resolve_and_connect(dial);
                }
                Cmd::Send { conn, msg } => self.tcp_send(conn, msg),
                Cmd::Close { conn } => self.tcp_close(conn),
                Cmd::Timer { after, token } => self.at(after, Event::ProgTimer { ctr, inc, token }),
                Cmd::Exit { code } => self.exit_container(ctr, code),
                Cmd::Report(r) => self.record(Some(ctr), report_ev(r)),
            }
        }
    }

    fn listen(&mut self, ctr: CtrId, bind: crate::net::addr::Ip, port: u16, backlog: u32) {
        let stack = self.ctrs[ctr].stack;
        let l = Listener { owner: ctr, bind, backlog: backlog.min(SOMAXCONN), queued: 0 };
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

    pub(super) fn on_prog_timer(&mut self, ctr: CtrId, inc: u32, token: u64) {
        if self.live(ctr, inc) {
            self.deliver_input(ctr, Input::Timer(token));
        }
    }
}

fn report_ev(r: Report) -> Ev {
    match r {
        Report::RetryScheduled { attempt, delay } => Ev::RetryScheduled { attempt, delay },
        Report::GaveUp { attempts } => Ev::GaveUp { attempts },
        Report::RequestTimedOut { id } => Ev::RequestTimedOut { id },
    }
}
