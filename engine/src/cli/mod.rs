//! The command line: parse arguments, call the library, print, pick the exit
//! code (0 all expectations held, 1 one failed, 2 bad input).

use crate::run::{run, Overrides, RunResult};
use crate::scenario::load_file;
use crate::time::parse_dur;
use clap::{Parser, Subcommand, ValueEnum};
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "wharf",
    version,
    about = "Deterministic discrete-event simulator of container networks",
    long_about = "Simulates Docker networks, DNS, TCP, container start-up, healthchecks and restarts on one \
single-threaded event queue, so every failure replays exactly from a seed.\n\n\
Exit codes: 0 every expectation held; 1 an expectation failed (or a run bound was hit); 2 bad input."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Command,
    /// Enable a compose profile (repeatable; `*` enables every one), as
    /// `docker compose --profile`; without it, `COMPOSE_PROFILES` from the
    /// .env beside the file or an --env-file.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario: print its trace, the expectations and the fingerprint.
    Run {
        /// Scenario file (.ron).
        file: PathBuf,
        /// Master seed (overrides the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Simulated time bound, e.g. "2m" (overrides `until`).
        #[arg(long, value_parser = parse_dur_arg)]
        until: Option<crate::time::Dur>,
        /// Event bound (overrides `max_events`).
        #[arg(long)]
        max_events: Option<u64>,
        /// Trace format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Print only the expectations and the fingerprint.
        #[arg(long, short)]
        quiet: bool,
        /// Run twice and compare the traces byte for byte; name the first divergent event.
        #[arg(long)]
        check_determinism: bool,
        /// Check the engine's invariants (isolation, DNS scope, packet conservation) while running.
        #[arg(long)]
        checks: bool,
        /// Write the timeline picture (.svg, or .html with hover details).
        #[arg(long, value_parser = timeline_path)]
        timeline: Option<PathBuf>,
        /// Write the communication graph (.svg or .dot).
        #[arg(long, value_parser = graph_path)]
        graph: Option<PathBuf>,
        /// Write a packet capture (pcapng) that Wireshark and tshark open.
        #[arg(long)]
        pcap: Option<PathBuf>,
        /// Capture on each network's bridge, or inside each container (ethN, lo).
        #[arg(long, value_enum, default_value_t = PcapPer::Network)]
        pcap_per: PcapPer,
    },
    /// Run a scenario under many seeds in parallel: flakiness, failing seeds
    /// grouped by expectation, the command that replays each.
    Explore {
        /// Scenario file (.ron).
        file: PathBuf,
        /// Seed range A..B (B excluded).
        #[arg(long, value_parser = parse_range, default_value = "0..1000")]
        seeds: (u64, u64),
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard K of N (seed index modulo N), for batch systems.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(u32, u32)>,
        /// Also write the results as JSON (for `wharf merge`).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Shrink a failing seed into a minimal scenario that fails without the seed's randomness.
    Shrink {
        /// Scenario file (.ron).
        file: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the shrunk scenario (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Bound on the number of runs.
        #[arg(long, default_value_t = 2000)]
        budget: usize,
    },
    /// `docker logs`: one container's view of the trace.
    Logs {
        file: PathBuf,
        container: String,
        #[arg(long)]
        seed: Option<u64>,
    },
    /// `docker ps -a` at a moment of simulated time.
    Ps {
        file: PathBuf,
        /// Simulated time, e.g. "30s".
        #[arg(long, value_parser = parse_dur_arg, default_value = "0s")]
        at: crate::time::Dur,
        #[arg(long)]
        seed: Option<u64>,
    },
    /// `docker network inspect` / `docker inspect` at a moment of simulated time (JSON).
    Inspect {
        file: PathBuf,
        /// Simulated time, e.g. "30s".
        #[arg(long, value_parser = parse_dur_arg, default_value = "0s")]
        at: crate::time::Dur,
        #[arg(long)]
        seed: Option<u64>,
        #[command(subcommand)]
        what: InspectWhat,
    },
    /// Import docker-compose files into a scenario (RON).
    Import {
        /// The compose file.
        file: PathBuf,
        /// More compose files, merged in order (like `docker compose -f a -f b`).
        #[arg(short = 'f', long = "file")]
        more: Vec<PathBuf>,
        /// Variables for interpolation (the .env beside the file is read first).
        #[arg(long)]
        env_file: Vec<PathBuf>,
        /// A RON overlay overriding the inference (retry, startup, listens, calls, profiles).
        #[arg(long)]
        overlay: Option<PathBuf>,
        /// Write the scenario here (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check a scenario or compose file against the best practices; start-up races are simulated.
    Advise {
        file: PathBuf,
        /// Seeds simulated to measure start-up races.
        #[arg(long, default_value_t = 50)]
        seeds: u64,
        #[arg(long)]
        env_file: Vec<PathBuf>,
        #[arg(long)]
        overlay: Option<PathBuf>,
    },
    /// Combine the JSON results of a sweep's shards into one report.
    Merge {
        /// Shard results written by `wharf explore --json`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate a scenario without running it.
    Check {
        /// Scenario file (.ron).
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum InspectWhat {
    /// A network, like `docker network inspect NAME`.
    Network { name: String },
    /// A container, like `docker inspect NAME`.
    Container { name: String },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcapPer {
    Network,
    Container,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("`{s}` is not a range like 0..1000"))?;
    let a: u64 = a.parse().map_err(|_| format!("`{a}` is not a seed"))?;
    let b: u64 = b.parse().map_err(|_| format!("`{b}` is not a seed"))?;
    if b <= a {
        return Err(format!("empty range {s}"));
    }
    Ok((a, b))
}

fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let (k, n) = s.split_once('/').ok_or_else(|| format!("`{s}` is not a shard like 2/8"))?;
    let k: u32 = k.parse().map_err(|_| format!("`{k}` is not a number"))?;
    let n: u32 = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {s} must satisfy 1 <= K <= N"));
    }
    Ok((k, n))
}

/// A picture's path whose extension names one of `formats` (the first is
/// the SVG every picture has): anything else is refused before the run,
/// where it used to get SVG text under, say, a `.png` name.
fn picture_path(s: &str, formats: &[&str]) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    let ext = extension(&p);
    if formats.contains(&ext.as_str()) {
        return Ok(p);
    }
    let names: Vec<String> = formats.iter().map(|f| format!(".{f}")).collect();
    let (last, rest) = names.split_last().expect("formats are given");
    let png = if ext == "png" {
        "; for a PNG, write the .svg and render it, e.g. `chromium --headless --screenshot=t.png t.svg`"
    } else {
        ""
    };
    Err(format!("the file name must end in {} or {last}{png}", rest.join(", ")))
}

/// A file name's extension, lower case (`""` without one).
fn extension(p: &std::path::Path) -> String {
    p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

fn timeline_path(s: &str) -> Result<PathBuf, String> {
    picture_path(s, &["svg", "html", "htm"])
}

fn graph_path(s: &str) -> Result<PathBuf, String> {
    picture_path(s, &["svg", "dot", "gv"])
}

fn parse_dur_arg(s: &str) -> Result<crate::time::Dur, String> {
    parse_dur(s).map_err(|e| e.0)
}

/// Runs the CLI; returns the process exit code and what to print on stdout / stderr.
pub fn main_with(cli: Cli) -> (i32, String, String) {
    let profiles = &cli.profile[..];
    match cli.cmd {
        Command::Check { file } => with_loaded(&file, profiles, |l| {
            (
                0,
                format!(
                    "{}: ok ({} containers, {} expectations)\n",
                    file.display(),
                    l.spec.containers.len(),
                    l.expect.len()
                ),
                String::new(),
            )
        }),
        Command::Explore { file, seeds, jobs, shard, json } => explore(&file, profiles, seeds, jobs, shard, json),
        Command::Merge { files } => merge(&files),
        Command::Import { file, more, env_file, overlay, output } => {
            let mut files = vec![file];
            files.extend(more);
            if let Some(f) = files.iter().find(|f| f.extension().is_some_and(|e| e == "ron")) {
                return (
                    2,
                    String::new(),
                    format!(
                        "error: {} is a wharf scenario (RON), not a compose file\n  help: `wharf import` reads docker-compose YAML; run the scenario directly: wharf run {}\n",
                        f.display(),
                        f.display()
                    ),
                );
            }
            match import_files(&files, &env_file, overlay.as_deref(), profiles) {
                Ok((imp, _)) => {
                    let text = format!(
                        "// Imported by wharf from {}\n{}\n",
                        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
                        crate::scenario::to_ron(&imp.scenario)
                    );
                    let warn = render_warnings(&imp.warnings);
                    match output {
                        Some(p) => match std::fs::write(&p, &text) {
                            Ok(()) => (0, format!("wrote {}\n", p.display()), warn),
                            Err(e) => (2, String::new(), format!("error: cannot write {}: {e}\n", p.display())),
                        },
                        None => (0, text, warn),
                    }
                }
                Err(e) => (2, String::new(), e),
            }
        }
        Command::Advise { file, seeds, env_file, overlay } => {
            advise_cmd(&file, seeds, &env_file, overlay.as_deref(), profiles)
        }
        Command::Logs { file, container, seed } => with_loaded(&file, profiles, |l| {
            let r = run(l, Overrides { seed, ..Overrides::default() });
            match crate::output::inspect::logs(&r.world, &container) {
                Some(text) => (0, text, String::new()),
                None => (2, String::new(), format!("error: no container `{container}` in {}\n", file.display())),
            }
        }),
        Command::Ps { file, at, seed } => with_loaded(&file, profiles, |l| {
            let w = crate::run::world_at(l, Overrides { seed, ..Overrides::default() }, at);
            (0, crate::output::inspect::ps(&w), String::new())
        }),
        Command::Inspect { file, at, seed, what } => with_loaded(&file, profiles, |l| {
            let w = crate::run::world_at(l, Overrides { seed, ..Overrides::default() }, at);
            let (kind, name, v) = match &what {
                InspectWhat::Network { name } => ("network", name, crate::output::inspect::network(&w, name)),
                InspectWhat::Container { name } => ("container", name, crate::output::inspect::container(&w, name)),
            };
            match v {
                Some(v) => (0, format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()), String::new()),
                None => (2, String::new(), format!("error: no {kind} `{name}` in {}\n", file.display())),
            }
        }),
        Command::Shrink { file, seed, output, budget } => shrink(&file, profiles, seed, output, budget),
        Command::Run {
            file,
            seed,
            until,
            max_events,
            format,
            quiet,
            check_determinism,
            checks,
            timeline,
            graph,
            pcap,
            pcap_per,
        } => {
            // A compose file's import warnings go to stderr before whatever
            // the run writes there (`with_any`).
            with_any(&file, &[], None, profiles, |schema, loaded, src| {
                let r = run(
                    loaded,
                    Overrides { seed, until, max_events, checks, capture: pcap.is_some(), ..Overrides::default() },
                );
                if check_determinism {
                    let again = run(loaded, Overrides { seed, until, max_events, checks, ..Overrides::default() });
                    return determinism(&r, &again);
                }
                if let Err(e) = pictures(&r, &loaded.name, timeline.as_deref(), graph.as_deref()) {
                    return (2, String::new(), e);
                }
                if let Some(p) = &pcap {
                    let caps = r.world.captured.as_deref().unwrap_or_default();
                    let written = std::fs::File::create(p).map_err(|e| e.to_string()).and_then(|f| {
                        let per = match pcap_per {
                            PcapPer::Network => crate::output::pcap::Per::Network,
                            PcapPer::Container => crate::output::pcap::Per::Container,
                        };
                        crate::output::pcap::write(&r.world, caps, std::io::BufWriter::new(f), per)
                    });
                    if let Err(e) = written {
                        return (2, String::new(), format!("error: cannot write {}: {e}\n", p.display()));
                    }
                }
                let mut out = String::new();
                if !quiet {
                    out.push_str(&match format {
                        Format::Text => r.text(),
                        Format::Json => crate::output::trace::json_lines(&r.world),
                    });
                    out.push('\n');
                }
                out.push_str(&report(&loaded.name, &r, &file));
                if is_compose(&file) {
                    let findings = crate::scenario::advise::advise(schema, src, None, 0);
                    out.push_str("advice (`wharf advise` also simulates start-up races):\n");
                    out.push_str(&crate::scenario::advise::render(&file.display().to_string(), src, &findings));
                }
                (if r.passed() { 0 } else { 1 }, out, String::new())
            })
        }
    }
}

fn pictures(
    r: &RunResult,
    name: &str,
    timeline: Option<&std::path::Path>,
    graph: Option<&std::path::Path>,
) -> Result<(), String> {
    let write = |p: &std::path::Path, text: String| {
        std::fs::write(p, text).map_err(|e| format!("error: cannot write {}: {e}\n", p.display()))
    };
    if let Some(p) = timeline {
        let text = match extension(p).as_str() {
            "html" | "htm" => crate::output::timeline::html(&r.world, name),
            _ => crate::output::timeline::svg(&r.world, false), // .svg: checked by `timeline_path`
        };
        write(p, text)?;
    }
    if let Some(p) = graph {
        let text = match extension(p).as_str() {
            "dot" | "gv" => crate::output::graph::dot(&r.world),
            _ => crate::output::graph::svg(&r.world), // .svg: checked by `graph_path`
        };
        write(p, text)?;
    }
    Ok(())
}

fn is_compose(p: &std::path::Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e == "yml" || e == "yaml")
}

/// Imports compose files: the scenario and the first file's text.
fn import_files(
    files: &[PathBuf],
    env_files: &[PathBuf],
    overlay: Option<&std::path::Path>,
    profiles: &[String],
) -> Result<(crate::scenario::compose::Imported, String), String> {
    let mut texts = vec![];
    for f in files {
        let t = std::fs::read_to_string(f).map_err(|e| format!("error: cannot read {}: {e}\n", f.display()))?;
        texts.push((f.display().to_string(), t));
    }
    let mut env = std::collections::BTreeMap::new();
    let dot_env = files[0].parent().unwrap_or(std::path::Path::new(".")).join(".env");
    for p in std::iter::once(&dot_env).chain(env_files) {
        match std::fs::read_to_string(p) {
            Ok(t) => env.extend(crate::scenario::compose::parse_env_file(&t)),
            Err(e) if p != &dot_env => return Err(format!("error: cannot read {}: {e}\n", p.display())),
            Err(_) => {}
        }
    }
    let mut ov = match overlay {
        Some(p) => {
            let t = std::fs::read_to_string(p).map_err(|e| format!("error: cannot read {}: {e}\n", p.display()))?;
            let opts = ron::Options::default().with_default_extension(
                ron::extensions::Extensions::IMPLICIT_SOME | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
            );
            opts.from_str(&t)
                .map_err(|e| format!("{}:{}:{}: error: {}\n", p.display(), e.position.line, e.position.col, e.code))?
        }
        None => crate::scenario::compose::Overlay::default(),
    };
    ov.profiles.extend(crate::scenario::compose::active_profiles(profiles, &env));
    let imp = crate::scenario::compose::import(&texts, &env, &ov, files[0].parent()).map_err(|d| d.render())?;
    Ok((imp, texts[0].1.clone()))
}

/// The import's warnings, one `warning: …` line each (as `wharf import`
/// writes them to stderr).
fn render_warnings(warnings: &[String]) -> String {
    warnings.iter().map(|w| format!("warning: {w}\n")).collect()
}

/// Loads a RON scenario or imports a compose file: (schema, loaded, source
/// text, the import's warnings rendered for stderr — empty for RON).
fn load_any(
    file: &std::path::Path,
    env_files: &[PathBuf],
    overlay: Option<&std::path::Path>,
    profiles: &[String],
) -> Result<(crate::scenario::schema::Scenario, crate::scenario::Loaded, String, String), String> {
    let name = file.display().to_string();
    if is_compose(file) {
        let (imp, src) = import_files(&[file.to_path_buf()], env_files, overlay, profiles)?;
        let loaded = crate::scenario::lower(&name, "", &imp.scenario).map_err(|d| d.render())?;
        return Ok((imp.scenario, loaded, src, render_warnings(&imp.warnings)));
    }
    let src = std::fs::read_to_string(file).map_err(|_| match load_file(file) {
        Err(d) => d.render(),
        Ok(_) => format!("error: cannot read {name}\n"),
    })?;
    let sc = crate::scenario::parse(&name, &src).map_err(|d| d.render())?;
    let loaded = crate::scenario::lower(&name, &src, &sc).map_err(|d| d.render())?;
    Ok((sc, loaded, src, String::new()))
}

fn advise_cmd(
    file: &std::path::Path,
    seeds: u64,
    env_files: &[PathBuf],
    overlay: Option<&std::path::Path>,
    profiles: &[String],
) -> (i32, String, String) {
    with_any(file, env_files, overlay, profiles, |sc, loaded, src| {
        let f = crate::scenario::advise::advise(sc, src, Some(loaded), seeds);
        (0, crate::scenario::advise::render(&file.display().to_string(), src, &f), String::new())
    })
}

/// Loads `file` (RON, or a compose file imported with `env_files` and
/// `overlay`) and runs `f` on its schema, lowered form and source text;
/// the import's warnings go to stderr before what `f` writes there, and a
/// file that does not load is exit 2 with its diagnostics.
fn with_any(
    file: &std::path::Path,
    env_files: &[PathBuf],
    overlay: Option<&std::path::Path>,
    profiles: &[String],
    f: impl FnOnce(&crate::scenario::schema::Scenario, &crate::scenario::Loaded, &str) -> (i32, String, String),
) -> (i32, String, String) {
    match load_any(file, env_files, overlay, profiles) {
        Ok((sc, l, src, warnings)) => {
            let (code, out, err) = f(&sc, &l, &src);
            (code, out, warnings + &err)
        }
        Err(e) => (2, String::new(), e),
    }
}

/// [`with_any`] for commands that need only the lowered scenario.
fn with_loaded(
    file: &std::path::Path,
    profiles: &[String],
    f: impl FnOnce(&crate::scenario::Loaded) -> (i32, String, String),
) -> (i32, String, String) {
    with_any(file, &[], None, profiles, |_, l, _| f(l))
}

fn determinism(a: &RunResult, b: &RunResult) -> (i32, String, String) {
    let (ta, tb) = (a.text(), b.text());
    if ta == tb {
        let msg = format!(
            "deterministic: two runs gave identical traces ({} lines, fingerprint {})\n",
            ta.lines().count(),
            a.fingerprint()
        );
        return (0, msg, String::new());
    }
    let i = ta.lines().zip(tb.lines()).position(|(x, y)| x != y).unwrap_or(ta.lines().count().min(tb.lines().count()));
    let msg = format!(
        "NOT deterministic: the traces diverge at event {}:\n  first run:  {}\n  second run: {}\n",
        i + 1,
        ta.lines().nth(i).unwrap_or("<end of trace>"),
        tb.lines().nth(i).unwrap_or("<end of trace>")
    );
    (1, msg, String::new())
}

fn explore(
    file: &std::path::Path,
    profiles: &[String],
    seeds: (u64, u64),
    jobs: Option<usize>,
    shard: Option<(u32, u32)>,
    json: Option<PathBuf>,
) -> (i32, String, String) {
    with_loaded(file, profiles, |loaded| {
        let count = crate::explore::seed_count(seeds.0, seeds.1, shard);
        if count > crate::explore::MAX_SEEDS {
            let max = crate::explore::MAX_SEEDS;
            return (
                2,
                String::new(),
                format!(
                    "error: --seeds {}..{} asks for {count} seeds in this run; at most {max}\n  help: every seed's result is kept for the report: sweep a smaller range per run, or split it with --shard K/N\n",
                    seeds.0, seeds.1
                ),
            );
        }
        let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let name = file.display().to_string();
        let s = crate::explore::sweep(loaded, &name, seeds.0, seeds.1, shard, jobs, progress);
        if let Some(path) = json {
            if let Err(e) = std::fs::write(&path, s.to_json().to_string()) {
                return (2, String::new(), format!("error: cannot write {}: {e}\n", path.display()));
            }
        }
        (if s.passed() { 0 } else { 1 }, s.report(), String::new())
    })
}

fn shrink(
    file: &std::path::Path,
    profiles: &[String],
    seed: u64,
    output: Option<PathBuf>,
    budget: usize,
) -> (i32, String, String) {
    let name = file.display().to_string();
    // A compose file is shrunk as the scenario it imports to (RON out).
    let (src, warnings) = if is_compose(file) {
        match import_files(&[file.to_path_buf()], &[], None, profiles) {
            Ok((imp, _)) => (crate::scenario::to_ron(&imp.scenario), render_warnings(&imp.warnings)),
            Err(e) => return (2, String::new(), e),
        }
    } else {
        match std::fs::read_to_string(file) {
            Ok(s) => (s, String::new()),
            Err(e) => return (2, String::new(), format!("error: cannot read {name}: {e}\n")),
        }
    };
    let shrunk = match crate::shrink::shrink(&name, &src, seed, budget) {
        Ok(s) => s,
        Err(e) => return (2, String::new(), format!("{e}\n")),
    };
    let text = shrunk.to_file(&name, seed);
    let summary = format!(
        "shrunk in {} runs: {} -> {} containers, {} -> {} actions, {} -> {} bytes; fails under seeds {:?}\n",
        shrunk.runs,
        crate::scenario::parse(&name, &src).map_or(0, |s| s.containers.0.len()),
        shrunk.scenario.containers.0.len(),
        crate::scenario::parse(&name, &src).map_or(0, |s| s.actions.len()),
        shrunk.scenario.actions.len(),
        src.len(),
        text.len(),
        shrunk.failing_seeds
    );
    match output {
        Some(p) => match std::fs::write(&p, &text) {
            Ok(()) => (0, format!("{summary}wrote {}\n", p.display()), warnings),
            Err(e) => (2, String::new(), format!("error: cannot write {}: {e}\n", p.display())),
        },
        None => (0, text, warnings + &summary),
    }
}

fn merge(files: &[PathBuf]) -> (i32, String, String) {
    let mut parts = Vec::new();
    for f in files {
        let parsed = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()))
            .and_then(|v| crate::explore::Sweep::from_json(&v));
        match parsed {
            Ok(s) => parts.push(s),
            Err(e) => return (2, String::new(), format!("error: {}: {e}\n", f.display())),
        }
    }
    match crate::explore::Sweep::merge(parts) {
        Ok(s) => (if s.passed() { 0 } else { 1 }, s.report(), String::new()),
        Err(e) => (2, String::new(), format!("error: {e}\n")),
    }
}

fn report(name: &str, r: &RunResult, file: &std::path::Path) -> String {
    let mut out = format!("scenario: {name}\nseed: {}\n", r.world.seed);
    if r.stop == crate::sim::Stop::EventBound {
        let _ = writeln!(
            out,
            "error: run stopped at the event bound ({} events at {}); raise max_events if intended",
            r.world.events, r.world.now
        );
    }
    for v in &r.world.checks.violations {
        let _ = writeln!(out, "invariant violated: {v}");
    }
    let _ = writeln!(out, "summary:");
    for line in crate::output::summary::text(&r.world).lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "expectations:");
    for o in &r.outcomes {
        let tag = match (o.held, o.sometimes) {
            (true, _) => "ok",
            (false, true) => "not seen",
            (false, false) => "FAILED",
        };
        let _ = writeln!(out, "  [{tag}] {}\n      {}", o.text, o.why);
    }
    if r.outcomes.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let _ = writeln!(out, "events: {}  simulated: {}", r.world.events, r.world.now.since(crate::time::Time::ZERO));
    let _ = writeln!(out, "fingerprint: {}", r.fingerprint());
    if !r.passed() {
        let _ = writeln!(out, "replay: wharf run {} --seed {}", file.display(), r.world.seed);
    }
    out
}
