//! The webview's camera settings on Linux (WebKitGTK): `getUserMedia` is off by default,
//! and WebKit asks the embedder before handing out a camera. A gate scanner exists to use
//! its camera, so the window allows camera and device-list requests; nothing else.
//!
//! `mock` turns on WebKit's mock capture device (a generated 640×480 picture), which the
//! end-to-end tests use on machines without a camera.

use tauri::WebviewWindow;

/// Enables media capture in the window's webview.
pub fn enable_camera(window: &WebviewWindow, mock: bool) -> tauri::Result<()> {
    window.with_webview(move |platform| {
        #[cfg(target_os = "linux")]
        {
            use webkit2gtk::glib::ObjectExt;
            use webkit2gtk::{
                DeviceInfoPermissionRequest, PermissionRequestExt, SettingsExt,
                UserMediaPermissionRequest, WebViewExt,
            };
            let view = platform.inner();
            if let Some(settings) = WebViewExt::settings(&view) {
                settings.set_enable_media_stream(true);
                settings.set_enable_mock_capture_devices(mock);
            }
            view.connect_permission_request(|_, request| {
                let camera = request.is::<UserMediaPermissionRequest>()
                    || request.is::<DeviceInfoPermissionRequest>();
                if camera {
                    request.allow();
                }
                camera
            });
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (platform, mock);
        }
    })
}
