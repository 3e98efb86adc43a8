//! The copy-paste set-up for a project: how each SDK ingest understands is pointed at this
//! server with a write key. Each text follows what ingest reads (`ingest/src/wire/`): PostHog
//! posts to `/e/` with the key as `api_key`, Segment's browser SDK batches to `<apiHost>/b`
//! with `writeKey` in the body, Plausible names the site by a domain the project lists, Umami
//! by the project id.

/// One SDK's set-up text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snippet {
    /// Short id, used in element ids (`snippet-posthog`).
    pub(crate) id: &'static str,
    pub(crate) title: &'static str,
    /// What to do with it, in one sentence.
    pub(crate) note: String,
    pub(crate) code: String,
}

/// What the snippets are made of: where this server is, and the project and key chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    /// `window.location.origin`: `https://analytics.example.com`.
    pub(crate) origin: &'a str,
    pub(crate) key: &'a str,
    pub(crate) project_id: &'a str,
    /// The project's first Plausible domain, if it has one.
    pub(crate) domain: Option<&'a str>,
}

/// Every snippet for `target`, in the order the panel shows them.
pub(crate) fn all(target: &Target<'_>) -> Vec<Snippet> {
    vec![
        posthog(target),
        segment(target),
        plausible(target),
        umami(target),
        curl(target),
    ]
}

fn posthog(target: &Target<'_>) -> Snippet {
    let Target { origin, key, .. } = target;
    Snippet {
        id: "posthog",
        title: "PostHog (posthog-js)",
        note: "npm install posthog-js, then run this once when your app starts. This server \
               takes events only, so feature flags, surveys and recordings are switched off."
            .to_owned(),
        code: format!(
            "import posthog from 'posthog-js'\n\
             \n\
             posthog.init('{key}', {{\n\
             \x20 api_host: '{origin}',\n\
             \x20 advanced_disable_flags: true,\n\
             \x20 disable_session_recording: true,\n\
             \x20 disable_surveys: true,\n\
             \x20 disable_external_dependency_loading: true,\n\
             }})\n\
             \n\
             posthog.capture('signed_up', {{ plan: 'pro' }})\n"
        ),
    }
}

fn segment(target: &Target<'_>) -> Snippet {
    let Target { origin, key, .. } = target;
    let host = host_of(origin);
    let mut note = "npm install @segment/analytics-next. The settings are given inline, so \
                    nothing is fetched from Segment's CDN, and events are sent in batches to \
                    /v1/b, the path this server takes from browsers."
        .to_owned();
    if origin.starts_with("http://") {
        note.push_str(
            " Segment's batching always uses HTTPS: serve this server over HTTPS for it to work.",
        );
    }
    Snippet {
        id: "segment",
        title: "Segment (analytics.js)",
        note,
        code: format!(
            "import {{ AnalyticsBrowser }} from '@segment/analytics-next'\n\
             \n\
             export const analytics = AnalyticsBrowser.load({{\n\
             \x20 writeKey: '{key}',\n\
             \x20 cdnSettings: {{\n\
             \x20   integrations: {{\n\
             \x20     'Segment.io': {{\n\
             \x20       apiKey: '{key}',\n\
             \x20       apiHost: '{host}/v1',\n\
             \x20       deliveryStrategy: {{ strategy: 'batching', config: {{ size: 10, timeout: 5000 }} }},\n\
             \x20     }},\n\
             \x20   }},\n\
             \x20 }},\n\
             }})\n\
             \n\
             analytics.track('Signed Up', {{ plan: 'pro' }})\n"
        ),
    }
}

fn plausible(target: &Target<'_>) -> Snippet {
    let Target { origin, domain, .. } = target;
    let (domain, note) = match domain {
        Some(domain) => (
            *domain,
            format!(
                "Put this in the <head> of every page of {domain}. Plausible names the site by \
                 its domain, which must be one of the project's domains."
            ),
        ),
        None => (
            "your-site.example",
            "Add your site's domain to the project's domains first: Plausible names the site \
             by its domain, and events for a domain no project lists are refused."
                .to_owned(),
        ),
    };
    Snippet {
        id: "plausible",
        title: "Plausible",
        note,
        code: format!(
            "<script defer data-domain=\"{domain}\" data-api=\"{origin}/api/event\"\n\
             \x20 src=\"https://plausible.io/js/script.js\"></script>\n"
        ),
    }
}

