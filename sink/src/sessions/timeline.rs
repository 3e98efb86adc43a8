//! One person's timeline: the events known of them (stored, or remembered from earlier
//! batches) and the batch's new ones, in time order. Each new event without a session joins
//! the session of the event just before it when that is at most 30 minutes earlier, else of
//! the first later event with a session that a chain of gaps of at most 30 minutes reaches
//! (a late event just before a stored session), else it starts a session of its own.

use uuid::Uuid;

/// Most seconds between two events of one session: 30 minutes of inactivity end it.
pub(crate) const INACTIVITY_SECS: u32 = 1_800;

/// An event on a person's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Moment {
    /// Seconds since the epoch.
    pub(crate) at: u32,
    pub(crate) event_id: Uuid,
    /// Its session, when it has one: stored, remembered, or sent by the SDK.
    pub(crate) session: Option<String>,
    /// The batch row it is, if it is one.
    pub(crate) row: Option<usize>,
}

/// The id of a session that `person` of `project` starts at `at`: a UUIDv5 of the project, the
/// person and the 30-minute slot the start falls in. Two consecutive sessions of a person
/// start more than 30 minutes apart, so never in one slot; two sink replicas that each start
/// a session for the same person's first events of a slot (neither seeing the other's yet)
/// give it the same id, so it stays one session.
pub(crate) fn new_session_id(project: Uuid, person: &str, at: u32) -> String {
    let slot = at - at % INACTIVITY_SECS;
    Uuid::new_v5(&project, format!("session/{person}/{slot}").as_bytes()).to_string()
}

/// Gives every moment without a session one (see the module's header), in time order (ties
/// by event id, so the answer does not depend on the order moments came in). Returns how
/// many sessions it started.
pub(crate) fn settle(project: Uuid, person: &str, moments: &mut [Moment]) -> usize {
    moments.sort_by_key(|m| (m.at, m.event_id));
    let mut started = 0;
    for index in 0..moments.len() {
        if moments[index].session.is_some() {
            continue;
        }
        let at = moments[index].at;
        // Every earlier moment has a session by now.
        let joined = index
            .checked_sub(1)
            .map(|before| &moments[before])
            .filter(|before| at - before.at <= INACTIVITY_SECS)
            .and_then(|before| before.session.clone())
            .or_else(|| later_session(moments, index));
        moments[index].session = Some(joined.unwrap_or_else(|| {
            started += 1;
            new_session_id(project, person, at)
        }));
    }
    started
}

/// The session of the first moment after `index` that has one, reached through gaps of at
/// most 30 minutes.
fn later_session(moments: &[Moment], index: usize) -> Option<String> {
    for next in index + 1..moments.len() {
        if moments[next].at - moments[next - 1].at > INACTIVITY_SECS {
            return None;
        }
        if let Some(session) = &moments[next].session {
            return Some(session.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: Uuid = Uuid::from_u128(7);

    fn moment(at: u32, session: Option<&str>, row: Option<usize>) -> Moment {
        Moment {
            at,
            event_id: Uuid::from_u128(u128::from(at) * 1000 + row.map_or(999, |r| r as u128)),
            session: session.map(str::to_owned),
            row,
        }
    }

    /// The sessions of the rows, by row.
    fn sessions(moments: &[Moment]) -> Vec<(usize, String)> {
        let mut rows: Vec<(usize, String)> = moments
            .iter()
            .filter_map(|m| Some((m.row?, m.session.clone()?)))
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn new_events_split_where_30_minutes_pass_without_one() {
        let mut moments = vec![
            moment(10_000, None, Some(0)),
            moment(10_000 + 1_800, None, Some(1)),
            moment(10_000 + 3_601, None, Some(2)),
            moment(10_000 + 3_700, None, Some(3)),
        ];
        assert_eq!(settle(PROJECT, "u", &mut moments), 2);
        let got = sessions(&moments);
        assert_eq!(got[0].1, got[1].1, "exactly 30 minutes apart: one session");
        assert_ne!(got[1].1, got[2].1, "a second more: a new one");
        assert_eq!(got[2].1, got[3].1);
        assert_eq!(got[0].1, new_session_id(PROJECT, "u", 10_000));
    }

    #[test]
    fn a_new_event_joins_the_stored_session_before_or_after_it() {
        let mut moments = vec![
            moment(5_000, Some("stored"), None),
            moment(6_000, None, Some(0)),
            // Late: before a stored session, within 30 minutes of its first event, through
            // another new event.
            moment(20_000, None, Some(1)),
            moment(21_000, None, Some(2)),
            moment(22_000, Some("later"), None),
        ];
        assert_eq!(settle(PROJECT, "u", &mut moments), 0);
        assert_eq!(
            sessions(&moments),
            [
                (0, "stored".to_owned()),
                (1, "later".to_owned()),
                (2, "later".to_owned())
            ]
        );
    }

    #[test]
    fn an_sdk_session_is_kept_and_joined_by_the_persons_other_events() {
        let mut moments = vec![
            moment(1_000, Some("sdk"), Some(0)),
            moment(1_200, None, Some(1)),
            moment(9_000, None, Some(2)),
        ];
        assert_eq!(settle(PROJECT, "u", &mut moments), 1);
        let got = sessions(&moments);
        assert_eq!((got[0].1.as_str(), got[1].1.as_str()), ("sdk", "sdk"));
        assert_eq!(got[2].1, new_session_id(PROJECT, "u", 9_000));
    }

    #[test]
    fn the_answer_does_not_depend_on_the_order_moments_came_in() {
        let ordered = vec![
            moment(100, None, Some(0)),
            moment(100, None, Some(1)),
            moment(5_000, None, Some(2)),
        ];
        let mut reversed = ordered.clone();
        reversed.reverse();
        let mut ordered = ordered;
        settle(PROJECT, "u", &mut ordered);
        settle(PROJECT, "u", &mut reversed);
        assert_eq!(sessions(&ordered), sessions(&reversed));
    }

    #[test]
    fn session_ids_differ_by_project_person_and_slot_only() {
        let id = new_session_id(PROJECT, "u", 3_600);
        assert_eq!(id, new_session_id(PROJECT, "u", 3_600 + 1_799));
        assert_ne!(id, new_session_id(PROJECT, "u", 3_600 + 1_800));
        assert_ne!(id, new_session_id(PROJECT, "v", 3_600));
        assert_ne!(id, new_session_id(Uuid::from_u128(8), "u", 3_600));
        assert!(Uuid::parse_str(&id).is_ok());
    }
}
