//! A Redis-like work queue: a broker holding a list, producers pushing tasks
//! (LPUSH), workers popping them.
//!
//! The naive worker pops with BRPOP: a task it holds when it dies is gone.
//! The reliable worker pops with BLMOVE into a processing list and removes
//! the task with LREM once done (an ack); the broker's reaper moves tasks
//! that stayed in processing longer than `requeue_after` back to the queue —
//! at-least-once delivery, so no task is lost whatever worker crashes.

use super::program::{Cmd, Ctx, Input, Msg, Op, Program, Report, TaskState};
use crate::id::{ConnId, Sym};
use crate::net::addr::Ip;
use crate::time::{Dur, Time};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BrokerConfig {
    pub port: u16,
    /// Reaper: tasks in the processing list longer than this go back to the queue.
    pub requeue_after: Option<Dur>,
}

pub struct Broker {
    cfg: BrokerConfig,
    queue: VecDeque<u32>,
    processing: BTreeMap<u32, Time>,
    /// Blocked pops, oldest first: (connection, request id, reliable, sent_at).
    waiting: VecDeque<(ConnId, u32, bool, Time)>,
}

const TOKEN_REAP: u64 = 1;

impl Broker {
    pub fn new(cfg: BrokerConfig) -> Broker {
        Broker { cfg, queue: VecDeque::new(), processing: BTreeMap::new(), waiting: VecDeque::new() }
    }

    fn reply(cx: &mut Ctx<'_>, conn: ConnId, id: u32, value: Option<u32>, sent_at: Time) {
        cx.send(conn, Msg::Response { id, status: 200, value, size: 16, sent_at });
    }

    fn serve_waiting(&mut self, cx: &mut Ctx<'_>) {
        while !self.queue.is_empty() {
            let Some((conn, id, reliable, sent_at)) = self.waiting.pop_front() else { return };
            let task = self.queue.pop_back().expect("non-empty");
            self.take(cx, task, reliable);
            Self::reply(cx, conn, id, Some(task), sent_at);
        }
    }

    fn take(&mut self, cx: &mut Ctx<'_>, task: u32, reliable: bool) {
        if reliable {
            self.processing.insert(task, cx.now);
        }
        cx.report(Report::Task { id: task, state: TaskState::Taken });
    }

    fn reap(&mut self, cx: &mut Ctx<'_>) {
        let Some(after) = self.cfg.requeue_after else { return };
        let stale: Vec<u32> =
            self.processing.iter().filter(|(_, &t)| cx.now.since(t) >= after).map(|(k, _)| *k).collect();
        for task in stale {
            self.processing.remove(&task);
            self.queue.push_back(task);
            cx.report(Report::Task { id: task, state: TaskState::Requeued });
        }
        self.serve_waiting(cx);
        cx.timer(after / 2, TOKEN_REAP);
    }
}

impl Program for Broker {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => {
                cx.push(Cmd::Listen { bind: Ip::UNSPECIFIED, port: self.cfg.port, backlog: 511 });
                if let Some(after) = self.cfg.requeue_after {
                    cx.timer(after / 2, TOKEN_REAP);
                }
            }
            Input::Timer(TOKEN_REAP) => self.reap(cx),
            Input::Received { conn, msg: Msg::Request { id, op, sent_at, .. } } => match op {
                Op::Push(task) => {
                    self.queue.push_front(task);
                    cx.report(Report::Task { id: task, state: TaskState::Pushed });
                    Self::reply(cx, conn, id, None, sent_at);
                    self.serve_waiting(cx);
                }
                Op::Pop { reliable } => match self.queue.pop_back() {
                    Some(task) => {
                        self.take(cx, task, reliable);
                        Self::reply(cx, conn, id, Some(task), sent_at);
                    }
                    None => self.waiting.push_back((conn, id, reliable, sent_at)),
                },
                Op::Ack(task) => {
                    self.processing.remove(&task);
                    Self::reply(cx, conn, id, None, sent_at);
                }
                Op::Get | Op::TlsHello => Self::reply(cx, conn, id, None, sent_at),
            },
            Input::Closed { conn, .. } => self.waiting.retain(|w| w.0 != conn),
            _ => {}
        }
    }
}

/// Connects to the broker (retrying every second) then pushes `count` tasks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProducerConfig {
    pub host: Sym,
    pub port: u16,
    pub count: u32,
    pub interval: Dur,
    pub first_task: u32,
}

pub struct Producer {
    cfg: ProducerConfig,
    conn: Option<ConnId>,
    pushed: u32,
}

const TOKEN_RETRY: u64 = 1;
const TOKEN_NEXT: u64 = 2;
const TOKEN_WORK: u64 = 3;

impl Producer {
    pub fn new(cfg: ProducerConfig) -> Producer {
        Producer { cfg, conn: None, pushed: 0 }
    }
    fn connect(&self, cx: &mut Ctx<'_>) {
        cx.push(Cmd::Connect { host: self.cfg.host, port: self.cfg.port, timeout: Some(Dur::secs(5)), tag: 0 });
    }
}

