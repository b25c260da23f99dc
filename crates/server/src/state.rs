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

/// What every request handler shares, behind one `Arc`: axum clones the state for each handler
/// and middleware, and a clone of the fields themselves (a dozen reference counts and the admin
/// token's `String`) showed in intake profiles.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
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
    /// One client per channel account (the dispatcher's, the notification endpoint's, cancel's).
    pub clients: crate::dispatcher::clients::Clients,
    businesses: Arc<Mutex<HashMap<String, CachedBusiness>>>,
    catalog_cache: Arc<CatalogCache>,
}

/// Parsed catalogue objects by kind and id (`None`: known to be absent), valid for one
/// generation: `clear` starts a new one, and an object read from the database under an older
/// generation is not kept (it may predate the change that cleared the cache).
#[derive(Default)]
pub struct CatalogCache {
    generation: std::sync::atomic::AtomicU64,
    entries: Mutex<HashMap<(&'static str, String), CachedObject>>,
}

/// An `Option<T>` of some catalogue kind `T` (the key's kind says which).
type CachedObject = Arc<dyn std::any::Any + Send + Sync>;

/// At most this many objects are kept; beyond, the cache starts again.
const CATALOG_CACHE_MAX: usize = 100_000;

impl CatalogCache {
    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn get<T: CatalogObject>(&self, id: &str) -> Option<Option<T>> {
        let m = self.entries.lock().expect("cache lock");
        m.get(&(T::KIND, id.to_string()))
            .and_then(|v| v.downcast_ref::<Option<T>>())
            .cloned()
    }

    fn put<T: CatalogObject>(&self, id: &str, v: Option<T>, generation: u64) {
        let mut m = self.entries.lock().expect("cache lock");
        if self.generation() != generation {
            return;
        }
        if m.len() >= CATALOG_CACHE_MAX {
            m.clear();
        }
        m.insert((T::KIND, id.to_string()), Arc::new(v));
    }

    fn clear(&self) {
        let mut m = self.entries.lock().expect("cache lock");
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        m.clear();
    }
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
    /// `tasks`: whether the dispatcher and the callback sender run in this process.
    pub fn new(
        store: Store,
        admin_token: Option<Secret>,
        platform_key: RsaPrivateKey,
        allow_private_callbacks: bool,
        tasks: (bool, bool),
        extra_roots_pem: Option<String>,
    ) -> AppState {
        let platform_public_pem = Arc::new(platform_key.public_pem());
        AppState(Arc::new(Shared {
            store,
            admin_token,
            platform_key: Arc::new(platform_key),
            platform_public_pem,
            allow_private_callbacks,
            heartbeats: Arc::new(Heartbeats::default()),
            tasks,
            metrics: Arc::default(),
            clients: crate::dispatcher::clients::Clients::new(extra_roots_pem),
            businesses: Arc::new(Mutex::new(HashMap::new())),
            catalog_cache: Arc::default(),
        }))
    }

    /// A catalogue object by its id, parsed, from memory when this instance has read it since the
    /// catalogue last changed (a read error is an error, never "not found").
    pub async fn catalog<T: CatalogObject>(&self, id: &str) -> Result<Option<T>, ApiError> {
        let kind = T::KIND;
        if let Some(hit) = self.catalog_cache.get::<T>(id) {
            return Ok(hit);
        }
        let generation = self.catalog_cache.generation();
        let data = self
            .store
            .get_catalog(kind, id.to_string())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, kind, "catalogue read failed");
                ApiError::internal()
            })?;
        let parsed: Option<T> = match data {
            None => None,
            Some(d) => Some(serde_json::from_str(&d).map_err(|e| {
                tracing::error!(error = %e, kind, id, "stored catalogue object does not parse");
                ApiError::new(Status::Internal, "internal error")
            })?),
        };
        self.catalog_cache.put(id, parsed.clone(), generation);
        Ok(parsed)
    }

    /// Drops this instance's catalogue from memory (after an admin change here; other instances
    /// notice the catalogue's version move, see `watch_catalog`).
    pub fn forget_catalog(&self) {
        self.catalog_cache.clear();
        self.businesses.lock().expect("cache lock").clear();
    }

    /// Keeps the in-memory catalogue true: every `every`, the catalogue's version is read, and
    /// when it moved (a catalogue write on any instance) everything in memory is dropped.
    pub async fn watch_catalog(self, every: Duration, stop: tokio_util::sync::CancellationToken) {
        let mut seen: Option<i64> = None;
        loop {
            match self.store.catalog_version().await {
                Ok(v) if seen != Some(v) => {
                    // Also on the first read: what requests cached before it may predate `v`.
                    self.forget_catalog();
                    seen = Some(v);
                }
                Ok(_) => {}
                Err(e) => {
                    // Unsure whether it moved: drop it, to be safe.
                    tracing::warn!(error = %e, "catalogue version read failed");
                    self.forget_catalog();
                    seen = None;
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
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
}
