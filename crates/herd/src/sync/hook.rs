//! The narrow place where diagnostics will watch the locks: who waits for
//! which resource, who holds it. Nothing is installed until the diagnostics
//! layer installs an [`Observer`]; until then each call site costs one
//! atomic load and a branch not taken.

use std::sync::OnceLock;

use super::Resource;

/// Told about every acquisition, wait and release of a `Mutex`, `RwLock`,
/// `Semaphore` or `OnceCell`. `id` tells resources apart while they live.
pub(crate) trait Observer: Send + Sync {
    /// A caller joined the line for `n` permits.
    fn waiting(&self, resource: &Resource, id: usize, n: usize);
    /// A caller left the line without its permits (dropped, timed out,
    /// closed).
    fn gave_up(&self, resource: &Resource, id: usize, n: usize);
    /// A caller now holds `n` permits.
    fn acquired(&self, resource: &Resource, id: usize, n: usize);
    /// A holder returned `n` permits.
    fn released(&self, resource: &Resource, id: usize, n: usize);
}

static OBSERVER: OnceLock<&'static dyn Observer> = OnceLock::new();

/// The installed observer, if any.
#[inline]
pub(crate) fn observer() -> Option<&'static dyn Observer> {
    OBSERVER.get().copied()
}

/// Installs the observer for the rest of the process; `false` if one was
/// already installed.
#[cfg_attr(not(test), allow(dead_code))] // the diagnostics layer will call it
pub(crate) fn install(observer: &'static dyn Observer) -> bool {
    OBSERVER.set(observer).is_ok()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::sync::Semaphore;

    #[derive(Default)]
    struct Log(Mutex<Vec<(&'static str, Option<String>, usize)>>);

    impl Log {
        fn note(&self, event: &'static str, resource: &Resource, n: usize) {
            // Only the resource this test names: others run in parallel.
            if resource.name() == Some("hooked") {
                let name = resource.name().map(str::to_owned);
                self.0.lock().unwrap().push((event, name, n));
            }
        }
    }

    impl Observer for Log {
        fn waiting(&self, resource: &Resource, _: usize, n: usize) {
            self.note("waiting", resource, n);
        }
        fn gave_up(&self, resource: &Resource, _: usize, n: usize) {
            self.note("gave up", resource, n);
        }
        fn acquired(&self, resource: &Resource, _: usize, n: usize) {
            self.note("acquired", resource, n);
        }
        fn released(&self, resource: &Resource, _: usize, n: usize) {
            self.note("released", resource, n);
        }
    }

    #[test]
    fn an_installed_observer_sees_holders_and_waiters() {
        let log: &'static Log = Box::leak(Box::default());
        assert!(install(log));
        let sem = Semaphore::named("hooked", 1);
        let held = sem.try_acquire().unwrap();
        let mut waiting = std::pin::pin!(sem.acquire_many(1));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        drop(held);
        assert!(waiting.as_mut().poll(&mut cx).is_ready());
        let events: Vec<_> = log.0.lock().unwrap().iter().map(|e| e.0).collect();
        assert_eq!(
            events,
            ["acquired", "waiting", "released", "acquired", "released"]
        );
        assert!(!install(log), "installed once");
    }
}
