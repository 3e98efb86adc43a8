//! The copy-paste set-up for a project: how each SDK ingest understands is pointed at this
//! server with a write key, for each product its script tag first (the scripts this server
//! serves: PostHog's bundle at `/static/array.js`, Plausible's `/js/script.js`, Umami's
//! `/script.js`), then its npm package. Each text follows what ingest reads
//! (`ingest/src/wire/`): PostHog posts to `/e/` with the key as `api_key`, Segment's browser SDK
//! batches to `<apiHost>/b` with `writeKey` in the body, Plausible names the site by a domain the
//! project lists, Umami by the project id.

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
        posthog_tag(target),
        posthog(target),
        segment(target),
        plausible(target),
        plausible_npm(target),
        umami(target),
        umami_npm(target),
        curl(target),
    ]
}

/// PostHog's snippet as its documentation gives it: a stub that loads `/static/array.js` from
/// `api_host` and queues calls until it has.
const POSTHOG_STUB: &str = r#"!function(t,e){var o,n,p,r;e.__SV||(window.posthog && window.posthog.__loaded)||(window.posthog=e,e._i=[],e.init=function(i,s,a){function g(t,e){var o=e.split(".");2==o.length&&(t=t[o[0]],e=o[1]),t[e]=function(){t.push([e].concat(Array.prototype.slice.call(arguments,0)))}}(p=t.createElement("script")).type="text/javascript",p.crossOrigin="anonymous",p.async=!0,p.src=s.api_host.replace(".i.posthog.com","-assets.i.posthog.com")+"/static/array.js",(r=t.getElementsByTagName("script")[0]).parentNode.insertBefore(p,r);var u=e;for(void 0!==a?u=e[a]=[]:a="posthog",u.people=u.people||[],u.toString=function(t){var e="posthog";return"posthog"!==a&&(e+="."+a),t||(e+=" (stub)"),e},u.people.toString=function(){return u.toString(1)+".people (stub)"},o="init capture register register_once register_for_session unregister unregister_for_session getFeatureFlag getFeatureFlagPayload isFeatureEnabled reloadFeatureFlags updateEarlyAccessFeatureEnrollment getEarlyAccessFeatures on onFeatureFlags onSurveysLoaded onSessionId getSurveys getActiveMatchingSurveys renderSurvey displaySurvey canRenderSurvey canRenderSurveyAsync identify setPersonProperties group resetGroups setPersonPropertiesForFlags resetPersonPropertiesForFlags setGroupPropertiesForFlags resetGroupPropertiesForFlags reset get_distinct_id getGroups get_session_id get_session_replay_url alias set_config startSessionRecording stopSessionRecording sessionRecordingStarted captureException loadToolbar get_property getSessionProperty createPersonProfile opt_in_capturing opt_out_capturing has_opted_in_capturing has_opted_out_capturing get_explicit_consent_status is_capturing clear_opt_in_out_capturing debug getPageViewId captureTraceFeedback captureTraceMetric".split(" "),n=0;n<o.length;n++)g(u,o[n]);e._i.push([i,s,a])},e.__SV=1)}(document,window.posthog||[]);"#;

fn posthog_tag(target: &Target<'_>) -> Snippet {
    let Target { origin, key, .. } = target;
    Snippet {
        id: "posthog-tag",
        title: "PostHog (script tag)",
        note: "Put this in the <head> of every page: PostHog's own snippet, which loads \
               posthog-js from this server. Feature flags and surveys answer \"none\" here."
            .to_owned(),
        code: format!(
            "<script>\n\
             \x20 {POSTHOG_STUB}\n\
             \x20 posthog.init('{key}', {{\n\
             \x20   api_host: '{origin}',\n\
             \x20   defaults: '2025-05-24',\n\
             \x20   person_profiles: 'identified_only',\n\
             \x20 }})\n\
             </script>\n"
        ),
    }
}

fn posthog(target: &Target<'_>) -> Snippet {
    let Target { origin, key, .. } = target;
    Snippet {
        id: "posthog",
        title: "PostHog (npm: posthog-js)",
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
             // call it when someone signs up:\n\
             export const signedUp = () => posthog.capture('signed_up', {{ plan: 'pro' }})\n"
        ),
    }
}

fn segment(target: &Target<'_>) -> Snippet {
    let Target { origin, key, .. } = target;
    let host = host_of(origin);
    let mut note = "npm install @segment/analytics-next (Segment's script tag loads from its CDN, \
                    which this server does not stand in for). The settings are given inline, so \
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
        title: "Segment (npm: analytics-next)",
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
             // call it when someone signs up:\n\
             export const signedUp = () => analytics.track('Signed Up', {{ plan: 'pro' }})\n"
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
                 its domain, which must be one of the project's domains. Other variants: \
                 script.file-downloads.js, script.tagged-events.js, script.hash.js, or several \
                 extensions in one name."
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
        title: "Plausible (script tag)",
        note,
        code: format!(
            "<script defer data-domain=\"{domain}\"\n\
             \x20 src=\"{origin}/js/script.outbound-links.js\"></script>\n\
             <script>window.plausible = window.plausible || function() {{ \
             (window.plausible.q = window.plausible.q || []).push(arguments) }}</script>\n"
        ),
    }
}

