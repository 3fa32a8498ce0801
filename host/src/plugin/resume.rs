//! Reads that give their instance back while the venue answers.
//!
//! A call holds its instance from entry to return, so while a plugin waits
//! in `send` its instance waits with it: the linear memory, fiber stack and
//! tables it touched, about 200 KiB. With many calls at a slow venue that is
//! most of the host's memory, and with `max_instances` reached it makes
//! every other caller wait for an instance that only waits.
//!
//! So a read-only call does not keep its instance across a venue wait when
//! `plugins.limits.max_waiting_instances` of the venue's instances already
//! wait on the venue: its wait *parks*. The guest gets an error back at once
//! (`timeout` with the text [`PARKED`], which the SDK's `is_parked` knows)
//! and finishes its run, whose result is dropped; the instance goes back to
//! the pool. The host sends the parked requests holding no instance, then
//! runs the operation again, on any instance, with the answers recorded. A
//! request equal to a recorded one (same endpoint pin, same method, path,
//! headers, body, signing recipe) gets the recorded answer instead of being
//! sent, and `now-ms` returns the earlier runs' readings up to the park
//! point. The run that needs no unrecorded request is the call's answer.
//! This is the deterministic replay of durable-execution runtimes, kept to
//! where a replay cannot do harm.
//!
//! Invariants:
//! - Only read-only `invoke` calls park (never `prepare`, `reconcile` or a
//!   journaled order: they get no [`Run`]), and only at a wait whose
//!   unrecorded requests are all idempotent. A replay that asks for
//!   something else than its earlier run asks for a read, sent or parked.
//! - Each parked request is sent once, by the host, and its answer is given
//!   to every later run of the call that asks for it.
//! - A parked run's result is never used, and from its park point on it
//!   sends nothing: every later wait of that run gets the same error.
//! - A call parks at most [`MAX_PARKS`] times; its later runs hold their
//!   instance. Each run has the plugin's CPU budget and the call's deadline.
//! - Effects are not repeated: a plugin's `log` and `report-usage` are
//!   dropped in a parked run after its park point, and in a replay until it
//!   goes past what was recorded (the earlier run made them).
//!
//! What a plugin sees: a read-only operation may run more than once for one
//! call, with the same params and answers. State an instance keeps between
//! calls (a cache) may differ between the runs; the request that follows
//! from it is then simply not recorded yet, and is sent or parks.
//!
//! A plugin must conclude nothing from a parked `send` (the SDK's
//! `SendError::is_parked`): the instance lives on, and a plugin that
//! remembered the "failure" would act on it in later calls. The Chainlink
//! plugin did (an endpoint whose chain check failed in transport is not
//! asked again for a minute), and `cargo xtask test` runs the venue tests a
//! second time with every read parked to catch that. Discarding a parked
//! run's instance instead was measured and not kept: a fresh instance per
//! park cost the TON call 1.9x the CPU at 32 connections and 4.6x at 256.
//!
//! The price of a park: the plugin's code up to the wait runs twice.

use std::time::Duration;

use crate::capabilities::CallScope;
use crate::error::CallError;
use crate::plugin::bindings::{Request, Response, SendError};
use crate::plugin::pool::{Call, InstancePool, Reply};

/// Most parks of one call; then its runs hold their instance.
pub const MAX_PARKS: u32 = 8;

/// Most `now-ms` readings one call records for its replays. A run that reads
/// the clock more often before its first live wait gives up parking instead:
/// a guest looping on the clock must not grow host memory with its readings.
pub const MAX_CLOCK_READINGS: usize = 4096;

/// What a parked run's waits answer (as `timeout`). The run's result is
/// dropped, so no caller ever reads it; the guest SDK's
/// `SendError::is_parked` recognises it (its `error::PARKED`, the same text,
/// checked by a test).
pub const PARKED: &str =
    "the host parked this run until the venue answers; it runs the call again with the answer";

/// The outcome of one request of a venue wait.
pub type Answer = Result<Response, SendError>;

/// The requests of one venue wait, each with the endpoint it is pinned to
/// (`send-all-to`) or `None` (failover).
pub type Batch = Vec<(Option<u32>, Request)>;

/// What a call's parks brought back: each parked request with its answer,
/// and the `now-ms` readings of the runs before each park point.
#[derive(Debug, Default)]
pub struct Recording {
    answers: Vec<(Option<u32>, Request, Answer)>,
    clock: Vec<u64>,
}

