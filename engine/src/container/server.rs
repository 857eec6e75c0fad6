//! A request/response server: listens on a port (on all addresses or on
//! 127.0.0.1 only), answers every request after a service time.

use super::program::{Cmd, Ctx, Input, Msg, Program};
use crate::dist::Delay;
use crate::id::ConnId;
use crate::net::addr::Ip;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub port: u16,
    pub bind: Ip,
    pub backlog: u32,
    pub service_time: Delay,
    pub status: u16,
    pub response_size: u32,
}

pub struct Server {
    cfg: Config,
    next_token: u64,
    working: BTreeMap<u64, (ConnId, Msg)>,
}

impl Server {
    pub fn new(cfg: Config) -> Server {
        Server {
            cfg,
            next_token: 0,
            working: BTreeMap::new(),
        }
    }
}

impl Program for Server {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => cx.push(Cmd::Listen {
                bind: self.cfg.bind,
                port: self.cfg.port,
                backlog: self.cfg.backlog,
            }),
            Input::Received {
                conn,
                msg: msg @ Msg::Request { .. },
            } => {
                let token = self.next_token;
                self.next_token += 1;
                self.working.insert(token, (conn, msg));
                let d = self.cfg.service_time.sample(cx.rng);
                cx.timer(d, token);
            }
            Input::Timer(token) => {
                if let Some((conn, Msg::Request { id, sent_at, .. })) = self.working.remove(&token)
                {
                    let size = self.cfg.response_size;
                    let status = self.cfg.status;
                    cx.send(
                        conn,
                        Msg::Response {
                            id,
                            status,
                            size,
                            sent_at,
                        },
                    );
                }
            }
            Input::Closed { conn, .. } => self.working.retain(|_, (c, _)| *c != conn),
            _ => {}
        }
    }
}
