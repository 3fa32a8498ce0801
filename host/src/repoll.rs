//! Polling a connection again when it wakes itself, instead of queueing it.
//!
//! hyper serves an HTTP/1 request inside its connection's task: the
//! dispatcher and our handler are polled by the same task. When the handler
//! reads the request body, it registers the task's waker before the
//! dispatcher has read the body's bytes; the dispatcher then hands them over
//! and wakes the handler, that is, the task that is running. tokio treats a
//! task woken while it runs as one that yielded: it queues the task again and
//! wakes an idle worker thread to look at the queue. On a host that is not
//! saturated, that is a futex wake and two context switches per call with a
//! body, for a second poll that finds the request already answered (`perf
//! stat` on `ping` at one connection: 2.1 context switches and 1.9 futex
//! calls per call, against 1.0 and none on a 404, which has no body).
//!
//! [`RepollSelfWakes`] wraps the connection's future. A wake from inside
//! the poll (on the polling thread, while the future is being polled) makes
//! this poll go round again at once, up to [`MAX_REPOLLS`] times and while
//! the task has tokio's cooperative budget left. A wake from another thread,
//! or between polls, goes to the task's own waker, as before: an HTTP/2
//! connection woken by its streams' tasks on the other worker is queued as
//! before and so still writes their answers in one batch (re-polling it on
//! every such wake cost `ping` over h2c 1.1x to 1.3x the CPU per call at 32
//! streams). No wake-up is lost: either the running poll sees it and polls
//! again, or the task is woken.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;

/// Polls of the inner future per outer poll beyond the first, when it keeps
/// waking itself. Past this the task yields to the scheduler as usual, so
/// a future that wakes itself on every poll cannot hold a worker.
pub const MAX_REPOLLS: usize = 3;

/// Not being polled: a wake goes to the task.
const IDLE: u8 = 0;
/// Being polled: a wake is noted and the poll goes round again.
const POLLING: u8 = 1;
/// Woken while being polled.
const WOKEN: u8 = 2;

/// What the inner future's waker shares with the poller.
#[derive(Debug, Default)]
struct Shared {
    state: AtomicU8,
    /// [`this_thread`] of the thread polling now; 0 between polls.
    poller: AtomicUsize,
    /// The task's waker, from the latest outer poll.
    task: AtomicWaker,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // On the polling thread a wake can only come from inside the poll,
        // so the state is POLLING or WOKEN and the running poll will see it.
        let inside = self.poller.load(Ordering::Acquire) == this_thread()
            && matches!(
                self.state
                    .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire),
                Ok(_) | Err(WOKEN)
            );
        if !inside {
            self.task.wake();
        }
    }
}

/// A number that tells the current thread from every other live thread:
/// the address of a thread-local.
fn this_thread() -> usize {
    thread_local! {
        static MARK: u8 = const { 0 };
    }
    MARK.with(|m| std::ptr::from_ref(m) as usize)
}

/// A future that polls `inner` again, in the same turn, when `inner` wakes
/// itself while being polled (see the module docs).
pub struct RepollSelfWakes<F> {
    inner: Pin<Box<F>>,
    shared: Arc<Shared>,
    /// One waker for the inner future's whole life, so that `will_wake`
    /// holds across polls and what `inner` keeps need not be replaced.
    waker: Waker,
}

