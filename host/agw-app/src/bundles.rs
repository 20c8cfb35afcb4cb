//! Serving bundles: an upload installed (and the catalog reloaded), a reload on demand.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agw_domain::bundle::Bundle;
use agw_domain::run::FlowRef;
use agw_store::{BundleCatalog, UploadError};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::workflows::Workflows;

/// The catalog before and after one reload.
#[derive(Debug, Clone)]
pub struct Reloaded {
    pub before: Arc<BundleCatalog>,
    pub after: Arc<BundleCatalog>,
    pub took: Duration,
}

/// Why an installed bundle is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotServed {
    /// `not_loaded`, `shadowed` or `compile_failed`.
    pub kind: &'static str,
    pub reason: String,
}

/// An upload, installed.
#[derive(Debug)]
pub struct Uploaded {
    /// The bundle's manifest and digest (its flows are dropped: the catalog has its own copy).
    pub bundle: Bundle,
    /// With a reload: what it did, or why it failed.
    pub reload: Option<Result<Reloaded, String>>,
    /// After a reload: whether the catalog serves exactly this bundle, and if not, why.
    pub served: Option<Result<(), NotServed>>,
}

impl App {
    /// Validates and stores an uploaded `.flow`; with `reload`, swaps in a catalog that
    /// serves it and says whether it is startable.
    pub fn upload(&self, bytes: &[u8], overwrite: bool, reload: bool) -> AppResult<Uploaded> {
        let catalog = self.catalog.bundles();
        let before = catalog.get();
        let installed = agw_store::install_upload(self.catalog.sources(), &before, bytes, overwrite).map_err(
            |error| match error {
                UploadError::Invalid(reason) => AppError::Refused(format!("Invalid bundle: {reason}")),
                e @ UploadError::AlreadyInstalled(_) => AppError::Refused(e.to_string()),
                e @ UploadError::Io { .. } => AppError::internal(e),
            },
        )?;
        let mut bundle = installed.bundle;
        // From here on only its manifest and digest are needed; the flows go before the
        // reload instead of doubling its peak.
        bundle.flows.clear();
        let (reload, served) = if reload {
            match self.reload_bundles() {
                Ok(reloaded) => {
                    let served = self.served(&reloaded.after, &bundle);
                    (Some(Ok(reloaded)), Some(served))
                }
                Err(error) => {
                    tracing::error!(%error, "reload after upload failed");
                    (Some(Err("reload failed: cannot read the bundle directories".to_owned())), None)
                }
            }
        } else {
            (None, None)
        };
        Ok(Uploaded { bundle, reload, served })
    }

    /// Rescans the bundle sources and serves what is on disk now.
    pub fn reload_bundles(&self) -> AppResult<Reloaded> {
        let started = Instant::now();
        let catalog = self.catalog.bundles();
        let before = catalog.get();
        let after = catalog.reload(self.catalog.sources()).map_err(AppError::internal)?;
        Ok(Reloaded { before, after, took: started.elapsed() })
    }

    /// Whether `catalog` serves exactly `bundle`, and startable: every entrypoint compiles
    /// against the loaded plugins.
    fn served(&self, catalog: &BundleCatalog, bundle: &Bundle) -> Result<(), NotServed> {
        let m = &bundle.manifest;
        let Some(loaded) = catalog.get(&m.bundle_id, Some(&m.bundle_version)) else {
            return Err(NotServed { kind: "not_loaded", reason: format!("{} was not loaded", bundle.bundle_ref()) });
        };
        if loaded.bundle.sha256 != bundle.sha256 {
            return Err(NotServed {
                kind: "shadowed",
                reason: format!("another file ({}) provides {}", loaded.path.display(), bundle.bundle_ref()),
            });
        }
        for entry in &m.entrypoints {
            let flow = FlowRef {
                bundle_id: m.bundle_id.clone(),
                bundle_version: m.bundle_version.clone(),
                flow_id: entry.flow_id.clone(),
            };
            if let Err(reason) = self.catalog.compile(&flow) {
                return Err(NotServed {
                    kind: "compile_failed",
                    reason: format!("flow '{}' cannot run: {reason}", entry.flow_id),
                });
            }
        }
        Ok(())
    }
}
