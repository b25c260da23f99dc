//! Every statement rewardgate runs, written once for both backends, by concern. Private to the
//! store: the rest of rewardgate sees `Store`'s typed methods only.

pub(crate) mod buckets;
pub(crate) mod catalog;
pub(crate) mod intake;
pub(crate) mod jobs;
pub(crate) mod ledger;
pub(crate) mod orders;
pub(crate) mod reports;
