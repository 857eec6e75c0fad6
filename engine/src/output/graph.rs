//! The communication graph: who called whom, over which network, with how
//! many successes and each kind of error — derived from what happened in
//! the run, not from what the scenario declared. DOT for Graphviz, and an
//! SVG with a simple layered layout (callers left, callees right).

use crate::id::CtrId;
use crate::net::addr::Ip;
use crate::proto::errno::Errno;
use crate::sim::record::Ev;
use crate::sim::World;
use crate::time::Time;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One edge: connects from a container to a target over a network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edge {
    pub ok: u32,
    pub errors: BTreeMap<Errno, u32>,
}

/// Edges keyed by (caller, callee, network).
pub type Graph = BTreeMap<(String, String, String), Edge>;

/// Who held `ip` at time `t`, from the trace's endpoint records.
fn holder_at(w: &World, ip: Ip, t: Time) -> Option<CtrId> {
    let mut who = None;
    for r in w.trace.iter().take_while(|r| r.t <= t) {
        match r.ev {
            Ev::NetConnect { ip: i, .. } if i == ip => who = r.ctr,
            Ev::NetDisconnect { ip: i, .. } if i == ip && who == r.ctr => who = None,
            _ => {}
        }
    }
    who
}

/// A connect to a published port: the container behind it, and the port.
fn forwarded_to(w: &World, r: &crate::sim::record::Record) -> Option<(CtrId, u16)> {
    let addr = match &r.ev {
        Ev::Connected { addr, .. } => *addr,
        Ev::ConnectFailed(f) => f.addr?,
        _ => return None,
    };
    if !(addr.ip.is_loopback() || w.is_host_ip_pub(addr.ip)) {
        return None;
    }
    w.trace
        .iter()
        .take_while(|x| x.t <= r.t)
        .filter_map(|x| match x.ev {
            Ev::PortForward { published, .. } if published.port == addr.port => x.ctr.map(|c| (c, addr.port)),
            _ => None,
        })
        .last()
}

fn network_between(w: &World, a: CtrId, b: Option<CtrId>) -> String {
    let Some(b) = b else { return "host".into() };
    let an = &w.ctrs[w.net_owner(a)].nets;
    let bn = &w.ctrs[w.net_owner(b)].nets;
    an.iter().find(|n| bn.contains(n)).map_or_else(|| "via host".into(), |&n| w.nets[n].name.clone())
}

/// Builds the graph from the trace.
pub fn build(w: &World) -> Graph {
    let mut g = Graph::new();
    for r in &w.trace {
        let Some(c) = r.ctr else { continue };
        let (target, ok, errno) = match &r.ev {
            Ev::Connected { target, addr, .. } => (Some((*target, Some(addr.ip))), true, None),
            Ev::ConnectFailed(f) => (Some((f.target, f.addr.map(|a| a.ip))), false, Some(f.errno)),
            _ => (None, false, None),
        };
        let Some((name, ip)) = target else { continue };
        let holder = ip.and_then(|ip| holder_at(w, ip, r.t));
        if let Some(p) = forwarded_to(w, r) {
            let e =
                g.entry((w.ctrs[c].name.clone(), w.ctrs[p.0].name.clone(), format!("published :{}", p.1))).or_default();
            if ok {
                e.ok += 1;
            }
            if let Some(x) = errno {
                *e.errors.entry(x).or_default() += 1;
            }
            continue;
        }
        let callee = match (holder, ip) {
            (Some(h), _) if h == c => continue,
            (Some(h), _) => w.ctrs[h].name.clone(),
            (None, Some(ip)) if ip.is_loopback() || w.is_host_ip_pub(ip) => "host".into(),
            _ => w.syms.get(name).to_string(),
        };
        let net = if holder.is_some() { network_between(w, c, holder) } else { "-".into() };
        let e = g.entry((w.ctrs[c].name.clone(), callee, net)).or_default();
        if ok {
            e.ok += 1;
        }
        if let Some(x) = errno {
            *e.errors.entry(x).or_default() += 1;
        }
    }
    g
}

fn label(e: &Edge) -> String {
    let mut parts = vec![];
    if e.ok > 0 {
        parts.push(format!("{} ok", e.ok));
    }
    parts.extend(e.errors.iter().map(|(k, v)| format!("{v} {k}")));
    parts.join(", ")
}

fn color(e: &Edge) -> &'static str {
    match (e.ok > 0, e.errors.is_empty()) {
        (true, true) => "#2e7d32",
        (true, false) => "#ef6c00",
        _ => "#c62828",
    }
}

