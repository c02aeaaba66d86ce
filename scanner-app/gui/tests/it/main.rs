//! The gate screen's tests, in one binary: the commands on Tauri's mock runtime
//! (`commands`), and the real window driven through WebDriver under Xvfb (`window`).

mod commands;
mod support;
mod window;
