//! Wire contract shared by every service and the UI: stream, subject and consumer names, and the
//! JSON shapes that cross a process boundary. No I/O dependencies, so it compiles to wasm32.

pub mod auth;
pub mod erasure;
pub mod event;
pub mod health;
pub mod imports;
pub mod persons;
pub mod query;
pub mod status;
pub mod streams;

mod error;

pub use error::{ErrorBody, ErrorDetail};

/// The product's name, as the UI and the services show it.
pub const PRODUCT_NAME: &str = "Event Analytics";

/// The built-in project that holds the product's own dashboard traffic: the product measures
/// itself. Auth creates it at first start; `POST /api/events` without `project_id` lands here.
pub const BUILTIN_PROJECT_ID: uuid::Uuid =
    uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);