impl<F> std::fmt::Debug for RepollSelfWakes<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepollSelfWakes")
            .field("state", &self.shared.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<F> RepollSelfWakes<F> {
    pub fn new(inner: F) -> Self {
        let shared = Arc::new(Shared::default());
        Self {
            inner: Box::pin(inner),
            waker: Waker::from(Arc::clone(&shared)),
            shared,
        }
    }
}

impl<F: Future> Future for RepollSelfWakes<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Registered before any poll below can end in IDLE, so a wake that
        // finds the state IDLE always has the task's current waker to wake.
        this.shared.task.register(cx.waker());
        this.shared.poller.store(this_thread(), Ordering::Release);
        let polled = this.poll_rounds();
        this.shared.poller.store(0, Ordering::Release);
        this.shared.state.store(IDLE, Ordering::Release);
        match polled {
            Some(out) => out,
            None => {
                // Still waking itself after the rounds, or out of tokio's
                // budget (which then wakes the task on every poll): let the
                // scheduler run the others first.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

impl<F: Future> RepollSelfWakes<F> {
    /// Poll `inner` until it is ready, or pending without having woken
    /// itself (`Some`), or out of rounds (`None`).
    fn poll_rounds(&mut self) -> Option<Poll<F::Output>> {
        let mut inner_cx = Context::from_waker(&self.waker);
        for round in 0..=MAX_REPOLLS {
            self.shared.state.store(POLLING, Ordering::Release);
            if let Poll::Ready(out) = self.inner.as_mut().poll(&mut inner_cx) {
                return Some(Poll::Ready(out));
            }
            if self
                .shared
                .state
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Some(Poll::Pending);
            }
            if round == MAX_REPOLLS || !tokio::task::coop::has_budget_remaining() {
                break;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts how often the task was woken.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn task() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(Arc::clone(&counter));
        (counter, waker)
    }

    /// Like hyper's dispatcher handing the body to the handler: wakes
    /// itself during its first `wakes` polls, then is ready.
    struct SelfWaking {
        wakes: usize,
        polls: Arc<AtomicUsize>,
    }

    impl Future for SelfWaking {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.wakes == 0 {
                return Poll::Ready(());
            }
            self.wakes -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn a_self_wake_during_the_poll_is_polled_again_without_waking_the_task() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut fut = RepollSelfWakes::new(SelfWaking {
            wakes: 1,
            polls: Arc::clone(&polls),
        });
        let (woken, waker) = task();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2, "polled again at once");
        assert_eq!(woken.0.load(Ordering::SeqCst), 0, "the task was not queued");
    }

    /// Like an HTTP/2 stream's task answering on the other worker while the
    /// connection is being polled: queued as before, not polled again now.
    #[test]
    fn a_wake_from_another_thread_during_the_poll_goes_to_the_task() {
        struct WokenElsewhere(Arc<AtomicUsize>);
        impl Future for WokenElsewhere {
            type Output = ();
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.0.fetch_add(1, Ordering::SeqCst) > 0 {
                    return Poll::Ready(());
                }
                let waker = cx.waker().clone();
                std::thread::spawn(move || waker.wake()).join().unwrap();
                Poll::Pending
            }
        }
        let polls = Arc::new(AtomicUsize::new(0));
        let mut fut = RepollSelfWakes::new(WokenElsewhere(Arc::clone(&polls)));
        let (woken, waker) = task();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert_eq!(
            polls.load(Ordering::SeqCst),
            1,
            "not polled again in this turn"
        );
        assert_eq!(woken.0.load(Ordering::SeqCst), 1, "the task was woken");
        assert!(Pin::new(&mut fut).poll(&mut cx).is_ready());
    }

    #[test]
    fn a_future_that_always_wakes_itself_yields_after_the_bound() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut fut = RepollSelfWakes::new(SelfWaking {
            wakes: usize::MAX,
            polls: Arc::clone(&polls),
        });
        let (woken, waker) = task();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), MAX_REPOLLS + 1);
        assert_eq!(
            woken.0.load(Ordering::SeqCst),
            1,
            "the task is woken to be polled again later"
        );
    }

    #[test]
    fn a_wake_between_polls_wakes_the_task() {
        // Pending until told, like a socket waiting for bytes.
        struct Waiting(Arc<std::sync::Mutex<Option<Waker>>>, Arc<AtomicUsize>);
        impl Future for Waiting {
            type Output = ();
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.1.load(Ordering::SeqCst) > 0 {
                    return Poll::Ready(());
                }
                *self.0.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
        let slot = Arc::new(std::sync::Mutex::new(None));
        let ready = Arc::new(AtomicUsize::new(0));
        let mut fut = RepollSelfWakes::new(Waiting(Arc::clone(&slot), Arc::clone(&ready)));
        let (woken, waker) = task();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert_eq!(woken.0.load(Ordering::SeqCst), 0);

        // The "socket" becomes ready on another thread.
        let kept = slot
            .lock()
            .unwrap()
            .take()
            .expect("the future kept a waker");
        ready.store(1, Ordering::SeqCst);
        std::thread::spawn(move || kept.wake()).join().unwrap();
        assert_eq!(woken.0.load(Ordering::SeqCst), 1, "the task was woken");
        assert!(Pin::new(&mut fut).poll(&mut cx).is_ready());
    }

    /// Counts the wakes that reach the task while the future inside is
    /// being polled: the self-wakes tokio would queue the task again for.
    struct CountSelfWakes<F> {
        inner: Pin<Box<F>>,
        polling: Arc<std::sync::atomic::AtomicBool>,
        self_wakes: Arc<AtomicUsize>,
    }

    struct Forward {
        task: Waker,
        polling: Arc<std::sync::atomic::AtomicBool>,
        self_wakes: Arc<AtomicUsize>,
    }

    impl Wake for Forward {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            if self.polling.load(Ordering::SeqCst) {
                self.self_wakes.fetch_add(1, Ordering::SeqCst);
            }
            self.task.wake_by_ref();
        }
    }

    impl<F: Future> Future for CountSelfWakes<F> {
        type Output = F::Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            let waker = Waker::from(Arc::new(Forward {
                task: cx.waker().clone(),
                polling: Arc::clone(&self.polling),
                self_wakes: Arc::clone(&self.self_wakes),
            }));
            self.polling.store(true, Ordering::SeqCst);
            let out = self.inner.as_mut().poll(&mut Context::from_waker(&waker));
            self.polling.store(false, Ordering::SeqCst);
            out
        }
    }

    /// Self-wakes of a hyper HTTP/1 connection task while it serves `calls`
    /// POSTs whose handler reads the body, with or without [`RepollSelfWakes`].
    async fn hyper_self_wakes(repoll: bool, calls: usize) -> usize {
        use http_body_util::{BodyExt, Full};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let (mut client, server) = tokio::io::duplex(1 << 16);
        let conn = hyper::server::conn::http1::Builder::new().serve_connection(
            hyper_util::rt::TokioIo::new(server),
            hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let body = req.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(body)))
            }),
        );
        let self_wakes = Arc::new(AtomicUsize::new(0));
        let conn: Pin<Box<dyn Future<Output = _> + Send>> = if repoll {
            Box::pin(RepollSelfWakes::new(conn))
        } else {
            Box::pin(conn)
        };
        let served = tokio::spawn(CountSelfWakes {
            inner: Box::pin(conn),
            polling: Arc::default(),
            self_wakes: Arc::clone(&self_wakes),
        });
        let request =
            b"POST /v1/venues/tpl/ping HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}";
        let mut answer = [0u8; 1024];
        for _ in 0..calls {
            client.write_all(request).await.unwrap();
            let mut read = Vec::new();
            while !read.ends_with(b"{}") {
                let n = client.read(&mut answer).await.unwrap();
                assert!(n > 0, "the connection closed early");
                read.extend_from_slice(&answer[..n]);
            }
            assert!(
                read.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&read)
            );
        }
        served.abort();
        self_wakes.load(Ordering::SeqCst)
    }

    /// The premise of this module, checked against the hyper in use: its
    /// HTTP/1 connection wakes its own task when a handler reads a body,
    /// and [`RepollSelfWakes`] keeps every such wake from reaching tokio.
    #[tokio::test]
    async fn hyper_wakes_its_own_connection_for_a_body_and_the_wrapper_absorbs_it() {
        let bare = hyper_self_wakes(false, 20).await;
        assert!(
            bare >= 20,
            "hyper woke its connection task {bare} times from inside its poll for 20 bodies"
        );
        let wrapped = hyper_self_wakes(true, 20).await;
        assert_eq!(wrapped, 0, "wakes reaching the task from inside its poll");
    }

    /// Wakes racing with polls, from another thread: every wake that comes
    /// after a poll returned `Pending` must reach the task or the next poll.
    #[test]
    fn wakes_from_another_thread_are_never_lost() {
        use std::sync::Mutex;
        // Ready once the counter reaches the target; each poll keeps the waker.
        struct Racing {
            done: Arc<AtomicUsize>,
            slot: Arc<Mutex<Option<Waker>>>,
        }
        impl Future for Racing {
            type Output = ();
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                *self.slot.lock().unwrap() = Some(cx.waker().clone());
                if self.done.load(Ordering::SeqCst) >= 1_000 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
        let done = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let mut fut = RepollSelfWakes::new(Racing {
            done: Arc::clone(&done),
            slot: Arc::clone(&slot),
        });
        // The "task": parks until woken, then polls, until ready.
        let thread = std::thread::current();
        struct Unpark(std::thread::Thread, AtomicUsize);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.1.fetch_add(1, Ordering::SeqCst);
                self.0.unpark();
            }
        }
        let unpark = Arc::new(Unpark(thread, AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&unpark));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let producer = {
            let (done, slot) = (Arc::clone(&done), Arc::clone(&slot));
            std::thread::spawn(move || {
                for _ in 0..1_000 {
                    done.fetch_add(1, Ordering::SeqCst);
                    let w = slot.lock().unwrap().clone();
                    if let Some(w) = w {
                        w.wake();
                    }
                }
            })
        };
        let started = std::time::Instant::now();
        loop {
            if Pin::new(&mut fut).poll(&mut cx).is_ready() {
                break;
            }
            // A lost wake would park here until the timeout.
            std::thread::park_timeout(std::time::Duration::from_secs(5));
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "a wake was lost"
            );
        }
        producer.join().unwrap();
    }
}
