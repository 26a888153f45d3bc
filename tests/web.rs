//! The web client in a real browser: Debian's headless Chromium, driven over the DevTools
//! protocol, plays against a shard of real processes next to a telnet player.
//!
//! Set `MUSH_WEB_SCREENSHOTS=<dir>` to have the test save the page's screenshots there
//! (`docs/` holds the committed ones).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

mod support;
use support::*;

/// A headless Chromium; dropping it kills its whole process group (browser, renderers,
/// GPU and utility processes), also when the test fails.
struct Browser {
    child: Child,
    devtools: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> Self {
        let profile = tempfile::Builder::new()
            .prefix("mush-web-chromium-")
            .tempdir()
            .expect("profile dir");
        let mut command = Command::new("chromium");
        command.args([
            "--headless=new",
            "--remote-debugging-port=0",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-gpu",
            "--window-size=1000,640",
        ]);
        command.arg(format!("--user-data-dir={}", profile.path().display()));
        if running_as_root() {
            // Chromium refuses to sandbox itself as root (containers, CI); the page it
            // loads is our own.
            command.arg("--no-sandbox");
        }
        command.arg("about:blank");
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium (Debian's `chromium` package; scripts/install-deps installs it)");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads stderr to its end, so Chromium never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let mut browser = Self {
            child,
            devtools: String::new(),
            _profile: profile,
        };
        browser.devtools = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("Chromium printed no DevTools URL within 30 s");
        browser
    }

