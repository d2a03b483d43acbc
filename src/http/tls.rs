//! TLS settings: rustls with the *ring* provider (it builds with a C compiler
//! alone), Mozilla's roots from `webpki-roots` (no system store is read at
//! start-up), curl's `--cacert` (extra roots, and server certificates pinned
//! as they are; see [`ServerVerifier`]) and `--insecure` (no verification);
//! and the sentence each TLS error becomes in a record ([`error_message`]).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    AlertDescription, CertificateError, DigitallySignedStruct, InvalidMessage, SignatureScheme,
};

use super::ClientOptions;

/// Reads every certificate from a PEM file (curl's `--cacert`).
///
/// # Errors
/// A message naming the file when it cannot be read or holds no certificate.
pub fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let name = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{name}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{name}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{name}: no PEM certificate found"));
    }
    Ok(certs)
}

/// webpki's verification (Mozilla's roots plus `--cacert`), and one more way
/// to succeed: a server certificate that is byte for byte one of the
/// `--cacert` certificates is trusted as it is, as curl (OpenSSL) trusts a
/// server's own certificate given as its CA file.
///
/// The rule for such a pinned certificate:
/// - only `--cacert` certificates ([`ClientOptions::extra_roots`]) can be
///   pinned, never the built-in roots;
/// - only failures that mean "this certificate is not a server certificate
///   from a known CA" are overridden: an unknown issuer (a certificate
///   signed by a CA not given), and a certificate marked as a CA
///   (`basicConstraints CA:TRUE`, which `openssl req -x509` sets by
///   default). webpki checks the certificate's validity period before
///   either, so an expired or not yet valid pinned certificate is still
///   refused as such; every other failure stands too. (For a CA-marked
///   certificate webpki stops before the extended key usage, so that is not
///   checked, as OpenSSL does not check it for a trusted certificate.)
///   rustls passes the CA case on as webpki's own error, known here by the
///   name it prints: should that change, pinning fails closed, and the
///   tests say so;
/// - the name still has to match the certificate's subjectAltNames.
///
/// With `--insecure` every certificate is accepted. Handshake signatures are
/// checked with the provider's algorithms in every case, so the connection
/// is at least internally consistent.
#[derive(Debug)]
struct ServerVerifier {
    /// The usual verifier: built-in roots and `--cacert`.
    webpki: Arc<WebPkiServerVerifier>,
    /// The `--cacert` certificates, which a server may present as they are.
    pinned: Vec<CertificateDer<'static>>,
    /// `--insecure`: no certificate is checked.
    insecure: bool,
}

impl ServerVerifier {
    /// Whether webpki's `err` is one that a pinned certificate overrides.
    fn pinnable(err: &rustls::Error) -> bool {
        match err {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => true,
            rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
                is_webpki_error(other, "CaUsedAsEndEntity")
            }
            _ => false,
        }
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let err = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(err) => err,
        };
        let pinned = self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref());
        if !(pinned && Self::pinnable(&err)) {
            return Err(err);
        }
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&cert, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Builds the TLS configuration: *ring* provider, safe protocol versions,
/// Mozilla's root certificates plus `extra_roots`, which a server may also
/// present as its own certificate ([`ServerVerifier`]); or, with
/// `insecure`, no certificate verification.
pub(crate) fn tls_config(options: &ClientOptions) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions");
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    roots.add_parsable_certificates(options.extra_roots.iter().cloned());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .expect("the built-in roots are never empty");
    let verifier = ServerVerifier {
        webpki,
        pinned: options.extra_roots.clone(),
        insecure: options.insecure,
    };
    builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth()
}

// ---------------------------------------------------------------------------
// Errors as sentences.

