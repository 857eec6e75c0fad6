//! The end-of-run summary: per container, what it saw — connects by outcome,
//! lookups that failed, requests and their latency percentiles, when it
//! first became healthy, how often it restarted, how it ended.

use crate::proto::errno::Errno;
use crate::sim::record::Ev;
use crate::sim::World;
use crate::time::{Dur, Time};
use std::collections::BTreeMap;
use std::fmt::Write;

/// What one container saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub connects_ok: u32,
    pub errors: BTreeMap<Errno, u32>,
    pub responses: Vec<Dur>,
    pub statuses: BTreeMap<u16, u32>,
    pub served: u32,
    pub restarts: u32,
    pub first_start: Option<Time>,
    pub first_healthy: Option<Time>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[Dur], p: f64) -> Option<Dur> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// What each container saw, by its position in the container arena (one
/// pass over the trace; a table lookup per record, not a map search).
pub fn collect(w: &World) -> Vec<Seen> {
    let mut m: Vec<Seen> = vec![Seen::default(); w.ctrs.len()];
    for r in &w.trace {
        let Some(s) = r.ctr.and_then(|c| w.ctrs.position(c)).map(|i| &mut m[i]) else { continue };
        if let Some(e) = r.ev.errno() {
            *s.errors.entry(e).or_default() += 1;
        }
        match &r.ev {
            Ev::Connected { .. } => s.connects_ok += 1,
            Ev::Response { latency, status, .. } => {
                s.responses.push(*latency);
                *s.statuses.entry(*status).or_default() += 1;
            }
            Ev::Served { .. } => s.served += 1,
            Ev::Restart { .. } => s.restarts += 1,
            Ev::Start => {
                s.first_start.get_or_insert(r.t);
            }
            Ev::Health { status: crate::container::health::Status::Healthy } => {
                s.first_healthy.get_or_insert(r.t);
            }
            _ => {}
        }
    }
    for s in &mut m {
        s.responses.sort();
    }
    m
}

/// The summary as text, one line per container that did anything.
pub fn text(w: &World) -> String {
    let seen = collect(w);
    let width = w.ctrs.values().map(|c| c.name.len()).max().unwrap_or(4).max(9);
    let mut out = format!(
        "{:<width$}  {:<22}  {:>8}  {:<34}  {}\n",
        "container", "state", "restarts", "connects / errors", "requests"
    );
    for &id in &w.ctr_order {
        let c = &w.ctrs[id];
        let s = &seen[w.ctrs.position(id).expect("a container of this world")];
        let state = match (c.state, c.health.as_ref()) {
            (crate::sim::world::State::Exited(code), _) => format!("exited ({code})"),
            (st, Some(h)) => format!("{} ({})", st.name(), h.status.name()),
            (st, None) => st.name().to_string(),
        };
        let mut conn = format!("{} ok", s.connects_ok);
        for (e, n) in &s.errors {
            let _ = write!(conn, ", {n} {e}");
        }
        let mut req = String::new();
        if !s.responses.is_empty() {
            let p = |q| percentile(&s.responses, q).map_or("-".into(), |d: Dur| d.to_string());
            let codes: Vec<String> = s.statuses.iter().map(|(k, v)| format!("{v}x{k}")).collect();
            let _ = write!(req, "{} ({}) p50 {} p99 {}", s.responses.len(), codes.join(" "), p(50.0), p(99.0));
        }
        if s.served > 0 {
            let _ = write!(req, "{}served {}", if req.is_empty() { "" } else { "; " }, s.served);
        }
        if let (Some(h), Some(st)) = (s.first_healthy, s.first_start) {
            let _ = write!(req, "{}healthy after {}", if req.is_empty() { "" } else { "; " }, h.since(st));
        }
        let _ = writeln!(out, "{:<width$}  {:<22}  {:>8}  {:<34}  {}", c.name, state, s.restarts, conn, req.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Dur> = (1..=100).map(Dur::millis).collect();
        assert_eq!(percentile(&v, 50.0), Some(Dur::millis(50)));
        assert_eq!(percentile(&v, 99.0), Some(Dur::millis(99)));
        assert_eq!(percentile(&v, 100.0), Some(Dur::millis(100)));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[Dur::millis(7)], 1.0), Some(Dur::millis(7)));
    }
}
