use std::time::Duration;

use tokio_rustls::rustls::pki_types::ServerName;

use super::*;

const A_CRT: &[u8] = include_bytes!("../../testdata/a.crt");
const A_KEY: &[u8] = include_bytes!("../../testdata/a.key");
const B_CRT: &[u8] = include_bytes!("../../testdata/b.crt");
const B_KEY: &[u8] = include_bytes!("../../testdata/b.key");
const LINK_CA: &[u8] = include_bytes!("../../testdata/link-ca.crt");
const OTHER_CA: &[u8] = include_bytes!("../../testdata/other-ca.crt");
const GAME_CRT: &[u8] = include_bytes!("../../testdata/game.crt");
const GAME_KEY: &[u8] = include_bytes!("../../testdata/game.key");
const GATEWAY_CRT: &[u8] = include_bytes!("../../testdata/gateway.crt");
const GATEWAY_KEY: &[u8] = include_bytes!("../../testdata/gateway.key");
const STRANGER_CRT: &[u8] = include_bytes!("../../testdata/stranger.crt");
const STRANGER_KEY: &[u8] = include_bytes!("../../testdata/stranger.key");

fn paths(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(PathBuf::from).collect()
}

fn build(cert: &[u8], key: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    server_config(
        &PemFiles::from_bytes(&[cert, key]),
        &paths(&["tls.crt", "tls.key"]),
    )
}

#[test]
fn pem_files_make_configs_or_clear_errors() {
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
fn link_configs_need_a_ca_and_say_which_file_is_wrong() {
    let files = paths(&["tls.crt", "tls.key", "ca.crt"]);
    let server =
        |ca: &[u8]| link_server_config(&PemFiles::from_bytes(&[GAME_CRT, GAME_KEY, ca]), &files);
    let client = |ca: &[u8]| {
        link_client_config(
            &PemFiles::from_bytes(&[GATEWAY_CRT, GATEWAY_KEY, ca]),
            &files,
        )
    };
    assert!(server(LINK_CA).is_ok());
    assert!(client(LINK_CA).is_ok());
    for error in [server(b"").err(), client(b"").err(), server(GAME_KEY).err()] {
        let error = error.expect("a CA file without a certificate is refused");
        assert!(
            error
                .to_string()
                .contains("ca.crt holds no PEM certificate"),
            "{error}"
        );
    }
    let mismatched = link_client_config(
        &PemFiles::from_bytes(&[GATEWAY_CRT, GAME_KEY, LINK_CA]),
        &files,
    );
    assert!(matches!(mismatched, Err(TlsError::KeyMismatch { .. })));
}

#[test]
fn pem_files_never_show_their_content() {
    let files = PemFiles::from_bytes(&[A_CRT, A_KEY]);
    let shown = format!("{files:?}");
    assert!(!shown.contains("PRIVATE"), "{shown}");
    assert!(
        shown.contains(&format!("<{} bytes>", A_KEY.len())),
        "{shown}"
    );
}

#[test]
fn change_watch_acts_once_per_change() {
    let a = PemFiles::from_bytes(&[A_CRT, A_KEY]);
    let b = PemFiles::from_bytes(&[B_CRT, B_KEY]);
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
    let half = PemFiles::from_bytes(&[B_CRT, A_KEY]);
    assert!(watch.changed(&Ok(half)));
    assert!(watch.changed(&Ok(b)));
}

#[test]
fn reloads_are_counted_once_each() {
    let (renewed, refused) = (Counter::default(), Counter::default());
    Reloaded::Unchanged.report("tls.crt", &renewed, &refused);
    Reloaded::Renewed.report("tls.crt", &renewed, &refused);
    Reloaded::Refused(TlsError::NoKey {
        path: "tls.key".into(),
    })
    .report("tls.crt", &renewed, &refused);
    assert_eq!((renewed.get(), refused.get()), (1, 1));
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mush-rpc-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        Self(dir)
    }

    fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).expect("write");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn reload_swaps_in_good_files_and_keeps_the_old_config_on_bad_ones() {
    let dir = Scratch::new("reload");
    let cert = dir.write("tls.crt", A_CRT);
    let key = dir.write("tls.key", A_KEY);
    let certs = ReloadingServer::load(
        vec![cert.clone(), key.clone()],
        server_config,
        Duration::from_secs(10),
    )
    .expect("load");
    let first = certs.current();
    let same = |certs: &ReloadingServer| Arc::ptr_eq(&certs.current(), &first);
    assert!(matches!(certs.reload_once(), Reloaded::Unchanged));
    assert!(same(&certs), "unchanged files keep the config");

    std::fs::write(&key, B_KEY).expect("key");
    assert!(matches!(
        certs.reload_once(),
        Reloaded::Refused(TlsError::KeyMismatch { .. })
    ));
    assert!(same(&certs), "a mismatched pair keeps the old config");
    assert!(
        matches!(certs.reload_once(), Reloaded::Unchanged),
        "reported once"
    );

    std::fs::write(&cert, B_CRT).expect("cert");
    assert!(matches!(certs.reload_once(), Reloaded::Renewed));
    assert!(!same(&certs), "a good new pair is swapped in");
}

