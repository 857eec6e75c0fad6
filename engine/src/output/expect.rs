//! Expectations: what a scenario says must (or must not) happen, checked
//! against the trace after the run.

use crate::id::CtrId;
use crate::proto::errno::Errno;
use crate::sim::record::{Ev, Record};
use crate::sim::World;
use crate::time::{Dur, Time};
use std::fmt::Write;

/// Which trace records an expectation is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// `connect()` succeeded, optionally to `host:port`, `host` or `ip:port`.
    Connected {
        to: Option<String>,
    },
    /// A program saw this error (connect, lookup, request, reset), optionally about a target.
    Error {
        errno: Option<Errno>,
        to: Option<String>,
    },
    /// A name resolved (optionally to an address).
    Resolved {
        name: String,
        ip: Option<String>,
    },
    /// A response with this status (any, when `None`).
    Response {
        status: Option<u16>,
    },
    Started,
    Exited {
        code: Option<i32>,
    },
    RestartScheduled,
    Healthy,
    Unhealthy,
    ComposeFailed,
    ComposeReady,
    GaveUp,
    /// A server answered (with this status).
    Served {
        status: Option<u16>,
    },
    /// A proxy answered (with this status).
    Proxied {
        status: Option<u16>,
    },
    /// A queue task event (`pushed`, `taken`, `done`, `requeued`).
    Task {
        id: Option<u32>,
        state: Option<String>,
    },
    /// A circuit breaker changed to `closed`, `open` or `half-open`.
    Breaker {
        state: String,
    },
    /// A tool printed a line containing this text.
    Output {
        contains: String,
    },
    DatagramReceived,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// At least one match inside the window.
    Eventually,
    /// No match inside the window.
    Never,
    /// Every event of the pattern's kind inside the window matches it
    /// (e.g. every response is a 200).
    Always,
    /// The number of matches inside the window is within bounds.
    Count { min: Option<u64>, max: Option<u64> },
    /// Must happen in at least one seed of a sweep; never fails a single run.
    Sometimes,
    /// The `p`-th percentile of response latencies seen is at most `max`.
    Latency { p: f64, max: Dur },
    /// Matches per second over the window are within bounds.
    Rate { min: Option<f64>, max: Option<f64> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub kind: Kind,
    /// The containers whose view is checked (a service's replicas); empty = every container.
    pub who: Vec<usize>,
    pub who_name: String,
    pub pattern: Pattern,
    pub from: Dur,
    pub until: Option<Dur>,
    /// A convergence expectation: the window starts when the last fault did.
    pub after_last_fault: bool,
    /// The text as written, for reports.
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub held: bool,
    /// A `Sometimes` expectation: not holding does not fail a single run.
    pub sometimes: bool,
    pub text: String,
    pub why: String,
}

fn target_matches(
    w: &World,
    to: &Option<String>,
    target: crate::id::Sym,
    port: Option<u16>,
    addr: Option<crate::net::addr::SockAddr>,
) -> bool {
    let Some(want) = to else { return true };
    let host = w.syms.get(target);
    let by_name = port.map(|p| format!("{host}:{p}"));
    want.eq_ignore_ascii_case(host)
        || by_name.is_some_and(|n| n.eq_ignore_ascii_case(want))
        || addr.is_some_and(|a| a.to_string() == *want)
}

