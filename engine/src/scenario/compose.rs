//! Import of docker-compose files into a scenario (the same schema a RON
//! file has), with inference of what Compose does not say.
//!
//! - YAML by serde-saphyr (anchors, aliases, merge keys); several files are
//!   merged in order (maps deeply, everything else replaced); `x-` keys and
//!   unknown keys are ignored with a warning; `include` adds another file's
//!   services, `extends` resolves a service over its base.
//! - `${VAR}`, `$VAR`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?e}`, `${VAR?e}`, `$$`
//!   from `--env-file` files and the `.env` beside the first file — never from
//!   the OS environment, so an import is reproducible.
//! - Inference (documented in the README, overridable by a RON overlay):
//!   ports a service listens on (ports, expose, healthcheck, well-known
//!   images), start-up times of well-known images, and who calls whom
//!   (environment values naming another service, and `depends_on`).

use super::diag::{did_you_mean, locate, Diagnostics};
use super::schema as s;
use crate::dist::Delay;
use crate::time::{parse_dur, Dur};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What an import produced.
pub struct Imported {
    pub scenario: s::Scenario,
    pub warnings: Vec<String>,
    /// Inferred calls: (caller, callee, port).
    pub calls: Vec<(String, String, u16)>,
}

/// A RON overlay that overrides the inference.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// How callers retry at start-up (default: exponential, 1 s doubling, 5 attempts).
    #[serde(default)]
    pub retry: Option<s::Retry>,
    /// Start-up delay per service.
    #[serde(default)]
    pub startup: s::Ordered<s::DelayStr>,
    /// Ports a service listens on (the first is served).
    #[serde(default)]
    pub listens: s::Ordered<Vec<u16>>,
    /// Calls per service, as `host:port`.
    #[serde(default)]
    pub calls: s::Ordered<Vec<String>>,
    /// Profiles to enable.
    #[serde(default)]
    pub profiles: Vec<String>,
}

/// Well-known images: (name fragment, port, typical start-up). Start-up
/// times are typical first-start figures (unconfirmed; chosen).
const IMAGES: &[(&str, u16, &str)] = &[
    ("postgres", 5432, "uniform(2s, 6s)"),
    ("mysql", 3306, "uniform(8s, 20s)"),
    ("mariadb", 3306, "uniform(5s, 15s)"),
    ("mongo", 27017, "uniform(1s, 4s)"),
    ("redis", 6379, "uniform(100ms, 500ms)"),
    ("memcached", 11211, "uniform(50ms, 200ms)"),
    ("rabbitmq", 5672, "uniform(5s, 10s)"),
    ("kafka", 9092, "uniform(10s, 25s)"),
    ("zookeeper", 2181, "uniform(2s, 5s)"),
    ("elasticsearch", 9200, "uniform(20s, 40s)"),
    ("kibana", 5601, "uniform(15s, 30s)"),
    ("logstash", 5044, "uniform(15s, 30s)"),
    ("mssql", 1433, "uniform(10s, 25s)"),
    ("nginx", 80, "uniform(100ms, 300ms)"),
    ("httpd", 80, "uniform(100ms, 300ms)"),
    ("traefik", 80, "uniform(200ms, 1s)"),
    ("grafana", 3000, "uniform(2s, 5s)"),
    ("prometheus", 9090, "uniform(1s, 3s)"),
    ("wordpress", 80, "uniform(1s, 3s)"),
    ("nextcloud", 80, "uniform(3s, 8s)"),
    ("gitea", 3000, "uniform(1s, 3s)"),
];

/// The default start-up of a service built from source or an unknown image.
const APP_STARTUP: &str = "uniform(500ms, 3s)";

fn image_info(image: &str) -> Option<(u16, &'static str)> {
    let base = image.rsplit('/').next().unwrap_or(image);
    IMAGES.iter().find(|(k, _, _)| base.starts_with(k) || image.contains(&format!("/{k}"))).map(|(_, p, d)| (*p, *d))
}

/// Compose variable interpolation.
pub fn interpolate(text: &str, env: &BTreeMap<String, String>, warnings: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (expr, tail) = if let Some(b) = after.strip_prefix('{') {
            let mut depth = 1;
            let end = b.char_indices().find(|&(_, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            });
            let Some((end, _)) = end else { return Err(format!("unclosed `${{` in `{text}`")) };
            (&b[..end], &b[end + 1..])
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            if end == 0 {
                out.push('$');
                rest = after;
                continue;
            }
            (&after[..end], &after[end..])
        };
        let ops = [":-", "-", ":?", "?"];
        let split = ops
            .iter()
            .filter_map(|op| expr.find(op).map(|p| (p, *op)))
            .min_by_key(|(p, op)| (*p, std::cmp::Reverse(op.len())));
        let (var, op, arg) = match split {
            Some((p, op)) => (&expr[..p], op, &expr[p + op.len()..]),
            None => (expr, "", ""),
        };
        let val = env.get(var);
        let set_nonempty = val.is_some_and(|v| !v.is_empty());
        let value = match op {
            ":-" if !set_nonempty => interpolate(arg, env, warnings)?,
            "-" if val.is_none() => interpolate(arg, env, warnings)?,
            ":?" if !set_nonempty => return Err(format!("required variable {var} is missing a value: {arg}")),
            "?" if val.is_none() => return Err(format!("required variable {var} is missing a value: {arg}")),
            _ => match val {
                Some(v) => v.clone(),
                None => {
                    warnings.push(format!("The \"{var}\" variable is not set. Defaulting to a blank string."));
                    String::new()
                }
            },
        };
        out.push_str(&value);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// Rebuilds every mapping with its keys in sorted order. serde_json's `Map`
/// iterates in key order by default but in insertion order when any crate in
/// the build enables its `preserve_order` feature (Cargo unifies features
/// across a workspace); sorting here makes the import independent of that.
fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut x) in entries {
                sort_keys(&mut x);
                m.insert(k, x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Reads `KEY=value` lines (comments and blanks ignored, quotes stripped).
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

fn interpolate_tree(v: &mut Value, env: &BTreeMap<String, String>, w: &mut Vec<String>) -> Result<(), String> {
    match v {
        Value::String(s) => *s = interpolate(s, env, w)?,
        Value::Array(a) => a.iter_mut().try_for_each(|x| interpolate_tree(x, env, w))?,
        Value::Object(m) => m.values_mut().try_for_each(|x| interpolate_tree(x, env, w))?,
        _ => {}
    }
    Ok(())
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(x) if x.is_object() && v.is_object() => merge(x, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn as_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The start-up gates of a command line, in order: `wait-for-it.sh
/// HOST:PORT [-t N] [-s] -- …` (a chain `wait-for-it a:1 -- wait-for-it
/// b:2 -- cmd`, or one inside `sh -c '…'`), eficode's `wait-for HOST:PORT
/// [-t N] -- …`, and `until nc -z HOST PORT; do sleep N; done` loops (see
/// [`nc_loop`]). Options as the scripts read them: `-t N`, `--timeout=N`,
/// `-q`, and wait-for-it's `-s`, `--strict`, `-h HOST`/`--host=`, `-p
/// PORT`/`--port=`. A wait-for-it followed by `&&` instead of `--` is
/// strict: the shell runs the rest only if it succeeded.
fn wait_gates(line: &str) -> Vec<s::Gate> {
    let words: Vec<&str> =
        line.split_whitespace().map(|w| w.trim_matches(|c| c == '\'' || c == '"' || c == ';')).collect();
    let mut gates = vec![];
    let mut i = 0;
    while i < words.len() {
        let script = words[i].rsplit('/').next().unwrap_or("");
        i += 1;
        if ["nc", "netcat", "ncat"].contains(&script) {
            if let Some(g) = nc_loop(&words, i) {
                gates.push(g);
            }
            continue;
        }
        let eficode = script == "wait-for" || script == "wait-for.sh";
        if script != "wait-for-it" && script != "wait-for-it.sh" && !eficode {
            continue;
        }
        let (mut host, mut port, mut timeout, mut strict) = (None, None, None, false);
        while i < words.len() {
            let w = words[i];
            let next = words.get(i + 1).copied();
            i += 1;
            match w {
                "--" => break,
                "&&" => {
                    strict = true;
                    break;
                }
                "-s" | "--strict" => strict = true,
                "-q" | "--quiet" => {}
                "-t" | "-h" | "-p" => {
                    i += 1;
                    let v = next.unwrap_or_default().to_string();
                    match w {
                        "-t" => timeout = v.parse::<u64>().ok(),
                        "-h" => host = Some(v),
                        _ => port = Some(v),
                    }
                }
                _ => {
                    if let Some(v) = w.strip_prefix("--timeout=") {
                        timeout = v.parse().ok();
                    } else if let Some(v) = w.strip_prefix("--host=") {
                        host = Some(v.to_string());
                    } else if let Some(v) = w.strip_prefix("--port=") {
                        port = Some(v.to_string());
                    } else if let Some((h, p)) = w.split_once(':') {
                        (host, port) = (Some(h.to_string()), Some(p.to_string()));
                    } else {
                        break;
                    }
                }
            }
        }
        // A host or port the shell would expand (`$DB_HOST`) is not known here.
        let port = port.filter(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        if let (Some(h), Some(p)) = (host.filter(|h| !h.is_empty() && !h.contains('$')), port) {
            // Past u32 seconds (136 years) is for ever all the same; it
            // keeps the nanoseconds within a `Dur`.
            let timeout = timeout.map(|t: u64| s::D(Dur::secs(t.min(u64::from(u32::MAX)))));
            let target = format!("{h}:{p}");
            gates.push(match eficode {
                true => s::Gate::WaitFor { target, timeout },
                false => s::Gate::WaitForIt { target, timeout, strict },
            });
        }
    }
    gates
}

/// The loop around the `nc` at `words[at - 1]`, if it is one: `until nc -z
/// HOST PORT; do sleep N; done` or `while ! nc -z …` (flags `-v`, `-w N`
/// as nc reads them; the sleep in whole or fractional seconds, 1 s when
/// none is found before `done`).
fn nc_loop(words: &[&str], at: usize) -> Option<s::Gate> {
    let before = &words[..at - 1];
    let looped = before.last() == Some(&"until") || before.ends_with(&["while", "!"]);
    let mut i = at;
    let mut z = false;
    while let Some(w) = words.get(i).filter(|w| w.starts_with('-')) {
        z |= w.contains('z');
        i += if *w == "-w" || *w == "-i" { 2 } else { 1 };
    }
    let (host, port) = (words.get(i)?, words.get(i + 1)?.parse::<u16>().ok().filter(|&p| p > 0)?);
    if !looped || !z || host.is_empty() || host.contains('$') {
        return None;
    }
    let body = &words[i + 2..];
    let end = body.iter().position(|w| *w == "done").unwrap_or(body.len());
    let sleep = body[..end]
        .windows(2)
        .find(|w| w[0] == "sleep")
        .and_then(|w| w[1].trim_end_matches('s').parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
        .unwrap_or(1.0);
    Some(s::Gate::NcLoop { target: format!("{host}:{port}"), sleep: Some(s::D(Dur((sleep * 1e9) as u64))) })
}

/// A value Compose takes as one string or a list of them (`dns_opt`,
/// `include`'s `path` and `env_file`, `links`, `volumes_from` …).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(as_str).collect(),
        other => other.and_then(as_str).into_iter().collect(),
    }
}

/// `["A=b", "C"]` or `{A: b}` as ordered pairs.
fn pairs(v: Option<&Value>, sep: char) -> Vec<(String, String)> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(as_str)
            .map(|x| x.split_once(sep).map_or((x.clone(), String::new()), |(k, v)| (k.to_string(), v.to_string())))
            .collect(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), as_str(v).unwrap_or_default())).collect(),
        _ => vec![],
    }
}