impl Program for Producer {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start | Input::Timer(TOKEN_RETRY) => self.connect(cx),
            Input::ConnectFailed { .. } => cx.timer(Dur::secs(1), TOKEN_RETRY),
            Input::Connected { conn, .. } => {
                self.conn = Some(conn);
                cx.timer(Dur::ZERO, TOKEN_NEXT);
            }
            Input::Timer(TOKEN_NEXT) => {
                let Some(conn) = self.conn else { return };
                if self.pushed >= self.cfg.count {
                    return;
                }
                let task = self.cfg.first_task + self.pushed;
                self.pushed += 1;
                cx.send(conn, Msg::Request { id: task, op: Op::Push(task), size: 64, sent_at: cx.now });
                cx.timer(self.cfg.interval, TOKEN_NEXT);
            }
            Input::Closed { .. } => {
                self.conn = None;
                cx.timer(Dur::secs(1), TOKEN_RETRY);
            }
            _ => {}
        }
    }
}

/// Pops a task, works on it for `work_time`, reports it done, pops again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkerConfig {
    pub host: Sym,
    pub port: u16,
    pub reliable: bool,
    pub work_time: Dur,
    /// Crash (exit 137) halfway through the n-th task taken.
    pub crash_on_task: Option<u32>,
}

pub struct Worker {
    cfg: WorkerConfig,
    conn: Option<ConnId>,
    current: Option<u32>,
    taken: u32,
    next_id: u32,
}

const TOKEN_CRASH: u64 = 4;

impl Worker {
    pub fn new(cfg: WorkerConfig) -> Worker {
        Worker { cfg, conn: None, current: None, taken: 0, next_id: 0 }
    }

    fn request(&mut self, cx: &mut Ctx<'_>, op: Op) {
        let Some(conn) = self.conn else { return };
        let id = self.next_id;
        self.next_id += 1;
        cx.send(conn, Msg::Request { id, op, size: 32, sent_at: cx.now });
    }

    fn pop(&mut self, cx: &mut Ctx<'_>) {
        self.request(cx, Op::Pop { reliable: self.cfg.reliable });
    }
}

impl Program for Worker {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start | Input::Timer(TOKEN_RETRY) => {
                let c = &self.cfg;
                cx.push(Cmd::Connect { host: c.host, port: c.port, timeout: Some(Dur::secs(5)), tag: 0 });
            }
            Input::ConnectFailed { .. } => cx.timer(Dur::secs(1), TOKEN_RETRY),
            Input::Connected { conn, .. } => {
                self.conn = Some(conn);
                self.pop(cx);
            }
            Input::Received { msg: Msg::Response { value: Some(task), .. }, .. } if self.current.is_none() => {
                self.current = Some(task);
                self.taken += 1;
                if self.cfg.crash_on_task == Some(self.taken) {
                    return cx.timer(self.cfg.work_time / 2, TOKEN_CRASH);
                }
                cx.timer(self.cfg.work_time, TOKEN_WORK);
            }
            Input::Timer(TOKEN_CRASH) => cx.push(Cmd::Exit { code: 137 }),
            Input::Timer(TOKEN_WORK) => {
                let Some(task) = self.current.take() else { return };
                cx.report(Report::Task { id: task, state: TaskState::Done });
                if self.cfg.reliable {
                    self.request(cx, Op::Ack(task));
                }
                self.pop(cx);
            }
            Input::Closed { .. } => {
                self.conn = None;
                cx.timer(Dur::secs(1), TOKEN_RETRY);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::program::step;

    fn req(conn: ConnId, id: u32, op: Op) -> Input {
        Input::Received { conn, msg: Msg::Request { id, op, size: 1, sent_at: Time::ZERO } }
    }

    fn popped(cmds: &[Cmd]) -> Option<u32> {
        cmds.iter().find_map(|c| match c {
            Cmd::Send { msg: Msg::Response { value, .. }, .. } => *value,
            _ => None,
        })
    }

    #[test]
    fn fifo_and_blocking_pop() {
        let mut b = Broker::new(BrokerConfig { port: 6379, requeue_after: None });
        let c = ConnId::default();
        step(&mut b, Time::ZERO, Input::Start);
        assert_eq!(popped(&step(&mut b, Time::ZERO, req(c, 0, Op::Pop { reliable: false }))), None, "blocks");
        let out = step(&mut b, Time::ZERO, req(c, 1, Op::Push(7)));
        assert_eq!(popped(&out), Some(7), "the blocked pop gets the first push");
        step(&mut b, Time::ZERO, req(c, 2, Op::Push(8)));
        step(&mut b, Time::ZERO, req(c, 3, Op::Push(9)));
        assert_eq!(popped(&step(&mut b, Time::ZERO, req(c, 4, Op::Pop { reliable: false }))), Some(8));
    }

    #[test]
    fn reliable_pop_is_requeued_unless_acked() {
        let mut b = Broker::new(BrokerConfig { port: 6379, requeue_after: Some(Dur::secs(10)) });
        let c = ConnId::default();
        step(&mut b, Time::ZERO, Input::Start);
        step(&mut b, Time::ZERO, req(c, 0, Op::Push(1)));
        step(&mut b, Time::ZERO, req(c, 1, Op::Push(2)));
        step(&mut b, Time::ZERO, req(c, 2, Op::Pop { reliable: true }));
        step(&mut b, Time::ZERO, req(c, 3, Op::Pop { reliable: true }));
        step(&mut b, Time::ZERO, req(c, 4, Op::Ack(1)));
        let out = step(&mut b, Time::ZERO + Dur::secs(10), Input::Timer(TOKEN_REAP));
        let requeued: Vec<u32> = out
            .iter()
            .filter_map(|c| match c {
                Cmd::Report(Report::Task { id, state: TaskState::Requeued }) => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(requeued, [2]);
    }
}
