//! The Engine's restart manager (docker-facts §8, moby restartmanager.go).
//!
//! Delay before a restart: 100 ms, doubled on each restart, capped at 60 s,
//! reset to 100 ms when the container had run for at least 10 s. A manual
//! stop suppresses every policy. `on-failure:N` counts every automatic
//! restart since the last manual start; a long run does not reset the count.

use crate::time::Dur;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    #[default]
    No,
    /// Restart on non-zero exit; `max_retries` 0 = unlimited.
    OnFailure {
        max_retries: u32,
    },
    Always,
    UnlessStopped,
}

impl Policy {
    pub fn name(self) -> String {
        match self {
            Policy::No => "no".into(),
            Policy::OnFailure { max_retries: 0 } => "on-failure".into(),
            Policy::OnFailure { max_retries } => format!("on-failure:{max_retries}"),
            Policy::Always => "always".into(),
            Policy::UnlessStopped => "unless-stopped".into(),
        }
    }
}

pub const FIRST_DELAY: Dur = Dur::millis(100);
pub const MAX_DELAY: Dur = Dur::secs(60);
pub const RESET_AFTER_RUN: Dur = Dur::secs(10);

#[derive(Clone, Debug, Default)]
pub struct Manager {
    pub policy: Policy,
    /// Current backoff; zero before the first restart.
    timeout: Dur,
    /// Automatic restarts since the last manual start.
    pub restart_count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Restart { delay: Dur },
    Stay,
}

impl Manager {
    pub fn new(policy: Policy) -> Manager {
        Manager { policy, ..Manager::default() }
    }

    /// A `docker start` by hand: the on-failure count starts again.
    pub fn manual_start(&mut self) {
        self.restart_count = 0;
        self.timeout = Dur::ZERO;
    }

    /// The container exited with `code` after running `ran_for`.
    pub fn on_exit(&mut self, code: i32, manually_stopped: bool, ran_for: Dur) -> Decision {
        if ran_for >= RESET_AFTER_RUN {
            self.timeout = Dur::ZERO;
        }
        self.timeout =
            if self.timeout == Dur::ZERO { FIRST_DELAY } else { self.timeout.saturating_mul(2).min(MAX_DELAY) };
        let restart = !manually_stopped
            && match self.policy {
                Policy::No => false,
                Policy::Always | Policy::UnlessStopped => true,
                Policy::OnFailure { max_retries } => {
                    code != 0 && (max_retries == 0 || self.restart_count < max_retries)
                }
            };
        if !restart {
            return Decision::Stay;
        }
        self.restart_count += 1;
        Decision::Restart { delay: self.timeout }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delays(m: &mut Manager, runs: &[Dur]) -> Vec<Option<Dur>> {
        runs.iter()
            .map(|&r| match m.on_exit(1, false, r) {
                Decision::Restart { delay } => Some(delay),
                Decision::Stay => None,
            })
            .collect()
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut m = Manager::new(Policy::Always);
        let short = [Dur::millis(5); 12];
        let got: Vec<u64> = delays(&mut m, &short).into_iter().map(|d| d.unwrap().0 / 1_000_000).collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
        assert_eq!(delays(&mut m, &[Dur::secs(10)]), [Some(Dur::millis(100))]);
        assert_eq!(delays(&mut m, &[Dur::secs(1)]), [Some(Dur::millis(200))]);
    }

    #[test]
    fn on_failure_counts_and_gives_up() {
        let mut m = Manager::new(Policy::OnFailure { max_retries: 3 });
        let runs = [Dur::secs(60); 4];
        let got = delays(&mut m, &runs);
        assert_eq!(got.iter().filter(|d| d.is_some()).count(), 3, "long runs do not reset the count");
        assert_eq!(got[3], None);
        assert_eq!(m.on_exit(0, false, Dur::ZERO), Decision::Stay);
    }

    #[test]
    fn on_failure_ignores_success_and_manual_stop_suppresses_all() {
        let mut m = Manager::new(Policy::OnFailure { max_retries: 0 });
        assert_eq!(m.on_exit(0, false, Dur::ZERO), Decision::Stay);
        let mut a = Manager::new(Policy::Always);
        assert_eq!(a.on_exit(137, true, Dur::ZERO), Decision::Stay);
        let mut u = Manager::new(Policy::UnlessStopped);
        assert_eq!(u.on_exit(0, true, Dur::ZERO), Decision::Stay);
        assert!(matches!(u.on_exit(0, false, Dur::ZERO), Decision::Restart { .. }));
        assert_eq!(Manager::new(Policy::No).on_exit(1, false, Dur::ZERO), Decision::Stay);
    }
}