impl Recording {
    /// Add the answers to a parked batch, in batch order.
    pub fn record(&mut self, batch: Batch, answers: Vec<Answer>) {
        debug_assert_eq!(batch.len(), answers.len());
        for ((pin, req), answer) in batch.into_iter().zip(answers) {
            self.answers.push((pin, req, answer));
        }
    }
}

#[derive(Debug)]
enum Phase {
    /// Every wait so far was answered from the recording.
    Replaying,
    /// A wait went to the venue with the instance held; the run ends as a
    /// normal call does.
    Live,
    /// The run parked on these requests.
    Parked(Batch),
}

/// One run of a resumable read, installed in the instance's store for the
/// run (see [`crate::plugin::state::StoreState`]).
#[derive(Debug)]
pub struct Run {
    recording: Recording,
    consumed: Vec<bool>,
    unconsumed: usize,
    clock_read: usize,
    may_park: bool,
    hold_limit: usize,
    phase: Phase,
}

/// How the host answers one venue wait of a [`Run`].
#[derive(Debug)]
pub enum Wait {
    /// The run parked: every request of the wait gets [`PARKED`].
    Parked,
    /// `answers` has the recorded answers, `None` where a request is in
    /// `live`: sent now (its index in the batch, pin, request), with the
    /// instance held.
    Go {
        answers: Vec<Option<Answer>>,
        live: Vec<(usize, Option<u32>, Request)>,
    },
}

impl Run {
    /// A run replaying `recording`. It parks at a wait with unrecorded
    /// requests when `may_park` and at least `hold_limit` instances of the
    /// venue already wait on it.
    pub fn new(recording: Recording, may_park: bool, hold_limit: usize) -> Self {
        let n = recording.answers.len();
        Self {
            recording,
            consumed: vec![false; n],
            unconsumed: n,
            clock_read: 0,
            may_park,
            hold_limit,
            phase: Phase::Replaying,
        }
    }

    /// A venue wait of the guest, `waiting` instances of the venue already
    /// waiting on it: answer what was recorded, then park or go live with
    /// the rest.
    pub fn wait(&mut self, batch: Batch, waiting: usize) -> Wait {
        if matches!(self.phase, Phase::Parked(_)) {
            return Wait::Parked;
        }
        let mut answers = Vec::with_capacity(batch.len());
        let mut live = Vec::new();
        for (i, (pin, req)) in batch.into_iter().enumerate() {
            let recorded = self.take_recorded(pin, &req);
            if recorded.is_none() {
                live.push((i, pin, req));
            }
            answers.push(recorded);
        }
        if live.is_empty() {
            return Wait::Go { answers, live };
        }
        let parks = matches!(self.phase, Phase::Replaying)
            && self.may_park
            && waiting >= self.hold_limit
            && live.iter().all(|(_, _, req)| req.idempotent);
        if parks {
            // Readings after the park point are not replayed: a replay past
            // it reads the clock after the venue answered.
            self.recording.clock.truncate(self.clock_read);
            self.phase = Phase::Parked(live.into_iter().map(|(_, p, r)| (p, r)).collect());
            return Wait::Parked;
        }
        self.phase = Phase::Live;
        Wait::Go { answers, live }
    }

    /// The first unconsumed recorded answer to an equal request, consumed.
    fn take_recorded(&mut self, pin: Option<u32>, req: &Request) -> Option<Answer> {
        if self.unconsumed == 0 {
            return None;
        }
        let (i, (_, _, answer)) = self
            .recording
            .answers
            .iter()
            .enumerate()
            .find(|(i, (p, r, _))| !self.consumed[*i] && *p == pin && r == req)?;
        let answer = answer.clone();
        self.consumed[i] = true;
        self.unconsumed -= 1;
        Some(answer)
    }

    /// `now-ms`: the earlier runs' reading at this point, else `live`
    /// (recorded for the runs after a park while the run may still park).
    pub fn now_ms(&mut self, live: u64) -> u64 {
        if !matches!(self.phase, Phase::Replaying) {
            // Parked, or live: no later run replays these readings.
            return live;
        }
        let value = match self.recording.clock.get(self.clock_read) {
            Some(&recorded) => recorded,
            None if self.recording.clock.len() < MAX_CLOCK_READINGS => {
                self.recording.clock.push(live);
                live
            }
            None => {
                // Past the bound: this run will not park, so no replay needs
                // readings from here on.
                self.may_park = false;
                live
            }
        };
        self.clock_read += 1;
        value
    }

