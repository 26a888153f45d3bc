//! A real `nats-server` on loopback that tests can stop and start again.

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

    /// Starts a NATS server that lets in only `user` with `password`.
    pub fn start_with_user(user: &str, password: &str) -> Result<Self, HarnessError> {
        let tmp = tempfile::Builder::new()
            .prefix("mush-nats-")
            .tempdir()
            .map_err(HarnessError::Io)?;
        let extra = ["--user", user, "--pass", password].map(str::to_owned);
        let mut nats = Self::start_with(tmp.path(), &extra)?;
        nats._tmp = Some(tmp);
        Ok(nats)
    }

    /// Starts a NATS server whose log lives in `dir`.
    pub fn start_in(dir: &Path) -> Result<Self, HarnessError> {
        Self::start_with(dir, &[])
    }

    fn start_with(dir: &Path, extra: &[String]) -> Result<Self, HarnessError> {
        let binary = find_binary("nats-server", "nats-server")?;
        std::fs::create_dir_all(dir).map_err(HarnessError::Io)?;
        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port()?;
            let args = vec![
                "--addr".to_owned(),
                "127.0.0.1".to_owned(),
                "--port".to_owned(),
                port.to_string(),
            ];
            let args = args.into_iter().chain(extra.iter().cloned()).collect();
            match Server::spawn("nats-server", &binary, args, port, log_path(dir)) {
                Ok(server) => return Ok(Self { server, _tmp: None }),
                Err(error @ HarnessError::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| HarnessError::Invalid("no free port".into())))
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.server.port())
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