fn dur(v: Option<&Value>) -> Option<s::D> {
    v.and_then(as_str).and_then(|x| parse_dur(&x).ok()).map(s::D)
}

const KNOWN: &[&str] = &[
    "image",
    "build",
    "container_name",
    "hostname",
    "networks",
    "network_mode",
    "ports",
    "expose",
    "depends_on",
    "healthcheck",
    "restart",
    "deploy",
    "scale",
    "environment",
    "env_file",
    "extra_hosts",
    "links",
    "profiles",
    "stop_grace_period",
    "volumes",
    "command",
    "entrypoint",
    "secrets",
    "configs",
    "user",
    "working_dir",
    "labels",
    "logging",
    "cap_add",
    "cap_drop",
    "privileged",
    "stdin_open",
    "tty",
    "init",
    "ulimits",
    "sysctls",
    "devices",
    "platform",
    "pull_policy",
    "stop_signal",
    "domainname",
    "dns",
    "dns_opt",
    "dns_search",
    "tmpfs",
    "shm_size",
    "read_only",
    "security_opt",
    "mem_limit",
    "cpus",
    "restart_policy",
    "develop",
    // The rest of compose-spec's service properties: valid, and without an
    // effect on what the simulation models (resources, mounts, namespaces
    // other than the network's, lifecycle hooks, build and pull settings).
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "device_cgroup_rules",
    "gpus",
    "group_add",
    "ipc",
    "isolation",
    "label_file",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "post_start",
    "pre_stop",
    "provider",
    "pull_refresh_after",
    "runtime",
    "storage_opt",
    "use_api_socket",
    "userns_mode",
    "uts",
    "volumes_from",
];

/// A service's listening ports: published targets, expose, well-known image.
fn listening(svc: &Map<String, Value>) -> Vec<u16> {
    let mut ports: Vec<u16> = vec![];
    if let Some(Value::Array(a)) = svc.get("ports") {
        for p in a {
            let target = match p {
                Value::Object(m) => m.get("target").and_then(as_str),
                other => as_str(other).map(|x| {
                    let x = x.split('/').next().unwrap_or("").to_string();
                    x.rsplit(':').next().unwrap_or("").split('-').next().unwrap_or("").to_string()
                }),
            };
            ports.extend(target.and_then(|t| t.parse::<u16>().ok()));
        }
    }
    if let Some(Value::Array(a)) = svc.get("expose") {
        ports.extend(
            a.iter().filter_map(as_str).filter_map(|x| x.split('/').next()?.split('-').next()?.parse::<u16>().ok()),
        );
    }
    if let Some((p, _)) = svc.get("image").and_then(as_str).as_deref().and_then(image_info) {
        ports.push(p);
    }
    // A healthcheck that reaches the service's own port over loopback
    // (`curl -f http://localhost:8000/health`) says it serves that port.
    ports.extend(svc.get("healthcheck").and_then(|h| test_command(h.get("test"))).as_deref().and_then(own_port));
    let mut seen = vec![];
    ports.retain(|p| {
        !seen.contains(p) && {
            seen.push(*p);
            true
        }
    });
    ports
}

/// The port a healthcheck command reaches on the container itself:
/// `localhost:PORT`, `127.0.0.1:PORT` or `0.0.0.0:PORT` in its words.
fn own_port(text: &str) -> Option<u16> {
    ["localhost:", "127.0.0.1:", "0.0.0.0:"].iter().find_map(|host| {
        let at = text.find(host)? + host.len();
        let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok().filter(|&p| p != 0)
    })
}

/// The service an environment variable names (`DB_HOST=db`, `db:5432`,
/// `scheme://u:p@db:5432/x`) by any of `names` (name → service: the
/// services' names, their network aliases, the caller's link aliases). A
/// bare name — no scheme, no port — counts only under a key that holds an
/// address (`…HOST`, `…ADDR`, `…URL`, `…SERVER`, …): `POSTGRES_USER=gitea`
/// or `CACHE_DRIVER=redis` name a user and a driver, not the services
/// `gitea` and `redis`.
fn referenced(key: &str, value: &str, names: &BTreeMap<String, String>) -> Option<(String, Option<u16>)> {
    let schemed = value.split_once("://");
    let v = schemed.map_or(value, |(_, rest)| rest);
    let v = v.rsplit('@').next().unwrap_or(v);
    let hostport = v.split(['/', '?', ',']).next().unwrap_or("");
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()),
        None => (hostport, None),
    };
    let service = names.get(host)?;
    if schemed.is_none() && port.is_none() && !address_key(key) {
        return None;
    }
    Some((service.clone(), port))
}