    /// Whether the guest's effects (`log`, `report-usage`) are dropped now:
    /// after the park point, or before a replay passes what was recorded.
    pub fn quiet(&self) -> bool {
        match self.phase {
            Phase::Parked(_) => true,
            Phase::Live => false,
            Phase::Replaying => self.unconsumed > 0,
        }
    }

    /// The requests the run parked on, with the recording to extend; `None`
    /// when the run did not park (its result is the call's).
    pub fn into_parked(self) -> Option<(Batch, Recording)> {
        match self.phase {
            Phase::Parked(batch) => Some((batch, self.recording)),
            Phase::Replaying | Phase::Live => None,
        }
    }
}

/// Run `invoke` of a read-only operation on `pool`'s instances. A run that
/// parks gives its instance back; the host sends what it parked on, records
/// the answers, and runs the operation again. Each run's wall-clock limit is
/// what is left of the call's deadline plus `grace` (see
/// [`InstancePool::run`]).
pub async fn invoke(
    pool: &InstancePool,
    scope: &CallScope,
    operation: &str,
    params: &str,
    grace: Duration,
) -> Result<Reply, CallError> {
    let mut recording = Recording::default();
    let mut parks = 0;
    loop {
        let run = Run::new(recording, parks < MAX_PARKS, pool.hold_limit());
        let call = Call::Invoke { operation, params };
        let wait = scope.deadline.remaining() + grace;
        let (reply, run) = pool
            .run_with(Some(scope.clone()), call, wait, Some(run))
            .await?;
        let Some((batch, parked)) = run.and_then(Run::into_parked) else {
            return Ok(reply);
        };
        parks += 1;
        pool.count_park();
        tracing::debug!(
            operation,
            parks,
            requests = batch.len(),
            "read parked while the venue answers"
        );
        let answers = scope.send_batch(batch.clone()).await;
        recording = parked;
        recording.record(batch, answers);
    }
}