    /// host:port of the DevTools endpoint.
    fn devtools_host(&self) -> String {
        self.devtools
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host")
            .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A DevTools connection to one page.
struct Page {
    tx: tokio::sync::mpsc::UnboundedSender<String>,
    pending: Pending,
    next: AtomicU64,
    /// Console errors, exceptions and error log entries the page produced.
    errors: Arc<Mutex<Vec<String>>>,
}

impl Page {
    async fn open(browser: &Browser) -> Self {
        let (mut root, _) = tokio_tungstenite::connect_async(&browser.devtools)
            .await
            .expect("DevTools");
        root.send(Message::text(
            json!({"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}})
                .to_string(),
        ))
        .await
        .expect("createTarget");
        let target = loop {
            let frame = root.next().await.expect("DevTools closed").expect("frame");
            let value: Value = serde_json::from_str(frame.to_text().expect("text")).expect("json");
            if value["id"] == 1 {
                break value["result"]["targetId"]
                    .as_str()
                    .expect("targetId")
                    .to_owned();
            }
        };
        let url = format!("ws://{}/devtools/page/{target}", browser.devtools_host());
        let (socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("page DevTools");
        let (mut sink, mut source) = socket.split();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let (p, e) = (pending.clone(), errors.clone());
        tokio::spawn(async move {
            while let Some(Ok(frame)) = source.next().await {
                let Ok(text) = frame.to_text() else { continue };
                let Ok(value) = serde_json::from_str::<Value>(text) else {
                    continue;
                };
                if let Some(id) = value["id"].as_u64() {
                    if let Some(tx) = p.lock().expect("pending").remove(&id) {
                        let _ = tx.send(value);
                    }
                    continue;
                }
                let params = &value["params"];
                let error = match value["method"].as_str() {
                    Some("Runtime.consoleAPICalled")
                        if matches!(params["type"].as_str(), Some("error" | "assert")) =>
                    {
                        Some(params["args"].to_string())
                    }
                    Some("Runtime.exceptionThrown") => Some(params["exceptionDetails"].to_string()),
                    Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                        Some(params["entry"].to_string())
                    }
                    _ => None,
                };
                if let Some(error) = error {
                    e.lock().expect("errors").push(error);
                }
            }
        });
        let page = Self {
            tx,
            pending,
            next: AtomicU64::new(1),
            errors,
        };
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            page.call(domain, json!({})).await;
        }
        page
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending").insert(id, tx);
        self.tx
            .send(json!({"id": id, "method": method, "params": params}).to_string())
            .expect("DevTools writer");
        let reply = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .unwrap_or_else(|_| panic!("{method} got no answer"))
            .expect("answer");
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// Evaluates an expression in the page; its value as JSON.
    async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    async fn output(&self) -> String {
        self.eval("(document.getElementById('output') || {}).innerText || ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the output shows `needle`.
    async fn expect(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let output = self.output().await;
            if output.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {needle:?}; it shows:\n{output}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a JavaScript expression is true.
    async fn wait_for(&self, what: &str, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval(expression).await != Value::Bool(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types into the focused element, as a keyboard would.
    async fn type_text(&self, text: &str) {
        self.call("Input.insertText", json!({"text": text})).await;
    }

    async fn press_enter(&self) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": "Enter", "code": "Enter",
                       "windowsVirtualKeyCode": 13, "text": "\r"}),
            )
            .await;
        }
    }

    /// Types a command into the input line and presses Enter.
    async fn command(&self, line: &str) {
        self.eval("document.getElementById('input').focus()").await;
        self.type_text(line).await;
        self.press_enter().await;
    }

    async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("MUSH_WEB_SCREENSHOTS") else {
            return;
        };
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64_decode(shot["data"].as_str().expect("png data"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let path = std::path::Path::new(&dir).join(name);
        std::fs::write(&path, png).expect("write screenshot");
        println!("screenshot: {}", path.display());
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &v)| n | (u32::from(v) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// One raw HTTP exchange: the whole response (head and body) as the client received it.
async fn raw_http(port: u16, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(request).await.expect("request");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("response");
    response
}

fn head_of(response: &[u8]) -> String {
    let text = String::from_utf8_lossy(response);
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

/// The port's HTTP side: the files with their policy headers, and the refusals.
async fn check_http(port: u16) -> usize {
    let mut wire = 0;
    for path in ["/", "/app.js", "/app.css"] {
        let response = raw_http(
            port,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
        )
        .await;
        let head = head_of(&response);
        assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        assert!(
            head.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"),
            "{path}: {head}"
        );
        wire += response.len();
    }
    let missing = raw_http(port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head_of(&missing).starts_with("HTTP/1.1 404"));
    let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
    while huge.len() < 20_000 {
        huge.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let refused = raw_http(port, &huge).await;
    assert!(
        head_of(&refused).starts_with("HTTP/1.1 431"),
        "{}",
        head_of(&refused)
    );
    // A page on another site may not open a WebSocket to the game.
    let foreign = raw_http(
        port,
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(
        head_of(&foreign).starts_with("HTTP/1.1 403"),
        "{}",
        head_of(&foreign)
    );
    wire
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_plays_through_a_pod_kill_and_a_dropped_socket() {
    let (mut shard, _dir) = tokio::task::block_in_place(|| start_shard("web", &[]));
    let store = store_of(&shard).await;
    let port: u16 = shard
        .websocket_url()
        .trim_start_matches("ws://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .expect("websocket port");
    let wire = check_http(port).await;

    let mut tess = Player::login(shard.telnet_addr(), "Tess").await;
    let browser = tokio::task::block_in_place(Browser::launch);
    let page = Page::open(&browser).await;

    // Load the page; the connect screen arrives over the WebSocket.
    let started = Instant::now();
    page.call(
        "Page.navigate",
        json!({"url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    page.expect("connect <name> <password>").await;
    page.wait_for("the login form", "!document.getElementById('login').hidden")
        .await;
    let to_connect_screen = started.elapsed();
    let in_page = page.eval("window.mushClient.info().firstScreenAt").await;
    println!(
        "figures: page and files on the wire {wire} bytes ({} bytes of files), connect screen \
         {} ms after navigation started ({in_page} ms by the page's own clock)",
        mush_gateway::client_size(),
        to_connect_screen.as_millis()
    );
    page.screenshot("web-connect.png").await;

    // Create a character through the form, by keyboard.
    page.eval("document.getElementById('name').focus()").await;
    page.type_text("Webby").await;
    page.eval("document.getElementById('password').focus()")
        .await;
    page.type_text("secret").await;
    page.eval("document.getElementById('create').click()").await;
    page.expect("Limbo").await;
    page.wait_for("the form to go", "document.getElementById('login').hidden")
        .await;
    assert!(
        !page.output().await.contains("secret"),
        "the password was echoed"
    );
    tess.expect("Webby has connected.").await;

    // Talk to the telnet player, who answers in colour.
    page.command("say hi telnet").await;
    tess.expect("Webby says, \"hi telnet\"").await;
    tess.send("@emit [ansi(r,red hello)] from Tess").await;
    page.expect("red hello from Tess").await;
    let red = page
        .eval(
            "[...document.querySelectorAll('#output span')]
               .filter(s => s.textContent === 'red hello')
               .map(s => [s.className, getComputedStyle(s).color,
                          getComputedStyle(document.getElementById('output')).color])",
        )
        .await;
    let red = red
        .as_array()
        .and_then(|a| a.last())
        .expect("a span for the red text");
    assert_eq!(red[0], "f1", "{red}");
    assert_ne!(red[1], red[2], "rendered in the default colour: {red}");
    // 256 colours, truecolor, bold and underline as a terminal would show them.
    let rendered = page
        .eval(
            "[...window.mushClient.render('\\x1b[38;5;196mA\\x1b[0;38;2;1;2;3;48;5;21mB\
             \\x1b[0;1;4;32mC\\x1b[0m see https://example.org/x.').children]
               .map(s => s.className + '|' + s.style.color + '|' + s.style.backgroundColor
                         + '|' + s.textContent + '|' + s.querySelectorAll('a').length)",
        )
        .await;
    assert_eq!(
        rendered,
        json!([
            "|rgb(255, 0, 0)||A|0",
            "|rgb(1, 2, 3)|rgb(0, 0, 255)|B|0",
            "f10 b u|||C|0",
            "||| see https://example.org/x.|1"
        ]),
        "{rendered}"
    );
    page.call(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    )
    .await;
    page.screenshot("web-colour-dark.png").await;
    page.call(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "light"}]}),
    )
    .await;

    // Kill the game pod holding the page's session; the page keeps playing, no reload.
    let pod = pod_of(&store, "Webby").await;
    tokio::task::block_in_place(|| shard.kill_pod(pod.as_str()).expect("kill"));
    page.command("think still here after the kill").await;
    page.expect("still here after the kill").await;
    assert_ne!(pod_of(&store, "Webby").await, pod, "still on the dead pod");

    // Drop the page's socket; while it waits to reconnect, its token is refused from
    // another address (the address check), then the page resumes without logging in.
    let token = page.eval("window.mushClient.info().token").await;
    let token = token.as_str().expect("a resume token").to_owned();
    page.eval("window.mushClient.drop(4000)").await;
    page.wait_for(
        "the reconnecting state",
        "document.body.classList.contains('reconnecting') \
         && !document.getElementById('banner').hidden",
    )
    .await;
    page.screenshot("web-reconnecting.png").await;
    let elsewhere = tokio::net::TcpSocket::new_v4().expect("socket");
    elsewhere
        .bind("127.0.0.2:0".parse().expect("addr"))
        .expect("bind 127.0.0.2");
    let stream = elsewhere
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("connect from 127.0.0.2");
    let (mut thief, _) =
        tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/?resume={token}"), stream)
            .await
            .expect("ws from another address");
    let mut seen = String::new();
    while !seen.contains("connect <name> <password>") {
        let frame = tokio::time::timeout(Duration::from_secs(20), thief.next())
            .await
            .expect("thief timed out")
            .expect("thief closed")
            .expect("thief error");
        seen.push_str(frame.to_text().unwrap_or_default());
        seen.push('\n');
    }
    assert!(seen.contains("could not be resumed"), "{seen}");
    thief.close(None).await.expect("close");

    page.wait_for(
        "the session to resume",
        "window.mushClient.info().resumes === 1 && window.mushClient.info().open",
    )
    .await;
    page.command("think resumed without a login").await;
    page.expect("resumed without a login").await;
    let output = page.output().await;
    assert_eq!(
        output.matches("connect <name> <password>").count(),
        1,
        "the connect screen came back:\n{output}"
    );
    assert!(
        page.eval("document.getElementById('login').hidden").await == Value::Bool(true),
        "the login form came back"
    );
    tess.send("think sync").await;
    let told = tess.expect("sync").await;
    assert!(
        !told.contains("Webby has disconnected"),
        "the session was closed: {told}"
    );

    let errors = page.errors.lock().expect("errors").clone();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    drop(page);
    drop(browser);
    drop(shard);
}