/// Whether an environment variable's name says it holds an address: its
/// last word (split at `_`, `.`, `-`) ends in HOST(S|NAME), ADDR(ESS),
/// SERVER(S), URL, URI, DSN, ENDPOINT, BROKER(S), UPSTREAM, BACKEND or
/// NODES (so `PGHOST`, `WORDPRESS_DB_HOST`, `discovery.seed_hosts`).
fn address_key(key: &str) -> bool {
    let last = key.rsplit(['_', '.', '-']).next().unwrap_or(key).to_ascii_uppercase();
    [
        "HOST", "HOSTS", "HOSTNAME", "ADDR", "ADDRESS", "SERVER", "SERVERS", "URL", "URI", "DSN", "ENDPOINT", "BROKER",
        "BROKERS", "UPSTREAM", "BACKEND", "NODES",
    ]
    .iter()
    .any(|w| last.ends_with(w))
}

/// Every name a service is reached by on its networks: its own, then its
/// network aliases (a service's name wins over another's alias).
fn names_of(services: &[String], services_v: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = services.iter().map(|s| (s.clone(), s.clone())).collect();
    for n in services {
        let nets = services_v[n].get("networks").and_then(Value::as_object);
        for cfg in nets.into_iter().flat_map(|m| m.values()) {
            for alias in cfg.get("aliases").and_then(Value::as_array).into_iter().flatten().filter_map(as_str) {
                names.entry(alias).or_insert_with(|| n.clone());
            }
        }
    }
    names
}

fn probe_of(test: &str, ports: &[u16]) -> s::HealthTest {
    let t = test.to_ascii_lowercase();
    let port_in = |t: &str| {
        t.split(|c: char| !c.is_ascii_digit())
            .filter_map(|x| x.parse::<u16>().ok())
            .find(|p| *p >= 80 && ports.contains(p))
    };
    if t.contains("curl") || t.contains("wget") || t.contains("http") {
        return s::HealthTest::Http(port_in(&t).or(ports.first().copied()).unwrap_or(80));
    }
    let known =
        [("pg_isready", 5432), ("mysqladmin", 3306), ("healthcheck.sh", 3306), ("redis-cli", 6379), ("mongo", 27017)];
    if let Some((_, p)) = known.iter().find(|(k, _)| t.contains(k)) {
        return s::HealthTest::Tcp(*p);
    }
    ports.first().map_or(s::HealthTest::Ready, |p| s::HealthTest::Tcp(*p))
}

/// A healthcheck's command as one line: a list's words after its
/// `CMD` / `CMD-SHELL`, or the string; `None` for `["NONE"]` (no check).
fn test_command(test: Option<&Value>) -> Option<String> {
    Some(match test {
        Some(Value::Array(a)) => {
            let parts: Vec<String> = a.iter().filter_map(as_str).collect();
            if parts.first().map(String::as_str) == Some("NONE") {
                return None;
            }
            parts.iter().skip(1).cloned().collect::<Vec<_>>().join(" ")
        }
        Some(v) => as_str(v).unwrap_or_default(),
        None => String::new(),
    })
}

fn healthcheck(h: &Value, ports: &[u16]) -> Option<s::Healthcheck> {
    let m = h.as_object()?;
    if m.get("disable").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let test = test_command(m.get("test"))?;
    Some(s::Healthcheck {
        test: probe_of(&test, ports),
        interval: dur(m.get("interval")),
        timeout: dur(m.get("timeout")),
        retries: m.get("retries").and_then(Value::as_u64).map(|r| r as u32),
        start_period: dur(m.get("start_period")),
        start_interval: dur(m.get("start_interval")),
    })
}

fn restart(svc: &Map<String, Value>) -> Option<String> {
    if let Some(r) = svc.get("restart").and_then(as_str) {
        return Some(r);
    }
    let p = svc.get("deploy")?.get("restart_policy")?;
    let cond = p.get("condition").and_then(as_str).unwrap_or_else(|| "any".into());
    let max = p.get("max_attempts").and_then(Value::as_u64);
    Some(match (cond.as_str(), max) {
        ("none", _) => "no".into(),
        ("on-failure", Some(n)) => format!("on-failure:{n}"),
        ("on-failure", None) => "on-failure".into(),
        _ => "always".into(),
    })
}

struct Ctx<'a> {
    /// The directory of the first compose file (`env_file` paths are relative to it).
    base: Option<&'a std::path::Path>,
    services: Vec<String>,
    /// Names that reach a service: see [`names_of`].
    names: BTreeMap<String, String>,
    overlay: &'a Overlay,
    warnings: Vec<String>,
    calls: Vec<(String, String, u16)>,
    listens: BTreeMap<String, Vec<u16>>,
    /// Services another waits for with `service_completed_successfully`:
    /// one-shot jobs (a migration, a seeder), whose program ends.
    jobs: std::collections::BTreeSet<String>,
}