pub fn matches(w: &World, p: &Pattern, ev: &Ev) -> bool {
    match (p, ev) {
        (Pattern::Connected { to }, Ev::Connected { target, addr, .. }) => {
            target_matches(w, to, *target, Some(addr.port), Some(*addr))
        }
        (Pattern::Error { errno, to }, ev) => {
            let Some(e) = ev.errno() else { return false };
            if errno.is_some_and(|x| x != e) {
                return false;
            }
            match ev {
                Ev::ConnectFailed(f) => target_matches(w, to, f.target, Some(f.port), f.addr),
                Ev::ResolveFailed { name, .. } => target_matches(w, to, *name, None, None),
                _ => to.is_none(),
            }
        }
        (Pattern::Resolved { name, ip }, Ev::Resolved { name: n, ip: got, .. }) => {
            w.syms.get(*n).eq_ignore_ascii_case(name) && ip.as_ref().is_none_or(|i| *i == got.to_string())
        }
        (Pattern::Response { status }, Ev::Response { status: s, .. }) => status.is_none_or(|x| x == *s),
        (Pattern::Started, Ev::Start) => true,
        (Pattern::Exited { code }, Ev::Die { code: c }) => code.is_none_or(|x| x == *c),
        (Pattern::RestartScheduled, Ev::Restart { .. }) => true,
        (Pattern::Healthy, Ev::Health { status }) => *status == crate::container::health::Status::Healthy,
        (Pattern::Unhealthy, Ev::Health { status }) => *status == crate::container::health::Status::Unhealthy,
        (Pattern::ComposeFailed, Ev::ComposeFailed { .. }) => true,
        (Pattern::ComposeReady, Ev::ComposeReady { .. }) => true,
        (Pattern::GaveUp, Ev::GaveUp { .. }) => true,
        (Pattern::Served { status }, Ev::Served { status: s }) => status.is_none_or(|x| x == *s),
        (Pattern::Proxied { status }, Ev::Proxied { status: s, .. }) => status.is_none_or(|x| x == *s),
        (Pattern::Task { id, state }, Ev::Task { id: i, state: st }) => {
            id.is_none_or(|x| x == *i) && state.as_ref().is_none_or(|s| s == st.name())
        }
        (Pattern::Breaker { state }, Ev::Breaker { state: s }) => state == s.name(),
        (Pattern::Output { contains }, Ev::Output { line }) => w.syms.get(*line).contains(contains.as_str()),
        (
            Pattern::Output { contains },
            Ev::Waited { host, port, ok, after, kind: crate::container::wait::GateKind::WaitForIt },
        ) => crate::output::trace::waited_line(w.syms.get(*host), *port, *ok, *after).contains(contains.as_str()),
        (Pattern::DatagramReceived, Ev::DatagramIn { .. }) => true,
        _ => false,
    }
}

/// Whether `ev` is the kind of event `p` is about (whatever its fields).
fn same_kind(w: &World, p: &Pattern, ev: &Ev) -> bool {
    match p {
        Pattern::Connected { .. } => matches!(ev, Ev::Connected { .. } | Ev::ConnectFailed { .. }),
        Pattern::Error { .. } => ev.errno().is_some(),
        Pattern::Resolved { .. } => matches!(ev, Ev::Resolved { .. } | Ev::ResolveFailed { .. }),
        Pattern::Response { .. } => matches!(ev, Ev::Response { .. } | Ev::RequestTimedOut { .. }),
        Pattern::Served { .. } => matches!(ev, Ev::Served { .. }),
        Pattern::Proxied { .. } => matches!(ev, Ev::Proxied { .. }),
        Pattern::Exited { .. } => matches!(ev, Ev::Die { .. }),
        Pattern::Healthy | Pattern::Unhealthy => matches!(ev, Ev::Health { .. }),
        Pattern::Task { .. } => matches!(ev, Ev::Task { .. }),
        Pattern::Breaker { .. } => matches!(ev, Ev::Breaker { .. }),
        _ => matches(w, p, ev),
    }
}

/// The records an expectation is about — its containers and its time
/// window — resolved once per check rather than per record.
struct Scope {
    /// Empty: every container.
    who: Vec<CtrId>,
    t0: Time,
    t1: Option<Time>,
}

impl Scope {
    fn of(e: &Expectation, w: &World) -> Scope {
        let base = if e.after_last_fault { w.last_fault } else { Time::ZERO };
        let who = e.who.iter().map(|&i| w.ctr_order[i]).collect();
        Scope { who, t0: base + e.from, t1: e.until.map(|u| base + u) }
    }

    fn concerns(&self, ctr: Option<CtrId>) -> bool {
        self.who.is_empty() || ctr.is_some_and(|c| self.who.contains(&c))
    }