fn plausible_npm(target: &Target<'_>) -> Snippet {
    let Target { origin, domain, .. } = target;
    let domain = domain.unwrap_or("your-site.example");
    Snippet {
        id: "plausible-npm",
        title: "Plausible (npm: plausible-tracker)",
        note: "npm install plausible-tracker, then run this once when your app starts.".to_owned(),
        code: format!(
            "import Plausible from 'plausible-tracker'\n\
             \n\
             const {{ enableAutoPageviews, trackEvent }} = Plausible({{\n\
             \x20 domain: '{domain}',\n\
             \x20 apiHost: '{origin}',\n\
             }})\n\
             enableAutoPageviews()\n\
             \n\
             // call it when someone signs up:\n\
             export const signedUp = () => trackEvent('Signup', {{ props: {{ plan: 'pro' }} }})\n"
        ),
    }
}

fn umami(target: &Target<'_>) -> Snippet {
    let Target {
        origin, project_id, ..
    } = target;
    Snippet {
        id: "umami",
        title: "Umami (script tag)",
        note: "Put the script in the <head> of your pages; the buttons show how a click sends \
               an event. Umami names the site by its website id, which here is the project's id \
               (no write key); the page's host must be one of the project's domains."
            .to_owned(),
        code: format!(
            "<script defer src=\"{origin}/script.js\"\n\
             \x20 data-website-id=\"{project_id}\"></script>\n\
             \n\
             <!-- an event, sent on each click: -->\n\
             <button data-umami-event=\"signup\" data-umami-event-plan=\"pro\">Sign up</button>\n\
             <!-- or from your own code, once the script has loaded: -->\n\
             <button onclick=\"umami.track('signup', {{ plan: 'pro' }})\">Sign up</button>\n"
        ),
    }
}

fn umami_npm(target: &Target<'_>) -> Snippet {
    let Target {
        origin,
        project_id,
        domain,
        ..
    } = target;
    let domain = domain.unwrap_or("your-site.example");
    Snippet {
        id: "umami-npm",
        title: "Umami (npm: @umami/node)",
        note: "npm install @umami/node, on a server. Each event names the site's hostname, \
               which must be one of the project's domains."
            .to_owned(),
        code: format!(
            "import umami from '@umami/node'\n\
             \n\
             umami.init({{\n\
             \x20 websiteId: '{project_id}',\n\
             \x20 hostUrl: '{origin}',\n\
             }})\n\
             \n\
             umami.track({{ hostname: '{domain}', url: '/pricing', name: 'signup', data: {{ plan: 'pro' }} }})\n"
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
    fn each_product_shows_its_script_tag_first_then_its_npm_package() {
        let ids: Vec<_> = all(&TARGET).into_iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                "posthog-tag",
                "posthog",
                "segment",
                "plausible",
                "plausible-npm",
                "umami",
                "umami-npm",
                "curl"
            ]
        );
        let tag = snippet("posthog-tag", &TARGET).code;
        assert!(
            tag.starts_with("<script>\n  !function(t,e)") && tag.ends_with("</script>\n"),
            "{tag}"
        );
        assert!(
            tag.contains(
                "posthog.init('ea_abc123', {\n    api_host: 'https://analytics.example.com',"
            ),
            "{tag}"
        );
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
            code.contains("src=\"https://analytics.example.com/js/script.outbound-links.js\""),
            "{code}"
        );
        assert!(code.contains("window.plausible.q"), "{code}");
        let npm = snippet("plausible-npm", &TARGET).code;
        assert!(
            npm.contains("domain: 'shop.example',\n  apiHost: 'https://analytics.example.com',"),
            "{npm}"
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
    fn no_snippet_sends_an_event_as_it_loads() {
        // An inline call would run before a deferred script (a ReferenceError) and on every
        // load: events are sent from clicks or from a function the app calls.
        for snippet in all(&TARGET) {
            let code = &snippet.code;
            assert!(!code.contains("<script>\n  umami"), "{code}");
            for call in ["posthog.capture(", "analytics.track(", "trackEvent("] {
                assert!(
                    !code.contains(&format!("\n{call}")),
                    "{}: {code}",
                    snippet.id
                );
            }
        }
        let code = snippet("umami", &TARGET).code;
        assert!(
            code.contains("<button data-umami-event=\"signup\" data-umami-event-plan=\"pro\">"),
            "{code}"
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
            code.contains("src=\"https://analytics.example.com/script.js\""),
            "{code}"
        );
        let npm = snippet("umami-npm", &TARGET).code;
        assert!(
            npm.contains("websiteId: '0190b6a2-0000-7000-8000-000000000001',\n  hostUrl: 'https://analytics.example.com',"),
            "{npm}"
        );
        assert!(npm.contains("hostname: 'shop.example'"), "{npm}");
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
