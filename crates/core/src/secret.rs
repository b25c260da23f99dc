//! A wrapper that keeps secrets (keys, certificates, API secrets) out of logs and answers.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: only for signing, verifying and storing.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// What may be shown to an operator: a fixed mask and at most the last 4 characters of a
    /// long secret, never enough to use it.
    pub fn masked(&self) -> String {
        let n = self.0.chars().count();
        if n >= 24 && !self.0.contains('\n') {
            let tail: String = self.0.chars().skip(n - 4).collect();
            format!("****{tail}")
        } else {
            "****".to_string()
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Serialization shows only the mask: an object holding secrets can be answered safely. Storage
/// uses [`expose`] on each secret field explicitly.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// `#[serde(serialize_with = "secret::expose")]` for the storage form of a secret field.
pub fn expose<S: serde::Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_some(x.expose()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn never_prints_itself() {
        let s = Secret::new("192006250b4c09247ec02edce69f6a2d");
        assert_eq!(format!("{s:?} {s}"), "Secret(****) ****");
        assert_eq!(s.masked(), "****6a2d");
        assert_eq!(
            Secret::new("-----BEGIN PRIVATE KEY-----\nabc").masked(),
            "****"
        );
    }
}
