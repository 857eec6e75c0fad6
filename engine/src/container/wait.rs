//! Start-up gates in front of a container's program: the scripts and
//! loops a command runs first so that the program starts once a service
//! accepts connections. Each probe is a lookup and a TCP connect (bash's
//! `/dev/tcp`, `nc -z`), closed at once when it succeeds.
//!
//! - `wait-for-it.sh host:port [-t timeout] [-s] -- command`
//!   (vishnubob/wait-for-it): prints "waiting 15 seconds for db:5432" (or
//!   "… without a timeout" for `-t 0`), probes, sleeps 1 s after each
//!   failure, until a probe succeeds ("db:5432 is available after N
//!   seconds", whole seconds as `date +%s` differences give) or the
//!   `timeout` command around it fires ("timeout occurred after waiting 15
//!   seconds for db:5432"); then it executes the command — after a timeout
//!   too, unless `--strict`: exit 124, `timeout`'s status ("strict mode,
//!   refusing to execute subprocess"). A probe in flight when the timeout
//!   fires is bounded by it (the killed child's socket goes away).
//! - `wait-for host:port [-t timeout] -- command` (eficode/wait-for, the
//!   `nc` version): `timeout` counts probes, not seconds — `for _ in $(seq
//!   $TIMEOUT)`: probe, and after a failure sleep 1 s — then "Operation
//!   timed out" and exit 1; silent on success. A probe waits as long as
//!   `nc -z` does (the kernel's connect timeout).
//! - `until nc -z host port; do sleep N; done`: silent, no timeout.
//!
//! The container's start-up delay is the program's own initialisation: it
//! runs after the gates (the script itself starts at once). Several gates
//! run one after another; a late answer to an earlier one is closed and
//! ignored.

use super::program::{Cmd, Ctx, Input, Program, Report};
use crate::dist::Delay;
use crate::id::Sym;
use crate::time::{Dur, Time};

/// Which script or loop a gate is, with its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `-t`: `Dur::ZERO` waits without a timeout; `-s`: no command after one.
    WaitForIt { timeout: Dur, strict: bool },
    /// `-t`: probes before "Operation timed out".
    WaitFor { tries: u32 },
    /// The loop's `sleep`.
    NcLoop { sleep: Dur },
}

/// What the trace says a gate was (`Tool` without its settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GateKind {
    WaitForIt,
    WaitFor,
    NcLoop,
}

impl GateKind {
    /// The JSON trace's `tool`.
    pub fn name(self) -> &'static str {
        match self {
            GateKind::WaitForIt => "wait-for-it",
            GateKind::WaitFor => "wait-for",
            GateKind::NcLoop => "nc",
        }
    }
}

impl Tool {
    pub fn kind(self) -> GateKind {
        match self {
            Tool::WaitForIt { .. } => GateKind::WaitForIt,
            Tool::WaitFor { .. } => GateKind::WaitFor,
            Tool::NcLoop { .. } => GateKind::NcLoop,
        }
    }

    /// The exit status when the gate gives up and refuses to run the
    /// program, or `None` when it runs it anyway (or never gives up).
    pub fn refusal(self) -> Option<i32> {
        match self {
            Tool::WaitForIt { strict: true, .. } => Some(TIMEOUT_EXIT),
            Tool::WaitFor { .. } => Some(1),
            _ => None,
        }
    }
}

/// One gate of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gate {
    pub host: Sym,
    /// The host as written, for the script's messages.
    pub name: String,
    pub port: u16,
    pub tool: Tool,
}

/// `timeout`'s exit status when it had to stop the command.
pub const TIMEOUT_EXIT: i32 = 124;
/// The script's name in its messages (`${0##*/}`).
const CMDNAME: &str = "wait-for-it.sh";
/// The gates' own connect tags and timer tokens, far from any a program
/// uses; the low bits carry the gate's index, so an answer or a timer
/// meant for an earlier gate is recognised as stale (a gate has one
/// attempt out at a time; a restarted container drops its dials and timers).
const MARK: u64 = 0x5741_4954 << 32;
const MARK_MASK: u64 = 0xffff_ffff << 32;
const KIND_CONNECT: u64 = 0 << 30;
const KIND_RETRY: u64 = 1 << 30;
const KIND_TIMEOUT: u64 = 2 << 30;
/// The program's start, its initialisation after the last gate.
const KIND_EXEC: u64 = 3 << 30;

/// The gates, then the program they let start.
pub struct WaitFor {
    gates: Vec<Gate>,
    /// The gate being waited on; `gates.len()` once they are all done.
    at: usize,
    /// Failed probes of the current gate.
    failures: u32,
    /// A gate gave up and its script exited: the program never runs.
    refused: bool,
    /// The program has been handed its `Start`.
    started: bool,
    /// When the current gate began (its first probe).
    since: Time,
    /// The program's initialisation, after the gates.
    startup: Delay,
    /// The program, started once every gate has opened or timed out.
    inner: Box<dyn Program>,
}

