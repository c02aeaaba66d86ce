//! Where frames come from: a [`FrameSource`] trait with a replay source (one image, or a
//! folder of frames in name order) for tests, demos and kiosks, and the native camera
//! through nokhwa (Video4Linux) behind the `camera` feature.

use std::path::{Path, PathBuf};

use image::GrayImage;

use crate::Error;

/// A stream of grayscale frames.
pub trait FrameSource {
    /// The next frame, or `None` at the end of a finite stream.
    fn next_frame(&mut self) -> Result<Option<GrayImage>, Error>;
}

/// Replays image files as frames.
#[derive(Debug)]
pub struct ReplaySource {
    files: std::vec::IntoIter<PathBuf>,
}

/// File extensions a replay folder is read for.
const FRAME_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "pgm"];

impl ReplaySource {
    /// One image, or every image in a folder in file-name order.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        FRAME_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            files.sort();
            files
        } else if path.exists() {
            vec![path.to_path_buf()]
        } else {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} does not exist", path.display()),
            )));
        };
        Ok(Self {
            files: files.into_iter(),
        })
    }
}

impl FrameSource for ReplaySource {
    fn next_frame(&mut self) -> Result<Option<GrayImage>, Error> {
        let Some(path) = self.files.next() else {
            return Ok(None);
        };
        load_gray(&path).map(Some)
    }
}

/// Reads an image file as grayscale.
pub fn load_gray(path: &Path) -> Result<GrayImage, Error> {
    let img = image::ImageReader::open(path)?
        .with_guessed_format()?
        .decode()
        .map_err(|e| Error::Image {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(img.into_luma8())
}

/// A camera as listed by `tessera-scan cameras`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraEntry {
    /// The index to pass to `--camera`.
    pub index: String,
    /// Its name.
    pub name: String,
    /// The driver's description.
    pub description: String,
}

#[cfg(feature = "camera")]
mod native {
    use image::GrayImage;
    use nokhwa::pixel_format::LumaFormat;
    use nokhwa::utils::{
        ApiBackend, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    };

    use super::{CameraEntry, FrameSource};
    use crate::Error;

    fn camera_error(e: nokhwa::NokhwaError) -> Error {
        Error::Camera(e.to_string())
    }

    /// The cameras Video4Linux reports; an empty list when there are none.
    pub fn list() -> Result<Vec<CameraEntry>, Error> {
        if !std::path::Path::new("/dev")
            .read_dir()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("video"))
        {
            return Ok(Vec::new());
        }
        let cams = nokhwa::query(ApiBackend::Video4Linux).map_err(camera_error)?;
        Ok(cams
            .into_iter()
            .map(|c| CameraEntry {
                index: c.index().to_string(),
                name: c.human_name(),
                description: c.description().to_string(),
            })
            .collect())
    }

    /// A live camera.
    pub struct CameraSource {
        camera: nokhwa::Camera,
    }

    impl CameraSource {
        /// Opens camera `index` at its highest frame rate.
        pub fn open(index: u32) -> Result<Self, Error> {
            let format =
                RequestedFormat::new::<LumaFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
            let mut camera =
                nokhwa::Camera::new(CameraIndex::Index(index), format).map_err(camera_error)?;
            camera.open_stream().map_err(camera_error)?;
            Ok(Self { camera })
        }
    }

    impl FrameSource for CameraSource {
        fn next_frame(&mut self) -> Result<Option<GrayImage>, Error> {
            let buf = self.camera.frame().map_err(camera_error)?;
            let res = buf.resolution();
            let (w, h) = (res.width(), res.height());
            let data = buf.buffer();
            // Converted here rather than by nokhwa's decoders, which pull in a C JPEG library.
            let gray = match buf.source_frame_format() {
                FrameFormat::GRAY => GrayImage::from_raw(w, h, data.to_vec()),
                // YUYV and NV12 both start with the luma plane we need (YUYV interleaved).
                FrameFormat::YUYV => {
                    GrayImage::from_raw(w, h, data.iter().step_by(2).copied().collect())
                }
                FrameFormat::NV12 => GrayImage::from_raw(
                    w,
                    h,
                    data.get(..(w * h) as usize)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default(),
                ),
                FrameFormat::MJPEG => {
                    image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
                        .ok()
                        .map(|i| i.into_luma8())
                }
                FrameFormat::RAWRGB | FrameFormat::RAWBGR => {
                    let rgb = image::RgbImage::from_raw(w, h, data.to_vec());
                    rgb.map(|i| image::DynamicImage::ImageRgb8(i).into_luma8())
                }
            };
            gray.map(Some).ok_or_else(|| {
                Error::Camera(format!(
                    "camera sent a {w}×{h} frame that could not be read"
                ))
            })
        }
    }
}

/// The cameras this machine has; empty when it has none (a clear case, not an error).
pub fn list_cameras() -> Result<Vec<CameraEntry>, Error> {
    #[cfg(feature = "camera")]
    {
        native::list()
    }
    #[cfg(not(feature = "camera"))]
    {
        Err(Error::Camera(
            "this build has no camera support (built without the `camera` feature)".into(),
        ))
    }
}

#[cfg(feature = "camera")]
pub use native::CameraSource;
