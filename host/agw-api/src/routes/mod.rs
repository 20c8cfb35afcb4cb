//! Routes, one module per resource.

mod artifacts;
mod bundle_admin;
mod bundles;
mod commands;
mod discovery;
mod health;
mod identity;
mod ledger;
mod plugins;
mod run_data;
mod runs;
mod schedules;
mod sse;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use sse::DoneFrame;

use crate::{ApiConfig, AppState};

/// Everything under `/api/gateway`, behind authentication, each route with its documentation.
pub fn gateway_routes(config: &ApiConfig) -> OpenApiRouter<AppState> {
    let upload_limit = usize::try_from(config.max_upload_body_bytes).unwrap_or(usize::MAX);
    let (schemas, paths, upload) = routes!(bundle_admin::upload);
    let upload = (schemas, paths, upload.layer(DefaultBodyLimit::max(upload_limit)));
    OpenApiRouter::new()
        .routes(routes!(identity::ping))
        .routes(routes!(identity::me))
        .routes(routes!(bundles::list))
        .routes(upload)
        .routes(routes!(bundle_admin::reload))
        .routes(routes!(bundles::detail, bundle_admin::remove))
        .routes(routes!(bundles::flow))
        .routes(routes!(bundles::input_schema))
        .routes(routes!(runs::list))
        .routes(routes!(runs::start))
        .routes(routes!(schedules::schedule))
        .routes(routes!(ledger::batch))
        .routes(routes!(runs::get))
        .routes(routes!(ledger::get_page))
        .routes(routes!(sse::stream))
        .routes(routes!(run_data::input_data))
        .routes(routes!(run_data::history_bundle))
        .routes(routes!(artifacts::list))
        .routes(routes!(artifacts::metadata))
        .routes(routes!(artifacts::content))
        .routes(routes!(commands::submit))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::detail))
        .routes(routes!(discovery::capabilities))
        .routes(routes!(discovery::providers))
        .routes(routes!(discovery::provider_models))
}

/// Routes anyone may call.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health::health))
}
