//! TLS for the players' ports: the certificate and key come from PEM files (a mounted
//! Kubernetes Secret's `tls.crt` and `tls.key`) and are reloaded while the gateway runs.
//!
//! The current [`ServerConfig`] sits behind a lock; every new connection takes the one in
//! place when it is accepted, and a connection keeps the config it was handshaken with for
//! its whole life, so swapping in a renewed certificate never touches a session in play.
//! Kubernetes updates a mounted Secret by writing a new directory and swapping the `..data`
//! symlink, which file watchers see only unreliably; the reload task therefore simply
//! re-reads both files every few seconds and compares their content with what it last
//! read. A pair that does not work (not PEM, no key, key of another certificate) is logged
//! and counted, and the config in place stays: a bad renewal must not take the ports down.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::GatewayMetrics;

/// The TLS ports, where their certificate comes from and how they treat it.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// TLS telnet listener (`None`: off): telnet after a TLS handshake.
    pub telnet: Option<SocketAddr>,
    /// TLS WebSocket listener (`None`: off): the WebSocket port's pages and `wss`.
    pub websocket: Option<SocketAddr>,
    /// PEM certificate chain, leaf first (a Secret's `tls.crt`).
    pub cert: PathBuf,
    /// PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) (a Secret's `tls.key`).
    pub key: PathBuf,
    /// How often the files are re-read for a new certificate.
    pub reload_every: Duration,
    /// How long a client has for the TLS handshake. The connection holds an admission slot
    /// meanwhile, so a silent client must not hold it for ever.
    pub handshake_timeout: Duration,
}

impl TlsSettings {
    /// Settings with no listener yet, the default reload interval (10 s) and handshake
    /// timeout (10 s).
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            telnet: None,
            websocket: None,
            cert: cert.into(),
            key: key.into(),
            reload_every: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the read said.
        #[source]
        source: std::io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("{path} is not valid PEM: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: pem::Error,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key section.
    #[error("{path} holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is not the certificate's.
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the pair for another reason (an unsupported key type, ...).
    #[error("the certificate in {cert} and key in {key} are not usable: {source}")]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// The bytes of a certificate file and a key file, as read at one moment.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PemPair {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl std::fmt::Debug for PemPair {
    // Never print a private key, not even into a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemPair")
            .field("cert", &self.cert.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl PemPair {
    /// Reads both files. They are a few kilobytes on a local (tmpfs) volume, so a plain
    /// blocking read costs less than handing it to another thread.
    pub(crate) fn read(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_owned(),
                source,
            })
        };
        Ok(Self {
            cert: read(cert)?,
            key: read(key)?,
        })
    }

    #[cfg(test)]
    pub(crate) fn from_bytes(cert: &[u8], key: &[u8]) -> Self {
        Self {
            cert: cert.to_vec(),
            key: key.to_vec(),
        }
    }
}

/// Builds a server config from a PEM pair; `cert` and `key` name the files in errors.
/// Uses the ring provider explicitly: the process links no other, and asking for the
/// process default would panic if a dependency ever linked a second one.
pub(crate) fn server_config(
    pair: &PemPair,
    cert: &Path,
    key: &Path,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(&pair.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: cert.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(&pair.key).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: key.to_owned(),
        },
        source => TlsError::Pem {
            path: key.to_owned(),
            source,
        },
    })?;
    let rejected = |source: rustls::Error| match source {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
            }
        }
        source => TlsError::Rejected {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        },
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(rejected)?;
    Ok(Arc::new(config))
}

/// What the reload task last read, so it rebuilds (and logs) only on a change.
#[derive(Debug, Default)]
pub(crate) struct ChangeWatch {
    seen: Option<Result<PemPair, String>>,
}

impl ChangeWatch {
    /// Starts from the pair the current config was built from.
    pub(crate) fn new(loaded: PemPair) -> Self {
        Self {
            seen: Some(Ok(loaded)),
        }
    }

    /// True if a read of the files differs from the last one recorded (new content, or a
    /// read error other than the last), i.e. worth acting on and logging.
    pub(crate) fn is_new(&self, read: &Result<PemPair, TlsError>) -> bool {
        self.seen.as_ref() != Some(&Self::key(read))
    }

    /// Records a read; true if it was new (see [`Self::is_new`]).
    pub(crate) fn changed(&mut self, read: &Result<PemPair, TlsError>) -> bool {
        let new = self.is_new(read);
        self.seen = Some(Self::key(read));
        new
    }

