//! A connection pool (HikariCP with its defaults: `minimumIdle` =
//! `maximumPoolSize` = 10): at start it opens `size` connections to its
//! target, all at once, and keeps them open. A connection that closes is
//! replaced at once; a connect that fails is retried after `retry`
//! (HikariCP's housekeeper retries on its own schedule; 1 s is our default).
//! Every connect resolves the name again (no caching in the program; the
//! container's `dns_cache` applies).

use super::program::{Cmd, Ctx, Input, Program};
use crate::id::{ConnId, Sym};
use crate::time::Dur;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolConfig {
    pub host: Sym,
    pub port: u16,
    pub size: u32,
    pub connect_timeout: Option<Dur>,
    pub retry: Dur,
}

pub struct Pool {
    cfg: PoolConfig,
    /// Connections open now.
    open: Vec<ConnId>,
    /// Connects in flight.
    pending: u32,
}

impl Pool {
    pub fn new(cfg: PoolConfig) -> Pool {
        Pool { cfg, open: Vec::new(), pending: 0 }
    }

    fn connect(&mut self, cx: &mut Ctx<'_>) {
        self.pending += 1;
        cx.push(Cmd::Connect { host: self.cfg.host, port: self.cfg.port, timeout: self.cfg.connect_timeout, tag: 0 });
    }

    /// Opens connections until the pool is full (open + in flight = size).
    fn fill(&mut self, cx: &mut Ctx<'_>) {
        while (self.open.len() as u32) + self.pending < self.cfg.size {
            self.connect(cx);
        }
    }
}

impl Program for Pool {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => {
                // Room for the whole pool at once (capped: a size is not
                // an allocation), rather than growing through doublings.
                self.open.reserve_exact((self.cfg.size as usize).min(1024));
                self.fill(cx)
            }
            Input::Connected { conn, .. } => {
                self.pending = self.pending.saturating_sub(1);
                self.open.push(conn);
            }
            Input::ConnectFailed { .. } => {
                self.pending = self.pending.saturating_sub(1);
                cx.timer(self.cfg.retry, 0);
            }
            Input::Timer(_) => self.fill(cx),
            Input::Closed { conn, .. } => {
                if let Some(i) = self.open.iter().position(|&c| c == conn) {
                    self.open.swap_remove(i);
                    self.fill(cx);
                }
            }
            _ => {}
        }
    }

    /// Ready (for a `Ready` healthcheck) when every connection is open.
    fn ready(&self) -> bool {
        self.open.len() as u32 == self.cfg.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::program::step;
    use crate::proto::errno::Errno;
    use crate::time::Time;

    fn pool(size: u32) -> Pool {
        Pool::new(PoolConfig { host: Sym(0), port: 5432, size, connect_timeout: None, retry: Dur::secs(1) })
    }

    fn connects(cmds: &[Cmd]) -> usize {
        cmds.iter().filter(|c| matches!(c, Cmd::Connect { port: 5432, .. })).count()
    }

    #[test]
    fn opens_size_connections_and_replaces_closed_ones() {
        let mut p = pool(3);
        assert_eq!(connects(&step(&mut p, Time::ZERO, Input::Start)), 3);
        let ids: Vec<ConnId> = (1..=3).map(|k| ConnId::from(slotmap::KeyData::from_ffi(k))).collect();
        for &conn in &ids {
            assert!(step(&mut p, Time::ZERO, Input::Connected { tag: 0, conn }).is_empty());
        }
        assert!(p.ready());
        // A closed connection is replaced by one new connect, not more.
        assert_eq!(connects(&step(&mut p, Time::ZERO, Input::Closed { conn: ids[1], errno: None })), 1);
        assert!(!p.ready());
        // A close of an unknown connection changes nothing.
        assert!(step(&mut p, Time::ZERO, Input::Closed { conn: ids[1], errno: None }).is_empty());
    }

    #[test]
    fn a_failed_connect_is_retried_after_the_delay() {
        let mut p = pool(2);
        step(&mut p, Time::ZERO, Input::Start);
        let cmds = step(&mut p, Time::ZERO, Input::ConnectFailed { tag: 0, errno: Errno::Econnrefused });
        assert_eq!(cmds, [Cmd::Timer { after: Dur::secs(1), token: 0 }]);
        // One connect is still in flight, so the timer opens exactly one.
        assert_eq!(connects(&step(&mut p, Time::ZERO + Dur::secs(1), Input::Timer(0))), 1);
    }
}