impl Ctx<'_> {
    fn container(&mut self, name: &str, svc: &Map<String, Value>) -> s::Container {
        for k in svc.keys().filter(|k| !k.starts_with("x-") && !KNOWN.contains(&k.as_str())) {
            self.warnings.push(format!("service {name}: unknown key `{k}` ignored"));
        }
        // Sysctls of what the simulation reproduces with Linux's defaults
        // (TCP's SYN retries and timers, the accept backlog's cap, the
        // ephemeral ports) are not modelled per container: say so instead
        // of keeping quiet. Others (routing marks, forwarding) change
        // nothing simulated.
        let modelled = ["net.ipv4.tcp_", "net.core.somaxconn", "net.ipv4.ip_local_port_range"];
        let net_sysctls: Vec<String> = pairs(svc.get("sysctls"), '=')
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| modelled.iter().any(|m| k.starts_with(m)))
            .collect();
        if !net_sysctls.is_empty() {
            let keys = net_sysctls.join(", ");
            self.warnings.push(format!("service {name}: sysctls {keys} not modelled; the kernel's defaults apply"));
        }
        let mut c = s::Container { service: Some(name.to_string()), ..s::Container::default() };
        c.image = svc.get("image").and_then(as_str);
        c.hostname = svc.get("hostname").and_then(as_str);
        c.stop_grace_period = dur(svc.get("stop_grace_period"));
        c.restart = restart(svc);
        let replicas = svc.get("deploy").and_then(|d| d.get("replicas")).or(svc.get("scale")).and_then(Value::as_u64);
        // Saturating: a count past u32 is still too many (lowering says so), never a wrapped small one.
        c.replicas = replicas.filter(|&n| n != 1).map(|n| u32::try_from(n.max(1)).unwrap_or(u32::MAX));
        let mut env: Vec<(String, String)> = vec![];
        let files: Vec<String> = match svc.get("env_file") {
            Some(Value::Array(a)) => {
                a.iter().filter_map(|x| x.get("path").and_then(as_str).or_else(|| as_str(x))).collect()
            }
            Some(v) => as_str(v).into_iter().collect(),
            None => vec![],
        };
        for f in files {
            let path = self.base.map_or_else(|| std::path::PathBuf::from(&f), |b| b.join(&f));
            match std::fs::read_to_string(&path) {
                Ok(t) => env.extend(parse_env_file(&t)),
                Err(e) => self.warnings.push(format!("service {name}: env_file {} not read: {e}", path.display())),
            }
        }
        for (k, v) in pairs(svc.get("environment"), '=') {
            env.retain(|(x, _)| *x != k);
            env.push((k, v));
        }
        c.env = s::Ordered(env);
        c.extra_hosts = s::Ordered(
            pairs(svc.get("extra_hosts"), ':')
                .into_iter()
                .map(|(k, v)| (k, v.trim_start_matches(':').to_string()))
                .collect(),
        );
        c.links = svc
            .get("links")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(as_str).collect())
            .unwrap_or_default();
        // `dns_opt`: the resolver options the simulation reproduces pass
        // through; the others (rotate, edns0, single-request, …) are warned of.
        for o in strings(svc.get("dns_opt")) {
            let key = o.split_once(':').map_or(o.as_str(), |(k, _)| k);
            match key {
                "timeout" | "attempts" | "ndots" => c.dns_options.push(o),
                _ => self.warnings.push(format!("service {name}: dns_opt `{o}` not modelled")),
            }
        }
        // `entrypoint` then `command`, as the process's argv: the start-up
        // gates in it.
        let argv: Vec<String> = ["entrypoint", "command"].iter().flat_map(|k| strings(svc.get(*k))).collect();
        c.wait_for = wait_gates(&argv.join(" "));
        self.networks(name, svc, &mut c);
        c.ports = self.ports(name, svc);
        let listens = self.overlay.listens.get(name).cloned().unwrap_or_else(|| self.listens[name].clone());
        c.healthcheck = svc.get("healthcheck").and_then(|h| healthcheck(h, &listens));
        c.depends_on = self.depends_on(svc);
        let image_startup = c.image.as_deref().and_then(image_info).map(|(_, d)| d).unwrap_or(APP_STARTUP);
        c.startup = Some(
            self.overlay
                .startup
                .get(name)
                .copied()
                .unwrap_or_else(|| s::DelayStr(Delay::parse(image_startup).expect("valid"))),
        );
        c.program = self.program(name, svc, &c, &listens);
        c
    }

    fn networks(&mut self, name: &str, svc: &Map<String, Value>, c: &mut s::Container) {
        if let Some(mode) = svc.get("network_mode").and_then(as_str) {
            let mode = match mode.as_str() {
                "bridge" => "bridge".to_string(),
                "host" | "none" => mode.clone(),
                m if m.starts_with("service:") || m.starts_with("container:") => {
                    format!("container:{}", &m[m.find(':').unwrap_or(0) + 1..])
                }
                other => {
                    self.warnings.push(format!(
                        "service {name}: network_mode `{other}` not modelled; using the default network"
                    ));
                    "default".into()
                }
            };
            c.networks = Some(vec![mode]);
            return;
        }
        match svc.get("networks") {
            Some(Value::Array(a)) => c.networks = Some(a.iter().filter_map(as_str).collect()),
            Some(Value::Object(m)) => {
                c.networks = Some(m.keys().cloned().collect());
                for (n, cfg) in m {
                    if let Some(al) = cfg.get("aliases").and_then(Value::as_array) {
                        c.aliases.0.push((n.clone(), al.iter().filter_map(as_str).collect()));
                    }
                    if let Some(ip) = cfg.get("ipv4_address").and_then(as_str).and_then(|x| x.parse().ok()) {
                        c.ipv4_address.0.push((n.clone(), s::IpStr(ip)));
                    }
                    if let Some(p) = cfg.get("priority").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok()) {
                        c.priority.0.push((n.clone(), p));
                    }
                }
            }
            _ => c.networks = Some(vec!["default".into()]),
        }
    }

    fn ports(&mut self, name: &str, svc: &Map<String, Value>) -> Vec<String> {
        let mut out = vec![];
        for p in svc.get("ports").and_then(Value::as_array).into_iter().flatten() {
            let (spec, proto) = match p {
                Value::Object(m) => {
                    let t = m.get("target").and_then(as_str).unwrap_or_default();
                    let h = m.get("published").and_then(as_str).unwrap_or_else(|| t.clone());
                    let ip = m.get("host_ip").and_then(as_str).map_or(String::new(), |i| format!("{i}:"));
                    (format!("{ip}{h}:{t}"), m.get("protocol").and_then(as_str).unwrap_or_else(|| "tcp".into()))
                }
                v => {
                    let x = as_str(v).unwrap_or_default();
                    let (a, b) = x
                        .split_once('/')
                        .map_or((x.clone(), "tcp".to_string()), |(a, b)| (a.to_string(), b.to_string()));
                    (a, b)
                }
            };
            if proto != "tcp" {
                self.warnings.push(format!("service {name}: port {spec}/{proto} not modelled (UDP)"));
                continue;
            }
            match expand_range(&spec) {
                Some(v) => out.extend(v),
                None => self.warnings.push(format!("service {name}: port `{spec}` not understood")),
            }
        }
        out
    }

    fn depends_on(&self, svc: &Map<String, Value>) -> s::Ordered<s::DependsOn> {
        let dep =
            |cond: s::DepCondition, required: bool, restart: bool| s::DependsOn { condition: cond, required, restart };
        match svc.get("depends_on") {
            Some(Value::Array(a)) => s::Ordered(
                a.iter().filter_map(as_str).map(|n| (n, dep(s::DepCondition::Started, true, false))).collect(),
            ),
            // An optional dependency on a service its profiles disable is
            // dropped (`check_references` warned).
            Some(Value::Object(m)) => s::Ordered(
                m.iter()
                    .filter(|(n, _)| self.services.contains(n))
                    .map(|(n, cfg)| {
                        let cond = match cfg.get("condition").and_then(as_str).as_deref() {
                            Some("service_healthy") => s::DepCondition::Healthy,
                            Some("service_completed_successfully") => s::DepCondition::CompletedSuccessfully,
                            _ => s::DepCondition::Started,
                        };
                        let required = cfg.get("required").and_then(Value::as_bool).unwrap_or(true);
                        let restart = cfg.get("restart").and_then(Value::as_bool).unwrap_or(false);
                        (n.clone(), dep(cond, required, restart))
                    })
                    .collect(),
            ),
            _ => s::Ordered::default(),
        }
    }

    /// What the service's process does: serves its first port, calling the
    /// first service it depends on or names in its environment.
    fn program(&mut self, name: &str, svc: &Map<String, Value>, c: &s::Container, listens: &[u16]) -> s::Program {
        let mut calls: Vec<(String, u16)> = vec![];
        if let Some(over) = self.overlay.calls.get(name) {
            calls = over
                .iter()
                .filter_map(|t| t.rsplit_once(':').and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?))))
                .collect();
        } else {
            // The caller's own link aliases (`links: ["db:database"]`) name
            // services too — for it alone.
            let mut names = self.names.clone();
            for link in &c.links {
                if let Some((target, alias)) =
                    link.split_once(':').filter(|(t, _)| self.services.contains(&t.to_string()))
                {
                    names.insert(alias.to_string(), target.to_string());
                }
            }
            for (k, v) in &c.env.0 {
                if let Some((svc_name, port)) = referenced(k, v, &names) {
                    let port = port.or_else(|| self.listens.get(&svc_name).and_then(|p| p.first().copied()));
                    if let (Some(p), false) = (port, svc_name == name) {
                        calls.push((svc_name, p));
                    }
                }
            }
            for (dep, _) in &c.depends_on.0 {
                if let Some(&p) = self.listens.get(dep).and_then(|v| v.first()) {
                    calls.push((dep.clone(), p));
                }
            }
        }
        let mut seen = vec![];
        calls.retain(|x| {
            !seen.contains(&x.0) && {
                seen.push(x.0.clone());
                true
            }
        });
        for (callee, port) in &calls {
            self.calls.push((name.to_string(), callee.clone(), *port));
        }
        let retry = self.overlay.retry.clone().unwrap_or(s::Retry::Exponential {
            first: s::D(Dur::secs(1)),
            factor: Some(2.0),
            max: Some(s::D(Dur::secs(16))),
            attempts: 5,
            jitter: 0.0,
        });
        let _ = svc;
        let proxy_image = c
            .image
            .as_deref()
            .is_some_and(|i| ["nginx", "httpd", "traefik", "haproxy", "envoy", "caddy"].iter().any(|k| i.contains(k)));
        match (listens.first(), calls.first()) {
            (Some(&port), Some(_)) if proxy_image => s::Program::Proxy(s::Proxy {
                port: Some(port),
                upstreams: calls.iter().map(|(h, p)| format!("{h}:{p}")).collect(),
                mode: s::ProxyMode::Http,
                resolve_every: None,
                max_fails: None,
                fail_timeout: None,
                connect_timeout: None,
                read_timeout: None,
                tries: None,
                next_upstream: None,
                reuse_servers: false,
                breaker: None,
                retry_budget: None,
                upstream_tls: None,
            }),
            // Requests go to the first callee; the others (a cache, a
            // broker) are connected at start and kept open.
            (Some(&port), Some((callee, p))) => s::Program::Server(s::Server {
                port: Some(port),
                backend: Some(format!("{callee}:{p}")),
                backend_retry: Some(retry),
                also: calls[1..].iter().map(|(h, p)| format!("{h}:{p}")).collect(),
                ..s::Server::default()
            }),
            (Some(&port), None) => s::Program::Server(s::Server { port: Some(port), ..s::Server::default() }),
            // A job does its work over one connection (one request and its
            // answer) and exits 0; out of attempts it exits 1, which fails
            // the services waiting for it.
            (None, Some((callee, p))) if self.jobs.contains(name) => s::Program::Client(s::Client {
                target: format!("{callee}:{p}"),
                connect_timeout: Some(s::D(Dur::secs(10))),
                retry,
                requests: Some(s::Requests { count: 1, interval: None, timeout: None, size: None }),
                give_up_exit: Some(1),
                exit_when_done: Some(0),
                tls: false,
            }),
            // A worker using several services (a broker and a database)
            // holds a connection to each, listening on nothing.
            (None, Some((callee, p))) if calls.len() > 1 => s::Program::Server(s::Server {
                listen: Some(false),
                backend: Some(format!("{callee}:{p}")),
                backend_retry: Some(retry),
                also: calls[1..].iter().map(|(h, p)| format!("{h}:{p}")).collect(),
                ..s::Server::default()
            }),
            (None, Some((callee, p))) => s::Program::Client(s::Client {
                target: format!("{callee}:{p}"),
                connect_timeout: Some(s::D(Dur::secs(10))),
                retry,
                requests: None,
                give_up_exit: None,
                exit_when_done: None,
                tls: false,
            }),
            (None, None) if self.jobs.contains(name) => s::Program::Exit { after: None, code: 0 },
            (None, None) => s::Program::Idle,
        }
    }
}

