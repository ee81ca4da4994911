//! Work spread over the machine's cores, results in input order.
//!
//! Compiling a filter's patterns is the one slow step before a scan can
//! start (fail2ban's sshd filter: ~140M instructions on one core), and the
//! patterns compile independently. Their costs differ a hundredfold (a
//! rewritten pattern against a plain one), so workers take items one at a
//! time rather than a fixed share each. Sorting a report's offenders is
//! the slow step after a scan, and its halves sort independently.

use std::cmp::Ordering as By;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Fewer items than this are sorted on the calling thread alone.
const PARALLEL_SORT_MIN: usize = 1 << 12;

/// `items` sorted by `compare` (unstably), on two threads when there are
/// cores and items enough: cut at the median first, so each half sorts on
/// its own and nothing is merged or copied afterwards.
pub fn sort_unstable_by<T: Send>(items: &mut [T], compare: impl Fn(&T, &T) -> By + Sync) {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || items.len() < PARALLEL_SORT_MIN {
        items.sort_unstable_by(compare);
        return;
    }
    let middle = items.len() / 2;
    items.select_nth_unstable_by(middle, &compare);
    let (low, high) = items.split_at_mut(middle);
    thread::scope(|scope| {
        let helper = scope.spawn(|| high.sort_unstable_by(&compare));
        low.sort_unstable_by(&compare);
        if let Err(panic) = helper.join() {
            std::panic::resume_unwind(panic);
        }
    });
}

/// `f` over `items` on up to one thread per core, results in input order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            done.push((index, f(item)));
        }
    };
    let mut results: Vec<(usize, R)> = thread::scope(|scope| {
        // The calling thread is one of the workers.
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for helper in helpers {
            match helper.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u32> = (0..101).collect();
        assert_eq!(
            super::map(&items, |n| n * 2),
            (0..101).map(|n| n * 2).collect::<Vec<_>>()
        );
        assert!(super::map(&[] as &[u32], |n| *n).is_empty());
    }

    proptest::proptest! {
        /// Sorted in halves, sorted as a whole: also across the size where
        /// the halves start to go to two threads.
        #[test]
        fn halves_sort_as_the_whole_does(
            mut items in proptest::collection::vec(0..1000u32, 0..3 * super::PARALLEL_SORT_MIN)
        ) {
            let mut want = items.clone();
            want.sort_unstable();
            super::sort_unstable_by(&mut items, |a, b| a.cmp(b));
            proptest::prop_assert_eq!(items, want);
        }
    }
}