fn umami(target: &Target<'_>) -> Snippet {
    let Target {
        origin, project_id, ..
    } = target;
    Snippet {
        id: "umami",
        title: "Umami",
        note: "Put this in the <head> of your pages. Umami names the site by its website id, \
               which here is the project's id (no write key)."
            .to_owned(),
        code: format!(
            "<script defer src=\"https://cloud.umami.is/script.js\"\n\
             \x20 data-website-id=\"{project_id}\"\n\
             \x20 data-host-url=\"{origin}\"></script>\n"
        ),
    }
}

fn curl(target: &Target<'_>) -> Snippet {
    let Target { origin, key, .. } = target;
    Snippet {
        id: "curl",
        title: "curl",
        note: "One event from a shell or a server, in PostHog's format; the answer is \
               {\"status\": 1} once it is stored."
            .to_owned(),
        code: format!(
            "curl -X POST '{origin}/i/v0/e/' \\\n\
             \x20 -H 'Content-Type: application/json' \\\n\
             \x20 -d '{{\"api_key\": \"{key}\", \"event\": \"signed_up\", \"distinct_id\": \"user-42\", \"properties\": {{\"plan\": \"pro\"}}}}'\n"
        ),
    }
}

/// `analytics.example.com:8443` of `https://analytics.example.com:8443`.
fn host_of(origin: &str) -> &str {
    origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Target<'static> = Target {
        origin: "https://analytics.example.com",
        key: "ea_abc123",
        project_id: "0190b6a2-0000-7000-8000-000000000001",
        domain: Some("shop.example"),
    };

    fn snippet(id: &str, target: &Target<'_>) -> Snippet {
        all(target)
            .into_iter()
            .find(|s| s.id == id)
            .expect("a snippet")
    }

    #[test]
    fn posthog_is_pointed_at_this_server_with_the_key() {
        let code = snippet("posthog", &TARGET).code;
        assert!(
            code.contains(
                "posthog.init('ea_abc123', {\n  api_host: 'https://analytics.example.com',"
            ),
            "{code}"
        );
        assert!(code.contains("advanced_disable_flags: true"), "{code}");
    }

    #[test]
    fn segment_batches_to_the_v1_path_without_the_cdn() {
        let snippet = snippet("segment", &TARGET);
        assert!(
            snippet.code.contains("writeKey: 'ea_abc123'"),
            "{}",
            snippet.code
        );
        assert!(
            snippet.code.contains("apiHost: 'analytics.example.com/v1'"),
            "{}",
            snippet.code
        );
        assert!(
            snippet.code.contains("strategy: 'batching'"),
            "{}",
            snippet.code
        );
        assert!(!snippet.note.contains("HTTPS"), "{}", snippet.note);
        let local = Target {
            origin: "http://127.0.0.1:8000",
            ..TARGET
        };
        let snippet = self::snippet("segment", &local);
        assert!(
            snippet.code.contains("apiHost: '127.0.0.1:8000/v1'"),
            "{}",
            snippet.code
        );
        assert!(snippet.note.contains("HTTPS"), "{}", snippet.note);
    }

    #[test]
    fn plausible_names_a_domain_of_the_project_and_the_event_path() {
        let code = snippet("plausible", &TARGET).code;
        assert!(code.contains("data-domain=\"shop.example\""), "{code}");
        assert!(
            code.contains("data-api=\"https://analytics.example.com/api/event\""),
            "{code}"
        );
        let without = Target {
            domain: None,
            ..TARGET
        };
        let snippet = snippet("plausible", &without);
        assert!(
            snippet.code.contains("your-site.example"),
            "{}",
            snippet.code
        );
        assert!(
            snippet.note.contains("Add your site's domain"),
            "{}",
            snippet.note
        );
    }

    #[test]
    fn umami_names_the_project_as_its_website() {
        let code = snippet("umami", &TARGET).code;
        assert!(
            code.contains("data-website-id=\"0190b6a2-0000-7000-8000-000000000001\""),
            "{code}"
        );
        assert!(
            code.contains("data-host-url=\"https://analytics.example.com\""),
            "{code}"
        );
    }

    #[test]
    fn curl_posts_one_posthog_event_with_the_key() {
        let code = snippet("curl", &TARGET).code;
        assert!(
            code.starts_with("curl -X POST 'https://analytics.example.com/i/v0/e/'"),
            "{code}"
        );
        assert!(code.contains("\"api_key\": \"ea_abc123\""), "{code}");
    }
}
