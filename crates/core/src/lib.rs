//! rewardgate's domain: money, identifiers, SPEC §3 signing, typed open-API requests, the
//! operator's catalogue, orders and their ledger rules. No I/O, no async, no SQL, no HTTP types.

pub mod catalog;
pub mod clock;
pub mod delivery;
pub mod error;
pub mod ids;
pub mod json;
pub mod keys;
pub mod money;
pub mod order;
pub mod outcome;
pub mod pricing;
pub mod rate;
pub mod report;
pub mod request;
pub mod secret;
pub mod sign;
pub mod target;
pub mod upstream;

pub use error::{ApiError, Status};
pub use money::Fen;
