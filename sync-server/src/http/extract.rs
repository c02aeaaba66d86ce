//! axum's extractors with [`AppError`] rejections, so a malformed body, path or query gets
//! the same JSON error as everything else.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts};

use crate::app::AppError;

/// `axum::Json` whose rejections are [`AppError`]s.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Path` whose rejections are 404s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` whose rejections are [`AppError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);
