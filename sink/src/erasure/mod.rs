//! Erasure of a tracked person (GDPR's right to erasure). An admin's request is a message on
//! `persons.<project_id>.erase`, which the persons consumer hands to [`execute`] in stream
//! order with the identity links: the person's ids are resolved, recorded as erased
//! ([`erased`]), and every message ([`scrub`]) and row ([`tables`]) of theirs is deleted; the
//! message is acked only when all of it is done, so a crash resumes it.
//!
//! What arrives of an erased id afterwards (in flight, redelivered, replayed, redriven) is
//! dropped: the events writer, `sink replay` and the persons consumer ask [`Erased`] first,
//! of every id the event names ([`ids`]: its own and the other id of its identity link).

pub(crate) mod arrivals;
pub(crate) mod erased;
pub(crate) mod execute;
pub(crate) mod ids;
pub(crate) mod mutations;
pub(crate) mod scrub;
pub(crate) mod tables;

pub use erased::Erased;
pub use mutations::statements;

use async_nats::jetstream;

use crate::erasure::arrivals::Arrivals;
use crate::erasure::execute::Eraser;
use crate::persons::PersonKeys;
use crate::schema::Layout;

/// The erasure side of a running sink: the erased ids read, then followed until `stop`; what
/// the events writer asks of them; and the eraser the persons consumer runs erasures with
/// (`keys` is the persons consumer's lookup, told of every erasure).
pub(crate) fn start(
    js: &jetstream::Context,
    clickhouse: &clickhouse::Client,
    layout: Layout,
    keys: PersonKeys,
    replicas: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (Arrivals, Eraser) {
    let erased = Erased::new(js.clone(), replicas);
    tokio::spawn(erased.clone().follow(stop));
    let arrivals = Arrivals::new(js.clone(), erased.clone());
    let eraser = Eraser::new(js.clone(), clickhouse.clone(), layout, erased, keys);
    (arrivals, eraser)
}
