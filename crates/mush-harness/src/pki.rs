//! A throwaway certificate authority for tests, made with the `openssl` command: the
//! control plane's certificates (API server, admin, kubelet, kube-proxy) and the TLS
//! tests' server certificates come from here, so there is one way to make them.
//!
//! Keys are ECDSA P-256 (quick to make, accepted by Kubernetes and rustls); certificates
//! last two days.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::HarnessError;
use crate::process::{find_binary, run_command};

/// `openssl req` arguments for a new unencrypted ECDSA P-256 key.
const NEW_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA (`ca.crt`, `ca.key`) in a directory, and the certificates it issued beside it.
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
    openssl: PathBuf,
}

impl Pki {
    /// Makes a new CA named `name` in `dir` (created if missing).
    pub fn new(dir: &Path, name: &str) -> Result<Self, HarnessError> {
        std::fs::create_dir_all(dir).map_err(HarnessError::Io)?;
        let pki = Self {
            dir: dir.to_owned(),
            openssl: find_binary("openssl", "openssl")?,
        };
        let subject = format!("/CN={name}");
        pki.openssl(
            &[
                &["req", "-x509"][..],
                &NEW_KEY,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-days",
                    "2",
                    "-subj",
                    &subject,
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        )?;
        Ok(pki)
    }

    /// The directory holding the CA and what it issued.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA's certificate, for clients to trust.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// Issues a server certificate `{name}.crt` (and `{name}.key`) for `subject`, valid
    /// for `alt_names` (`IP:127.0.0.1`, `DNS:localhost`, ...); returns both paths.
    pub fn server(
        &self,
        name: &str,
        subject: &str,
        alt_names: &[&str],
    ) -> Result<(PathBuf, PathBuf), HarnessError> {
        self.serving(name, subject, alt_names, "serverAuth")
    }

    /// Issues a certificate that serves and also dials as a client, for `alt_names`: a
    /// Redis node's, which its peers verify on the cluster bus and on replication links.
    pub fn peer(
        &self,
        name: &str,
        subject: &str,
        alt_names: &[&str],
    ) -> Result<(PathBuf, PathBuf), HarnessError> {
        self.serving(name, subject, alt_names, "serverAuth,clientAuth")
    }

    fn serving(
        &self,
        name: &str,
        subject: &str,
        alt_names: &[&str],
        usage: &str,
    ) -> Result<(PathBuf, PathBuf), HarnessError> {
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage={usage}\nsubjectAltName={}\n",
            alt_names.join(",")
        );
        self.issue(name, subject, &ext)
    }

    /// Issues a client certificate `{name}.crt` (and `{name}.key`) for `subject`
    /// (`/O=group/CN=user`: Kubernetes reads the user and groups from it).
    pub fn client(&self, name: &str, subject: &str) -> Result<(PathBuf, PathBuf), HarnessError> {
        self.client_for(name, subject, &[])
    }

    /// Issues a client certificate that is also valid for `alt_names` (`DNS:mush-gateway`:
    /// a game pod checks a gateway's name, not only its CA).
    pub fn client_for(
        &self,
        name: &str,
        subject: &str,
        alt_names: &[&str],
    ) -> Result<(PathBuf, PathBuf), HarnessError> {
        let mut ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                       extendedKeyUsage=clientAuth\n"
            .to_owned();
        if !alt_names.is_empty() {
            ext.push_str(&format!("subjectAltName={}\n", alt_names.join(",")));
        }
        self.issue(name, subject, &ext)
    }

    /// Runs `openssl args` in the CA's directory.
    pub fn openssl(&self, args: &[&str]) -> Result<(), HarnessError> {
        run_command(
            Command::new(&self.openssl)
                .args(args)
                .current_dir(&self.dir),
            None,
        )
        .map(drop)
    }

    fn issue(
        &self,
        name: &str,
        subject: &str,
        ext: &str,
    ) -> Result<(PathBuf, PathBuf), HarnessError> {
        let (key, csr, crt, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        std::fs::write(self.dir.join(&extfile), ext).map_err(HarnessError::Io)?;
        self.openssl(
            &[
                &["req"][..],
                &NEW_KEY,
                &["-keyout", &key, "-out", &csr, "-subj", subject],
            ]
            .concat(),
        )?;
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ])?;
        Ok((self.dir.join(crt), self.dir.join(key)))
    }
}
