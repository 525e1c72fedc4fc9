//! HL7 Da Vinci PAS (FHIR R4): bundle mapping both ways, the HTTPS client, OAuth.

pub mod auth;
pub mod bundle;
pub mod client;
pub mod request;