/// Graphviz DOT.
pub fn dot(w: &World) -> String {
    let g = build(w);
    let mut out =
        String::from("digraph wharf {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    for &id in &w.ctr_order {
        let c = &w.ctrs[id];
        let nets: Vec<&str> = c.nets.iter().map(|&n| w.nets[n].name.as_str()).collect();
        let _ = writeln!(out, "  \"{}\" [label=\"{}\\n{}\"];", c.name, c.name, nets.join(", "));
    }
    for ((a, b, net), e) in &g {
        let _ = writeln!(out, "  \"{a}\" -> \"{b}\" [label=\"{net}: {}\", color=\"{}\"];", label(e), color(e));
    }
    out.push_str("}\n");
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Layers by longest path from a caller that nobody calls (cycles are cut).
fn layers(nodes: &[String], g: &Graph) -> BTreeMap<String, usize> {
    let mut layer: BTreeMap<String, usize> = nodes.iter().map(|n| (n.clone(), 0)).collect();
    for _ in 0..nodes.len() {
        let mut changed = false;
        for (a, b, _) in g.keys() {
            let la = layer.get(a).copied().unwrap_or(0);
            let lb = layer.entry(b.clone()).or_insert(0);
            if *lb < la + 1 && la + 1 < nodes.len() + 1 {
                *lb = la + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

/// Orders each column by the mean row of its neighbours in the previous
/// column (then the first column by its successors): fewer crossings.
fn order_columns(cols: &mut BTreeMap<usize, Vec<&String>>, g: &Graph) {
    let keys: Vec<usize> = cols.keys().copied().collect();
    let row_of = |cols: &BTreeMap<usize, Vec<&String>>, n: &String| -> Option<f64> {
        cols.values().find_map(|v| v.iter().position(|x| *x == n)).map(|i| i as f64)
    };
    for pass in 0..2 {
        for (i, &k) in keys.iter().enumerate() {
            if pass == 0 && i == 0 {
                continue;
            }
            let mut col = cols[&k].clone();
            let bary = |n: &String| -> f64 {
                let nbrs: Vec<f64> = g
                    .keys()
                    .filter_map(|(a, b, _)| {
                        if b == n {
                            row_of(cols, a)
                        } else if a == n && pass == 1 {
                            row_of(cols, b)
                        } else {
                            None
                        }
                    })
                    .collect();
                if nbrs.is_empty() {
                    f64::MAX
                } else {
                    nbrs.iter().sum::<f64>() / nbrs.len() as f64
                }
            };
            col.sort_by(|x, y| {
                bary(x).partial_cmp(&bary(y)).unwrap_or(std::cmp::Ordering::Equal).then_with(|| x.cmp(y))
            });
            cols.insert(k, col);
        }
    }
}

/// An SVG picture of the graph.
pub fn svg(w: &World) -> String {
    let g = build(w);
    let mut nodes: Vec<String> = w.ctr_order.iter().map(|&c| w.ctrs[c].name.clone()).collect();
    for (_, b, _) in g.keys() {
        if !nodes.contains(b) {
            nodes.push(b.clone());
        }
    }
    let layer = layers(&nodes, &g);
    let mut cols: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for n in &nodes {
        cols.entry(layer[n]).or_default().push(n);
    }
    order_columns(&mut cols, &g);
    let text = |net: &str, e: &Edge| format!("{net}: {}", label(e));
    let text_width = |t: &str| t.len() as f64 * 6.4 + 8.0;
    // Columns far enough apart for the longest label between two boxes.
    let widest = g.iter().map(|((_, _, net), e)| text_width(&text(net, e))).fold(0.0, f64::max);
    let (rh, nw, nh) = (80.0, 170.0, 46.0);
    let cw = f64::max(300.0, (nw + widest + 24.0).ceil());
    let mut pos: BTreeMap<&String, (f64, f64)> = BTreeMap::new();
    let rows = cols.values().map(Vec::len).max().unwrap_or(1);
    // Columns side by side in layer order (a layer number can skip: a
    // cycle's), so the picture is as wide as its columns.
    for (c, ns) in cols.values().enumerate() {
        for (i, n) in ns.iter().enumerate() {
            pos.insert(n, (30.0 + c as f64 * cw, 40.0 + i as f64 * rh));
        }
    }
    let degree = |f: &dyn Fn(&(String, String, String)) -> &String, n: &String| g.keys().filter(|k| f(k) == n).count();
    let width = 60.0 + cols.len() as f64 * cw;
    let height = 60.0 + rows as f64 * rh + 30.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n"
    );
    let mut fan: BTreeMap<(&String, &String), usize> = BTreeMap::new();
    let mut labels = String::new();
    for ((a, b, net), e) in &g {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(a), pos.get(b)) else { continue };
        let k = fan.entry((a, b)).or_default();
        let off = *k as f64 * 14.0;
        *k += 1;
        let (sx, sy, ex, ey) = (x1 + nw, y1 + nh / 2.0 + off, x2, y2 + nh / 2.0 + off);
        // An edge back to an earlier column (or within one) leaves its
        // source's left side for its target's right side, 12 px lower than
        // a forward edge, so the two of a two-way pair do not coincide.
        let back = ex <= sx;
        let (sx, sy, ex, ey) = if back { (x1, sy + 12.0, x2 + nw, ey + 12.0) } else { (sx, sy, ex, ey) };
        let mx = (sx + ex) / 2.0;
        let _ = writeln!(
            out,
            "<path d=\"M{sx:.1},{sy:.1} C{mx:.1},{sy:.1} {mx:.1},{ey:.1} {ex:.1},{ey:.1}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" marker-end=\"url(#arrow)\"><title>{} -> {} over {}: {}</title></path>",
            color(e), esc(a), esc(b), esc(net), esc(&label(e))
        );
        // A label sits at the end where edges do not fan in or out, so
        // labels never stack; where both ends fan (a worker using two
        // services that others use too), at the middle of its curve.
        let text = text(net, e);
        let tw = text_width(&text);
        let (fan_out, fan_in) = (degree(&|k| &k.0, a), degree(&|k| &k.1, b));
        // (text x, y, anchor, the backing box's x); a back edge's label
        // sits below it, on the outer side of its end.
        let (lx, ly, anchor, rx) = match (fan_out > 1 && fan_in > 1, fan_out > fan_in, back) {
            (true, _, false) => (mx, (sy + ey) / 2.0 - 6.0, "middle", mx - tw / 2.0),
            (true, _, true) => (mx, (sy + ey) / 2.0 + 16.0, "middle", mx - tw / 2.0),
            (false, true, false) => (ex - 8.0, ey - 6.0, "end", ex - 4.0 - tw),
            (false, true, true) => (ex + 8.0, ey + 16.0, "start", ex + 4.0),
            (false, false, false) => (sx + 8.0, sy - 6.0, "start", sx + 4.0),
            (false, false, true) => (sx - 8.0, sy + 16.0, "end", sx - 4.0 - tw),
        };
        let _ = writeln!(labels, "<rect x=\"{rx:.1}\" y=\"{:.1}\" width=\"{tw:.1}\" height=\"16\" rx=\"3\" fill=\"white\" fill-opacity=\"0.9\"/>", ly - 12.0);
        let _ = writeln!(
            labels,
            "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"{anchor}\" fill=\"{}\">{}</text>",
            color(e),
            esc(&text)
        );
    }
    out.push_str(&labels);
    for n in &nodes {
        let (x, y) = pos[n];
        let ctr = w.ctr_by_name(n);
        let sub = ctr.map_or_else(
            || "outside the scenario".to_string(),
            |c| match w.ctrs[c].spec.mode {
                crate::sim::spec::Mode::Host => "host network".into(),
                crate::sim::spec::Mode::None => "no network".into(),
                crate::sim::spec::Mode::Container(k) => format!("shares {}", w.ctrs[w.ctr_order[k]].name),
                crate::sim::spec::Mode::Bridge => {
                    w.ctrs[c].nets.iter().map(|&k| w.nets[k].name.as_str()).collect::<Vec<_>>().join(", ")
                }
            },
        );
        let (fill, dash) = if ctr.is_some() { ("#e3f2fd", "") } else { ("#f5f5f5", " stroke-dasharray=\"4 3\"") };
        let _ = writeln!(out, "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{nw}\" height=\"{nh}\" rx=\"8\" fill=\"{fill}\" stroke=\"#1565c0\"{dash}/>");
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            x + nw / 2.0,
            y + 19.0,
            esc(n)
        );
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\" font-size=\"10\">{}</text>",
            x + nw / 2.0,
            y + 35.0,
            esc(&sub)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"20\" y=\"{:.0}\" fill=\"#555\" font-size=\"11\">edges: connects observed (green: all ok, orange: some failed, red: all failed); labels: network: counts</text>",
        height - 12.0
    );
    out.push_str("</svg>\n");
    out
}
