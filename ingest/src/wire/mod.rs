//! The SDK wire formats, each turned into our event envelope: PostHog capture, the Segment
//! tracking API, and the Plausible and Umami scripts. Nothing here knows about HTTP.

pub(crate) mod capture;
pub(crate) mod engagement;
pub(crate) mod fields;
pub(crate) mod posthog;
pub(crate) mod script;
pub(crate) mod segment;
pub(crate) mod urls;