/// The sentence a TLS error becomes in a record's `error`. rustls's own
/// `Display` shows Rust debug text for many errors (`UnknownIssuer`,
/// `Other(OtherError(CaUsedAsEndEntity))`, `DnsName("x")`); this says what
/// went wrong, and for the usual certificate problems what to do about it.
pub(crate) fn error_message(err: &rustls::Error) -> String {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(cert) => certificate_message(cert),
        E::AlertReceived(alert) => alert_message(*alert),
        E::NoApplicationProtocol => {
            "no protocol in common with the server: it selected none of those offered by ALPN"
                .to_owned()
        }
        E::PeerIncompatible(why) => incompatible_message(why),
        E::PeerMisbehaved(why) => format!(
            "the server broke the TLS protocol ({})",
            variant_words(&format!("{why:?}")).unwrap_or_else(|| "an invalid message".into())
        ),
        E::InvalidMessage(InvalidMessage::InvalidContentType) => {
            "the server did not answer with TLS (is it a plain HTTP port?)".to_owned()
        }
        E::InvalidMessage(_) => "the server sent a malformed TLS message".to_owned(),
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            "the server sent a TLS message out of order".to_owned()
        }
        E::NoCertificatesPresented => "the server sent no certificate".to_owned(),
        E::UnsupportedNameType => "the server name cannot be used with TLS".to_owned(),
        E::DecryptError => "a TLS record from the server could not be decrypted".to_owned(),
        E::PeerSentOversizedRecord => "the server sent a TLS record that is too large".to_owned(),
        E::InvalidEncryptedClientHello(_) => "the encrypted client hello failed".to_owned(),
        E::InvalidCertRevocationList(_) => "a certificate revocation list is invalid".to_owned(),
        E::HandshakeNotComplete => "the TLS handshake did not complete".to_owned(),
        E::General(text) => format!("TLS error: {text}"),
        E::Other(other) => format!("TLS error: {}", other.0),
        _ => "TLS error in this client (failed to encrypt, or to read the clock or random bytes)"
            .to_owned(),
    }
}

/// The sentence for a server whose TLS settings and ours have nothing in
/// common.
fn incompatible_message(why: &rustls::PeerIncompatible) -> String {
    use rustls::PeerIncompatible as P;
    let what = match why {
        P::NoCipherSuitesInCommon => "no cipher suite in common".to_owned(),
        P::NoKxGroupsInCommon => "no key exchange group in common".to_owned(),
        P::NoSignatureSchemesInCommon => "no signature scheme in common".to_owned(),
        P::ServerDoesNotSupportTls12Or13 => "it supports neither TLS 1.2 nor TLS 1.3".to_owned(),
        other => {
            variant_words(&format!("{other:?}")).unwrap_or_else(|| "no setting in common".into())
        }
    };
    format!("the server's TLS is incompatible with this client: {what}")
}

/// The sentence for a certificate that failed verification.
fn certificate_message(err: &CertificateError) -> String {
    use CertificateError as C;
    match err {
        C::UnknownIssuer => "unknown issuer: the certificate is not signed by a trusted root \
             (add it with --cacert, or -k to skip verification)"
            .to_owned(),
        C::ExpiredContext { not_after, .. } => {
            format!("certificate expired on {}", http_date(*not_after))
        }
        C::Expired => "certificate expired".to_owned(),
        C::NotValidYetContext { not_before, .. } => {
            format!(
                "certificate not valid yet: valid from {}",
                http_date(*not_before)
            )
        }
        C::NotValidYet => "certificate not valid yet".to_owned(),
        C::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<String> = presented.iter().filter_map(|n| san_name(n)).collect();
            let valid = match names.as_slice() {
                [] => "it names no host".to_owned(),
                [one] => format!("it is only valid for {one}"),
                [many @ .., last] => format!("it is only valid for {} or {last}", many.join(", ")),
            };
            format!(
                "certificate not valid for name \"{}\"; {valid}",
                expected.to_str()
            )
        }
        C::NotValidForName => "certificate not valid for the requested name".to_owned(),
        C::BadSignature => {
            "bad certificate signature: the certificate was not signed by its issuer's key"
                .to_owned()
        }
        C::BadEncoding => "the server's certificate is malformed".to_owned(),
        C::Revoked => "certificate revoked".to_owned(),
        C::UnhandledCriticalExtension => {
            "certificate has a critical extension this client does not support".to_owned()
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "certificate is not for TLS servers: its extended key usage does not allow \
             server authentication"
                .to_owned()
        }
        C::UnknownRevocationStatus => "the certificate's revocation status is unknown".to_owned(),
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
            "the certificate revocation list expired".to_owned()
        }
        C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "certificate is signed with an unsupported algorithm".to_owned()
        }
        C::InvalidOcspResponse => "the server's OCSP response is invalid".to_owned(),
        C::ApplicationVerificationFailure => "certificate verification failed".to_owned(),
        C::Other(other) => webpki_message(other),
        _ => "certificate verification failed".to_owned(),
    }
}