/// `"8080-8081:80-81"` → `["8080:80", "8081:81"]`.
fn expand_range(spec: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, h, c) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return None,
    };
    let range = |x: &str| -> Option<(u16, u16)> {
        match x.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None if x.is_empty() => None,
            None => x.parse().ok().map(|p| (p, p)),
        }
    };
    let (c0, c1) = range(c)?;
    if h.is_empty() {
        // No host port: Docker draws one per mapping from its ephemeral range.
        let ip = if ip.is_empty() { String::new() } else { format!("{ip}::") };
        return (c1 >= c0).then(|| (c0..=c1).map(|p| format!("{ip}{p}")).collect());
    }
    let (h0, h1) = range(h)?;
    // Docker's rules (`nat.ParsePortSpec`): a range runs upwards, and a host
    // range of another length than the container's is allowed only for one
    // container port — the range Docker picks the host port from (here its
    // first). So the host ports below never pass `h1`.
    if c1 < c0 || h1 < h0 || (h1 - h0 != c1 - c0 && c0 != c1) {
        return None;
    }
    let ip = if ip.is_empty() { String::new() } else { format!("{ip}:") };
    Some((0..=c1 - c0).map(|k| format!("{ip}{}:{}", h0 + k, c0 + k)).collect())
}

/// Compose creates a service after the one whose network namespace it
/// joins (`network_mode: service:X`), wherever the file defines it, while a
/// scenario lists X first: a stable order that moves each such X ahead of
/// the services joining it (`services[i]` names `containers[i]`; a cycle is
/// left as it is, for the lowering to report).
fn namespace_order(containers: &mut Vec<(String, s::Container)>, services: &[String]) {
    let shared = |c: &s::Container| -> Option<String> {
        c.networks.as_ref()?.first()?.strip_prefix("container:").map(str::to_string)
    };
    let target: Vec<Option<usize>> = containers
        .iter()
        .map(|(_, c)| {
            let t = shared(c)?;
            (0..containers.len()).find(|&j| containers[j].0 == t || services[j] == t)
        })
        .collect();
    // 0: not placed, 1: on the chain being followed, 2: placed.
    let mut state = vec![0u8; containers.len()];
    let mut order = Vec::with_capacity(containers.len());
    for i in 0..containers.len() {
        let mut chain = vec![];
        let mut k = Some(i);
        while let Some(j) = k.filter(|&j| state[j] == 0) {
            state[j] = 1;
            chain.push(j);
            k = target[j];
        }
        for &j in chain.iter().rev() {
            state[j] = 2;
            order.push(j);
        }
    }
    let mut taken: Vec<Option<(String, s::Container)>> = std::mem::take(containers).into_iter().map(Some).collect();
    containers.extend(order.into_iter().filter_map(|i| taken[i].take()));
}

/// One compose file parsed (YAML) and interpolated.
fn parse_yaml(
    file: &str,
    src: &str,
    env: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Value, Diagnostics> {
    let mut v: Value = if src.trim().is_empty() {
        Value::Null
    } else {
        serde_saphyr::from_str(src).map_err(|e| {
            let mut d = Diagnostics::new(file, src);
            let msg = e.to_string();
            let (line, col) = yaml_position(&msg);
            let (off, len) = super::diag::offset_of(src, line, col);
            d.push(off, len, yaml_message(&msg), Some("check the YAML syntax".into()));
            d
        })?
    };
    interpolate_tree(&mut v, env, warnings).map_err(|e| {
        let var = e.split_whitespace().nth(2).unwrap_or("").to_string();
        problem(file, src, &[&var], e, "set it in .env or with --env-file")
    })?;
    Ok(v)
}

/// How deep `include`s and `extends` may nest (a cycle ends here).
const MAX_NESTING: usize = 16;

/// A problem at `path` (see [`locate`]) of a compose file.
fn problem(file: &str, src: &str, path: &[&str], msg: String, hint: &str) -> Diagnostics {
    let mut d = Diagnostics::new(file, src);
    let (off, len) = locate(src, path);
    d.push(off, len, msg, Some(hint.into()));
    d
}

/// One compose file: parsed, interpolated, its services' `extends`
/// resolved and its `include`d files' services added. `dir` is where its
/// relative paths start.
fn load_compose(
    file: &str,
    src: &str,
    env: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
    dir: &std::path::Path,
    depth: usize,
) -> Result<Value, Diagnostics> {
    let mut v = parse_yaml(file, src, env, warnings)?;
    let Some(root) = v.as_object_mut() else { return Ok(v) };
    if let Some(Value::Object(services)) = root.get("services") {
        let resolved = services
            .keys()
            .map(|name| Ok((name.clone(), extended(name, services, file, src, dir, env, warnings, 0)?)))
            .collect::<Result<Map<String, Value>, Diagnostics>>()?;
        root.insert("services".into(), Value::Object(resolved));
    }
    let Some(include) = root.remove("include") else { return Ok(v) };
    // Entries are paths, or maps whose `path` is one path or several, with
    // an optional `project_directory` and `env_file`.
    let entries = match include {
        Value::Array(a) => a,
        other => vec![other],
    };
    let included: Vec<(String, Option<&Value>)> = entries
        .iter()
        .flat_map(|e| strings(Some(e.get("path").unwrap_or(e))).into_iter().map(move |p| (p, Some(e))))
        .collect();
    for (path, entry) in included {
        let at = ["include", path.as_str()];
        if depth >= MAX_NESTING {
            let msg = format!("includes nested more than {MAX_NESTING} deep");
            return Err(problem(file, src, &at, msg, "a file includes itself, directly or not"));
        }
        let p = dir.join(&path);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            let msg = format!("cannot read the included file {}: {e}", p.display());
            problem(file, src, &at, msg, "include paths are relative to the including file")
        })?;
        // Its project directory (where its own relative paths start) and
        // its variables: the including project's, overridden by its
        // `env_file` — by default the `.env` in its project directory —
        // as compose-go's `ApplyInclude` merges them.
        let field = |k: &str| entry.filter(|e| e.is_object()).and_then(|e| e.get(k));
        let sub_dir = match strings(field("project_directory")).first() {
            Some(d) => dir.join(d),
            None => p.parent().unwrap_or(dir).to_path_buf(),
        };
        let explicit = strings(field("env_file"));
        let env_files: Vec<std::path::PathBuf> = match explicit.is_empty() {
            true => Some(sub_dir.join(".env")).filter(|f| f.is_file()).into_iter().collect(),
            false => explicit.iter().map(|f| dir.join(f)).collect(),
        };
        let mut sub_env = env.clone();
        for f in env_files {
            let text = std::fs::read_to_string(&f).map_err(|e| {
                let msg = format!("cannot read the include's env file {}: {e}", f.display());
                problem(file, src, &at, msg, "env_file paths are relative to the including file")
            })?;
            sub_env.extend(parse_env_file(&text));
        }
        let sub = load_compose(&p.display().to_string(), &text, &sub_env, warnings, &sub_dir, depth + 1)?;
        for kind in ["services", "networks", "volumes", "secrets", "configs"] {
            let Some(Value::Object(theirs)) = sub.get(kind) else { continue };
            let ours = root.entry(kind.to_string()).or_insert_with(|| Value::Object(Map::new()));
            let Some(ours) = ours.as_object_mut() else { continue };
            for (name, x) in theirs {
                if !ours.contains_key(name) {
                    ours.insert(name.clone(), x.clone());
                } else if kind == "services" {
                    let msg = format!("service `{name}` is defined here and in the included {path}");
                    return Err(problem(file, src, &at, msg, "Compose refuses a project whose include conflicts"));
                } else if ours[name] != *x {
                    warnings
                        .push(format!("{kind} `{name}` of the included {path} differs from {file}'s: {file}'s kept"));
                }
            }
        }
    }
    Ok(v)
}

