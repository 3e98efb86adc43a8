//! How the persons tab names a person and their times.

use contract::query::PersonView;
use uuid::Uuid;

/// The distinct id the person's id was made of: the identified one, or the only one.
pub(crate) fn canonical_id(person: &PersonView, project: &str) -> String {
    let project = Uuid::parse_str(project).ok();
    person
        .distinct_ids
        .iter()
        .find(|id| project.is_some_and(|p| contract::persons::person_id(p, id) == person.id))
        .or_else(|| person.distinct_ids.first())
        .cloned()
        .unwrap_or_default()
}

/// How a person is named: the name or email their properties hold, else their distinct id.
pub(crate) fn display_name(person: &PersonView, project: &str) -> String {
    ["name", "$name", "email", "$email"]
        .iter()
        .find_map(|key| person.properties.get(*key).filter(|v| !v.trim().is_empty()))
        .cloned()
        .unwrap_or_else(|| canonical_id(person, project))
}

/// An RFC 3339 time as the page shows it: `2026-11-02 10:00:00` (UTC).
pub(crate) fn when(time: &str) -> String {
    time.replace('T', " ")
        .trim_end_matches('Z')
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn person(
        project: Uuid,
        canonical: &str,
        ids: &[&str],
        properties: &[(&str, &str)],
    ) -> PersonView {
        PersonView {
            id: contract::persons::person_id(project, canonical),
            distinct_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            properties: properties
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            first_seen: None,
            last_seen: None,
        }
    }

    #[test]
    fn a_person_is_named_by_their_properties_else_their_identified_id() {
        let project = Uuid::now_v7();
        let p = project.to_string();
        let anonymous = person(project, "user-1", &["anon-1", "user-1"], &[]);
        assert_eq!(canonical_id(&anonymous, &p), "user-1");
        assert_eq!(display_name(&anonymous, &p), "user-1");
        let named = person(
            project,
            "user-1",
            &["anon-1", "user-1"],
            &[("email", "ada@example.com")],
        );
        assert_eq!(display_name(&named, &p), "ada@example.com");
        assert_eq!(when("2026-11-02T10:00:00.123Z"), "2026-11-02 10:00:00");
    }
}
