//! Which mock host the current thread's host calls go to.
//!
//! A stack, so a [`MockHost::run`](super::MockHost::run) inside another
//! restores the outer one; the guard pops on drop, so a panicking test does
//! not leave its mock active for the next test on the same thread.

use std::cell::RefCell;
use std::rc::Rc;

use super::mock::State;

thread_local! {
    static ACTIVE: RefCell<Vec<Rc<RefCell<State>>>> = const { RefCell::new(Vec::new()) };
}

/// Makes a state active until dropped.
pub(super) struct Guard(());

impl Guard {
    pub(super) fn enter(state: Rc<RefCell<State>>) -> Guard {
        ACTIVE.with(|a| a.borrow_mut().push(state));
        Guard(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        ACTIVE.with(|a| {
            a.borrow_mut().pop();
        });
    }
}

/// Run `f` on the active state; a host call with none active is a test bug.
#[track_caller]
pub(super) fn with<R>(import: &str, f: impl FnOnce(&mut State) -> R) -> R {
    let state = ACTIVE.with(|a| a.borrow().last().cloned());
    let Some(state) = state else {
        panic!(
            "resilience-guest testing: host import `{import}` called with no MockHost active on \
             this thread; run the operation with `resilience_guest::testing::call(&mock, ...)` \
             or wrap the code in `mock.run(|| ...)`"
        );
    };
    let mut state = state.borrow_mut();
    f(&mut state)
}
