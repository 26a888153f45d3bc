//! Child processes that never outlive their owner.
//!
//! Every server the harness starts is a [`Server`]: dropping it kills the process and reaps
//! it, so a test that panics still cleans up. On Linux the child also gets
//! `PR_SET_PDEATHSIG`, so even a test binary killed with SIGKILL (a CI timeout) takes its
//! servers with it. The kernel ties that signal to the *thread* that spawned the child:
//! start servers from the thread that owns them (a test body, `main`), never from a
//! short-lived worker thread.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::HarnessError;

/// Finds a server binary on `PATH`, or in the sbin directories Debian uses (nats-server
/// lives in `/usr/sbin`, which a non-root `PATH` often lacks).
pub fn find_binary(name: &str, package: &'static str) -> Result<PathBuf, HarnessError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or(HarnessError::MissingBinary {
            binary: name.to_owned(),
            package,
        })
}

/// The last lines of a log that say something, oldest first: a Rust process that exits
/// with an error and `RUST_BACKTRACE` set ends its log with stack frames, which would
/// otherwise hide the error itself.
fn log_tail(log: &str) -> String {
    let frame = |line: &str| {
        let line = line.trim_start();
        line.starts_with("at ")
            || line.eq_ignore_ascii_case("stack backtrace:")
            || line
                .split_once(": ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut lines: Vec<&str> = log
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty() && !frame(l))
        .take(5)
        .collect();
    lines.reverse();
    lines.join(" | ")
}

/// Asks the kernel for a free TCP port on 127.0.0.1.
///
/// The port is free when this returns; the server binds it a moment later. The small race
/// with another process (any outgoing connection draws from the same ephemeral range) is
/// handled by [`Server::spawn`]'s callers retrying on a fresh port, see [`on_fresh_ports`].
pub fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(HarnessError::Io)?;
    Ok(listener.local_addr().map_err(HarnessError::Io)?.port())
}

/// True when a server failed to start because a port it was given had been taken
/// meanwhile: the caller should retry with fresh ports.
pub fn port_taken(error: &HarnessError) -> bool {
    matches!(error, HarnessError::Exited { log_tail, .. }
        if log_tail.contains("in use") || log_tail.contains("EADDRINUSE"))
}

/// Runs `spawn` again (it must pick fresh ports each time, from [`free_port`]) while a
/// port it was given turned out to be taken between the probe and the bind.
pub fn on_fresh_ports<T>(
    mut spawn: impl FnMut() -> Result<T, HarnessError>,
) -> Result<T, HarnessError> {
    let mut tries = 0;
    loop {
        match spawn() {
            Err(error) if port_taken(&error) && tries < 4 => {
                tries += 1;
                eprintln!("{error}; retrying on fresh ports");
            }
            other => return other,
        }
    }
}

/// One running server process, on loopback unless started with [`Server::spawn_at`].
#[derive(Debug)]
pub struct Server {
    name: String,
    ip: IpAddr,
    port: u16,
    command: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts `command args` and waits until it accepts TCP connections on `port` of
    /// 127.0.0.1.
    pub fn spawn(
        name: impl Into<String>,
        command: &Path,
        args: Vec<String>,
        port: u16,
        log: PathBuf,
    ) -> Result<Self, HarnessError> {
        Self::spawn_at(name, command, args, Ipv4Addr::LOCALHOST.into(), port, log)
    }

    /// Starts `command args` and waits until it accepts TCP connections on `ip:port`: for
    /// servers bound to another local address than loopback (the bridge of the harness's
    /// real node, which pods can reach and 127.0.0.1 they cannot).
    pub fn spawn_at(
        name: impl Into<String>,
        command: &Path,
        args: Vec<String>,
        ip: IpAddr,
        port: u16,
        log: PathBuf,
    ) -> Result<Self, HarnessError> {
        let mut server = Self {
            name: name.into(),
            ip,
            port,
            command: command.to_owned(),
            args,
            log,
            child: None,
        };
        server.start()?;
        Ok(server)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on (where readiness is probed).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }

