//! Past events from other products' exports (PostHog's event export, a Segment or RudderStack
//! archive, Umami's `website_event` export), through the same path as live events: [`records`]
//! reads a file, [`format`] and the mapper turn each record into an event with the live wire
//! formats' code, and [`run`] publishes them. `cargo xtask import` runs it on a local file;
//! [`jobs`] runs it on uploads for the imports API.

mod backlog;
pub mod format;
pub(crate) mod jobs;
mod json_array;
mod mapper;
pub mod records;
pub mod run;
mod stall;

pub use format::Format;
pub use mapper::{Mapper, link_of, parse_time};
