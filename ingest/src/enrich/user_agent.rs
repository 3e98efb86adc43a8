//! Enrichment from the user agent: browser, OS, device type, and a bot flag (bots are flagged,
//! never dropped, so nothing accepted disappears).

use contract::event::Event;
use serde_json::Value;

/// The user agents of one request's events, which mostly share one: each agent is parsed once,
/// not once per event.
#[derive(Debug, Default)]
pub(crate) struct UserAgents {
    /// The last agent parsed, and what it said.
    last: Option<(String, Option<Agent>)>,
}

/// What a user agent says.
#[derive(Debug, Clone)]
struct Agent {
    browser: String,
    os: String,
    device_type: &'static str,
    is_bot: bool,
}

impl UserAgents {
    /// Fills browser, OS and device type where the SDK did not, and flags bots. The user agent
    /// is the SDK's (`$raw_user_agent`, Segment's `context.userAgent`) or else the request's.
    pub(crate) fn enrich(&mut self, event: &mut Event, request_agent: Option<&str>) {
        let agent = event
            .properties
            .get("$raw_user_agent")
            .or_else(|| event.properties.get("$user_agent"))
            .and_then(Value::as_str)
            .or(request_agent);
        let Some(agent) = agent.filter(|a| !a.is_empty()) else {
            return;
        };
        let parsed = match &self.last {
            Some((last, parsed)) if last == agent => parsed,
            _ => {
                let parsed = parse(agent);
                &self.last.insert((agent.to_owned(), parsed)).1
            }
        };
        let Some(parsed) = parsed else {
            return;
        };
        let context = &mut event.context;
        context.is_bot = parsed.is_bot;
        if context.browser.is_empty() {
            context.browser.clone_from(&parsed.browser);
        }
        if context.os.is_empty() {
            context.os.clone_from(&parsed.os);
        }
        if context.device_type.is_empty() {
            parsed.device_type.clone_into(&mut context.device_type);
        }
    }
}

fn parse(agent: &str) -> Option<Agent> {
    let parsed = woothee::parser::Parser::new().parse(agent)?;
    let known = |text: &str| {
        if text == woothee::woothee::VALUE_UNKNOWN {
            String::new()
        } else {
            text.to_owned()
        }
    };
    Some(Agent {
        browser: known(parsed.name),
        os: known(parsed.os),
        device_type: match parsed.category {
            "pc" => "Desktop",
            "smartphone" | "mobilephone" if parsed.os.contains("iPad") => "Tablet",
            "smartphone" | "mobilephone" => "Mobile",
            "crawler" => "Bot",
            "appliance" => "Other",
            _ => "",
        },
        is_bot: parsed.category == "crawler" || is_headless(agent),
    })
}

/// Automation that real visitors never use.
fn is_headless(agent: &str) -> bool {
    [
        "HeadlessChrome",
        "PhantomJS",
        "Puppeteer",
        "Playwright",
        "python-requests",
        "curl/",
        "Wget/",
    ]
    .iter()
    .any(|marker| agent.contains(marker))
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    /// Enriches `event` alone.
    fn user_agent(event: &mut Event, request_agent: Option<&str>) {
        UserAgents::default().enrich(event, request_agent);
    }

    fn event() -> Event {
        Event {
            event_id: Uuid::nil(),
            project_id: Uuid::nil(),
            kind: contract::event::EventKind::Page,
            event: "$pageview".to_owned(),
            distinct_id: "u".to_owned(),
            user_id: None,
            session_id: None,
            timestamp: OffsetDateTime::UNIX_EPOCH,
            received_at: OffsetDateTime::UNIX_EPOCH,
            properties: serde_json::Map::new(),
            context: contract::event::EventContext::default(),
        }
    }

    #[test]
    fn browsers_devices_and_bots_are_recognised() {
        let mut desktop = event();
        user_agent(
            &mut desktop,
            Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            ),
        );
        assert_eq!(
            (
                desktop.context.browser.as_str(),
                desktop.context.device_type.as_str(),
                desktop.context.is_bot
            ),
            ("Chrome", "Desktop", false)
        );
        assert!(
            desktop.context.os.starts_with("Windows"),
            "{}",
            desktop.context.os
        );

        let mut phone = event();
        user_agent(
            &mut phone,
            Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            ),
        );
        assert_eq!(
            (
                phone.context.browser.as_str(),
                phone.context.device_type.as_str()
            ),
            ("Safari", "Mobile")
        );

        let mut bot = event();
        user_agent(
            &mut bot,
            Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        );
        assert!(bot.context.is_bot);
        let mut headless = event();
        user_agent(
            &mut headless,
            Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
            ),
        );
        assert!(headless.context.is_bot, "flagged, not dropped");
    }
}
