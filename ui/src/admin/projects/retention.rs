//! A project's own data retention: how many months of its events are kept (1 to 120; older ones
//! are deleted by the retention job), or the instance's retention; saved with `PUT …/retention`.

use contract::auth::{MAX_RETENTION_MONTHS, ProjectRetention};
use sycamore::prelude::*;
use uuid::Uuid;

use crate::api;
use crate::busy::Busy;
use crate::session::Session;

/// How a retention reads: `13 months`, `1 month`, `the instance's`.
pub(crate) fn retention_label(months: Option<u16>) -> String {
    match months {
        Some(1) => "1 month".to_owned(),
        Some(months) => format!("{months} months"),
        None => "the instance's".to_owned(),
    }
}

/// The months typed, when they are a retention a project may have.
fn parse_months(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|months| (1..=MAX_RETENTION_MONTHS).contains(months))
        .ok_or_else(|| format!("Enter 1 to {MAX_RETENTION_MONTHS} months"))
}

/// The retention the form asks for: the instance's (`own` false), the months typed (`own`
/// true), or why it cannot be sent.
fn chosen(own: Option<bool>, months: &str) -> Result<Option<u16>, String> {
    match own {
        Some(true) => parse_months(months).map(Some),
        Some(false) => Ok(None),
        None => Err("Choose the instance's retention or a number of months".to_owned()),
    }
}

/// The form. `saved` is the project's retention as saved (`None`: not known yet, on the account
/// page until the project is read); a save sets it.
#[component(inline_props)]
pub(crate) fn RetentionForm(project: Uuid, saved: Signal<Option<Option<u16>>>) -> View {
    // Neither choice is ticked while the retention is not known.
    let own = create_signal(None);
    let months = create_signal(String::new());
    // The choices show the retention as saved: at first, once read, and after a save.
    create_effect(move || {
        if let Some(kept) = saved.get() {
            own.set(Some(kept.is_some()));
            months.set(kept.map(|m| m.to_string()).unwrap_or_default());
        }
    });
    let calls = Busy::new(use_context::<Session>());
    let done = create_signal(false);
    let Busy { busy, error, .. } = calls;
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        done.set(false);
        let chosen = match chosen(own.get_untracked(), &months.get_clone_untracked()) {
            Ok(chosen) => chosen,
            Err(message) => {
                error.set(Some(message));
                return;
            }
        };
        let request = ProjectRetention { months: chosen };
        calls.run(
            format!("/api/admin/projects/{project}/retention"),
            move |path, token| async move {
                api::send::<_, ProjectRetention>("PUT", &path, &request, &token).await
            },
            move |answer| {
                saved.set(Some(answer.months));
                done.set(true);
            },
            || {},
        );
    };
    let id = format!("retention-{project}");
    let choices = choices(&id, own, months);
    let now = move || {
        saved.get().map(|months| match months {
            Some(_) => format!("Now: {} of events are kept.", retention_label(months)),
            None => "Now: the instance's retention applies.".to_owned(),
        })
    };
    view! {
        form(id=id, class="retention-form", on:submit=submit, aria-busy=move || busy.get().to_string()) {
            fieldset {
                legend { "Data retention" }
                p(class="hint") {
                    "Older events of this project are deleted when the retention job runs. It keeps "
                    "no more than the instance does."
                }
                (move || now().map(|now| view! { p(class="retention-now") { (now) } }))
                (choices)
            }
            button(r#type="submit", class="retention-save", disabled=busy) {
                (move || if busy.get() { "Saving…" } else { "Save retention" })
            }
            (move || error.get_clone().map(|message| view! {
                p(class="form-error retention-error", role="alert") { (message) }
            }))
            p(class="retention-saved", role="status") {
                (move || if done.get() { "Retention saved." } else { "" })
            }
        }
    }
}

/// The two choices: the instance's retention, or the months typed (typing picks it).
fn choices(id: &str, own: Signal<Option<bool>>, months: Signal<String>) -> View {
    let (instance_id, own_id) = (format!("{id}-instance"), format!("{id}-own"));
    let (instance_for, own_for) = (instance_id.clone(), own_id.clone());
    let months_id = format!("{id}-months");
    let group = format!("{id}-choice");
    let group_own = group.clone();
    view! {
        div(class="choice") {
            input(id=instance_id, r#type="radio", name=group, value="instance",
                prop:checked=move || own.get() == Some(false), on:change=move |_| own.set(Some(false)))
            label(r#for=instance_for) { "The instance's retention" }
        }
        div(class="choice retention-own") {
            input(id=own_id, r#type="radio", name=group_own, value="own",
                prop:checked=move || own.get() == Some(true), on:change=move |_| own.set(Some(true)))
            label(r#for=own_for) { "Keep events for" }
            input(id=months_id, class="retention-months", r#type="number", min="1",
                max=MAX_RETENTION_MONTHS.to_string(), step="1", inputmode="numeric",
                aria-label="Months of events kept, 1 to 120", bind:value=months,
                on:input=move |_| own.set(Some(true)))
            span(class="unit", aria-hidden="true") { "months" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_a_whole_number_from_1_to_120() {
        assert_eq!(parse_months(" 13 "), Ok(13));
        assert_eq!(parse_months("120"), Ok(120));
        for wrong in ["", "0", "121", "1.5", "-3", "many"] {
            assert_eq!(
                parse_months(wrong),
                Err("Enter 1 to 120 months".to_owned()),
                "{wrong}"
            );
        }
        assert_eq!(retention_label(Some(13)), "13 months");
        assert_eq!(retention_label(Some(1)), "1 month");
        assert_eq!(retention_label(None), "the instance's");
        assert_eq!(chosen(Some(false), "13"), Ok(None));
        assert_eq!(chosen(Some(true), "13"), Ok(Some(13)));
        assert!(chosen(None, "13").is_err());
    }
}