/// Service `name` of `services` (one file's) with its `extends` resolved:
/// the service it names (in this file, or in `file:` relative to this
/// one), itself resolved, with this service's own keys merged over it as
/// several files are merged. Compose keeps the base's `depends_on` as
/// well (docker/compose#12423), whatever older documentation said.
#[allow(clippy::too_many_arguments)]
fn extended(
    name: &str,
    services: &Map<String, Value>,
    file: &str,
    src: &str,
    dir: &std::path::Path,
    env: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<Value, Diagnostics> {
    let mut svc = services.get(name).cloned().unwrap_or(Value::Null);
    let Some(ext) = svc.as_object_mut().and_then(|m| m.remove("extends")) else { return Ok(svc) };
    let at = ["services", name, "extends"];
    if depth >= MAX_NESTING {
        let msg = format!("extends chained more than {MAX_NESTING} deep");
        return Err(problem(file, src, &at, msg, "a service extends itself, directly or not"));
    }
    let (other, target) = match &ext {
        Value::Object(m) => (m.get("file").and_then(as_str), m.get("service").and_then(as_str)),
        other => (None, as_str(other)),
    };
    let Some(target) = target else {
        let msg = "extends names no service".to_string();
        return Err(problem(file, src, &at, msg, "write `extends: NAME` or `extends: {service: NAME, file: FILE}`"));
    };
    let mut base = match other {
        None if services.contains_key(&target) => {
            extended(&target, services, file, src, dir, env, warnings, depth + 1)?
        }
        None => {
            let msg = format!("extends `{target}`, which this file does not define");
            return Err(problem(file, src, &at, msg, "name a service of this file, or add `file:`"));
        }
        Some(f) => {
            let p = dir.join(&f);
            let text = std::fs::read_to_string(&p).map_err(|e| {
                let msg = format!("cannot read {}: {e}", p.display());
                problem(file, src, &at, msg, "extends paths are relative to the extending file")
            })?;
            let pf = p.display().to_string();
            let theirs = parse_yaml(&pf, &text, env, warnings)?;
            let Some(Value::Object(theirs)) = theirs.get("services") else {
                let msg = format!("{pf} defines no services");
                return Err(problem(file, src, &at, msg, "extends names a service of another compose file"));
            };
            if !theirs.contains_key(&target) {
                let msg = format!("{pf} does not define `{target}`");
                return Err(problem(file, src, &at, msg, "extends names a service of another compose file"));
            }
            let sub_dir = p.parent().unwrap_or(dir).to_path_buf();
            extended(&target, theirs, &pf, &text, &sub_dir, env, warnings, depth + 1)?
        }
    };
    merge(&mut base, svc);
    Ok(base)
}

/// Imports compose files (merged in order) into a scenario.
pub fn import(
    files: &[(String, String)],
    env: &BTreeMap<String, String>,
    overlay: &Overlay,
    base: Option<&std::path::Path>,
) -> Result<Imported, Diagnostics> {
    let mut warnings = vec![];
    let mut merged = Value::Object(Map::new());
    let dir = base.unwrap_or(std::path::Path::new("."));
    for (file, src) in files {
        let v = load_compose(file, src, env, &mut warnings, dir, 0)?;
        if !v.is_null() {
            merge(&mut merged, v);
        }
    }
    let (first_file, first_src) = files.first().cloned().unwrap_or_default();
    sort_keys(&mut merged);
    let root = merged.as_object().cloned().unwrap_or_default();
    for k in root.keys().filter(|k| {
        !k.starts_with("x-")
            && !["services", "networks", "volumes", "secrets", "configs", "name", "version", "include"]
                .contains(&k.as_str())
    }) {
        warnings.push(format!("top-level key `{k}` ignored"));
    }
    let mut services_v = root.get("services").and_then(Value::as_object).cloned().unwrap_or_default();
    for svc in services_v.values_mut().filter_map(Value::as_object_mut) {
        implied_dependencies(svc);
    }
    let profiles = &overlay.profiles;
    let services: Vec<String> = services_v
        .iter()
        .filter(|(n, svc)| {
            let p: Vec<String> = svc
                .get("profiles")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(as_str).collect())
                .unwrap_or_default();
            let on = p.is_empty() || profiles.iter().any(|x| x == "*" || p.contains(x));
            if !on {
                warnings.push(format!("service {n} skipped: profiles {p:?} not enabled"));
            }
            on
        })
        .map(|(n, _)| n.clone())
        .collect();
    let declared = root.get("networks").and_then(Value::as_object);
    check_references(files, &services_v, &services, declared, &mut warnings)?;
    let mut networks = s::Ordered::default();
    for (n, cfg) in root.get("networks").and_then(Value::as_object).into_iter().flatten() {
        let internal = cfg.get("internal").and_then(Value::as_bool).unwrap_or(false);
        let driver = cfg.get("driver").and_then(as_str).unwrap_or_else(|| "bridge".into());
        if cfg.get("external").and_then(Value::as_bool) == Some(true) {
            warnings.push(format!("network {n} is external: modelled as a bridge created beforehand"));
        }
        let ipam =
            cfg.get("ipam").and_then(|i| i.get("config")).and_then(Value::as_array).and_then(|a| a.first().cloned());
        let field = |k: &str| ipam.as_ref().and_then(|c| c.get(k)).and_then(as_str);
        let cidr = |k: &str| field(k).and_then(|x| crate::net::addr::Subnet::parse(&x).ok()).map(s::SubnetStr);
        let (subnet, ip_range) = (cidr("subnet"), cidr("ip_range"));
        let gateway = field("gateway").and_then(|x| x.parse().ok()).map(s::IpStr);
        // The bridge driver's options the simulation reproduces: inter-
        // container traffic off; the others are named in a warning.
        let mut icc = None;
        for (k, v) in cfg.get("driver_opts").and_then(Value::as_object).into_iter().flatten() {
            match (k.as_str(), as_str(v).as_deref()) {
                // Read with Go's `strconv.ParseBool`, as the bridge driver reads it.
                ("com.docker.network.bridge.enable_icc", Some("0" | "f" | "F" | "false" | "FALSE" | "False")) => {
                    icc = Some(false)
                }
                ("com.docker.network.bridge.enable_icc", Some("1" | "t" | "T" | "true" | "TRUE" | "True")) => {
                    icc = Some(true)
                }
                ("com.docker.network.bridge.enable_icc", v) => warnings.push(format!(
                    "network {n}: enable_icc `{}` is not a boolean (Docker refuses the network): ignored",
                    v.unwrap_or_default()
                )),
                ("com.docker.network.driver.mtu" | "com.docker.network.bridge.name", _) => {}
                _ => warnings.push(format!("network {n}: driver_opts `{k}` not modelled")),
            }
        }
        let net = if driver == "overlay" {
            s::Network::Overlay(s::Overlay { subnet, internal, ..s::Overlay::default() })
        } else {
            s::Network::Bridge(s::Bridge { subnet, gateway, ip_range, internal, icc, ..s::Bridge::default() })
        };
        networks.0.push((n.clone(), net));
    }
    let mut listens: BTreeMap<String, Vec<u16>> = services
        .iter()
        .map(|n| {
            (
                n.clone(),
                overlay
                    .listens
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| listening(services_v[n].as_object().unwrap_or(&Map::new()))),
            )
        })
        .collect();
    // A port another service's environment names for a service
    // (`API_URL=http://api:8000`) is one it serves, unless the overlay
    // says what it listens on.
    let names = names_of(&services, &services_v);
    for caller in &services {
        for (k, v) in pairs(services_v[caller].get("environment"), '=') {
            let Some((callee, Some(port))) = referenced(&k, &v, &names) else { continue };
            let ports = listens.entry(callee.clone()).or_default();
            if callee != *caller && overlay.listens.get(&callee).is_none() && !ports.contains(&port) {
                ports.push(port);
            }
        }
    }
    let jobs = services
        .iter()
        .filter_map(|n| services_v[n].get("depends_on").and_then(Value::as_object))
        .flat_map(|deps| deps.iter())
        .filter(|(_, cfg)| cfg.get("condition").and_then(as_str).as_deref() == Some("service_completed_successfully"))
        .map(|(dep, _)| dep.clone())
        .collect();
    let mut cx = Ctx { base, services: services.clone(), names, overlay, warnings, calls: vec![], listens, jobs };
    let mut containers = s::Ordered::default();
    for n in &services {
        let svc = services_v[n].as_object().cloned().unwrap_or_default();
        let name = svc.get("container_name").and_then(as_str).unwrap_or_else(|| n.clone());
        let c = cx.container(n, &svc);
        containers.0.push((name, c));
    }
    namespace_order(&mut containers.0, &services);
    let uses_default =
        containers.0.iter().any(|(_, c)| c.networks.as_ref().is_some_and(|v| v.iter().any(|x| x == "default")));
    if uses_default && !networks.0.iter().any(|(n, _)| n == "default") {
        networks.0.insert(0, ("default".into(), s::Network::Bridge(s::Bridge::default())));
    }
    let name = root
        .get("name")
        .and_then(as_str)
        .unwrap_or_else(|| first_file.rsplit('/').next().unwrap_or("compose").to_string());
    let scenario = s::Scenario {
        name: format!("compose: {name}"),
        description: format!("imported from {}", files.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(", ")),
        seed: 0,
        until: s::D(Dur::secs(120)),
        max_events: 10_000_000,
        kernel: s::Kernel::default(),
        dns: s::Dns::default(),
        nodes: vec![],
        networks,
        containers,
        up_wait: None,
        actions: vec![],
        expect: vec![],
        chaos: None,
        converge: None,
    };
    let _ = first_src;
    Ok(Imported { scenario, warnings: cx.warnings, calls: cx.calls })
}

