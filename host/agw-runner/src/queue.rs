//! Which run gets the next free tick worker.
//!
//! Runs wait in first-in, first-out order, and a run that yields goes to the back, so every
//! runnable run gets a tick before any gets a second one. A run whose last tick used its whole
//! time slice (slow plugin calls, long loops) is *heavy*: heavy runs together hold at most
//! `heavy_cap` workers, so at least one worker (a quarter of them) stays free for everything
//! else, and a few slow runs cannot starve the many quick ones.

use std::collections::{HashMap, HashSet, VecDeque};

#[derive(Debug)]
pub(crate) struct TickQueue {
    workers: usize,
    heavy_cap: usize,
    light: VecDeque<String>,
    heavy: VecDeque<String>,
    /// Runs queued or ticking: a run is never queued twice, nor ticked by two workers.
    present: HashSet<String>,
    /// Runs ticking now, and whether each was heavy when it started.
    ticking: HashMap<String, bool>,
    heavy_runs: HashSet<String>,
}

impl TickQueue {
    pub(crate) fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        let reserved = (workers / 4).max(1);
        Self {
            workers,
            heavy_cap: workers.saturating_sub(reserved).max(1),
            light: VecDeque::new(),
            heavy: VecDeque::new(),
            present: HashSet::new(),
            ticking: HashMap::new(),
            heavy_runs: HashSet::new(),
        }
    }

    /// Queues `run_id` unless it is queued or ticking already.
    pub(crate) fn push(&mut self, run_id: String) {
        if !self.present.insert(run_id.clone()) {
            return;
        }
        match self.heavy_runs.contains(&run_id) {
            true => self.heavy.push_back(run_id),
            false => self.light.push_back(run_id),
        }
    }

    /// The run to tick on a free worker, if a worker is free and a run may take it.
    pub(crate) fn next(&mut self) -> Option<String> {
        if self.ticking.len() >= self.workers {
            return None;
        }
        let heavy_ticking = self.ticking.values().filter(|heavy| **heavy).count();
        let run_id = match self.light.pop_front() {
            Some(run_id) => run_id,
            None if heavy_ticking < self.heavy_cap => self.heavy.pop_front()?,
            None => return None,
        };
        let heavy = self.heavy_runs.contains(&run_id);
        self.ticking.insert(run_id.clone(), heavy);
        Some(run_id)
    }

    /// A tick of `run_id` ended: `heavy` says whether it used its whole slice, `again` whether
    /// the run can go on (it then goes to the back of its queue).
    pub(crate) fn finished(&mut self, run_id: &str, heavy: bool, again: bool) {
        self.ticking.remove(run_id);
        self.present.remove(run_id);
        match heavy && again {
            true => self.heavy_runs.insert(run_id.to_owned()),
            false => self.heavy_runs.remove(run_id),
        };
        if again {
            self.push(run_id.to_owned());
        }
    }

    /// Whether a tick is in progress.
    pub(crate) fn is_ticking(&self) -> bool {
        !self.ticking.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queue: &mut TickQueue) -> Vec<String> {
        std::iter::from_fn(|| queue.next()).collect()
    }

    #[test]
    fn runs_take_turns_and_are_never_queued_twice() {
        let mut q = TickQueue::new(2);
        for id in ["a", "b", "c", "a"] {
            q.push(id.into());
        }
        assert_eq!(drain(&mut q), ["a", "b"], "two workers");
        q.push("a".into());
        q.finished("a", false, true);
        assert_eq!(drain(&mut q), ["c"], "a yielded and goes behind c");
        q.finished("b", false, false);
        assert_eq!(drain(&mut q), ["a"]);
        assert!(q.is_ticking());
    }

    #[test]
    fn heavy_runs_leave_a_worker_for_the_others() {
        let mut q = TickQueue::new(4);
        for id in ["h1", "h2", "h3", "h4"] {
            q.push(id.into());
        }
        assert_eq!(drain(&mut q).len(), 4);
        for id in ["h1", "h2", "h3", "h4"] {
            q.finished(id, true, true);
        }
        // Three of the four heavy runs tick; the fourth worker waits for a light run.
        assert_eq!(drain(&mut q), ["h1", "h2", "h3"]);
        q.push("quick".into());
        assert_eq!(drain(&mut q), ["quick"]);
        q.finished("quick", false, false);
        q.push("quick2".into());
        assert_eq!(drain(&mut q), ["quick2"], "light runs go first");
        q.finished("quick2", false, false);
        assert_eq!(drain(&mut q), Vec::<String>::new(), "h4 waits: three heavy runs tick");
        // A heavy run whose tick was quick is light again.
        q.finished("h1", false, true);
        assert_eq!(drain(&mut q), ["h1", "h4"]);
    }

    #[test]
    fn one_worker_still_serves_heavy_runs() {
        let mut q = TickQueue::new(1);
        q.push("h".into());
        assert_eq!(drain(&mut q), ["h"]);
        q.finished("h", true, true);
        assert_eq!(drain(&mut q), ["h"]);
    }
}
