//! The node's error response: a status and a JSON body `{"error": ...}`
//! (the naming layer adds `node`), and how the shell's and validator's
//! errors map onto it. Its own module, so the request guards (the body
//! budget) and the routes both use it without importing each other.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::shell::StepError;
use super::validate::InvalidInput;

/// An error response; [`NameTheNode`](super::naming::NameTheNode) adds the `node` field.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<InvalidInput> for ApiError {
    fn from(e: InvalidInput) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
    }
}

impl From<StepError> for ApiError {
    fn from(e: StepError) -> Self {
        let status = match &e {
            StepError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            StepError::NoReply => StatusCode::INTERNAL_SERVER_ERROR,
            StepError::NotLeader { leader, .. } => {
                // The same body as a refused PUT: it names the leader.
                return ApiError {
                    status: StatusCode::MISDIRECTED_REQUEST,
                    body: json!({ "error": e.to_string(), "leader": leader }),
                };
            }
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
