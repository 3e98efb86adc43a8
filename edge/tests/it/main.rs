//! Edge's end-to-end tests, one binary (one link, one shared ClickHouse and PostgreSQL): edge in
//! front of the real services started by `devstack::stack::TestStack`, and the web app it
//! serves, driven in headless Chromium. One module per topic.

mod browser;
mod helpers;

mod app;
mod demo;
mod engagement;
mod forwarding;
mod imports;
mod limits;
mod lockout;
mod logins;
mod methods;
mod npm_sdks;
mod openapi;
mod posthog;
mod quotas;
mod readiness;
mod routing;
mod sharing;
mod site;
mod status;
mod timeouts;
mod trackers;
mod ui;
mod ui_admin;
mod ui_analytics;
mod ui_annotations;
mod ui_api_keys;
mod ui_dashboard;
mod ui_dashboards;
mod ui_history;
mod ui_imports;
mod ui_invites;
mod ui_live;
mod ui_members;
mod ui_persons;
mod ui_places;
