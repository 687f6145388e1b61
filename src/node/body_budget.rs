//! Bounds on `/replicate` bodies: how large one may be, and how many bytes
//! of them the node buffers at once.
//!
//! A body is read whole before it is decoded, so without a bound on their
//! sum a handful of parallel large bodies can hold the node's memory
//! (sixteen 60 MB bodies once held a node at 754 MB). Before its body is
//! read, a request claims its `Content-Length` (or, when chunked, the
//! largest body allowed) from a shared byte budget and holds the claim until
//! its batch is applied. A request the budget cannot cover now is answered
//! 503 at once: the sender treats it as a failed send and retries with
//! backoff, which is what replication does with any failure.

use axum::http::{HeaderMap, StatusCode, header};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::api_error::ApiError;

/// The largest `/replicate` body and the bytes all of them may buffer at once.
#[derive(Debug)]
pub struct BodyBudget {
    body_bytes_max: usize,
    budget_bytes: usize,
    /// One permit per byte of the budget.
    bytes: Semaphore,
}

impl BodyBudget {
    /// `budget_bytes` must cover at least one body of `body_bytes_max`, or
    /// the largest body could never be admitted.
    pub fn new(body_bytes_max: usize, budget_bytes: usize) -> Self {
        let budget_bytes = budget_bytes.max(body_bytes_max).min(u32::MAX as usize);
        BodyBudget {
            body_bytes_max: body_bytes_max.min(budget_bytes),
            budget_bytes,
            bytes: Semaphore::new(budget_bytes),
        }
    }

    pub fn body_bytes_max(&self) -> usize {
        self.body_bytes_max
    }

    /// Admit a request with these headers: 413 if it declares a body over
    /// the limit, 503 if the budget is taken by bodies already in flight.
    /// The claim is released when the returned permit drops.
    pub fn admit(&self, headers: &HeaderMap) -> Result<SemaphorePermit<'_>, ApiError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let claim = match declared {
            Some(n) if n > self.body_bytes_max as u64 => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "replication body of {n} bytes is over the limit of {} bytes",
                        self.body_bytes_max
                    ),
                ));
            }
            Some(n) => n as usize,
            // Chunked: it may grow up to the limit.
            None => self.body_bytes_max,
        };
        // Fits in u32: new() caps the budget, and claim <= body_bytes_max <= budget.
        self.bytes
            .try_acquire_many(claim.max(1) as u32)
            .map_err(|_| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "{} of {} bytes of replication bodies are being read; retry later",
                        self.in_flight_bytes(),
                        self.budget_bytes
                    ),
                )
            })
    }

    /// Bytes claimed by requests being read or applied now.
    pub fn in_flight_bytes(&self) -> usize {
        self.budget_bytes - self.bytes.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaring(bytes: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, bytes.into());
        headers
    }

    #[test]
    fn claims_bytes_until_the_permit_drops() {
        let budget = BodyBudget::new(100, 250);
        let a = budget.admit(&declaring(100)).unwrap();
        let b = budget.admit(&declaring(100)).unwrap();
        assert_eq!(budget.in_flight_bytes(), 200);
        let refused = budget.admit(&declaring(60)).unwrap_err();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let small = budget.admit(&declaring(50)).unwrap();
        drop(a);
        assert_eq!(budget.in_flight_bytes(), 150);
        assert!(budget.admit(&declaring(100)).is_ok());
        drop((b, small));
        assert_eq!(budget.in_flight_bytes(), 0);
    }

    #[test]
    fn over_the_limit_is_413_and_chunked_claims_the_limit() {
        let budget = BodyBudget::new(100, 250);
        let refused = budget.admit(&declaring(101)).unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(budget.in_flight_bytes(), 0);
        let _chunked = budget.admit(&HeaderMap::new()).unwrap();
        assert_eq!(budget.in_flight_bytes(), 100);
    }

    #[test]
    fn the_budget_always_admits_one_largest_body() {
        let budget = BodyBudget::new(100, 10);
        assert!(budget.admit(&declaring(100)).is_ok());
    }
}