/// The sentence for one of webpki's errors that rustls passes on as
/// [`CertificateError::Other`].
fn webpki_message(other: &rustls::OtherError) -> String {
    let name = other.0.to_string();
    let sentence = match name.as_str() {
        "CaUsedAsEndEntity" => {
            "certificate is a CA certificate, not a server certificate; \
             give the server's own certificate with --cacert to trust it"
        }
        "EndEntityUsedAsCa" => "a server certificate was used as the issuer of another",
        "UnsupportedCertVersion" => "certificate is not an X.509 version 3 certificate",
        "UnsupportedCriticalExtension" => {
            "certificate has a critical extension this client does not support"
        }
        "PathLenConstraintViolated" => "the certificate chain is longer than an issuer allows",
        "NameConstraintViolation" => "certificate names a host its issuer may not certify",
        "MaximumSignatureChecksExceeded"
        | "MaximumPathBuildCallsExceeded"
        | "MaximumPathDepthExceeded"
        | "MaximumNameConstraintComparisonsExceeded" => {
            "the certificate chain is too long or too complex to verify"
        }
        "CertDistrusted" => "certificate is distrusted",
        "EmptyEkuExtension" => "certificate has an empty extended key usage extension",
        "MalformedExtensions" | "ExtensionValueInvalid" | "BadDer" | "BadDerTime" => {
            "the server's certificate is malformed"
        }
        other => {
            return match variant_words(other) {
                Some(words) => format!("certificate rejected: {words}"),
                None => "certificate verification failed".to_owned(),
            }
        }
    };
    sentence.to_owned()
}

/// Whether `other` is webpki's error `name`: webpki's errors print as their
/// variant name (`CaUsedAsEndEntity`), and rustls passes on those it has no
/// variant for as [`CertificateError::Other`].
fn is_webpki_error(other: &rustls::OtherError, name: &str) -> bool {
    other.0.to_string() == name
}

/// The sentence for a fatal alert from the server, with the alert's name as
/// RFC 8446 spells it (`handshake_failure`).
fn alert_message(alert: AlertDescription) -> String {
    let name = match alert.as_str() {
        Some(name) => snake_case(name),
        None => {
            return format!(
                "the server ended the TLS handshake with alert {}",
                u8::from(alert)
            )
        }
    };
    let why = match alert {
        AlertDescription::HandshakeFailure => {
            ": it shares no cipher suite or other setting with this client, \
             or wants a client certificate"
        }
        AlertDescription::ProtocolVersion => ": no TLS version in common (1.2 and 1.3 offered)",
        AlertDescription::NoApplicationProtocol => {
            ": it speaks none of the protocols offered by ALPN"
        }
        AlertDescription::UnrecognisedName => ": it does not serve this host name",
        AlertDescription::CertificateRequired => {
            ": it wants a client certificate, which this client does not send"
        }
        AlertDescription::InsufficientSecurity => {
            ": it wants stronger ciphers than this client offers"
        }
        _ => "",
    };
    format!("the server refused the TLS handshake ({name} alert){why}")
}

