//! What the sink remembers of each person's last activity: their latest stored event and its
//! session, for the persons it saw last (a bounded number; the least recently seen are
//! forgotten first, and a forgotten person is looked up in ClickHouse again).

use std::collections::HashMap;

use uuid::Uuid;

/// Whose sessions these are: a project and a person key (see [`super::person_keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Person {
    pub(crate) project: Uuid,
    pub(crate) key: String,
}

/// A person's latest event the sink knows of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Last {
    /// Seconds since the epoch.
    pub(crate) at: u32,
    pub(crate) event_id: Uuid,
    pub(crate) session: String,
}

/// How many persons are remembered: about 150 bytes each, so some 30 MiB. Past it the least
/// recently seen quarter is forgotten at once, which keeps the cost of forgetting small per
/// person remembered.
const CAPACITY: usize = 200_000;

/// The persons remembered, each with when it was last seen (a counter).
#[derive(Debug, Default)]
pub(crate) struct Known {
    persons: HashMap<Person, (Last, u64)>,
    clock: u64,
}

impl Known {
    pub(crate) fn get(&self, person: &Person) -> Option<&Last> {
        self.persons.get(person).map(|(last, _)| last)
    }

    /// `last` is an event of `person`: remembered if it is later than what was known.
    pub(crate) fn remember(&mut self, person: Person, last: Last) {
        self.clock += 1;
        let seen = self.clock;
        match self.persons.get_mut(&person) {
            Some((known, stamp)) => {
                *stamp = seen;
                if (last.at, last.event_id) > (known.at, known.event_id) {
                    *known = last;
                }
            }
            None => {
                self.persons.insert(person, (last, seen));
                if self.persons.len() > CAPACITY {
                    self.forget_oldest(CAPACITY * 3 / 4);
                }
            }
        }
    }

    /// Keeps the `keep` persons seen last.
    fn forget_oldest(&mut self, keep: usize) {
        let mut stamps: Vec<u64> = self.persons.values().map(|(_, stamp)| *stamp).collect();
        let cut = stamps.len().saturating_sub(keep);
        if cut == 0 {
            return;
        }
        let (_, threshold, _) = stamps.select_nth_unstable(cut - 1);
        let threshold = *threshold;
        self.persons.retain(|_, (_, stamp)| *stamp > threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(n: usize) -> Person {
        Person {
            project: Uuid::nil(),
            key: format!("u{n}"),
        }
    }

    fn last(at: u32, session: &str) -> Last {
        Last {
            at,
            event_id: Uuid::from_u128(u128::from(at)),
            session: session.to_owned(),
        }
    }

    #[test]
    fn the_latest_event_wins_and_the_least_recently_seen_are_forgotten() {
        let mut known = Known::default();
        known.remember(person(0), last(200, "b"));
        known.remember(person(0), last(100, "a"));
        assert_eq!(known.get(&person(0)), Some(&last(200, "b")), "an older one");
        for n in 1..=CAPACITY {
            known.remember(person(n), last(1, "x"));
            if n == CAPACITY / 2 {
                // Seen again: recently.
                known.remember(person(0), last(300, "c"));
            }
        }
        assert!(known.persons.len() <= CAPACITY);
        assert!(known.get(&person(1)).is_none(), "seen first, forgotten");
        assert_eq!(known.get(&person(0)), Some(&last(300, "c")));
        assert!(known.get(&person(CAPACITY)).is_some());
    }
}
