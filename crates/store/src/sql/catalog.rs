//! The operator's catalogue (stored as each object's JSON, by kind and id), settings, and
//! Rabbitpre's user-id → openid mappings.

use crate::StoreError;
use crate::db::Db;

pub(crate) fn put(
    db: &mut dyn Db,
    kind: &str,
    id: &str,
    data: &str,
    now: i64,
) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO catalog (kind, id, data, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        &[kind.into(), id.into(), data.into(), now.into()],
    )?;
    db.exec(
        "UPDATE catalog_version SET version = version + 1 WHERE id = 1",
        &[],
    )?;
    Ok(())
}

/// The catalogue's version: it moves with every catalogue write.
pub(crate) fn version(db: &mut dyn Db) -> Result<i64, StoreError> {
    db.query_one("SELECT version FROM catalog_version WHERE id = 1", &[])?
        .int("version")
}

pub(crate) fn get(db: &mut dyn Db, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
    db.query_opt(
        "SELECT data FROM catalog WHERE kind = $1 AND id = $2",
        &[kind.into(), id.into()],
    )?
    .map(|r| r.text("data"))
    .transpose()
}

pub(crate) fn list(db: &mut dyn Db, kind: &str) -> Result<Vec<String>, StoreError> {
    db.query(
        "SELECT data FROM catalog WHERE kind = $1 ORDER BY id",
        &[kind.into()],
    )?
    .iter()
    .map(|r| r.text("data"))
    .collect()
}

pub(crate) fn get_setting(db: &mut dyn Db, key: &str) -> Result<Option<String>, StoreError> {
    db.query_opt("SELECT value FROM settings WHERE key = $1", &[key.into()])?
        .map(|r| r.text("value"))
        .transpose()
}

/// Sets a setting only if it is not set yet; the value in force afterwards.
pub(crate) fn init_setting(db: &mut dyn Db, key: &str, value: &str) -> Result<String, StoreError> {
    db.exec(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        &[key.into(), value.into()],
    )?;
    get_setting(db, key)?.ok_or_else(|| StoreError::Db(format!("setting {key} vanished")))
}

/// Upserts user id → openid pairs of one integration; how many were written.
pub(crate) fn put_openid_mappings(
    db: &mut dyn Db,
    integration_id: &str,
    pairs: &[(String, String)],
    now: i64,
) -> Result<u64, StoreError> {
    let mut n = 0;
    for (user, openid) in pairs {
        n += db.exec(
            "INSERT INTO openid_mappings (integration_id, user_id, openid, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (integration_id, user_id) DO UPDATE SET openid = excluded.openid, updated_at = excluded.updated_at",
            &[integration_id.into(), user.into(), openid.into(), now.into()],
        )?;
    }
    Ok(n)
}

pub(crate) fn openid_mapping(
    db: &mut dyn Db,
    integration_id: &str,
    user_id: &str,
) -> Result<Option<String>, StoreError> {
    db.query_opt(
        "SELECT openid FROM openid_mappings WHERE integration_id = $1 AND user_id = $2",
        &[integration_id.into(), user_id.into()],
    )?
    .map(|r| r.text("openid"))
    .transpose()
}
