//! Kafka Connect's error body, `{"error_code": <status>, "message": "…"}`, for every failure.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::herder::HerderError;

/// An error as the REST API reports it.
#[derive(Debug)]
pub struct RestError {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: u16,
    message: &'a str,
}

impl RestError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        RestError { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        RestError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        RestError::new(StatusCode::NOT_FOUND, message)
    }

    /// What Kafka Connect (Jersey) answers for a method the path does not serve.
    pub fn method_not_allowed() -> Self {
        RestError::new(StatusCode::METHOD_NOT_ALLOWED, "HTTP 405 Method Not Allowed")
    }
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for RestError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(ErrorBody { error_code: self.status.as_u16(), message: &self.message })
    }
}

impl From<HerderError> for RestError {
    fn from(e: HerderError) -> Self {
        let status = match &e {
            HerderError::NotFound(_)
            | HerderError::TaskNotFound { .. }
            | HerderError::TaskStatusNotFound { .. }
            | HerderError::UnknownPlugin(_)
            | HerderError::LoggerNotFound(_)
            | HerderError::InvalidLogLevel(_) => StatusCode::NOT_FOUND,
            HerderError::AlreadyExists(_) => StatusCode::CONFLICT,
            HerderError::InvalidConfig(_) | HerderError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HerderError::Store(_) | HerderError::Unavailable(_) | HerderError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        RestError::new(status, e.to_string())
    }
}
