//! What of the automation other crates' tests call too: the demo traffic, which the edge tests
//! send through a whole stack. The commands themselves live in the `xtask` binary.

pub mod demo;
