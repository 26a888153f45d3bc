//! TLS from PEM files that are re-read while the process runs: the players' ports on the
//! gateway, and the mutually authenticated link between gateways and game pods.
//!
//! A config sits behind a lock; every new connection takes the one in place, and a
//! connection keeps the config it was handshaken with for its whole life, so swapping in a
//! renewed certificate never touches a session in play. Kubernetes updates a mounted Secret
//! by writing a new directory and swapping the `..data` symlink, which file watchers see
//! only unreliably; [`Reloading`] therefore re-reads its files every few seconds and
//! compares their content with what it last read. Files that do not make a working config
//! (not PEM, no key, the key of another certificate, no CA) are reported once, and the
//! config in place stays: a bad renewal must not take a port down.
//!
//! Every config here uses the ring provider explicitly: the process links no other, and
//! asking for the process default would panic if a dependency ever linked a second one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

mod link;

pub use link::{
    GAME_SERVER_NAME, GATEWAY_CLIENT_NAME, LinkFiles, LinkIo, connect_channel, incoming,
    link_client_config, link_server_config,
};

/// Why a certificate, key or CA could not be used.
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
    /// A certificate (or CA) file holds no `CERTIFICATE` section.
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
    /// A CA file's certificate cannot be a trust anchor.
    #[error("the CA certificate in {path} is not usable: {reason}")]
    BadCa {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// rustls refused the files for another reason (an unsupported key type, ...).
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

/// The bytes of a set of PEM files, as read at one moment, in the order of their paths.
#[derive(Clone, PartialEq, Eq)]
pub struct PemFiles(Vec<Vec<u8>>);

impl fmt::Debug for PemFiles {
    // Private keys are among them: never print content, not even into a debug log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|file| format!("<{} bytes>", file.len())))
            .finish()
    }
}

