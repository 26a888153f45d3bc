//! A pod's NATS connection against a real `nats-server` that requires a user, or TLS: the
//! right credentials and certificates connect, wrong ones do not (and the pod still
//! starts, on short cache TTLs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mush_game::{Cache, CacheTtl, Invalidator, NatsAuth, NatsTls};
use mush_harness::{NatsOperator, NatsServer, Pki};

async fn connects(url: &str, auth: &NatsAuth, within: Duration) -> bool {
    connects_with(url, auth, &NatsTls::default(), within).await
}

async fn connects_with(url: &str, auth: &NatsAuth, tls: &NatsTls, within: Duration) -> bool {
    let cache = Arc::new(Cache::new(CacheTtl::default()));
    let invalidator = Invalidator::start(url, auth, tls, "authtest", cache).await;
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if invalidator.is_connected() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn nats_credentials_are_used_and_wrong_ones_refused() {
    let nats = NatsServer::start_with_user("mush", "s3cret").expect("nats");
    let url = nats.url();
    let right = NatsAuth::UserPassword("mush".into(), "s3cret".into());
    assert!(
        connects(&url, &right, Duration::from_secs(10)).await,
        "right credentials"
    );
    let wrong = NatsAuth::UserPassword("mush".into(), "guess".into());
    assert!(
        !connects(&url, &wrong, Duration::from_secs(2)).await,
        "wrong password let in"
    );
    assert!(
        !connects(&url, &NatsAuth::None, Duration::from_secs(2)).await,
        "no credentials let in"
    );
    // Credentials in the URL work too.
    let in_url = url.replace("nats://", "nats://mush:s3cret@");
    assert!(
        connects(&in_url, &NatsAuth::None, Duration::from_secs(10)).await,
        "credentials in the URL"
    );
    // And the secret never shows in a debug print.
    assert_eq!(format!("{right:?}"), "UserPassword(mush, ***)");
}

/// A server in operator (JWT) mode: a credentials file of its account's user connects;
/// none, or one of another operator's account, does not; a file that is not credentials
/// is refused when read, with its path and no content.
#[tokio::test]
async fn nats_credentials_files_are_used_and_strangers_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let mut operator = NatsOperator::new();
    let nats = NatsServer::start_with_operator(&operator).expect("nats in operator mode");
    let url = nats.url();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let ours = write("game.creds", &operator.user_creds("game-pod"));
    let auth = NatsAuth::credentials(&ours).expect("credentials");
    assert_eq!(format!("{auth:?}"), "Credentials(***)");
    assert!(
        connects(&url, &auth, Duration::from_secs(10)).await,
        "the account's user"
    );
    assert!(
        !connects(&url, &NatsAuth::None, Duration::from_secs(2)).await,
        "no credentials let in"
    );
    let stranger = write(
        "stranger.creds",
        &NatsOperator::new().user_creds("stranger"),
    );
    let stranger = NatsAuth::credentials(&stranger).expect("well-formed");
    assert!(
        !connects(&url, &stranger, Duration::from_secs(2)).await,
        "another operator's user let in"
    );
    let broken = write("broken.creds", "user: mush\npassword: hunter2\n");
    let error = NatsAuth::credentials(&broken).expect_err("not a credentials file");
    let error = error.to_string();
    assert!(
        error.contains("broken.creds") && !error.contains("hunter2"),
        "{error}"
    );
}

#[tokio::test]
async fn nats_over_tls_takes_only_the_servers_ca_and_gives_a_client_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = Pki::new(&dir.path().join("ca"), "nats-ca").expect("ca");
    let other = Pki::new(&dir.path().join("other"), "other-ca").expect("other ca");
    let (cert, key) = pki.client("pod", "/CN=game-pod").expect("client cert");
    let (stranger_cert, stranger_key) = other.client("pod", "/CN=stranger").expect("cert");
    let nats = NatsServer::start_with_tls(&pki, true).expect("nats");
    let url = nats.url();
    let none = NatsAuth::None;
    let within = Duration::from_secs(10);
    let tls = |ca: &Pki, client: Option<(&std::path::Path, &std::path::Path)>| NatsTls {
        ca: Some(ca.ca()),
        client: client.map(|(c, k)| (c.to_owned(), k.to_owned())),
    };
    assert!(
        connects_with(&url, &none, &tls(&pki, Some((&cert, &key))), within).await,
        "the shard's CA and a client certificate of it"
    );
    let short = Duration::from_secs(2);
    assert!(
        !connects_with(&url, &none, &tls(&pki, None), short).await,
        "a server that verifies clients let one in without a certificate"
    );
    assert!(
        !connects_with(
            &url,
            &none,
            &tls(&pki, Some((&stranger_cert, &stranger_key))),
            short
        )
        .await,
        "a client certificate of another CA was taken"
    );
    assert!(
        !connects_with(&url, &none, &tls(&other, Some((&cert, &key))), short).await,
        "a server certificate of a CA the pod was not given was trusted"
    );
    assert!(
        !connects(&url, &none, short).await,
        "a plain client reached a TLS-only server"
    );
}