impl WaitFor {
    pub fn new(gates: Vec<Gate>, startup: Delay, inner: Box<dyn Program>) -> WaitFor {
        WaitFor { gates, at: 0, failures: 0, refused: false, started: false, since: Time::ZERO, startup, inner }
    }

    fn waiting(&self) -> bool {
        self.at < self.gates.len() && !self.refused
    }

    fn mark(&self, kind: u64) -> u64 {
        MARK | kind | self.at as u64
    }

    fn begin(&mut self, cx: &mut Ctx<'_>) {
        let Some(g) = self.gates.get(self.at) else {
            let d = self.startup.sample(cx.rng);
            cx.timer(d, MARK | KIND_EXEC);
            return;
        };
        (self.since, self.failures) = (cx.now, 0);
        match g.tool {
            Tool::WaitForIt { timeout, .. } if timeout > Dur::ZERO => {
                let secs = timeout.0 / 1_000_000_000;
                cx.print(format!("{CMDNAME}: waiting {secs} seconds for {}:{}", g.name, g.port));
                cx.timer(timeout, self.mark(KIND_TIMEOUT));
            }
            Tool::WaitForIt { .. } => {
                cx.print(format!("{CMDNAME}: waiting for {}:{} without a timeout", g.name, g.port));
            }
            // `seq 0` runs no probe.
            Tool::WaitFor { tries: 0 } => return self.give_up(cx, Dur::ZERO),
            _ => {}
        }
        self.probe(cx);
    }

    fn probe(&self, cx: &mut Ctx<'_>) {
        let g = &self.gates[self.at];
        // wait-for-it's probe is bounded by what is left of its timeout:
        // the `timeout` command kills it with the script.
        let left = match g.tool {
            Tool::WaitForIt { timeout, .. } if timeout > Dur::ZERO => {
                Some(Dur((self.since + timeout).since(cx.now).0.max(1)))
            }
            _ => None,
        };
        cx.push(Cmd::Connect { host: g.host, port: g.port, timeout: left, tag: self.mark(KIND_CONNECT) });
    }

    /// The current gate is done: on to the next, or the program.
    fn next(&mut self, cx: &mut Ctx<'_>) {
        self.at += 1;
        self.begin(cx);
    }

    /// The current gate gives up after `after`: the script exits, or
    /// (wait-for-it without `--strict`) runs the command anyway.
    fn give_up(&mut self, cx: &mut Ctx<'_>, after: Dur) {
        let g = &self.gates[self.at];
        let (host, port, tool) = (g.host, g.port, g.tool);
        cx.report(Report::Waited { host, port, ok: false, after, kind: tool.kind() });
        match tool {
            Tool::WaitFor { .. } => cx.print("Operation timed out"),
            Tool::WaitForIt { strict: true, .. } => {
                cx.print(format!("{CMDNAME}: strict mode, refusing to execute subprocess"));
            }
            _ => {}
        }
        match tool.refusal() {
            Some(code) => {
                cx.push(Cmd::Exit { code });
                self.refused = true;
            }
            None => self.next(cx),
        }
    }

    /// An answer or a timer of the gates' own (by its mark): acted on when
    /// it belongs to the gate waited on now, else stale (a late connection
    /// is closed).
    fn own(&mut self, cx: &mut Ctx<'_>, input: Input) {
        let current = |x: u64, kind: u64| self.waiting() && x == self.mark(kind);
        match input {
            Input::Connected { tag, conn } => {
                cx.push(Cmd::Close { conn });
                if current(tag, KIND_CONNECT) {
                    let g = &self.gates[self.at];
                    let after = cx.now.since(self.since);
                    cx.report(Report::Waited { host: g.host, port: g.port, ok: true, after, kind: g.tool.kind() });
                    self.next(cx);
                }
            }
            Input::ConnectFailed { tag, .. } if current(tag, KIND_CONNECT) => {
                self.failures += 1;
                let sleep = match self.gates[self.at].tool {
                    Tool::NcLoop { sleep } => sleep,
                    _ => Dur::secs(1),
                };
                cx.timer(sleep, self.mark(KIND_RETRY));
            }
            Input::Timer(token) if current(token, KIND_RETRY) => match self.gates[self.at].tool {
                Tool::WaitFor { tries } if self.failures >= tries => {
                    let after = cx.now.since(self.since);
                    self.give_up(cx, after);
                }
                _ => self.probe(cx),
            },
            Input::Timer(token) if current(token, KIND_TIMEOUT) => {
                if let Tool::WaitForIt { timeout, .. } = self.gates[self.at].tool {
                    self.give_up(cx, timeout);
                }
            }
            Input::Timer(token) if token == MARK | KIND_EXEC && !self.started && !self.refused => {
                self.started = true;
                cx.report(Report::ProgramStarted);
                self.inner.handle(cx, Input::Start);
            }
            _ => {}
        }
    }
}