/// The error every request of a parked wait gets.
pub fn parked_error() -> SendError {
    SendError::Timeout(PARKED.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::Method;

    fn get(path: &str) -> Request {
        Request {
            method: Method::Get,
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            idempotent: true,
            weight: 1,
            signing: None,
        }
    }

    fn ok(body: &str) -> Answer {
        Ok(Response {
            status: 200,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        })
    }

    fn body(answer: &Option<Answer>) -> String {
        match answer {
            Some(Ok(r)) => String::from_utf8(r.body.clone()).unwrap(),
            other => panic!("expected a recorded answer, got {other:?}"),
        }
    }

    /// Run a wait and return what it parked on, if it did.
    fn parks(run: Run) -> Option<Batch> {
        run.into_parked().map(|(batch, _)| batch)
    }

    #[test]
    fn the_park_error_is_the_one_the_guest_sdk_recognises() {
        assert_eq!(PARKED, resilience_guest::error::PARKED);
        let SendError::Timeout(text) = parked_error() else {
            panic!("a park answers timeout");
        };
        assert!(resilience_guest::error::SendError::Timeout(text).is_parked());
    }

    #[test]
    fn a_wait_parks_only_at_the_hold_limit() {
        let mut run = Run::new(Recording::default(), true, 2);
        assert!(matches!(
            run.wait(vec![(None, get("/a"))], 1),
            Wait::Go { .. }
        ));
        assert!(parks(run).is_none(), "one waiting, under the limit of 2");

        let mut run = Run::new(Recording::default(), true, 2);
        assert!(matches!(run.wait(vec![(None, get("/a"))], 2), Wait::Parked));
        assert_eq!(parks(run).unwrap(), vec![(None, get("/a"))]);

        let mut run = Run::new(Recording::default(), false, 0);
        assert!(
            matches!(run.wait(vec![(None, get("/a"))], 9), Wait::Go { .. }),
            "a run past the call's parks holds"
        );
    }

    #[test]
    fn a_non_idempotent_request_is_never_parked() {
        let mut post = get("/order");
        post.method = Method::Post;
        post.idempotent = false;
        let mut run = Run::new(Recording::default(), true, 0);
        match run.wait(vec![(None, get("/a")), (None, post)], 5) {
            Wait::Go { live, .. } => assert_eq!(live.len(), 2),
            Wait::Parked => panic!("parked a batch with a non-idempotent request"),
        }
        assert!(parks(run).is_none());
    }

    #[test]
    fn a_parked_run_sends_nothing_more_and_is_quiet() {
        let mut run = Run::new(Recording::default(), true, 0);
        assert!(!run.quiet());
        assert!(matches!(run.wait(vec![(None, get("/a"))], 0), Wait::Parked));
        assert!(run.quiet());
        assert!(
            matches!(run.wait(vec![(None, get("/b"))], 0), Wait::Parked),
            "a wait after the park point parks too"
        );
        assert_eq!(
            parks(run).unwrap(),
            vec![(None, get("/a"))],
            "only the first park point's requests are sent"
        );
    }

    #[test]
    fn a_replay_is_answered_from_the_recording_request_by_request() {
        let mut recording = Recording::default();
        recording.record(
            vec![(None, get("/a")), (Some(1), get("/b"))],
            vec![ok("A"), ok("B")],
        );
        let mut run = Run::new(recording, true, 0);
        assert!(run.quiet(), "before the replay passes the recording");
        // The same request pinned elsewhere is another request.
        match run.wait(vec![(Some(1), get("/b")), (Some(0), get("/b"))], 0) {
            Wait::Parked => {}
            other => panic!("expected a park on the unrecorded pin, got {other:?}"),
        }
        let (batch, recording) = run.into_parked().unwrap();
        assert_eq!(batch, vec![(Some(0), get("/b"))]);

        let mut run = Run::new(recording, true, 0);
        match run.wait(vec![(None, get("/a"))], 0) {
            Wait::Go { answers, live } => {
                assert!(live.is_empty());
                assert_eq!(body(&answers[0]), "A");
            }
            Wait::Parked => panic!("a recorded request parked"),
        }
        assert!(run.quiet(), "/b is still recorded and unread");
        match run.wait(vec![(Some(1), get("/b"))], 0) {
            Wait::Go { answers, live } => {
                assert!(live.is_empty());
                assert_eq!(body(&answers[0]), "B");
            }
            Wait::Parked => panic!("a recorded request parked"),
        }
        assert!(!run.quiet(), "past the recording");
        // The same request again is a new one: each answer is given once per run.
        assert!(matches!(run.wait(vec![(None, get("/a"))], 0), Wait::Parked));
    }

    #[test]
    fn a_run_that_went_live_never_parks() {
        let mut run = Run::new(Recording::default(), true, 3);
        assert!(matches!(
            run.wait(vec![(None, get("/a"))], 0),
            Wait::Go { .. }
        ));
        assert!(!run.quiet());
        assert!(
            matches!(run.wait(vec![(None, get("/b"))], 9), Wait::Go { .. }),
            "its earlier live answer is not recorded, so it cannot be resumed"
        );
        assert!(parks(run).is_none());
    }

    #[test]
    fn the_clock_replays_up_to_the_park_point_then_reads_live() {
        let mut run = Run::new(Recording::default(), true, 0);
        assert_eq!(run.now_ms(100), 100);
        assert_eq!(run.now_ms(101), 101);
        assert!(matches!(run.wait(vec![(None, get("/a"))], 0), Wait::Parked));
        assert_eq!(run.now_ms(102), 102, "after the park point: live");
        let (batch, mut recording) = run.into_parked().unwrap();
        recording.record(batch, vec![ok("A")]);

        let mut run = Run::new(recording, true, 0);
        assert_eq!(run.now_ms(500), 100);
        assert_eq!(run.now_ms(501), 101);
        assert!(matches!(
            run.wait(vec![(None, get("/a"))], 0),
            Wait::Go { .. }
        ));
        assert_eq!(
            run.now_ms(502),
            502,
            "a reading after the answer is never one from before it"
        );
    }

    #[test]
    fn a_run_that_reads_the_clock_without_end_records_a_bounded_number_and_stops_parking() {
        let mut run = Run::new(Recording::default(), true, 0);
        for t in 0..(MAX_CLOCK_READINGS as u64 + 1000) {
            assert_eq!(run.now_ms(t), t);
        }
        assert_eq!(run.recording.clock.len(), MAX_CLOCK_READINGS);
        let Wait::Go { live, .. } = run.wait(vec![(None, get("/a"))], 10) else {
            panic!("a run past the clock bound parked");
        };
        assert_eq!(live.len(), 1, "the request goes out with the instance held");
        assert!(parks(run).is_none());
    }

    #[test]
    fn a_live_run_records_no_clock_readings() {
        let mut run = Run::new(Recording::default(), false, 0);
        assert!(matches!(
            run.wait(vec![(None, get("/a"))], 0),
            Wait::Go { .. }
        ));
        for t in 0..100 {
            assert_eq!(run.now_ms(t), t);
        }
        assert!(run.recording.clock.is_empty());
    }
}
