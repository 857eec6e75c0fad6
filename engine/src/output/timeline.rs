//! The timeline picture: one lane per container with its states over time
//! (created, initialising, running, starting/healthy/unhealthy, paused,
//! restarting, exited), connection attempts and their outcomes as marks,
//! DNS failures, and faults as shaded spans across all lanes. SVG, or a
//! self-contained HTML page whose marks explain themselves on hover.

use crate::id::CtrId;
use crate::proto::errno::Errno;
use crate::sim::record::{Ev, Record};
use crate::sim::World;
use crate::time::{Dur, Time};
use std::fmt::Write;

const LABEL_W: f64 = 150.0;
const PLOT_W: f64 = 1000.0;
const LANE_H: f64 = 26.0;
const TOP: f64 = 40.0;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Created,
    Initialising,
    Running,
    Starting,
    Healthy,
    Unhealthy,
    Paused,
    Restarting,
    Exited,
}

impl Phase {
    fn style(self) -> (&'static str, &'static str) {
        match self {
            Phase::Created => ("#eeeeee", "created"),
            Phase::Initialising => ("#bbdefb", "initialising"),
            Phase::Running => ("#a5d6a7", "running"),
            Phase::Starting => ("#c5e1a5", "health: starting"),
            Phase::Healthy => ("#43a047", "healthy"),
            Phase::Unhealthy => ("#fb8c00", "unhealthy"),
            Phase::Paused => ("#ce93d8", "paused"),
            Phase::Restarting => ("#fff176", "restarting"),
            Phase::Exited => ("#9e9e9e", "exited"),
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// State spans of one container: (from, to, phase).
fn spans(w: &World, id: CtrId, end: Time) -> Vec<(Time, Time, Phase)> {
    let has_health = w.ctrs[id].spec.health.is_some();
    let mut out = vec![];
    let mut cur = (Time::ZERO, Phase::Created);
    let mut set = |t: Time, p: Phase, out: &mut Vec<(Time, Time, Phase)>| {
        if p != cur.1 {
            if t > cur.0 {
                out.push((cur.0, t, cur.1));
            }
            cur = (t, p);
        }
    };
    for r in w.trace.iter().filter(|r| r.ctr == Some(id)) {
        let p = match &r.ev {
            Ev::Start => Phase::Initialising,
            Ev::ProgramStarted if has_health => Phase::Starting,
            Ev::ProgramStarted => Phase::Running,
            Ev::Health { status } => match status.name() {
                "healthy" => Phase::Healthy,
                "unhealthy" => Phase::Unhealthy,
                _ => Phase::Starting,
            },
            Ev::Pause => Phase::Paused,
            Ev::Unpause => Phase::Running,
            Ev::Die { .. } => Phase::Exited,
            Ev::Restart { .. } => Phase::Restarting,
            _ => continue,
        };
        set(r.t, p, &mut out);
    }
    if end > cur.0 {
        out.push((cur.0, end, cur.1));
    }
    out
}

/// Fault spans across all lanes: (from, to, label).
fn faults(w: &World, end: Time) -> Vec<(Time, Time, String)> {
    let mut open: Vec<(Time, String)> = vec![];
    let mut out = vec![];
    for r in &w.trace {
        let Ev::Fault { text } = r.ev else { continue };
        let t = w.syms.get(text);
        let key = t.split(' ').take(2).collect::<Vec<_>>().join(" ");
        if t.contains(" healed") || t.ends_with(" restored") {
            let k = key.replace(" healed", "").replace(" restored", "");
            if let Some(i) = open.iter().position(|(_, l)| {
                l.starts_with(&k) || (k.starts_with("embedded DNS") && l.starts_with("embedded DNS"))
            }) {
                let (from, label) = open.remove(i);
                out.push((from, r.t, label));
            }
        } else if !t.starts_with("chaos drew") {
            open.push((r.t, t.to_string()));
        }
    }
    out.extend(open.into_iter().map(|(f, l)| (f, end, l)));
    out
}

fn nice_step(total: Dur) -> Dur {
    let target = total.0 / 10;
    [1u64, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600]
        .iter()
        .map(|s| Dur::secs(*s))
        .chain([Dur::millis(100), Dur::millis(200), Dur::millis(500)])
        .filter(|d| d.0 >= target)
        .min()
        .unwrap_or(Dur::secs(3600))
}

struct Mark {
    t: Time,
    shape: &'static str,
    color: &'static str,
    tip: String,
}

fn mark_of(w: &World, r: &Record) -> Option<Mark> {
    let line = format!("{} {}", r.t.to_string().trim_start(), crate::output::trace::describe(w, &r.ev));
    let (shape, color) = match &r.ev {
        Ev::Connected { .. } => ("dot", "#2e7d32"),
        Ev::ConnectFailed(f) if f.errno == Errno::Econnrefused => ("x", "#c62828"),
        Ev::ConnectFailed(f) if f.errno == Errno::Etimedout => ("tri", "#ef6c00"),
        Ev::ConnectFailed(_) => ("x", "#6a1b9a"),
        Ev::ResolveFailed { .. } => ("diamond", "#6a1b9a"),
        Ev::Response { status, .. } if *status >= 500 => ("bar", "#c62828"),
        Ev::RequestTimedOut { .. } | Ev::Closed { errno: Some(_), .. } => ("tri", "#ef6c00"),
        Ev::GaveUp { .. } | Ev::ComposeFailed { .. } => ("x", "#000000"),
        _ => return None,
    };
    Some(Mark { t: r.t, shape, color, tip: line })
}

fn draw_mark(out: &mut String, m: &Mark, x: f64, y: f64, tips: bool) {
    let title = if tips { format!("<title>{}</title>", esc(&m.tip)) } else { String::new() };
    let c = m.color;
    let _ = match m.shape {
        "dot" => writeln!(out, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{c}\">{title}</circle>"),
        "x" => writeln!(
            out,
            "<path d=\"M{:.1},{:.1} l7,7 m0,-7 l-7,7\" stroke=\"{c}\" stroke-width=\"2.2\">{title}</path>",
            x - 3.5,
            y - 3.5
        ),
        "tri" => writeln!(out, "<path d=\"M{x:.1},{:.1} l4,7 l-8,0 z\" fill=\"{c}\">{title}</path>", y - 4.0),
        "diamond" => {
            writeln!(out, "<path d=\"M{x:.1},{:.1} l4,4 l-4,4 l-4,-4 z\" fill=\"{c}\">{title}</path>", y - 4.0)
        }
        _ => writeln!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"2.5\" height=\"10\" fill=\"{c}\">{title}</rect>",
            x - 1.2,
            y - 5.0
        ),
    };
}

/// The timeline as SVG; `tips` adds hover titles (for the HTML page).
pub fn svg(w: &World, tips: bool) -> String {
    let end = w.now.max(Time(1));
    let xs = |t: Time| LABEL_W + (t.0 as f64 / end.0 as f64) * PLOT_W;
    let n = w.ctr_order.len();
    let height = TOP + n as f64 * LANE_H + 70.0;
    let width = LABEL_W + PLOT_W + 30.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let step = nice_step(end.since(Time::ZERO));
    let mut t = Time::ZERO;
    while t <= end {
        let x = xs(t);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#e0e0e0\"/>",
            TOP - 6.0,
            TOP + n as f64 * LANE_H
        );
        let _ = writeln!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\" font-size=\"10\">{}</text>",
            TOP - 10.0,
            t.since(Time::ZERO)
        );
        t = t + step;
    }
    for (from, to, label) in faults(w, end) {
        let (x1, x2) = (xs(from), xs(to));
        let _ = writeln!(
            out,
            "<rect x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#ef5350\" fill-opacity=\"0.12\" stroke=\"#ef5350\" stroke-opacity=\"0.5\" stroke-dasharray=\"3 3\"><title>{}</title></rect>",
            TOP - 4.0,
            (x2 - x1).max(2.0),
            n as f64 * LANE_H + 4.0,
            esc(&label)
        );
    }
    for (i, &id) in w.ctr_order.iter().enumerate() {
        let y = TOP + i as f64 * LANE_H;
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LABEL_W - 8.0,
            y + 16.0,
            esc(&w.ctrs[id].name)
        );
        for (from, to, p) in spans(w, id, end) {
            let (fill, name) = p.style();
            let (x1, x2) = (xs(from), xs(to));
            let tip = if tips {
                format!(
                    "<title>{}: {name} {}..{}</title>",
                    esc(&w.ctrs[id].name),
                    from.to_string().trim_start(),
                    to.to_string().trim_start()
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "<rect x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{fill}\">{tip}</rect>",
                y + 5.0,
                (x2 - x1).max(0.5),
                LANE_H - 10.0
            );
        }
        let mut last_x = f64::NEG_INFINITY;
        for r in w.trace.iter().filter(|r| r.ctr == Some(id)) {
            if let Some(m) = mark_of(w, r) {
                let x = xs(m.t);
                if x - last_x < 1.0 && !tips {
                    continue;
                }
                last_x = x;
                draw_mark(&mut out, &m, x, y + LANE_H / 2.0, tips);
            }
        }
    }
    legend(&mut out, TOP + n as f64 * LANE_H + 22.0);
    out.push_str("</svg>\n");
    out
}

