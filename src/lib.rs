//! preauth-worker: consumes pre-authorization case events, validates coding and documentation,
//! submits to the payer, and publishes outcome events.
//!
//! The house plan (modules, their layers, what each may import, the path of a case) is
//! docs/ARCHITECTURE.md; `tests/architecture.rs` holds the code to it.

#![warn(unreachable_pub)]

/// A closed set of metric label values: the enum, `ALL` and `as_str`. `ops` registers every
/// value at zero from `ALL` when the worker starts, so a counter incremented with one of them
/// is never a new series.
macro_rules! label_values {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            #[allow(dead_code)]
            $vis const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The label value.
            $vis fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }
    };
}

pub mod amqp;
pub mod app;
pub mod batch;
pub(crate) mod broker_url;
pub mod case;
pub mod check;
pub mod codes;
pub mod config;
pub mod console;
pub mod exit;
pub mod health;
pub mod http;
pub mod ids;
pub mod inputs;
pub mod ledger;
pub mod notes;
pub mod notify;
pub mod ops;
pub mod payer;
pub mod pipeline;
pub mod retry;
pub mod rules;
pub mod security;
pub mod startup;
pub mod telemetry;
