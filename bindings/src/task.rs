//! Runs blocking network work (enrolment, sync) on a thread of its own and awaits it as a
//! future, so the shells get `suspend` (Kotlin) and `async` (Swift) functions without an async
//! runtime in the library. A panic in the work becomes [`IpcError::Internal`].
//!
//! If the caller stops waiting (a cancelled coroutine or task), the work still runs to its
//! end: a sync stopped half-way would be safe too, but finishing is simpler and loses nothing.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::error::{IpcError, Result};

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The result of work running on another thread.
pub(crate) struct Task<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

fn lock<T>(slot: &Mutex<Slot<T>>) -> MutexGuard<'_, Slot<T>> {
    // Only whole values are stored: a poisoned lock still holds a consistent slot.
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

fn fill<T>(slot: &Mutex<Slot<T>>, value: T) {
    let waker = {
        let mut s = lock(slot);
        s.value = Some(value);
        s.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = lock(&self.slot);
        match s.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Run `work` on a new thread called `name`.
pub(crate) fn run_blocking<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Task<Result<T>> {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
    }));
    let done = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let out = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
                Err(IpcError::Internal {
                    detail: "a background task stopped unexpectedly".into(),
                })
            });
            fill(&done, out);
        });
    if spawned.is_err() {
        fill(
            &slot,
            Err(IpcError::Internal {
                detail: "could not start a background thread".into(),
            }),
        );
    }
    Task { slot }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Condvar;
    use std::task::Wake;

    struct Signal(Mutex<bool>, Condvar);

    impl Wake for Signal {
        fn wake(self: Arc<Self>) {
            *self.0.lock().unwrap() = true;
            self.1.notify_all();
        }
    }

    /// A minimal executor for the tests.
    pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
        let signal = Arc::new(Signal(Mutex::new(false), Condvar::new()));
        let waker = Waker::from(Arc::clone(&signal));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            let mut woken = signal.0.lock().unwrap();
            while !*woken {
                woken = signal.1.wait(woken).unwrap();
            }
            *woken = false;
        }
    }

    #[test]
    fn work_runs_on_its_own_thread() {
        let caller = std::thread::current().id();
        let out = block_on(run_blocking("t", move || {
            Ok(std::thread::current().id() != caller)
        }));
        assert_eq!(out, Ok(true));
    }

    #[test]
    #[allow(clippy::panic)]
    fn a_panic_becomes_an_internal_error() {
        let out: Result<()> = block_on(run_blocking("t", || panic!("synthetic")));
        assert!(matches!(out, Err(IpcError::Internal { .. })));
    }
}
