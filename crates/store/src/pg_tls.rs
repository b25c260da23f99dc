//! TLS to PostgreSQL over rustls (the one TLS stack of this project), as libpq's `sslmode` says:
//! `disable` (and no `sslmode`: plain, as before), `require` (encrypted, certificate not checked
//! — libpq's meaning), `verify-ca` (the chain checked, the name not), `verify-full` (both), with
//! `sslrootcert=PATH` for a managed database's own CA (else the system's roots).
//!
//! The adapter to `tokio-postgres`'s TLS traits is written here rather than taken from
//! `tokio-postgres-rustls`, which brings `ring` beside this project's aws-lc-rs; channel binding
//! is not offered (SCRAM works without it).

use crate::StoreError;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};

/// What the connection URL asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Splits the TLS wishes off a PostgreSQL URL: the URL `postgres` understands (its `sslmode` one of
/// its own), the mode, and the root certificate file.
pub fn parse(url: &str) -> Result<(String, Mode, Option<String>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Mode::Plain, None));
    };
    let (mut mode, mut root, mut rest) = (Mode::Plain, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => {
                mode = match v {
                    "disable" | "allow" | "prefer" => Mode::Plain,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(StoreError::BadUrl(format!(
                            "sslmode={other} is not a libpq sslmode"
                        )));
                    }
                }
            }
            Some(("sslrootcert", v)) => root = Some(v.to_string()),
            _ => rest.push(pair),
        }
    }
    if mode != Mode::Plain {
        rest.push("sslmode=require");
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, mode, root))
}

/// The rustls configuration for `mode`.
pub fn config(mode: &Mode, root: Option<&str>) -> Result<ClientConfig, StoreError> {
    let bad = |e: String| StoreError::BadUrl(format!("PostgreSQL TLS: {e}"));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, root) {
        (Mode::Require, _) => Arc::new(Unchecked(provider)),
        (_, Some(path)) => {
            let pem = std::fs::read(path).map_err(|e| bad(format!("sslrootcert {path}: {e}")))?;
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
                let c: CertificateDer<'static> =
                    c.map_err(|e| bad(format!("sslrootcert {path}: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| bad(format!("sslrootcert {path}: {e}")))?;
            }
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(e.to_string()))?
        }
        (_, None) => Arc::new(
            rustls_platform_verifier::Verifier::new(provider).map_err(|e| bad(e.to_string()))?,
        ),
    };
    let verifier: Arc<dyn ServerCertVerifier> = if *mode == Mode::VerifyCa {
        Arc::new(AnyName(verifier))
    } else {
        verifier
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `sslmode=require`: encrypted, the certificate not checked (libpq's meaning of it).
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain checked, whatever name the certificate is for.
#[derive(Debug)]
struct AnyName(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end: &CertificateDer<'_>,
        inter: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end, inter, name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `postgres`'s connector over rustls.
#[derive(Clone)]
pub struct MakeRustls(pub Arc<ClientConfig>);

impl<S> postgres::tls::MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = rustls::pki_types::InvalidDnsNameError;
    fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, Self::Error> {
        Ok(Connect {
            name: ServerName::try_from(domain.to_string())?,
            connector: tokio_rustls::TlsConnector::from(self.0.clone()),
        })
    }
}

pub struct Connect {
    name: ServerName<'static>,
    connector: tokio_rustls::TlsConnector,
}

impl<S> postgres::tls::TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;
    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move { self.connector.connect(self.name, stream).await.map(Stream) })
    }
}

pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> postgres::tls::TlsStream for Stream<S> {
    fn channel_binding(&self) -> postgres::tls::ChannelBinding {
        postgres::tls::ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn urls() {
        assert_eq!(
            parse("postgres://u@h/db").unwrap(),
            ("postgres://u@h/db".into(), Mode::Plain, None)
        );
        assert_eq!(
            parse("postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem&application_name=rg")
                .unwrap(),
            (
                "postgres://u@h/db?application_name=rg&sslmode=require".into(),
                Mode::VerifyFull,
                Some("/ca.pem".into())
            )
        );
        assert!(parse("postgres://u@h/db?sslmode=bogus").is_err());
    }
}
