//! TCP connection establishment as a Linux client sees it (docker-facts §6).
//!
//! This module holds the kernel's timing rules; the simulation loop owns the
//! connections and asks these functions when the next retransmission is due.
//! It models the handshake, RST, FIN and data segments as typed values, not
//! bytes; congestion control and window sizes are deliberately left out.

use crate::time::Dur;

/// How SYN retransmissions are spaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SynSchedule {
    /// Current kernels (`tcp_syn_linear_timeouts`=4, `tcp_syn_retries`=6):
    /// retransmits at 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s; ETIMEDOUT at 131 s.
    #[default]
    Linear,
    /// Classic exponential backoff (`tcp_syn_retries`=6): retransmits at
    /// 1, 3, 7, 15, 31, 63 s; ETIMEDOUT at 127 s.
    Classic,
}

const LINEAR_S: [u64; 11] = [1, 2, 3, 4, 5, 7, 11, 19, 35, 67, 131];
const CLASSIC_S: [u64; 7] = [1, 3, 7, 15, 31, 63, 127];

impl SynSchedule {
    /// Offsets from the first SYN: every retransmission, then the give-up time last.
    fn offsets(self) -> &'static [u64] {
        match self {
            SynSchedule::Linear => &LINEAR_S,
            SynSchedule::Classic => &CLASSIC_S,
        }
    }

    /// What happens when the timer set after SYN number `sent` (1 = the
    /// original) fires: another SYN, due again at the returned offset, or give up.
    pub fn after_timeout(self, sent: u8) -> SynStep {
        let offs = self.offsets();
        let i = usize::from(sent);
        if i >= offs.len() {
            SynStep::GiveUp
        } else {
            SynStep::Retransmit { next_timer_at: Dur::secs(offs[i]) }
        }
    }

    /// Offset of the first timer (after the original SYN).
    pub fn first_timer(self) -> Dur {
        Dur::secs(self.offsets()[0])
    }

    /// When ETIMEDOUT is reported if every SYN is dropped.
    pub fn give_up_after(self) -> Dur {
        Dur::secs(*self.offsets().last().unwrap_or(&0))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynStep {
    Retransmit { next_timer_at: Dur },
    GiveUp,
}

/// Neighbour discovery for an on-link address nobody holds: 3 ARP probes one
/// second apart (`mcast_solicit`=3, `retrans_time_ms`=1000), then EHOSTUNREACH.
pub const ARP_PROBES: u8 = 3;
pub const ARP_RETRANS: Dur = Dur::secs(1);

/// Linux accept backlog cap (`net.core.somaxconn`).
pub const SOMAXCONN: u32 = 4096;

/// First ephemeral port (`ip_local_port_range` 32768–60999).
pub const EPHEMERAL_FIRST: u16 = 32768;
pub const EPHEMERAL_LAST: u16 = 60999;

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(s: SynSchedule) -> (Vec<u64>, u64) {
        let mut at = s.first_timer();
        let mut sent = 1u8;
        let mut retx = vec![];
        loop {
            match s.after_timeout(sent) {
                SynStep::Retransmit { next_timer_at } => {
                    retx.push(at.0 / 1_000_000_000);
                    sent += 1;
                    at = next_timer_at;
                }
                SynStep::GiveUp => return (retx, at.0 / 1_000_000_000),
            }
        }
    }

    #[test]
    fn linear_schedule_matches_current_kernels() {
        assert_eq!(schedule(SynSchedule::Linear), (vec![1, 2, 3, 4, 5, 7, 11, 19, 35, 67], 131));
        assert_eq!(SynSchedule::Linear.give_up_after(), Dur::secs(131));
    }

    #[test]
    fn classic_schedule_matches_old_kernels() {
        assert_eq!(schedule(SynSchedule::Classic), (vec![1, 3, 7, 15, 31, 63], 127));
    }
}
