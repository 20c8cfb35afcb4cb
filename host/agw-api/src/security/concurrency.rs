//! Rule 7: at most `ABSTRACTGATEWAY_MAX_CONCURRENCY` gateway requests in flight; one more
//! waits a moment for a slot, then gets 429. Ledger streams are not counted here: they are
//! long-lived and have their own cap (`MAX_SSE`, in the route). A slot is held until the
//! handler returns.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::OwnedSemaphorePermit;

use super::{Guard, reject};

/// How long a request waits for a slot before it is refused, as the reference does: a burst
/// that clears within a few milliseconds is absorbed.
const WAIT: Duration = Duration::from_millis(10);

pub(super) async fn limit(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !guard.guards(path) || is_stream(path) {
        return next.run(request).await;
    }
    let slot = match request.extensions_mut().remove::<Slot>() {
        Some(slot) => slot,
        None => match acquire(&guard).await {
            Ok(slot) => slot,
            Err(refused) => return refused,
        },
    };
    // Every non-stream answer is complete when the handler returns, so the slot is given
    // back here rather than when the body has been written.
    let response = next.run(request).await;
    drop(slot);
    response
}

/// One of the `MAX_CONCURRENCY` slots. The body limit takes one before it reads a chunked
/// body (so bodies being read are bounded too) and hands it on in the request's extensions.
#[derive(Clone)]
pub(super) struct Slot {
    _permit: Arc<OwnedSemaphorePermit>,
}

pub(super) async fn acquire(guard: &Guard) -> Result<Slot, Response> {
    match tokio::time::timeout(WAIT, guard.in_flight.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(Slot { _permit: Arc::new(permit) }),
        _ => Err(reject(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests (concurrency limit)",
            &[(header::RETRY_AFTER, HeaderValue::from_static("1"))],
        )),
    }
}

fn is_stream(path: &str) -> bool {
    path.ends_with("/ledger/stream")
}
