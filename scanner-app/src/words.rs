//! The gate's language setting (`language` in `device.db`); the words themselves are
//! [`tessera_core::words`], shared with the browser gate.

pub use tessera_core::words::{Language, Shown, admit, reason, shown, warning};

use crate::Error;
use crate::scanner::Scanner;

/// The `device.db` setting that holds the gate's language.
pub const LANGUAGE_KEY: &str = "language";

impl Scanner {
    /// The language of the gate's words (English until one is set).
    pub fn language(&mut self) -> Result<Language, Error> {
        Ok(self
            .device()
            .setting(LANGUAGE_KEY)?
            .as_deref()
            .and_then(Language::parse)
            .unwrap_or_default())
    }

    /// Sets the language of the gate's words, from the next scan on.
    pub fn set_language(&mut self, language: Language) -> Result<(), Error> {
        self.device().set_setting(LANGUAGE_KEY, language.code())
    }
}
