//! A real `nats-server` on loopback (or another local address) that tests can stop and
//! start again.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use crate::HarnessError;
use crate::process::{Server, find_binary, free_port};

/// A running NATS server; the process dies with this value.
#[derive(Debug)]
pub struct NatsServer {
    server: Server,
    _tmp: Option<tempfile::TempDir>,
}

impl NatsServer {
    /// Starts a NATS server on a free port, logging into a fresh temporary directory.
    pub fn start() -> Result<Self, HarnessError> {
        let tmp = tempfile::Builder::new()
            .prefix("mush-nats-")
            .tempdir()
            .map_err(HarnessError::Io)?;
        let mut nats = Self::start_in(tmp.path())?;
        nats._tmp = Some(tmp);
        Ok(nats)
    }

    /// Starts a NATS server listening on `ip` (a local address, e.g. the bridge address of
    /// the harness's real Kubernetes node, which pods can reach and 127.0.0.1 they cannot),
    /// on a free port, logging into a fresh temporary directory.
    pub fn start_on(ip: IpAddr) -> Result<Self, HarnessError> {
        let tmp = tempfile::Builder::new()
            .prefix("mush-nats-")
            .tempdir()
            .map_err(HarnessError::Io)?;
        let mut nats = Self::start_with(tmp.path(), ip, &[])?;
        nats._tmp = Some(tmp);
        Ok(nats)
    }

    /// Starts a NATS server that lets in only `user` with `password`.
    pub fn start_with_user(user: &str, password: &str) -> Result<Self, HarnessError> {
        let tmp = tempfile::Builder::new()
            .prefix("mush-nats-")
            .tempdir()
            .map_err(HarnessError::Io)?;
        let extra = ["--user", user, "--pass", password].map(str::to_owned);
        let mut nats = Self::start_with(tmp.path(), Ipv4Addr::LOCALHOST.into(), &extra)?;
        nats._tmp = Some(tmp);
        Ok(nats)
    }

    /// A server that speaks only TLS, with a certificate from `pki` for 127.0.0.1; with
    /// `verify_clients`, it also wants a client certificate of that CA.
    pub fn start_with_tls(pki: &crate::Pki, verify_clients: bool) -> Result<Self, HarnessError> {
        let tmp = tempfile::Builder::new()
            .prefix("mush-nats-")
            .tempdir()
            .map_err(HarnessError::Io)?;
        let (cert, key) = pki.server("nats", "/CN=nats", &["IP:127.0.0.1", "DNS:localhost"])?;
        let mut extra: Vec<String> = vec![
            "--tls".into(),
            "--tlscert".into(),
            cert.display().to_string(),
            "--tlskey".into(),
            key.display().to_string(),
        ];
        if verify_clients {
            extra.extend([
                "--tlsverify".into(),
                "--tlscacert".into(),
                pki.ca().display().to_string(),
            ]);
        }
        let mut nats = Self::start_with(tmp.path(), Ipv4Addr::LOCALHOST.into(), &extra)?;
        nats._tmp = Some(tmp);
        Ok(nats)
    }

    /// A server in operator (JWT) mode that lets in only users of `operator`'s account,
    /// each with a credentials file from [`crate::NatsOperator::user_creds`].
    pub fn start_with_operator(operator: &crate::NatsOperator) -> Result<Self, HarnessError> {
        let tmp = tempfile::Builder::new()
            .prefix("mush-nats-")
            .tempdir()
            .map_err(HarnessError::Io)?;
        let config = tmp.path().join("operator.conf");
        std::fs::write(&config, operator.server_config()).map_err(HarnessError::Io)?;
        let extra = ["--config".to_owned(), config.display().to_string()];
        let mut nats = Self::start_with(tmp.path(), Ipv4Addr::LOCALHOST.into(), &extra)?;
        nats._tmp = Some(tmp);
        Ok(nats)
    }

    /// Starts a NATS server whose log lives in `dir`.
    pub fn start_in(dir: &Path) -> Result<Self, HarnessError> {
        Self::start_with(dir, Ipv4Addr::LOCALHOST.into(), &[])
    }

    fn start_with(dir: &Path, ip: IpAddr, extra: &[String]) -> Result<Self, HarnessError> {
        let binary = find_binary("nats-server", "nats-server")?;
        std::fs::create_dir_all(dir).map_err(HarnessError::Io)?;
        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port()?;
            let args = vec![
                "--addr".to_owned(),
                ip.to_string(),
                "--port".to_owned(),
                port.to_string(),
            ];
            let args = args.into_iter().chain(extra.iter().cloned()).collect();
            match Server::spawn_at("nats-server", &binary, args, ip, port, log_path(dir)) {
                Ok(server) => return Ok(Self { server, _tmp: None }),
                Err(error @ HarnessError::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| HarnessError::Invalid("no free port".into())))
    }

    /// `nats://IP:PORT` (IP is 127.0.0.1 unless started with [`Self::start_on`]).
    pub fn url(&self) -> String {
        format!("nats://{}", self.server.addr())
    }

    /// The address the server listens on.
    pub fn ip(&self) -> IpAddr {
        self.server.addr().ip()
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// The port the server listens on (kept across stop and start).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Kills the server (SIGKILL): clients see the connection drop.
    pub fn stop(&mut self) {
        self.server.kill();
    }

    /// Starts the server again on the same port.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        self.server.start()
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("nats-server.log")
}
