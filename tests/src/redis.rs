//! A real `redis-server` for end-to-end tests (issue 14): started on a free loopback port in a
//! temporary folder with append-only persistence (`--appendonly yes --appendfsync always`, no
//! RDB snapshots), stoppable and restartable on the same port and folder (to test outages and
//! persistence), killed and its folder removed on drop.
//!
//! Without `redis-server` on the `PATH`, [`RedisServer::start`] returns `None` after printing a
//! loud `SKIPPED` line, unless `CI=true`, where it panics: CI must run these tests.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running (or stopped) `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one, or `None` (loudly) when `redis-server` is not installed and `CI` is not
    /// `true`.
    pub fn start() -> Option<Self> {
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let dir = std::env::temp_dir().join(format!("e2e-redis-{}", shared::random::token()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let mut server = Self {
                child: None,
                port,
                dir,
            };
            match server.spawn() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "redis-server is not installed and CI=true: run scripts/install-test-deps.sh"
                    );
                    eprintln!(
                        "SKIPPED: redis-server is not installed (apt-get install redis-server); this Redis test did not run"
                    );
                    return None;
                }
                Err(e) => panic!("cannot start redis-server: {e}"),
                Ok(()) => {}
            }
            if server.wait_ready() {
                return Some(server);
            }
            // Most likely the port was taken between probing and binding: try another.
            server.kill();
        }
        panic!("redis-server did not become ready on three ports");
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Bounded wait (10 s) for `PING` to answer `PONG`; false when the process exited.
    fn wait_ready(&mut self) -> bool {
        for _ in 0..500 {
            if let Some(c) = &mut self.child
                && let Ok(Some(_)) = c.try_wait()
            {
                return false;
            }
            if self.command(b"PING\r\n").as_deref() == Some(b"+PONG\r\n".as_slice()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends one inline command and returns the first reply bytes.
    fn command(&self, cmd: &[u8]) -> Option<Vec<u8>> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        s.write_all(cmd).ok()?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server the way an operator does (`SHUTDOWN`: the append-only file is flushed)
    /// and waits for the process to exit.
    pub fn stop(&mut self) {
        let _ = self.command(b"SHUTDOWN\r\n");
        if let Some(mut c) = self.child.take() {
            for _ in 0..250 {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and folder (it reloads its append-only file).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn().expect("redis-server restarts");
        assert!(self.wait_ready(), "redis-server is ready again");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