    fn contains(&self, r: &Record) -> bool {
        r.t >= self.t0 && self.t1.is_none_or(|t| r.t <= t) && self.concerns(r.ctr)
    }
}

/// Checks one expectation against the finished run.
pub fn check(w: &World, e: &Expectation) -> Outcome {
    let scope = Scope::of(e, w);
    let hits: Vec<&Record> = w.trace.iter().filter(|r| scope.contains(r) && matches(w, &e.pattern, &r.ev)).collect();
    let line = |r: &Record| format!("{} {}", r.t, crate::output::trace::describe(w, &r.ev));
    let (held, why) = match &e.kind {
        Kind::Eventually => match hits.first() {
            Some(r) => (true, format!("first at {}", line(r).trim_start())),
            None => (false, explain_absence(w, &scope)),
        },
        Kind::Always => {
            let kin: Vec<&Record> =
                w.trace.iter().filter(|r| scope.contains(r) && same_kind(w, &e.pattern, &r.ev)).collect();
            match kin.iter().find(|r| !matches(w, &e.pattern, &r.ev)) {
                None => (true, format!("all {} matched", kin.len())),
                Some(r) => (false, format!("first exception: {}", line(r).trim_start())),
            }
        }
        Kind::Never => match hits.first() {
            None => (true, "no match".into()),
            Some(r) => (false, format!("{} match(es); first: {}", hits.len(), line(r).trim_start())),
        },
        Kind::Latency { p, max } => latency(w, &scope, *p, *max),
        Kind::Rate { min, max } => {
            let end = e.until.map_or(w.now, |u| Time::ZERO + u).min(w.now);
            let secs = end.since(Time::ZERO + e.from).as_secs_f64().max(1e-9);
            let rate = hits.len() as f64 / secs;
            let ok = min.is_none_or(|m| rate >= m) && max.is_none_or(|m| rate <= m);
            (ok, format!("{rate:.3}/s ({} in {secs:.3}s)", hits.len()))
        }
        Kind::Sometimes => match hits.first() {
            Some(r) => (true, format!("seen at {}", line(r).trim_start())),
            None => (false, "not seen in this run (judged across a sweep)".into()),
        },
        Kind::Count { min, max } => {
            let n = hits.len() as u64;
            let ok = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
            (ok, format!("{n} match(es)"))
        }
    };
    Outcome { held, sometimes: e.kind == Kind::Sometimes, text: e.text.clone(), why }
}

/// Nearest-rank percentile of the response latencies in scope.
fn latency(w: &World, scope: &Scope, p: f64, max: Dur) -> (bool, String) {
    let mut l: Vec<Dur> = w
        .trace
        .iter()
        .filter(|r| scope.contains(r))
        .filter_map(|r| match r.ev {
            Ev::Response { latency, .. } => Some(latency),
            _ => None,
        })
        .collect();
    if l.is_empty() {
        return (false, "no responses to measure".into());
    }
    l.sort();
    let rank = ((p / 100.0) * l.len() as f64).ceil().max(1.0) as usize;
    let v = l[rank.min(l.len()) - 1];
    (v <= max, format!("p{p} = {v} over {} responses (max {})", l.len(), l[l.len() - 1]))
}

/// For a failed `Eventually`: the container's last errors, as the closest explanation.
fn explain_absence(w: &World, scope: &Scope) -> String {
    let mut why = String::from("never happened");
    let errs: Vec<&Record> = w
        .trace
        .iter()
        .filter(|r| {
            scope.concerns(r.ctr)
                && (r.ev.errno().is_some()
                    || matches!(r.ev, Ev::ComposeFailed { .. } | Ev::Die { .. } | Ev::GaveUp { .. }))
        })
        .collect();
    if !errs.is_empty() {
        why.push_str("; what it saw instead (last 3):");
        for r in errs.iter().rev().take(3).rev() {
            let _ = write!(why, "\n      {} {}", r.t, crate::output::trace::describe(w, &r.ev));
        }
    }
    why
}