    fn key(read: &Result<PemPair, TlsError>) -> Result<PemPair, String> {
        match read {
            Ok(pair) => Ok(pair.clone()),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// The TLS config in use for new connections, and how to renew it.
pub(crate) struct Certificates {
    current: RwLock<Arc<ServerConfig>>,
    settings: TlsSettings,
    watch: std::sync::Mutex<ChangeWatch>,
}

impl Certificates {
    /// Loads the pair at startup; a bad one is an error (nothing to fall back to).
    pub(crate) fn load(settings: TlsSettings) -> Result<Self, TlsError> {
        let pair = PemPair::read(&settings.cert, &settings.key)?;
        let config = server_config(&pair, &settings.cert, &settings.key)?;
        Ok(Self {
            current: RwLock::new(config),
            settings,
            watch: std::sync::Mutex::new(ChangeWatch::new(pair)),
        })
    }

    /// An acceptor with the config in place now.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }

    /// How long a client has for its handshake.
    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.settings.handshake_timeout
    }

    /// Re-reads the files once; swaps in a new config if they changed and work.
    pub(crate) fn reload_once(&self, metrics: &GatewayMetrics) {
        let (cert, key) = (&self.settings.cert, &self.settings.key);
        let read = PemPair::read(cert, key);
        let mut watch = crate::router::lock(&self.watch);
        if !watch.is_new(&read) {
            return;
        }
        // The kubelet swaps a Secret's files behind one symlink, and the two files are read
        // one after the other: a changed read that a second read does not repeat caught the
        // swap half-way (a new certificate with the old key); the next tick reads it whole.
        let settled = match (&read, &PemPair::read(cert, key)) {
            (Ok(first), Ok(second)) => first == second,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !settled {
            return;
        }
        watch.changed(&read);
        drop(watch);
        match read.and_then(|pair| server_config(&pair, cert, key)) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
                metrics.tls_reloads.inc();
                tracing::info!(cert = %cert.display(), "TLS certificate reloaded; new connections use it");
            }
            Err(error) => {
                metrics.tls_reload_failures.inc();
                tracing::warn!(%error, "TLS certificate not reloaded; the previous one stays in use");
            }
        }
    }

    /// Re-reads the files every `reload_every`, for ever (the caller aborts it).
    pub(crate) async fn reload(self: Arc<Self>, metrics: GatewayMetrics) {
        let mut tick =
            tokio::time::interval(self.settings.reload_every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.reload_once(&metrics);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A_CRT: &[u8] = include_bytes!("../testdata/a.crt");
    const A_KEY: &[u8] = include_bytes!("../testdata/a.key");
    const B_CRT: &[u8] = include_bytes!("../testdata/b.crt");
    const B_KEY: &[u8] = include_bytes!("../testdata/b.key");

    fn build(cert: &[u8], key: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
        server_config(
            &PemPair::from_bytes(cert, key),
            Path::new("tls.crt"),
            Path::new("tls.key"),
        )
    }

    #[test]
    fn pem_pairs_make_configs_or_clear_errors() {
        let garbage = b"this is not a certificate\n".as_slice();
        let unterminated = b"-----BEGIN CERTIFICATE-----\nMIIB\n".as_slice();
        // (case, certificate file, key file, what the error says; None: accepted)
        type Case<'a> = (&'a str, &'a [u8], &'a [u8], Option<&'a str>);
        let table: [Case; 7] = [
            ("matching pair", A_CRT, A_KEY, None),
            ("other matching pair", B_CRT, B_KEY, None),
            (
                "key of another certificate",
                A_CRT,
                B_KEY,
                Some("does not belong"),
            ),
            (
                "garbage certificate",
                garbage,
                A_KEY,
                Some("tls.crt holds no PEM certificate"),
            ),
            (
                "garbage key",
                A_CRT,
                garbage,
                Some("tls.key holds no PEM private key"),
            ),
            (
                "key file given as certificate",
                A_KEY,
                A_KEY,
                Some("no PEM certificate"),
            ),
            (
                "unterminated PEM",
                unterminated,
                A_KEY,
                Some("tls.crt is not valid PEM"),
            ),
        ];
        for (case, cert, key, want) in table {
            match (build(cert, key), want) {
                (Ok(_), None) => {}
                (Err(error), Some(want)) => assert!(
                    error.to_string().contains(want),
                    "{case}: {error} does not say {want:?}"
                ),
                (Ok(_), Some(want)) => panic!("{case}: accepted, wanted an error with {want:?}"),
                (Err(error), None) => panic!("{case}: refused: {error}"),
            }
        }
    }

    #[test]
    fn a_mismatched_key_is_its_own_error() {
        assert!(matches!(
            build(B_CRT, A_KEY),
            Err(TlsError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn change_watch_acts_once_per_change() {
        let a = PemPair::from_bytes(A_CRT, A_KEY);
        let b = PemPair::from_bytes(B_CRT, B_KEY);
        let mut watch = ChangeWatch::new(a.clone());
        assert!(!watch.changed(&Ok(a.clone())), "same content is no change");
        assert!(watch.changed(&Ok(b.clone())), "new content is a change");
        assert!(!watch.changed(&Ok(b.clone())), "acted on once only");
        let missing = || {
            Err(TlsError::NoKey {
                path: "tls.key".into(),
            })
        };
        assert!(watch.changed(&missing()), "a new error is reported");
        assert!(!watch.changed(&missing()), "the same error only once");
        assert!(watch.changed(&Ok(a)), "a fixed pair is a change again");
        // Half-renewed (new certificate, old key): a change, then the full pair another.
        let half = PemPair::from_bytes(B_CRT, A_KEY);
        assert!(watch.changed(&Ok(half)));
        assert!(watch.changed(&Ok(b)));
    }

    #[test]
    fn reload_swaps_in_a_good_pair_and_keeps_the_old_one_on_a_bad_pair() {
        let dir = std::env::temp_dir().join(format!("mush-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, A_CRT).expect("cert");
        std::fs::write(&key, A_KEY).expect("key");
        let certs = Certificates::load(TlsSettings::new(&cert, &key)).expect("load");
        let metrics = GatewayMetrics::default();
        let current = |certs: &Certificates| certs.current.read().expect("lock").clone();
        let first = current(&certs);
        let same = |certs: &Certificates| Arc::ptr_eq(&current(certs), &first);
        certs.reload_once(&metrics);
        assert!(same(&certs), "unchanged files keep the config");

        std::fs::write(&key, B_KEY).expect("key");
        certs.reload_once(&metrics);
        assert!(same(&certs), "a mismatched pair keeps the old config");
        assert_eq!(metrics.tls_reload_failures.get(), 1);
        certs.reload_once(&metrics);
        assert_eq!(metrics.tls_reload_failures.get(), 1, "counted once");

        std::fs::write(&cert, B_CRT).expect("cert");
        certs.reload_once(&metrics);
        assert!(!same(&certs), "a good new pair is swapped in");
        assert_eq!(metrics.tls_reloads.get(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
