//! Tauri's build step: reads `tauri.conf.json` and `capabilities/`, embeds `ui/`.

fn main() {
    tauri_build::build();
}