/// A gateway's client config from `files` (certificate, key, CA).
fn gateway_client(files: [&[u8]; 3]) -> Arc<ClientConfig> {
    link_client_config(
        &PemFiles::from_bytes(&files),
        &paths(&["tls.crt", "tls.key", "ca.crt"]),
    )
    .expect("client config")
}

/// Handshakes `client` against a game pod's [`incoming`] with the test CA; `Ok` if the pod
/// accepted the connection, else what the refusing side said.
async fn handshake(client: Arc<ClientConfig>) -> Result<(), String> {
    static PODS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let pod = PODS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = Scratch::new(&format!("link-{pod}"));
    dir.write("tls.crt", GAME_CRT);
    dir.write("tls.key", GAME_KEY);
    dir.write("ca.crt", LINK_CA);
    let server = LinkFiles::in_dir(&dir.0).server().expect("server config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (refused_tx, mut refused_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut accepted = Box::pin(incoming(listener, Arc::new(server), move |_, error| {
        let _ = refused_tx.send(error.to_string());
    }));
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from(GAME_SERVER_NAME).expect("name");
        let mut stream = tokio_rustls::TlsConnector::from(client)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("client: {e}"))?;
        // TLS 1.3 finishes the client's side before the server has checked its
        // certificate: read, so a refusal arrives as the alert it is.
        let mut byte = [0u8; 1];
        let _ = tokio::time::timeout(
            Duration::from_millis(300),
            tokio::io::AsyncReadExt::read(&mut stream, &mut byte),
        )
        .await;
        Ok::<_, String>(stream)
    };
    let (connected, outcome) = tokio::join!(connect, async {
        tokio::select! {
            io = futures_util::StreamExt::next(&mut accepted) => match io {
                Some(Ok(_)) => Ok(()),
                other => Err(format!("stream ended: {:?}", other.map(|r| r.err()))),
            },
            refused = refused_rx.recv() => Err(format!("server: {}", refused.unwrap_or_default())),
        }
    });
    outcome.and(connected.map(drop))
}

#[tokio::test]
async fn game_pods_accept_gateways_of_their_ca_and_no_one_else() {
    handshake(gateway_client([GATEWAY_CRT, GATEWAY_KEY, LINK_CA]))
        .await
        .expect("a gateway of the shard's CA is accepted");

    let game_as_gateway = handshake(gateway_client([GAME_CRT, GAME_KEY, LINK_CA])).await;
    let error = game_as_gateway.expect_err("a game pod's certificate is not a gateway's");
    assert!(error.contains("server:"), "{error}");
    assert!(error.contains("NotValidForName"), "{error}");

    let stranger = handshake(gateway_client([STRANGER_CRT, STRANGER_KEY, LINK_CA])).await;
    let error = stranger.expect_err("another CA's gateway is refused");
    assert!(error.contains("UnknownIssuer"), "{error}");

    // A client that trusts another CA refuses the pod in turn (the pod hears its alert).
    let wrong_trust = handshake(gateway_client([GATEWAY_CRT, GATEWAY_KEY, OTHER_CA])).await;
    let error = wrong_trust.expect_err("the pod's certificate is not of that CA");
    assert!(
        error.contains("UnknownCA") || error.contains("UnknownIssuer"),
        "{error}"
    );
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let roots = ca_roots(LINK_CA, Path::new("ca.crt")).expect("CA");
    let anonymous = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let error = handshake(Arc::new(anonymous))
        .await
        .expect_err("a client without a certificate is refused");
    assert!(error.contains("peer sent no certificates"), "{error}");
}
