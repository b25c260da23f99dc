//! What every handler shares: the store, the admin token, the platform key, and a short-lived
//! cache of parsed business credentials (parsing an RSA key per request would cost more than
//! verifying with it).

use rewardgate_core::catalog::{Business, CatalogObject};
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use rewardgate_core::secret::Secret;
use rewardgate_core::{ApiError, Status};
use rewardgate_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a business's credentials are trusted from memory: a disabled business or a new key
/// takes effect on every instance within this.
pub const BUSINESS_CACHE_TTL: Duration = Duration::from_secs(1);

pub struct BusinessAuth {
    pub business: Business,
    pub rsa: Option<RsaPublicKey>,
}

/// When it was read, and what was found (`None`: no such business).
type CachedBusiness = (Instant, Option<Arc<BusinessAuth>>);

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub admin_token: Option<Secret>,
    pub platform_key: Arc<RsaPrivateKey>,
    pub platform_public_pem: Arc<String>,
    /// Callback targets in private networks are allowed (local testing only).
    pub allow_private_callbacks: bool,
    /// When the dispatcher and the callback sender last went round their loops (epoch ms; 0:
    /// not running), for `/readyz`.
    pub heartbeats: Arc<Heartbeats>,
    /// Whether the dispatcher and the callback sender run in this process.
    pub tasks: (bool, bool),
    /// This process's metrics (`/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    businesses: Arc<Mutex<HashMap<String, CachedBusiness>>>,
}

#[derive(Default)]
pub struct Heartbeats {
    pub dispatcher: Arc<std::sync::atomic::AtomicI64>,
    pub notifier: Arc<std::sync::atomic::AtomicI64>,
}

impl Heartbeats {
    pub fn beat(slot: &std::sync::atomic::AtomicI64) {
        slot.store(
            rewardgate_core::clock::now_ms(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

impl AppState {
    pub fn new(store: Store, admin_token: Option<Secret>, platform_key: RsaPrivateKey) -> AppState {
        let platform_public_pem = Arc::new(platform_key.public_pem());
        AppState {
            store,
            admin_token,
            platform_key: Arc::new(platform_key),
            platform_public_pem,
            allow_private_callbacks: false,
            heartbeats: Arc::new(Heartbeats::default()),
            tasks: (false, false),
            metrics: Arc::default(),
            businesses: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A catalogue object by its id, parsed (a read error is an error, never "not found").
    pub async fn catalog<T: CatalogObject>(&self, id: &str) -> Result<Option<T>, ApiError> {
        let kind = T::KIND;
        let data = self
            .store
            .get_catalog(kind, id.to_string())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, kind, "catalogue read failed");
                ApiError::internal()
            })?;
        match data {
            None => Ok(None),
            Some(d) => serde_json::from_str(&d).map(Some).map_err(|e| {
                tracing::error!(error = %e, kind, id, "stored catalogue object does not parse");
                ApiError::new(Status::Internal, "internal error")
            }),
        }
    }

    /// The business and its parsed RSA key, from the cache when fresh.
    pub async fn business_auth(&self, id: &str) -> Result<Option<Arc<BusinessAuth>>, ApiError> {
        if let Some((at, v)) = self.businesses.lock().expect("cache lock").get(id)
            && at.elapsed() < BUSINESS_CACHE_TTL
        {
            return Ok(v.clone());
        }
        let b: Option<Business> = self.catalog(id).await?;
        let v = b.map(|business| {
            let rsa = business
                .rsa_public_key_pem
                .as_deref()
                .and_then(|p| RsaPublicKey::from_pem(p).ok());
            Arc::new(BusinessAuth { business, rsa })
        });
        let mut cache = self.businesses.lock().expect("cache lock");
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(id.to_string(), (Instant::now(), v.clone()));
        Ok(v)
    }

    /// Forgets a business's cached credentials (after an admin change in this process).
    pub fn forget_business(&self, id: &str) {
        self.businesses.lock().expect("cache lock").remove(id);
    }
}
