//! The ids of the events a sink stored last, which the writer asks before it stores a batch:
//! a message may come again while its first copy still waits in this process.

use uuid::Uuid;

/// The ids of the events this sink stored last. A message can come twice while the first copy
/// still waits in this process (its `ack_wait` ran out during a ClickHouse outage): the second
/// copy is flagged redelivered and looked up, but the first is not, and either may be written
/// first. Both copies are caught here, and inside one batch.
#[derive(Debug, Default)]
pub(crate) struct RecentIds {
    ids: std::collections::HashSet<Uuid>,
    order: std::collections::VecDeque<Uuid>,
}

/// How many ids [`RecentIds`] keeps: a few batches, well past what a stall can queue.
const RECENT_IDS: usize = 200_000;

impl RecentIds {
    pub(crate) fn contains(&self, id: &Uuid) -> bool {
        self.ids.contains(id)
    }

    pub(crate) fn remember(&mut self, ids: impl IntoIterator<Item = Uuid>) {
        for id in ids {
            if self.ids.insert(id) {
                self.order.push_back(id);
            }
        }
        while self.order.len() > RECENT_IDS {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_remember_the_last_ones_and_forget_the_oldest() {
        let mut recent = RecentIds::default();
        let first = Uuid::now_v7();
        recent.remember([first]);
        recent.remember([first]);
        assert!(recent.contains(&first));
        assert_eq!(recent.order.len(), 1, "an id is kept once");
        recent.remember((0..RECENT_IDS).map(|_| Uuid::now_v7()));
        assert!(!recent.contains(&first), "the oldest goes first");
        assert_eq!(recent.ids.len(), RECENT_IDS);
    }
}
