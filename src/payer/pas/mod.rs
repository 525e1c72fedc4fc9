//! HL7 Da Vinci PAS (FHIR R4), the worker's side: the model ([`model`]), case → request bundle
//! ([`write`]), response bundle → decision ([`read`]), the HTTPS client and OAuth. It imports
//! neither the pipeline nor the payer simulator.

pub mod auth;
mod body;
pub mod client;
pub mod identity;
pub(crate) mod json;
pub mod model;
pub mod notification;
pub mod profile;
pub mod read;
pub mod subscription;
mod trace;
pub mod write;