impl Program for WaitFor {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        let ours = |x: u64| x & MARK_MASK == MARK;
        match input {
            Input::Start => {
                (self.at, self.refused, self.started) = (0, false, false);
                self.begin(cx);
            }
            Input::Connected { tag, .. } | Input::ConnectFailed { tag, .. } if ours(tag) => self.own(cx, input),
            Input::Timer(token) if ours(token) => self.own(cx, input),
            // Before the program runs nothing else reaches it (it listens
            // on nothing, holds no connection yet).
            other if self.started => self.inner.handle(cx, other),
            _ => {}
        }
    }

    fn ready(&self) -> bool {
        self.started && self.inner.ready()
    }

    fn http_ok(&self, port: u16) -> bool {
        self.started && self.inner.http_ok(port)
    }

    fn started(&self) -> bool {
        self.started
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::program::{step, Idle};
    use crate::id::ConnId;
    use crate::proto::errno::Errno;

    fn gate(timeout: u64, strict: bool) -> Gate {
        Gate {
            host: Sym(0),
            name: "db".into(),
            port: 5432,
            tool: Tool::WaitForIt { timeout: Dur::secs(timeout), strict },
        }
    }

    fn tag_of(cmds: &[Cmd]) -> u64 {
        cmds.iter()
            .find_map(|c| match c {
                Cmd::Connect { tag, .. } => Some(*tag),
                _ => None,
            })
            .expect("a connect")
    }

    fn timer_of(cmds: &[Cmd], after: Dur) -> u64 {
        cmds.iter()
            .find_map(|c| match c {
                Cmd::Timer { after: a, token } if *a == after => Some(*token),
                _ => None,
            })
            .expect("a timer")
    }

    /// A program that records it started (it listens on port 80).
    struct Marker;
    impl Program for Marker {
        fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
            if input == Input::Start {
                cx.push(Cmd::Listen { bind: crate::net::addr::Ip::UNSPECIFIED, port: 80, backlog: 511 });
            }
        }
    }

    fn listens(cmds: &[Cmd]) -> bool {
        cmds.iter().any(|c| matches!(c, Cmd::Listen { .. }))
    }

    #[test]
    fn it_retries_every_second_then_starts_the_program() {
        let mut w = WaitFor::new(vec![gate(15, false)], Delay::Fixed(Dur::millis(500)), Box::new(Marker));
        let c = step(&mut w, Time::ZERO, Input::Start);
        assert!(c.contains(&Cmd::Report(Report::Output("wait-for-it.sh: waiting 15 seconds for db:5432".into()))));
        let timeout = timer_of(&c, Dur::secs(15));
        let t = tag_of(&c);
        assert!(!listens(&c), "the program waits");
        // Refused: sleep 1 s, then try again (the connect bounded by the 14 s left).
        let c = step(&mut w, Time::ZERO + Dur::millis(1), Input::ConnectFailed { tag: t, errno: Errno::Econnrefused });
        let retry = timer_of(&c, Dur::secs(1));
        let c = step(&mut w, Time::ZERO + Dur::millis(1001), Input::Timer(retry));
        assert!(c.iter().any(|x| matches!(x, Cmd::Connect { timeout: Some(d), .. } if *d == Dur::millis(13_999))));
        let t2 = tag_of(&c);
        let at = Time::ZERO + Dur::millis(3_200);
        let c = step(&mut w, at, Input::Connected { tag: t2, conn: ConnId::default() });
        assert!(c.contains(&Cmd::Close { conn: ConnId::default() }), "the probe's connection closes");
        assert!(c.contains(&Cmd::Report(Report::Waited {
            host: Sym(0),
            port: 5432,
            ok: true,
            after: Dur::millis(3_200),
            kind: GateKind::WaitForIt
        })));
        assert!(!listens(&c), "then the program initialises");
        assert!(!w.started(), "not yet started");
        let c = step(&mut w, at + Dur::millis(500), Input::Timer(timer_of(&c, Dur::millis(500))));
        assert!(listens(&c), "and starts");
        assert!(w.started());
        // The gate's timeout, later, is stale.
        let c = step(&mut w, Time::ZERO + Dur::secs(15), Input::Timer(timeout));
        assert!(c.is_empty(), "{c:?}");
        assert!(w.ready());
    }

    #[test]
    fn a_timeout_runs_the_program_anyway_unless_strict() {
        let mut w = WaitFor::new(vec![gate(15, false), gate(0, false)], Delay::Fixed(Dur::ZERO), Box::new(Marker));
        let c = step(&mut w, Time::ZERO, Input::Start);
        let timeout = timer_of(&c, Dur::secs(15));
        let c = step(&mut w, Time::ZERO + Dur::secs(15), Input::Timer(timeout));
        assert!(c.contains(&Cmd::Report(Report::Waited {
            host: Sym(0),
            port: 5432,
            ok: false,
            after: Dur::secs(15),
            kind: GateKind::WaitForIt
        })));
        // The second gate has no timeout: it waits on.
        assert!(
            c.contains(&Cmd::Report(Report::Output("wait-for-it.sh: waiting for db:5432 without a timeout".into())))
        );
        assert!(c.iter().any(|x| matches!(x, Cmd::Connect { timeout: None, .. })));
        assert!(!listens(&c));

        let mut w = WaitFor::new(vec![gate(2, true)], Delay::Fixed(Dur::ZERO), Box::new(Idle));
        let c = step(&mut w, Time::ZERO, Input::Start);
        let (timeout, t) = (timer_of(&c, Dur::secs(2)), tag_of(&c));
        let c = step(&mut w, Time::ZERO + Dur::secs(2), Input::Timer(timeout));
        assert!(c.contains(&Cmd::Exit { code: TIMEOUT_EXIT }), "{c:?}");
        // The attempt bounded by the same deadline fails after it: ignored.
        let c = step(&mut w, Time::ZERO + Dur::secs(2), Input::ConnectFailed { tag: t, errno: Errno::Etimedout });
        assert!(c.is_empty(), "{c:?}");
        assert!(!w.ready());
    }

    #[test]
    fn an_nc_loop_probes_at_its_sleep_silently_and_never_times_out() {
        let g = Gate { tool: Tool::NcLoop { sleep: Dur::secs(2) }, ..gate(0, false) };
        let mut w = WaitFor::new(vec![g], Delay::Fixed(Dur::ZERO), Box::new(Marker));
        let c = step(&mut w, Time::ZERO, Input::Start);
        assert!(!c.iter().any(|x| matches!(x, Cmd::Report(_) | Cmd::Timer { .. })), "no message, no timeout: {c:?}");
        let t = tag_of(&c);
        assert!(c.iter().any(|x| matches!(x, Cmd::Connect { timeout: None, .. })), "nc without -w");
        let c = step(&mut w, Time::ZERO, Input::ConnectFailed { tag: t, errno: Errno::Econnrefused });
        let retry = timer_of(&c, Dur::secs(2));
        let c = step(&mut w, Time::ZERO + Dur::secs(2), Input::Timer(retry));
        let c = step(&mut w, Time::ZERO + Dur::secs(2), Input::Connected { tag: tag_of(&c), conn: ConnId::default() });
        assert!(c.contains(&Cmd::Report(Report::Waited {
            host: Sym(0),
            port: 5432,
            ok: true,
            after: Dur::secs(2),
            kind: GateKind::NcLoop
        })));
    }

    #[test]
    fn eficode_wait_for_counts_probes_then_exits_1() {
        let g = Gate { tool: Tool::WaitFor { tries: 3 }, ..gate(0, false) };
        let mut w = WaitFor::new(vec![g.clone()], Delay::Fixed(Dur::ZERO), Box::new(Marker));
        let mut c = step(&mut w, Time::ZERO, Input::Start);
        assert!(!c.iter().any(|x| matches!(x, Cmd::Report(_))), "silent: {c:?}");
        let mut t = Time::ZERO;
        for probe in 1..=3 {
            assert!(c.iter().any(|x| matches!(x, Cmd::Connect { timeout: None, .. })), "probe {probe}: nc -z, no -w");
            let f = step(&mut w, t, Input::ConnectFailed { tag: tag_of(&c), errno: Errno::Econnrefused });
            t = t + Dur::secs(1);
            c = step(&mut w, t, Input::Timer(timer_of(&f, Dur::secs(1))));
        }
        // Three probes failed, the last sleep done: the script gives up.
        let gave_up =
            Report::Waited { host: Sym(0), port: 5432, ok: false, after: Dur::secs(3), kind: GateKind::WaitFor };
        assert!(c.contains(&Cmd::Report(gave_up)), "{c:?}");
        assert!(c.contains(&Cmd::Report(Report::Output("Operation timed out".into()))));
        assert!(c.contains(&Cmd::Exit { code: 1 }));
        assert!(!w.started());
        // `-t 0`: `seq 0` runs no probe at all.
        let mut w =
            WaitFor::new(vec![Gate { tool: Tool::WaitFor { tries: 0 }, ..g }], Delay::Fixed(Dur::ZERO), Box::new(Idle));
        let c = step(&mut w, Time::ZERO, Input::Start);
        assert!(c.contains(&Cmd::Exit { code: 1 }) && !c.iter().any(|x| matches!(x, Cmd::Connect { .. })), "{c:?}");
    }
}