/// What Compose's normalisation (compose-go `normalize`) adds to a
/// service's `depends_on`: the services it links to, shares a namespace
/// with (`network_mode`, `ipc`, `pid`, `uts`, `cgroup` as `service:X`) or
/// takes volumes from, each `service_started` (restart, required) unless
/// the service already names it. A list becomes the map it stands for.
fn implied_dependencies(svc: &mut Map<String, Value>) {
    let strings = |k: &str| strings(svc.get(k));
    let mut implied: Vec<String> =
        strings("links").iter().map(|l| l.split(':').next().unwrap_or(l).to_string()).collect();
    for k in ["network_mode", "ipc", "pid", "uts", "cgroup"] {
        implied.extend(strings(k).iter().filter_map(|m| m.strip_prefix("service:").map(String::from)));
    }
    let from = strings("volumes_from");
    implied.extend(
        from.iter().filter(|v| !v.starts_with("container:")).map(|v| v.split(':').next().unwrap_or(v).to_string()),
    );
    if implied.is_empty() {
        return;
    }
    let mut deps = match svc.remove("depends_on") {
        Some(Value::Object(m)) => m,
        Some(Value::Array(a)) => {
            let started = || serde_json::json!({ "condition": "service_started" });
            a.iter().filter_map(as_str).map(|d| (d, started())).collect()
        }
        _ => Map::new(),
    };
    for dep in implied {
        let dep_cfg = || serde_json::json!({ "condition": "service_started", "restart": true, "required": true });
        deps.entry(dep).or_insert_with(dep_cfg);
    }
    svc.insert("depends_on".into(), Value::Object(deps));
}

/// The profiles a compose command enables: those given with `--profile`,
/// else `COMPOSE_PROFILES` (comma-separated) from the variables read from
/// the .env and --env-file files, as Compose takes them.
pub fn active_profiles(flags: &[String], env: &BTreeMap<String, String>) -> Vec<String> {
    if !flags.is_empty() {
        return flags.to_vec();
    }
    let listed = env.get("COMPOSE_PROFILES").map_or("", String::as_str);
    listed.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()
}

/// What Compose's consistency check (compose-go `checkConsistency`) refuses
/// among the enabled services' references: a `depends_on` entry naming a
/// service that is not defined, or one its profiles disable unless the
/// entry says `required: false` (then it is dropped, with a warning) — the
/// dependencies `implied_dependencies` added (links, `network_mode:
/// service:X`, …) included, as Compose normalises before it checks —, and a
/// network not declared under `networks:`. The error points at the
/// reference in the last file that writes it.
fn check_references(
    files: &[(String, String)],
    services_v: &Map<String, Value>,
    services: &[String],
    networks: Option<&Map<String, Value>>,
    warnings: &mut Vec<String>,
) -> Result<(), Diagnostics> {
    let disabled = |dep: &str| {
        services_v.get(dep).and_then(|d| d.get("profiles")).map(|p| {
            let p: Vec<String> = p.as_array().into_iter().flatten().filter_map(as_str).collect();
            format!("`{dep}` is disabled by its profiles {p:?}")
        })
    };
    // The reference in the last file that writes it: where the path leads
    // to it, or (a dependency `implied_dependencies` added) to the name
    // written anywhere in the service.
    let refuse = |path: &[&str], msg: String, hint: String| {
        let last = path.last().copied().unwrap_or_default();
        let lands = |src: &str, path: &[&str]| {
            let (off, len) = locate(src, path);
            src.get(off..off + len).is_some_and(|t| t.trim_matches(|c| c == '"' || c == '\'') == last)
        };
        let anywhere = [path[0], path[1], last];
        let found = [path, &anywhere[..]]
            .into_iter()
            .find_map(|p| files.iter().rev().find(|(_, src)| lands(src, p)).map(|f| (f, p)));
        let none = (String::new(), String::new());
        let ((file, src), at) = found.unwrap_or((files.first().unwrap_or(&none), path));
        Err(problem(file, src, at, msg, &hint))
    };
    for n in services {
        let svc = &services_v[n];
        let deps: Vec<(String, bool)> = match svc.get("depends_on") {
            Some(Value::Array(a)) => a.iter().filter_map(as_str).map(|d| (d, true)).collect(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(d, cfg)| (d.clone(), cfg.get("required").and_then(Value::as_bool).unwrap_or(true)))
                .collect(),
            _ => vec![],
        };
        for (dep, required) in deps.into_iter().filter(|(d, _)| !services.contains(d)) {
            match disabled(&dep) {
                Some(why) if !required => warnings.push(format!("service {n}: optional dependency skipped: {why}")),
                why => {
                    let msg =
                        format!("service \"{n}\" depends on undefined service \"{dep}\": invalid compose project");
                    let hint = match why {
                        Some(why) => format!(
                            "{why}: enable one with the overlay's `profiles`, or mark the dependency `required: false`"
                        ),
                        None => did_you_mean(&dep, services_v.keys().map(String::as_str))
                            .unwrap_or_else(|| "define it under `services`, or remove the dependency".into()),
                    };
                    return refuse(&["services", n, "depends_on", &dep], msg, hint);
                }
            }
        }
        let joined: Vec<String> = match svc.get("networks") {
            Some(Value::Array(a)) => a.iter().filter_map(as_str).collect(),
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            _ => vec![],
        };
        if let Some(net) = joined.iter().find(|n| *n != "default" && !networks.is_some_and(|m| m.contains_key(*n))) {
            let msg = format!("service \"{n}\" refers to undefined network {net}: invalid compose project");
            let hint = did_you_mean(net, networks.into_iter().flat_map(|m| m.keys().map(String::as_str)))
                .unwrap_or_else(|| format!("declare it under the top-level `networks:` (`{net}: {{}}`)"));
            return refuse(&["services", n, "networks", net], msg, hint);
        }
    }
    Ok(())
}

