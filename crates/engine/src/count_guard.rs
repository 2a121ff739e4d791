//! A guard that counts its holder in a shared counter while it lives: how
//! threads tell others "I am waiting" or "I am on my way" without a lock.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Adds one to a counter when made, takes it back when dropped (also on an
/// early return or a panic).
pub(crate) struct CountGuard<'a>(&'a AtomicUsize);

impl<'a> CountGuard<'a> {
    /// Counts the caller in `counter`.
    pub(crate) fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(counter)
    }
}

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