impl PemFiles {
    /// Reads every file. They are a few kilobytes on a local (tmpfs) volume, so a plain
    /// blocking read costs less than handing it to another thread.
    pub fn read(paths: &[PathBuf]) -> Result<Self, TlsError> {
        paths
            .iter()
            .map(|path| {
                std::fs::read(path).map_err(|source| TlsError::Read {
                    path: path.clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Files given as bytes (tests).
    pub fn from_bytes(files: &[&[u8]]) -> Self {
        Self(files.iter().map(|file| file.to_vec()).collect())
    }

    /// The `index`th file's bytes (empty if there are fewer files).
    pub fn get(&self, index: usize) -> &[u8] {
        self.0.get(index).map_or(&[], Vec::as_slice)
    }
}

/// The certificate chain in `pem` (leaf first); `path` names the file in errors.
pub fn certificate_chain(
    pem: &[u8],
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

/// The private key in `pem`; `path` names the file in errors.
pub fn private_key(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

/// The trust anchors in a CA file.
pub fn ca_roots(pem: &[u8], path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificate_chain(pem, path)? {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            path: path.to_owned(),
            reason: source.to_string(),
        })?;
    }
    Ok(Arc::new(roots))
}

/// Maps rustls's refusal of a certificate and key to our error.
pub(crate) fn rejected(cert: &Path, key: &Path) -> impl Fn(rustls::Error) -> TlsError {
    move |source| match source {
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
    }
}

/// The one crypto provider every config uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config without client authentication, for ports where anyone may connect
/// (the players'): `files` are the certificate chain and the key.
pub fn server_config(files: &PemFiles, paths: &[PathBuf]) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert, key) = two_paths(paths);
    let chain = certificate_chain(files.get(0), cert)?;
    let private = private_key(files.get(1), key)?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rejected(cert, key))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(rejected(cert, key))?;
    Ok(Arc::new(config))
}

/// The certificate and key paths among a config's files (the first two).
fn two_paths(paths: &[PathBuf]) -> (&Path, &Path) {
    let path = |i: usize| paths.get(i).map_or(Path::new(""), PathBuf::as_path);
    (path(0), path(1))
}

/// What the reload task last read, so it rebuilds (and reports) only on a change.
#[derive(Debug, Default)]
struct ChangeWatch {
    seen: Option<Result<PemFiles, String>>,
}

impl ChangeWatch {
    fn new(loaded: PemFiles) -> Self {
        Self {
            seen: Some(Ok(loaded)),
        }
    }

    /// True if a read differs from the last one recorded (new content, or a read error
    /// other than the last), i.e. worth acting on and reporting.
    fn is_new(&self, read: &Result<PemFiles, TlsError>) -> bool {
        self.seen.as_ref() != Some(&Self::key(read))
    }

    /// Records a read; true if it was new.
    fn changed(&mut self, read: &Result<PemFiles, TlsError>) -> bool {
        let new = self.is_new(read);
        self.seen = Some(Self::key(read));
        new
    }

    fn key(read: &Result<PemFiles, TlsError>) -> Result<PemFiles, String> {
        match read {
            Ok(files) => Ok(files.clone()),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// Builds a config from the files' bytes; the paths name them in errors.
pub type Build<C> = fn(&PemFiles, &[PathBuf]) -> Result<Arc<C>, TlsError>;

/// What one re-read of the files did.
#[derive(Debug)]
pub enum Reloaded {
    /// Nothing new (same content, the same error as last time, or a read caught
    /// half-way through a Secret update: the next tick reads it whole).
    Unchanged,
    /// New files that work: new connections use them.
    Renewed,
    /// New files that do not work; the config in place stays.
    Refused(TlsError),
}

/// A config built from files and rebuilt when they change.
pub struct Reloading<C> {
    paths: Vec<PathBuf>,
    build: Build<C>,
    every: Duration,
    current: RwLock<Arc<C>>,
    watch: Mutex<ChangeWatch>,
}

impl<C> fmt::Debug for Reloading<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloading")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl<C> Reloading<C> {
    /// Reads the files and builds the first config; a failure is an error (at startup
    /// there is nothing to fall back to). [`Self::reload`] re-reads them every `every`
    /// (at least 100 ms).
    pub fn load(paths: Vec<PathBuf>, build: Build<C>, every: Duration) -> Result<Self, TlsError> {
        let files = PemFiles::read(&paths)?;
        let config = build(&files, &paths)?;
        Ok(Self {
            paths,
            build,
            every: every.max(Duration::from_millis(100)),
            current: RwLock::new(config),
            watch: Mutex::new(ChangeWatch::new(files)),
        })
    }

    /// The files, in the order the build reads them.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The config in place now.
    pub fn current(&self) -> Arc<C> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the files once; swaps in a new config if they changed and work.
    pub fn reload_once(&self) -> Reloaded {
        let read = PemFiles::read(&self.paths);
        let mut watch = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        if !watch.is_new(&read) {
            return Reloaded::Unchanged;
        }
        // The kubelet swaps a Secret's files behind one symlink, and the files are read one
        // after the other: a changed read that a second read does not repeat caught the
        // swap half-way (a new certificate with the old key); the next tick reads it whole.
        let settled = match (&read, &PemFiles::read(&self.paths)) {
            (Ok(first), Ok(second)) => first == second,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !settled {
            return Reloaded::Unchanged;
        }
        watch.changed(&read);
        drop(watch);
        match read.and_then(|files| (self.build)(&files, &self.paths)) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
                Reloaded::Renewed
            }
            Err(error) => Reloaded::Refused(error),
        }
    }

    /// Re-reads the files for ever (the caller aborts it), reporting each change
    /// ([`Reloaded::report`]).
    pub async fn reload(self: Arc<Self>, what: &str, renewed: Counter, refused: Counter) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.reload_once().report(what, &renewed, &refused);
        }
    }
}

impl Reloaded {
    /// Logs a change of `what`'s files (a renewal put in use, or new files that do not
    /// work) and counts it in `renewed` or `refused`; nothing for no change.
    pub fn report(self, what: &str, renewed: &Counter, refused: &Counter) {
        match self {
            Self::Unchanged => {}
            Self::Renewed => {
                renewed.inc();
                tracing::info!(what, "TLS certificate reloaded; new connections use it");
            }
            Self::Refused(error) => {
                refused.inc();
                tracing::warn!(what, %error, "TLS certificate not reloaded; the previous one stays in use");
            }
        }
    }
}

/// Reloading configs of each kind this crate builds.
pub type ReloadingServer = Reloading<ServerConfig>;
/// See [`ReloadingServer`].
pub type ReloadingClient = Reloading<ClientConfig>;

#[cfg(test)]
mod tests;
