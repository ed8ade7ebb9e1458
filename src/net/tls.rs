//! rustls client configuration (ring provider only) and readable TLS error messages.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};

use super::NetError;

/// Build a client configuration trusting the webpki (Mozilla) roots plus every certificate in
/// the PEM file `extra_ca` (for a private exchange simulator or a corporate proxy).
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, NetError> {
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        for cert in load_pem_certs(path)? {
            roots.add(cert).map_err(|e| {
                NetError::Config(format!(
                    "CA file {}: certificate cannot be used as a trust anchor: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Config(format!("TLS protocol versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Read every `CERTIFICATE` section of a PEM file.
pub fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let bytes = std::fs::read(path)
        .map_err(|e| NetError::Config(format!("CA file {}: {e}", path.display())))?;
    let mut certs = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
        let cert = item.map_err(|e| {
            NetError::Config(format!(
                "CA file {}: PEM section {} is malformed: {e}",
                path.display(),
                i + 1
            ))
        })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(NetError::Config(format!(
            "CA file {}: no PEM CERTIFICATE section found (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The TLS server name for a URL host (DNS name or IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, NetError> {
    ServerName::try_from(host.to_string())
        .map_err(|e| NetError::Url(format!("host {host:?} is not a valid TLS server name: {e}")))
}

/// Explain a rustls error for the operator; certificate problems say so first.
pub fn describe(err: &rustls::Error, authority: &str) -> String {
    let what = match err {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "the server certificate is not trusted: it is not signed by a trusted CA \
                 (add the CA to the extra CA file if this is a private server)"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the server certificate is not valid for this host name"
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                "the server certificate is expired or not yet valid (check the clock)"
            }
            _ => "the server certificate was rejected",
        },
        rustls::Error::AlertReceived(_) => "the server aborted the TLS session",
        _ => "TLS failure",
    };
    format!("{authority}: {what} ({err})")
}

/// The rustls error inside an `io::Error`, if that is what it carries.
pub fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_webpki_roots_only() {
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn missing_or_empty_ca_file_is_a_clear_error() {
        let e = client_config(Some(Path::new("no/such/ca.pem"))).unwrap_err();
        assert!(e.to_string().contains("no/such/ca.pem"), "{e}");
        let dir = std::env::temp_dir().join(format!("obi-net-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("empty.pem");
        std::fs::write(&p, "not a pem\n").unwrap();
        let e = client_config(Some(&p)).unwrap_err();
        assert!(e.to_string().contains("no PEM CERTIFICATE"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn unknown_issuer_is_described_as_not_trusted() {
        let e = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let s = describe(&e, "h:1");
        assert!(
            s.contains("not trusted") && s.contains("UnknownIssuer"),
            "{s}"
        );
    }
}
