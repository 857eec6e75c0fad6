//! A request/response server: listens on a port (on all addresses or on
//! 127.0.0.1 only), answers every request after a service time.
//!
//! Two lifecycle quirks are expressible: a warm-up phase during which it
//! listens elsewhere (a database's init server on 127.0.0.1, then a gap, then
//! the real server — so a localhost healthcheck passes before it is really
//! ready), and a crash after a number of requests.

use super::program::{Cmd, Ctx, Input, Msg, Program};
use crate::dist::Delay;
use crate::id::ConnId;
use crate::net::addr::Ip;
use crate::time::Dur;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warmup {
    pub bind: Ip,
    pub duration: Dur,
    /// Nothing listens between the warm-up server and the real one.
    pub gap: Dur,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub port: u16,
    pub bind: Ip,
    pub backlog: u32,
    pub service_time: Delay,
    pub status: u16,
    pub response_size: u32,
    pub warmup: Option<Warmup>,
    /// Exit with `crash_code` when this many requests have been received.
    pub crash_after_requests: Option<u32>,
    pub crash_code: i32,
}

const TOKEN_WARM_END: u64 = u64::MAX;
const TOKEN_REAL_START: u64 = u64::MAX - 1;

pub struct Server {
    cfg: Config,
    next_token: u64,
    received: u32,
    serving: bool,
    working: BTreeMap<u64, (ConnId, Msg)>,
}

impl Server {
    pub fn new(cfg: Config) -> Server {
        Server { cfg, next_token: 0, received: 0, serving: false, working: BTreeMap::new() }
    }

    fn listen(&mut self, cx: &mut Ctx<'_>, bind: Ip) {
        cx.push(Cmd::Listen { bind, port: self.cfg.port, backlog: self.cfg.backlog });
    }

    fn on_request(&mut self, cx: &mut Ctx<'_>, conn: ConnId, msg: Msg) {
        self.received += 1;
        if self.cfg.crash_after_requests.is_some_and(|n| self.received >= n) {
            cx.push(Cmd::Exit { code: self.cfg.crash_code });
            return;
        }
        let token = self.next_token;
        self.next_token += 1;
        self.working.insert(token, (conn, msg));
        let d = self.cfg.service_time.sample(cx.rng);
        cx.timer(d, token);
    }
}

impl Program for Server {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => match self.cfg.warmup {
                Some(w) => {
                    self.listen(cx, w.bind);
                    cx.timer(w.duration, TOKEN_WARM_END);
                }
                None => {
                    self.serving = true;
                    self.listen(cx, self.cfg.bind);
                }
            },
            Input::Timer(TOKEN_WARM_END) => {
                cx.push(Cmd::Unlisten { port: self.cfg.port });
                cx.timer(self.cfg.warmup.map_or(Dur::ZERO, |w| w.gap), TOKEN_REAL_START);
            }
            Input::Timer(TOKEN_REAL_START) => {
                self.serving = true;
                self.listen(cx, self.cfg.bind);
            }
            Input::Received { conn, msg: msg @ Msg::Request { .. } } => self.on_request(cx, conn, msg),
            Input::Timer(token) => {
                if let Some((conn, Msg::Request { id, sent_at, .. })) = self.working.remove(&token) {
                    let (size, status) = (self.cfg.response_size, self.cfg.status);
                    cx.send(conn, Msg::Response { id, status, value: None, size, sent_at });
                }
            }
            Input::Closed { conn, .. } => self.working.retain(|_, (c, _)| *c != conn),
            _ => {}
        }
    }

    fn ready(&self) -> bool {
        self.serving
    }

    fn http_ok(&self, port: u16) -> bool {
        port == self.cfg.port && self.cfg.status < 400
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::time::Time;

    fn cfg() -> Config {
        Config {
            port: 5432,
            bind: Ip::UNSPECIFIED,
            backlog: 511,
            service_time: Delay::Fixed(Dur::millis(2)),
            status: 200,
            response_size: 100,
            warmup: None,
            crash_after_requests: None,
            crash_code: 1,
        }
    }

    fn step(s: &mut Server, input: Input) -> Vec<Cmd> {
        let mut rng = Rng::fork(0, "t");
        let mut cmds = vec![];
        s.handle(&mut Ctx::new(Time::ZERO, &mut rng, &mut cmds), input);
        cmds
    }

    #[test]
    fn warmup_listens_on_localhost_then_gap_then_everywhere() {
        let w = Warmup { bind: Ip::LOCALHOST, duration: Dur::secs(3), gap: Dur::millis(500) };
        let mut s = Server::new(Config { warmup: Some(w), ..cfg() });
        let c = step(&mut s, Input::Start);
        assert_eq!(c[0], Cmd::Listen { bind: Ip::LOCALHOST, port: 5432, backlog: 511 });
        assert!(!s.ready());
        let c = step(&mut s, Input::Timer(TOKEN_WARM_END));
        assert_eq!(c, [Cmd::Unlisten { port: 5432 }, Cmd::Timer { after: Dur::millis(500), token: TOKEN_REAL_START }]);
        let c = step(&mut s, Input::Timer(TOKEN_REAL_START));
        assert_eq!(c, [Cmd::Listen { bind: Ip::UNSPECIFIED, port: 5432, backlog: 511 }]);
        assert!(s.ready());
    }

    #[test]
    fn answers_after_service_time_and_crashes_on_the_nth_request() {
        let mut s = Server::new(Config { crash_after_requests: Some(2), crash_code: 139, ..cfg() });
        step(&mut s, Input::Start);
        let conn = ConnId::default();
        let req = |id| Input::Received { conn, msg: Msg::Request { id, size: 10, sent_at: Time::ZERO } };
        let c = step(&mut s, req(0));
        assert_eq!(c, [Cmd::Timer { after: Dur::millis(2), token: 0 }]);
        let c = step(&mut s, Input::Timer(0));
        assert!(matches!(c[0], Cmd::Send { msg: Msg::Response { id: 0, status: 200, .. }, .. }));
        assert_eq!(step(&mut s, req(1)), [Cmd::Exit { code: 139 }]);
    }
}
