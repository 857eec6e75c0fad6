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
    },
    /// Validate a scenario without running it.
    Check {
        /// Scenario file (.ron).
        file: PathBuf,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

fn parse_dur_arg(s: &str) -> Result<crate::time::Dur, String> {
    parse_dur(s).map_err(|e| e.0)
}

/// Runs the CLI; returns the process exit code and what to print on stdout / stderr.
pub fn main_with(cli: Cli) -> (i32, String, String) {
    match cli.cmd {
        Command::Check { file } => match load_file(&file) {
            Ok(l) => (
                0,
                format!(
                    "{}: ok ({} containers, {} expectations)\n",
                    file.display(),
                    l.spec.containers.len(),
                    l.expect.len()
                ),
                String::new(),
            ),
            Err(d) => (2, String::new(), d.render()),
        },
        Command::Run { file, seed, until, max_events, format, quiet } => {
            let loaded = match load_file(&file) {
                Ok(l) => l,
                Err(d) => return (2, String::new(), d.render()),
            };
            let r = run(&loaded, Overrides { seed, until, max_events });
            let mut out = String::new();
            if !quiet {
                out.push_str(&match format {
                    Format::Text => r.text(),
                    Format::Json => crate::output::trace::json_lines(&r.world),
                });
                out.push('\n');
            }
            out.push_str(&report(&loaded.name, &r, &file));
            (if r.passed() { 0 } else { 1 }, out, String::new())
        }
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
    let _ = writeln!(out, "expectations:");
    for o in &r.outcomes {
        let _ = writeln!(out, "  [{}] {}\n      {}", if o.held { "ok" } else { "FAILED" }, o.text, o.why);
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
