//! zxing-cpp (the C++ ZXing, built from source by the `zxing-cpp` crate) as the decoder's
//! first attempt on every frame: it finds and reads most codes in a millisecond or two,
//! inverted ones included (docs/adr/0021-zxing-cpp-first.md).

use zxingcpp::{BarcodeFormat, BarcodeReader, Binarizer, ImageFormat, ImageView};

/// How hard one zxing-cpp attempt tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effort {
    /// A whole picture with one threshold for all of it (zxing-cpp's global histogram): about
    /// half the time of the local one, and enough for an evenly lit code.
    Quick,
    /// A whole picture: both polarities, the harder detector, and zxing-cpp's own
    /// downscaled copies when `downscale`.
    Frame { downscale: bool },
    /// A prepared region (enlarged, sharpened, …) in the polarity given.
    Region,
}

/// The first text zxing-cpp reads in the picture that `accept`s. A reader is made per call:
/// the library's options object is a raw pointer, neither `Send` nor `Sync`.
pub(super) fn read(
    px: &[u8],
    w: usize,
    h: usize,
    effort: Effort,
    accept: &(dyn Fn(&str) -> bool + Sync),
) -> Option<String> {
    let (Ok(wi), Ok(hi)) = (i32::try_from(w), i32::try_from(h)) else {
        return None;
    };
    let view = ImageView::from_slice(px, wi, hi, ImageFormat::Lum).ok()?;
    let (binarizer, invert, downscale) = match effort {
        Effort::Quick => (Binarizer::GlobalHistogram, false, false),
        Effort::Frame { downscale } => (Binarizer::LocalAverage, true, downscale),
        Effort::Region => (Binarizer::LocalAverage, false, false),
    };
    let reader = BarcodeReader::new()
        .formats([BarcodeFormat::QRCode])
        .binarizer(binarizer)
        .try_harder(true)
        .try_invert(invert)
        .try_downscale(downscale)
        .try_rotate(false)
        // A gate shows one ticket at a time: stop at the first code (the later attempts
        // still look at every code quirc finds).
        .max_number_of_symbols(1);
    reader
        .from(view)
        .ok()?
        .into_iter()
        .filter(|code| code.is_valid())
        .map(|code| code.text())
        .find(|text| accept(text))
}
