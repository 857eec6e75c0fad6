//! Healthcheck state (docker-facts §9, moby daemon/health.go).
//!
//! The first probe runs one `interval` after start — or one `start_interval`
//! while inside `start_period` and still starting. Each next probe is timed
//! from the end of the previous one. A success makes the container healthy
//! and resets the failing streak; a failure inside the start period while
//! still starting is not counted; the streak reaching `retries` makes it
//! unhealthy. Running the probe itself is the simulation loop's job.

use crate::time::{Dur, Time};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub interval: Dur,
    pub timeout: Dur,
    pub retries: u32,
    pub start_period: Dur,
    pub start_interval: Dur,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: Dur::secs(30),
            timeout: Dur::secs(30),
            retries: 3,
            start_period: Dur::ZERO,
            start_interval: Dur::secs(5),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Starting,
    Healthy,
    Unhealthy,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Health {
    pub cfg: Config,
    pub status: Status,
    pub failing_streak: u32,
    started: Time,
}

impl Health {
    /// A (re)start: status `starting`, streak reset.
    pub fn new(cfg: Config, started: Time) -> Health {
        Health { cfg, status: Status::Starting, failing_streak: 0, started }
    }

    /// Delay until the next probe, measured from `now` (start or end of the last probe).
    pub fn next_delay(&self, now: Time) -> Dur {
        let in_start_period = now.since(self.started) < self.cfg.start_period;
        if in_start_period && self.status == Status::Starting {
            self.cfg.start_interval
        } else {
            self.cfg.interval
        }
    }

    /// Records a probe that began at `probe_start`; returns the new status if it changed.
    pub fn on_result(&mut self, probe_start: Time, ok: bool) -> Option<Status> {
        let before = self.status;
        if ok {
            self.failing_streak = 0;
            self.status = Status::Healthy;
        } else {
            let grace = self.status == Status::Starting && probe_start.since(self.started) < self.cfg.start_period;
            if !grace {
                self.failing_streak += 1;
                if self.failing_streak >= self.cfg.retries {
                    self.status = Status::Unhealthy;
                }
            }
        }
        (self.status != before).then_some(self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_probe_one_interval_after_start() {
        let h = Health::new(Config::default(), Time(0));
        assert_eq!(h.next_delay(Time(0)), Dur::secs(30));
        let cfg = Config { start_period: Dur::secs(60), ..Config::default() };
        let h = Health::new(cfg, Time(0));
        assert_eq!(h.next_delay(Time(0)), Dur::secs(5), "start_interval inside start_period");
        assert_eq!(h.next_delay(Time(0) + Dur::secs(60)), Dur::secs(30));
    }

    #[test]
    fn streak_reaches_retries() {
        let mut h = Health::new(Config::default(), Time(0));
        assert_eq!(h.on_result(Time(1), false), None);
        assert_eq!(h.on_result(Time(2), false), None);
        assert_eq!(h.on_result(Time(3), false), Some(Status::Unhealthy));
        assert_eq!(h.on_result(Time(4), true), Some(Status::Healthy));
        assert_eq!(h.failing_streak, 0);
    }

    #[test]
    fn start_period_failures_not_counted() {
        let cfg = Config { start_period: Dur::secs(10), retries: 1, ..Config::default() };
        let mut h = Health::new(cfg, Time(0));
        assert_eq!(h.on_result(Time(0) + Dur::secs(9), false), None);
        assert_eq!(h.failing_streak, 0);
        assert_eq!(h.on_result(Time(0) + Dur::secs(10), false), Some(Status::Unhealthy));
    }

    #[test]
    fn healthy_then_failures_in_start_period_count() {
        let cfg = Config { start_period: Dur::secs(100), retries: 2, ..Config::default() };
        let mut h = Health::new(cfg, Time(0));
        h.on_result(Time(1), true);
        assert_eq!(h.on_result(Time(2), false), None);
        assert_eq!(h.on_result(Time(3), false), Some(Status::Unhealthy));
    }
}