fn legend(out: &mut String, y: f64) {
    let mut x = 10.0;
    for p in [
        Phase::Created,
        Phase::Initialising,
        Phase::Running,
        Phase::Starting,
        Phase::Healthy,
        Phase::Unhealthy,
        Phase::Paused,
        Phase::Restarting,
        Phase::Exited,
    ] {
        let (fill, name) = p.style();
        let _ = writeln!(out, "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{name}</text>", y - 9.0, x + 18.0, y);
        x += 26.0 + name.len() as f64 * 6.2;
    }
    let y2 = y + 20.0;
    let marks = [
        ("dot", "#2e7d32", "connected"),
        ("x", "#c62828", "refused"),
        ("tri", "#ef6c00", "timed out"),
        ("x", "#6a1b9a", "unreachable"),
        ("diamond", "#6a1b9a", "DNS failure"),
        ("bar", "#c62828", "5xx"),
        ("x", "#000000", "gave up / compose failed"),
    ];
    let mut x = 16.0;
    for (shape, color, name) in marks {
        draw_mark(out, &Mark { t: Time::ZERO, shape, color, tip: String::new() }, x, y2 - 4.0, false);
        let _ = writeln!(out, "<text x=\"{:.1}\" y=\"{y2:.1}\" font-size=\"11\">{name}</text>", x + 9.0);
        x += 24.0 + name.len() as f64 * 6.2;
    }
    let _ = writeln!(out, "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"#ef5350\" fill-opacity=\"0.15\" stroke=\"#ef5350\" stroke-dasharray=\"3 3\"/><text x=\"{:.1}\" y=\"{y2:.1}\" font-size=\"11\">fault</text>", y2 - 9.0, x + 18.0);
}

/// A self-contained HTML page around the SVG, with hover details.
pub fn html(w: &World, title: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:Helvetica,Arial,sans-serif;margin:16px}} svg rect:hover,svg path:hover,svg circle:hover{{stroke:#000;stroke-width:1}}</style></head>\n<body><h2>{t}</h2><p>Hover a span or a mark for details. Seed {seed}, {events} events, {end} simulated.</p>\n{svg}</body></html>\n",
        t = esc(title),
        seed = w.seed,
        events = w.events,
        end = w.now.since(Time::ZERO),
        svg = svg(w, true)
    )
}