/// `HandshakeFailure` → `handshake_failure`; `UnrecognisedName` as RFC 8446
/// spells it, `unrecognized_name`.
fn snake_case(name: &str) -> String {
    if name == "UnrecognisedName" {
        return "unrecognized_name".to_owned();
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A unit variant's name as lowercase words (`NoCipherSuitesInCommon` →
/// `no cipher suites in common`); `None` when `name` is not a bare
/// identifier (a variant with fields prints them).
fn variant_words(name: &str) -> Option<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(snake_case(name).replace('_', " "))
}

/// One of webpki's names for a subjectAltName (`DnsName("a.test")`,
/// `IpAddress(127.0.0.1)`) as the name alone; `None` for kinds that name no
/// host (a directory name, an unsupported kind).
fn san_name(presented: &str) -> Option<String> {
    let inner = presented
        .strip_prefix("DnsName(")
        .or_else(|| presented.strip_prefix("IpAddress("))?
        .strip_suffix(')')?;
    Some(inner.trim_matches('"').to_owned())
}

/// A certificate time as an HTTP date (`Mon, 01 Jan 2001 00:00:00 GMT`).
fn http_date(t: UnixTime) -> String {
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(t.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints as webpki's do: its variant name.
    #[derive(Debug)]
    struct Webpki(&'static str);

    impl std::fmt::Display for Webpki {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Webpki {}

    fn webpki(name: &'static str) -> rustls::Error {
        CertificateError::Other(rustls::OtherError(Arc::new(Webpki(name)))).into()
    }

    #[test]
    fn errors_read_as_sentences() {
        let cases: [(rustls::Error, &str); 8] = [
            (
                webpki("CaUsedAsEndEntity"),
                "certificate is a CA certificate, not a server certificate; \
                 give the server's own certificate with --cacert to trust it",
            ),
            (
                webpki("UnsupportedCertVersion"),
                "certificate is not an X.509 version 3 certificate",
            ),
            (
                webpki("SomethingNew"),
                "certificate rejected: something new",
            ),
            (
                CertificateError::BadSignature.into(),
                "bad certificate signature: the certificate was not signed by its issuer's key",
            ),
            (
                CertificateError::InvalidPurpose.into(),
                "certificate is not for TLS servers: its extended key usage does not allow \
                 server authentication",
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
                "the server refused the TLS handshake (handshake_failure alert): it shares no \
                 cipher suite or other setting with this client, or wants a client certificate",
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::Unknown(200)),
                "the server ended the TLS handshake with alert 200",
            ),
            (
                rustls::PeerIncompatible::NoCipherSuitesInCommon.into(),
                "the server's TLS is incompatible with this client: no cipher suite in common",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(error_message(&err), want, "{err:?}");
        }
    }

    #[test]
    fn wrong_names_list_the_certificates_names() {
        let err: rustls::Error = CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("a.test").unwrap(),
            presented: vec![
                "DnsName(\"b.test\")".into(),
                "IpAddress(127.0.0.1)".into(),
                "DirectoryName".into(),
                "IpAddress(::1)".into(),
            ],
        }
        .into();
        assert_eq!(
            error_message(&err),
            "certificate not valid for name \"a.test\"; it is only valid for b.test, 127.0.0.1 or ::1"
        );
    }

    #[test]
    fn only_unknown_issuers_and_ca_certificates_can_be_pinned() {
        assert!(ServerVerifier::pinnable(
            &CertificateError::UnknownIssuer.into()
        ));
        assert!(ServerVerifier::pinnable(&webpki("CaUsedAsEndEntity")));
        for err in [
            webpki("EndEntityUsedAsCa"),
            CertificateError::Expired.into(),
            CertificateError::NotValidYet.into(),
            CertificateError::BadSignature.into(),
            CertificateError::NotValidForName.into(),
            CertificateError::InvalidPurpose.into(),
        ] {
            assert!(!ServerVerifier::pinnable(&err), "{err:?}");
        }
    }
}
