//! Persons: the distinct ids that identity links merged into one tracked person, resolved at
//! read time. `sql` is how every analysis counts and describes persons; `list` and `person`
//! answer the persons API; `hashes` counts persons
//! from the distinct ids' hashes that kept days hold.

pub(crate) mod hashes;
pub(crate) mod list;
pub(crate) mod person;
pub(crate) mod sql;