    /// The process id while running (to read its memory from /proc).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the process has been started and not stopped by the harness.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// (Re)starts the process with its original arguments on its original port.
    pub fn start(&mut self) -> Result<(), HarnessError> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(HarnessError::Io)?;
        let log_err = log.try_clone().map_err(HarnessError::Io)?;
        let mut command = Command::new(&self.command);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        die_with_parent(&mut command);
        let child = command.spawn().map_err(|source| HarnessError::Spawn {
            name: self.name.clone(),
            source,
        })?;
        self.child = Some(child);
        // Generous: a kube-apiserver on a busy 2-core machine takes a while; a server that
        // fails exits, and that is noticed at once.
        self.wait_listening(Duration::from_secs(60))
    }

    /// Kills the process with SIGKILL (a crash, not a shutdown) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the process to stop (SIGTERM) and waits up to `grace`, then kills it. Returns
    /// the exit status if it exited by itself in time.
    pub fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        if self.signal(libc::SIGTERM).is_err() {
            self.kill();
            return None;
        }
        let deadline = Instant::now() + grace;
        while let Some(child) = self.child.as_mut() {
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    return Some(status);
                }
                Err(_) => {
                    self.child = None;
                    return None;
                }
                Ok(None) if Instant::now() > deadline => break,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        self.kill();
        None
    }

    /// Sends a signal to the running process (SIGSTOP / SIGCONT to simulate a hung server).
    pub fn signal(&self, signal: i32) -> Result<(), HarnessError> {
        let Some(child) = &self.child else {
            return Err(HarnessError::NotRunning(self.name.clone()));
        };
        let pid = libc::pid_t::try_from(child.id())
            .map_err(|_| HarnessError::NotRunning(format!("{} (pid out of range)", self.name)))?;
        send_signal(pid, signal)
    }

    fn wait_listening(&mut self, timeout: Duration) -> Result<(), HarnessError> {
        let addr = self.addr();
        let deadline = Instant::now() + timeout;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(HarnessError::Exited {
                    name: self.name.clone(),
                    status: status.to_string(),
                    log_tail: log_tail(&log),
                });
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(HarnessError::Timeout(format!(
                    "{} to listen on {addr}",
                    self.name
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and calls only prctl, which is
    // async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Takes an exclusive lock on `file` (`flock`), waiting for another holder to let go. The
/// kernel drops the lock when the holder exits, however it exits, so a crashed test never
/// leaves a stale lock behind.
pub(crate) fn lock_exclusive(file: &std::fs::File) -> Result<(), HarnessError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "waiting for another holder of the lock (e.g. a real Kubernetes node) to finish"
            );
            file.lock().map_err(HarnessError::Io)
        }
        Err(std::fs::TryLockError::Error(error)) => Err(HarnessError::Io(error)),
    }
}

/// Runs `command` to its end (with `stdin` piped in): its stdout, or an error naming the
/// command line with what it printed on stderr. Every tool the harness drives (kubectl,
/// helm, openssl, ctr, ip, iptables, umoci, the repository's scripts) goes through here.
pub(crate) fn run_command(
    command: &mut Command,
    stdin: Option<&[u8]>,
) -> Result<String, HarnessError> {
    use std::io::Write;
    let program = command.get_program().to_string_lossy().into_owned();
    let line = std::iter::once(program.clone())
        .chain(command.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HarnessError::Spawn {
            name: program,
            source,
        })?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes).map_err(HarnessError::Io)?;
    }
    let output = child.wait_with_output().map_err(HarnessError::Io)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(HarnessError::Command {
            command: line,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `limit`: the
/// waiting loop of the Kubernetes suites, whose checks are blocking `kubectl` calls.
pub fn eventually<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// True when the effective user is root (a real node needs it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Sends `signal` to process `pid` (our child, or a process that is not: a containerd
/// shim, a container's processes).
#[allow(unsafe_code)]
pub(crate) fn send_signal(pid: libc::pid_t, signal: i32) -> Result<(), HarnessError> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(HarnessError::Io(std::io::Error::last_os_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race this guards against: a port probed free is then used as the local port of
    /// some outgoing connection, so the server cannot bind it (and nothing listens there).
    #[test]
    fn a_port_taken_after_the_probe_is_retried_on_a_fresh_one() {
        let nats = find_binary("nats-server", "nats-server").expect("nats-server");
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
        let outgoing = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let taken = outgoing.local_addr().expect("local addr").port();
        let mut ports = Vec::new();
        let server = on_fresh_ports(|| {
            let port = if ports.is_empty() {
                taken
            } else {
                free_port()?
            };
            ports.push(port);
            let args = ["--addr", "127.0.0.1", "--port", &port.to_string()].map(String::from);
            Server::spawn(
                "nats-server",
                &nats,
                args.to_vec(),
                port,
                dir.path().join("nats.log"),
            )
        })
        .expect("started on a fresh port");
        assert_eq!(ports.len(), 2, "tried {ports:?}");
        assert_ne!(server.port(), taken);
        drop(outgoing);
    }

    #[test]
    fn log_tail_skips_stack_frames_and_keeps_the_error() {
        let log = "INFO starting\nError: binding the health server on 127.0.0.1:80: Address already in use (os error 98)\n\nStack backtrace:\n   0: anyhow::error::<impl anyhow::Error>::msg\n             at /src/error.rs:83:36\n  31: __libc_start_main_impl\n             at ./csu/../csu/libc-start.c:360:3\n  32: _start\n";
        let tail = log_tail(log);
        assert_eq!(
            tail,
            "INFO starting | Error: binding the health server on 127.0.0.1:80: Address already in use (os error 98)"
        );
        let error = HarnessError::Exited {
            name: "mush gateway".into(),
            status: "exit status: 1".into(),
            log_tail: tail,
        };
        assert!(port_taken(&error));
    }
}
