//! `tessera-scanner`: the gate screen. Everything is in the library (`run`).

#![cfg_attr(not(test), windows_subsystem = "windows")]

fn main() {
    tessera_scanner_gui::run();
}
