//! Timers and tasks that end with the component that started them.
//!
//! A timeout or an async continuation that outlives its component and then reads one of its
//! signals panics ("Tried to access a reactive value that has already been disposed"). The live
//! room starts timers from event-stream callbacks (which run outside any reactive owner), so
//! `on_cleanup` cannot be called there: [`Timers`] is created in the component body instead and
//! clears every pending timeout when that component is disposed.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use leptos::prelude::*;

#[derive(Default)]
struct Pending {
    disposed: bool,
    next: u64,
    handles: HashMap<u64, TimeoutHandle>,
}

/// Timeouts owned by the component that created this value. Cheap to copy into closures.
#[derive(Clone, Default)]
pub struct Timers(Arc<Mutex<Pending>>);

impl Timers {
    /// Call in a component body: the timers are cleared when that component is disposed.
    pub fn new() -> Timers {
        let timers = Timers::default();
        let on_dispose = timers.clone();
        on_cleanup(move || on_dispose.clear_all());
        timers
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` after `delay`, unless the owning component is disposed first.
    pub fn after(&self, delay: Duration, f: impl FnOnce() + 'static) {
        let id = {
            let mut p = self.lock();
            if p.disposed {
                return;
            }
            p.next += 1;
            p.next
        };
        let me = self.clone();
        let fire = move || {
            // Fired: forget the handle; run only if the owner is still alive.
            let alive = {
                let mut p = me.lock();
                p.handles.remove(&id);
                !p.disposed
            };
            if alive {
                f();
            }
        };
        if let Ok(handle) = set_timeout_with_handle(fire, delay) {
            let mut p = self.lock();
            if p.disposed {
                handle.clear();
            } else {
                p.handles.insert(id, handle);
            }
        }
    }

    /// How many timeouts are waiting (tests and diagnostics).
    pub fn pending(&self) -> usize {
        self.lock().handles.len()
    }

    fn clear_all(&self) {
        let handles: Vec<TimeoutHandle> = {
            let mut p = self.lock();
            p.disposed = true;
            p.handles.drain().map(|(_, h)| h).collect()
        };
        for h in handles {
            h.clear();
        }
    }
}

/// Spawns browser work whose continuation belongs to the current component: it is dropped
/// (never resumed) once that component is disposed. Call it from a component body or an
/// event handler (both run under the component's owner).
pub fn spawn_owned(task: impl Future<Output = ()> + 'static) {
    leptos::task::spawn_local_scoped_with_cancellation(task);
}

/// Every `period` while the current component lives.
pub fn every(period: Duration, f: impl Fn() + 'static) {
    if let Ok(handle) = set_interval_with_handle(f, period) {
        on_cleanup(move || handle.clear());
    }
}
