//! The browser gate at `/gate/` (ADR 0025): the page, its script, the service worker, the
//! manifest and the WebAssembly module, all built by `build.rs` and embedded in the binary,
//! served gzipped to browsers that take it, revalidated by version.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::app::Services;

include!(concat!(env!("OUT_DIR"), "/gate_files.rs"));

/// The gate's policy: its own script and WebAssembly (compiling a module needs
/// `wasm-unsafe-eval`, nothing evaluates strings), its own styles, images, manifest and
/// worker, requests to this server only, the camera's stream.
const GATE_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; manifest-src 'self'; \
     worker-src 'self'; media-src 'self' blob: mediastream:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// The gate's routes: `/gate` redirects to `/gate/` (the service worker's scope).
pub fn routes() -> Router<Services> {
    Router::new()
        .route("/gate", get(|| async { Redirect::permanent("/gate/") }))
        .route("/gate/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/gate/{file}",
            get(|Path(file): Path<String>, headers: HeaderMap| async move {
                serve(&file, &headers)
            }),
        )
}

/// A file's bytes, gzipped or not.
pub fn file(name: &str) -> Option<(&'static [u8], &'static [u8])> {
    GATE_FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, plain, gz)| (*plain, *gz))
}

/// Every file the gate downloads at its first load, with its gzipped size.
pub fn sizes() -> impl Iterator<Item = (&'static str, usize, usize)> {
    GATE_FILES
        .iter()
        .map(|(n, plain, gz)| (*n, plain.len(), gz.len()))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some((plain, gz)) = file(name) else {
        return (StatusCode::NOT_FOUND, "no such file of the gate").into_response();
    };
    let etag = format!("\"{GATE_VERSION}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.split(';').next().is_some_and(|e| e.trim() == "gzip"))
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        let mut r = gz.into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        plain.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    // Revalidated at every load with the network; the service worker keeps the copy the
    // gate runs on without it.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(GATE_POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_its_module_and_its_worker_are_embedded() {
        for name in [
            "index.html",
            "app.js",
            "style.css",
            "sw.js",
            "manifest.webmanifest",
            "tessera_gate_web.js",
            "tessera_gate_web_bg.wasm",
        ] {
            let (plain, gz) = file(name).unwrap_or_else(|| panic!("{name} is not embedded"));
            assert!(!plain.is_empty() && !gz.is_empty(), "{name} is empty");
        }
        let wasm = file("tessera_gate_web_bg.wasm")
            .map(|(p, _)| p)
            .unwrap_or_default();
        assert_eq!(
            wasm.get(..4),
            Some(&b"\0asm"[..]),
            "not a WebAssembly module"
        );
        for size in [192, 512] {
            let png = file(&format!("icon-{size}.png"))
                .map(|(p, _)| p)
                .unwrap_or_default();
            let icon = image::load_from_memory(png).expect("a PNG");
            assert_eq!((icon.width(), icon.height()), (size, size));
        }
        let sw = String::from_utf8_lossy(file("sw.js").map(|(p, _)| p).unwrap_or_default());
        assert!(
            sw.contains(GATE_VERSION),
            "the worker does not name its build"
        );
    }
}
