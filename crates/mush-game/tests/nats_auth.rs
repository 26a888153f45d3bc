//! A pod's NATS connection against a real `nats-server` that requires a user: the right
//! credentials connect, wrong ones do not (and the pod still starts, on short cache TTLs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mush_game::{Cache, CacheTtl, Invalidator, NatsAuth};
use mush_harness::NatsServer;

async fn connects(url: &str, auth: &NatsAuth, within: Duration) -> bool {
    let cache = Arc::new(Cache::new(CacheTtl::default()));
    let invalidator = Invalidator::start(url, auth, "authtest", cache).await;
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
