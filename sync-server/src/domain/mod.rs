//! Pure rules and figures: no IO, no clock, no database and no HTTP. What it computes from
//! rows and values is the same wherever it is called.

pub mod catalog;
pub mod console;
pub mod email;
pub mod fonts;
pub mod gates;
pub mod i18n;
pub mod pricing;
pub mod render;
pub mod text;
