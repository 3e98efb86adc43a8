//! Query on the wire: the request bodies and the answers of `/api/query/*`.
//!
//! Every answer over a time range starts with the same [`Scope`] fields (`project_id`,
//! `timezone`, `range`), flattened into it.

mod explore;
mod filter;
mod funnel;
mod live;
mod persons;
mod retention;
mod scope;
mod trends;

pub use explore::{
    CatalogEvent, CatalogProperty, CatalogResponse, EventResponse, EventView, EventViewContext,
    EventsPage, TopResponse, TopValue,
};
pub use filter::{FILTER_VALUE, FilterSpec};
pub use funnel::{
    FunnelGroup, FunnelRequest, FunnelResponse, FunnelStep, FunnelStepSpec, MAX_STEPS,
    MAX_WINDOW_SECONDS,
};
pub use live::{ActiveUsers, LiveEnd, LiveEndReason};
pub use persons::{PersonResponse, PersonView, PersonsPage};
pub use retention::{Cohort, MAX_PERIODS, RetentionRequest, RetentionResponse};
pub use scope::{Scope, TimeRange};
pub use trends::{Amount, Figure, OverviewResponse, TrendPoint, TrendSeries, TrendsResponse};
