//! Start-up gates in front of a container's program: `wait-for-it.sh
//! host:port [-t timeout] [-s] -- command` (vishnubob/wait-for-it), and the
//! shell loop `until nc -z host port; do sleep N; done`.
//!
//! As the script does it: it prints "waiting 15 seconds for db:5432"
//! (or "… without a timeout" for `-t 0`), then tries a TCP connect — a
//! lookup and a connect, as bash's `/dev/tcp` does — and after each failure
//! sleeps 1 s and tries again, until one succeeds ("db:5432 is available
//! after N seconds", whole seconds as `date +%s` differences give) or the
//! `timeout` command around it fires ("timeout occurred after waiting 15
//! seconds for db:5432"). Then it executes the command — also after a
//! timeout, unless `--strict`, which exits with `timeout`'s status 124
//! ("strict mode, refusing to execute subprocess"). The container's
//! start-up delay is the program's own initialisation: it runs after the
//! gates (the script itself starts at once). Several gates chained
//! (`wait-for-it a:1 -- wait-for-it b:2 -- cmd`) run one after another. A
//! connect in flight when the timeout fires is bounded by it (the killed
//! child's socket goes away); a late answer to it is closed and ignored.
//!
//! The `nc` loop prints nothing, sleeps its own `N` between probes (`nc
//! -z` without `-w` waits as long as the kernel does) and never times out.

use super::program::{Cmd, Ctx, Input, Program, Report};
use crate::dist::Delay;
use crate::id::Sym;
use crate::time::{Dur, Time};

/// One `wait-for-it.sh HOST:PORT` of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gate {
    pub host: Sym,
    /// The host as written, for the script's messages.
    pub name: String,
    pub port: u16,
    /// `-t`: `Dur::ZERO` waits without a timeout (15 s by default).
    pub timeout: Dur,
    /// `-s`: do not run the command after a timeout.
    pub strict: bool,
    /// Instead of the script, a shell loop `until nc -z HOST PORT; do
    /// sleep N; done` sleeping this long between probes: no timeout, no
    /// messages.
    pub nc_loop: Option<Dur>,
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
    /// The gate being waited on; `gates.len()` once the program runs.
    at: usize,
    /// A strict gate timed out: the script exited, the program never runs.
    refused: bool,
    /// The program has been handed its `Start`.
    started: bool,
    /// When the current gate began (its first connect).
    since: Time,
    /// The program's initialisation, after the gates.
    startup: Delay,
    /// The program, started once every gate has opened or timed out.
    inner: Box<dyn Program>,
}

impl WaitFor {
    pub fn new(gates: Vec<Gate>, startup: Delay, inner: Box<dyn Program>) -> WaitFor {
        WaitFor { gates, at: 0, refused: false, started: false, since: Time::ZERO, startup, inner }
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
        self.since = cx.now;
        if g.nc_loop.is_some() {
            self.try_connect(cx);
            return;
        }
        cx.print(if g.timeout > Dur::ZERO {
            format!("{CMDNAME}: waiting {} seconds for {}:{}", g.timeout.0 / 1_000_000_000, g.name, g.port)
        } else {
            format!("{CMDNAME}: waiting for {}:{} without a timeout", g.name, g.port)
        });
        if g.timeout > Dur::ZERO {
            cx.timer(g.timeout, self.mark(KIND_TIMEOUT));
        }
        self.try_connect(cx);
    }

    fn try_connect(&self, cx: &mut Ctx<'_>) {
        let g = &self.gates[self.at];
        // Bounded by what is left of the gate's timeout: the `timeout`
        // command kills the attempt with the script.
        let left = (g.timeout > Dur::ZERO && g.nc_loop.is_none())
            .then(|| Dur((self.since + g.timeout).since(cx.now).0.max(1)));
        cx.push(Cmd::Connect { host: g.host, port: g.port, timeout: left, tag: self.mark(KIND_CONNECT) });
    }

    /// The current gate is done: on to the next, or the program.
    fn next(&mut self, cx: &mut Ctx<'_>) {
        self.at += 1;
        self.begin(cx);
    }

    /// An answer or a timer of the gates' own (by its mark): acted on when
    /// it belongs to the gate and attempt waited on now, else stale (a
    /// late connection is closed).
    fn own(&mut self, cx: &mut Ctx<'_>, input: Input) {
        let current = |x: u64, kind: u64| self.waiting() && x == self.mark(kind);
        match input {
            Input::Connected { tag, conn } => {
                cx.push(Cmd::Close { conn });
                if current(tag, KIND_CONNECT) {
                    let g = &self.gates[self.at];
                    let after = cx.now.since(self.since);
                    let nc = g.nc_loop.is_some();
                    cx.report(Report::Waited { host: g.host, port: g.port, ok: true, after, nc });
                    self.next(cx);
                }
            }
            Input::ConnectFailed { tag, .. } if current(tag, KIND_CONNECT) => {
                let sleep = self.gates[self.at].nc_loop.unwrap_or(Dur::secs(1));
                cx.timer(sleep, self.mark(KIND_RETRY));
            }
            Input::Timer(token) if current(token, KIND_RETRY) => self.try_connect(cx),
            Input::Timer(token) if current(token, KIND_TIMEOUT) => {
                let g = &self.gates[self.at];
                let (host, port, strict) = (g.host, g.port, g.strict);
                cx.report(Report::Waited { host, port, ok: false, after: g.timeout, nc: false });
                if strict {
                    cx.print(format!("{CMDNAME}: strict mode, refusing to execute subprocess"));
                    cx.push(Cmd::Exit { code: TIMEOUT_EXIT });
                    self.refused = true;
                } else {
                    self.next(cx);
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
        Gate { host: Sym(0), name: "db".into(), port: 5432, timeout: Dur::secs(timeout), strict, nc_loop: None }
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
            nc: false
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
            nc: false
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
        let g = Gate { nc_loop: Some(Dur::secs(2)), timeout: Dur::ZERO, ..gate(0, false) };
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
            nc: true
        })));
    }
}