/// What a serde-saphyr error says, without its own "error: line L column
/// C: " prefix: the diagnostic gives the location and the word "error".
fn yaml_message(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or("invalid YAML");
    let rest = first.strip_prefix("error: ").unwrap_or(first);
    let rest = match rest.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((place, m)) if place.split(' ').all(|w| w == "column" || w.chars().all(|c| c.is_ascii_digit())) => m,
        _ => rest,
    };
    rest.to_string()
}

/// Line and column from a serde-saphyr error message ("... at line L, column C").
fn yaml_position(msg: &str) -> (usize, usize) {
    let num_after = |key: &str| {
        msg.find(key)
            .and_then(|i| msg[i + key.len()..].trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
    };
    (num_after("line").unwrap_or(1), num_after("column").unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn interpolation_in_all_its_forms() {
        let e = env(&[("A", "x"), ("E", "")]);
        let mut w = vec![];
        assert_eq!(interpolate("${A}-$A-$$A", &e, &mut w).unwrap(), "x-x-$A");
        assert_eq!(interpolate("${E:-d} ${E-d} ${N-d} ${N:-d}", &e, &mut w).unwrap(), "d  d d");
        assert_eq!(interpolate("${N:-${A}}", &e, &mut w).unwrap(), "x");
        assert!(interpolate("${N:?must be set}", &e, &mut w).is_err());
        assert!(interpolate("${E:?must be set}", &e, &mut w).is_err());
        assert_eq!(interpolate("${E?fine}", &e, &mut w).unwrap(), "");
        assert_eq!(interpolate("${NOPE}", &e, &mut w).unwrap(), "");
        assert_eq!(w.len(), 1, "unset without default warns like Compose");
    }

    #[test]
    fn wait_gates_in_a_command_line() {
        let secs = |d: &Option<s::D>| d.map_or("-".to_string(), |d| d.0.to_string());
        let g = |line: &str| {
            wait_gates(line)
                .iter()
                .map(|g| match g {
                    s::Gate::WaitForIt { target, timeout, strict } => format!("it {target} {} {strict}", secs(timeout)),
                    s::Gate::WaitFor { target, timeout } => format!("for {target} {}", secs(timeout)),
                    s::Gate::NcLoop { target, sleep } => format!("nc {target} {}", secs(sleep)),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(g("./wait-for-it.sh db:5432 -- npm start"), ["it db:5432 - false"]);
        assert_eq!(
            g("sh -c '/usr/wait-for-it.sh -t 60 db:3306 -s -- wait-for-it --host=redis --port=6379 --timeout=0 -- node .'"),
            ["it db:3306 1m true", "it redis:6379 0s false"]
        );
        assert_eq!(g("bash -c \"./wait-for-it.sh api:80 && python app.py\""), ["it api:80 - true"]);
        assert!(g("npm start").is_empty());
        assert!(g("./wait-for-it.sh -- npm start").is_empty(), "no host:port, no gate");
        assert!(g("./wait-for-it.sh $DB_HOST:5432 -- x").is_empty() && g("wait-for-it db:$P -- x").is_empty());
        // eficode's wait-for.
        assert_eq!(g("./wait-for db:5432 -t 30 -- npm start"), ["for db:5432 30s"]);
        assert_eq!(g("sh -c '/wait-for.sh --timeout=5 -q redis:6379 -- x'"), ["for redis:6379 5s"]);
        // A timeout past any Dur is read as 2^32 - 1 s (it overflowed).
        assert_eq!(g("wait-for-it db:1 -t 18446744073709551615 -- x"), ["it db:1 1193046h28m15s false"]);
        // Shell loops around nc -z.
        assert_eq!(g("sh -c 'until nc -z db 5432; do echo waiting; sleep 2; done; exec node .'"), ["nc db:5432 2s"]);
        assert_eq!(
            g("sh -c \"while ! nc -zv -w 3 redis 6379 ; do sleep 0.5; done && ./wait-for-it.sh api:80 -- x\""),
            ["nc redis:6379 500ms", "it api:80 - false"]
        );
        assert!(g("nc -z db 5432 && node .").is_empty(), "one probe, no loop: not a gate");
        assert!(g("until nc db 5432; do sleep 1; done").is_empty(), "without -z nc would talk, not probe");
    }

    #[test]
    fn references_in_environment_values() {
        let s: BTreeMap<String, String> =
            ["db", "redis", "api"].iter().map(|n| (n.to_string(), n.to_string())).collect();
        assert_eq!(referenced("DB_HOST", "db", &s), Some(("db".into(), None)));
        assert_eq!(referenced("PGHOST", "db", &s), Some(("db".into(), None)));
        assert_eq!(referenced("discovery.seed_hosts", "api", &s), Some(("api".into(), None)));
        assert_eq!(referenced("CACHE", "redis://redis:6379", &s), Some(("redis".into(), Some(6379))));
        assert_eq!(referenced("X", "mysql://u:p@db:3306/x", &s), Some(("db".into(), Some(3306))));
        assert_eq!(referenced("API", "http://api:3000/v1", &s), Some(("api".into(), Some(3000))));
        assert_eq!(referenced("PEER", "api:3000", &s), Some(("api".into(), Some(3000))));
        assert_eq!(referenced("DB_HOST", "example.com", &s), None);
        // A bare name under a key that holds no address names no service.
        assert_eq!(referenced("POSTGRES_USER", "db", &s), None);
        assert_eq!(referenced("POSTGRES_DB", "db", &s), None);
        assert_eq!(referenced("CACHE_DRIVER", "redis", &s), None);
    }

    #[test]
    fn port_ranges_and_env_files() {
        assert_eq!(expand_range("8080-8081:80-81").unwrap(), ["8080:80", "8081:81"]);
        assert_eq!(expand_range("127.0.0.1:5432:5432").unwrap(), ["127.0.0.1:5432:5432"]);
        assert_eq!(expand_range("8000-8010:80").unwrap(), ["8000:80"]);
        // No host port: each mapping takes an ephemeral one when it starts.
        assert_eq!(expand_range("3000-3001").unwrap(), ["3000", "3001"]);
        assert_eq!(expand_range("3000").unwrap(), ["3000"]);
        assert_eq!(expand_range("127.0.0.1::80").unwrap(), ["127.0.0.1::80"]);
        // Rejected as Docker rejects them, where a single host port used to
        // start a range: "65535:8000-8001" overflowed (a panic in debug
        // builds, host port 0 in release).
        for bad in ["65535:8000-8001", "9000:80-81", "8081-8080:80", "80:81-80", "70000:80", "8080-8082:80-81"] {
            assert_eq!(expand_range(bad), None, "{bad}");
        }
        let e = parse_env_file("# c\nA=1\nexport B=\"two\"\n\nC='3'\n");
        assert_eq!(e, env(&[("A", "1"), ("B", "two"), ("C", "3")]));
    }
}
