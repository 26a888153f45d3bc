//! The certificates of a shard's gateway <-> game pod link, when the operator issues them.
//!
//! Pure: key generation and signing, no API calls. The controller keeps the results in
//! Secrets (see `controller::ensure_link_certificates`): a CA per shard, whose key never
//! leaves its Secret, and one leaf per role that the pods mount and re-read. A leaf is
//! renewed once two thirds of its life have passed; pods pick the renewal up without a
//! restart, and since the CA stays, both ends trust the new leaf at once.

use k8s_openapi::jiff::{self, Timestamp};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// How long a leaf is valid. Short enough that a leaked key expires on its own, long
/// enough that an operator outage of weeks does not break the link.
pub const LEAF_DAYS: i64 = 90;

/// A leaf is renewed after this many days, a third of its life before it expires.
pub const LEAF_RENEW_DAYS: i64 = LEAF_DAYS * 2 / 3;

/// How long the CA is valid. Replacing it is a manual step (delete its Secret), since
/// gateways and pods read the new CA at slightly different moments.
pub const CA_DAYS: i64 = 3650;

/// Certificates may be checked by clocks a little behind the operator's: each is valid
/// from an hour before it was made.
fn valid_from(now: Timestamp) -> Result<time::OffsetDateTime, PkiError> {
    at(now - jiff::SignedDuration::from_hours(1))
}

/// Which end of the link a leaf is for: the DNS name it carries is what the other end
/// checks (see `mush_rpc::tls::link`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Gateways: a client certificate for `mush-gateway`.
    Gateway,
    /// Game pods: a server certificate for `mush-game`.
    Game,
}

impl Role {
    /// Both roles.
    pub const ALL: [Role; 2] = [Role::Gateway, Role::Game];

    /// The name in the role's Secret and in its certificate's common name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Game => "game",
        }
    }

    /// The DNS name the other end verifies: the link's own names, so the two cannot drift.
    fn dns_name(self) -> &'static str {
        match self {
            Self::Gateway => mush_rpc::tls::GATEWAY_CLIENT_NAME,
            Self::Game => mush_rpc::tls::GAME_SERVER_NAME,
        }
    }
}

/// A CA's certificate and private key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CaPem {
    /// The CA certificate (what both ends trust).
    pub cert: String,
    /// The CA's private key; stays in the CA Secret.
    pub key: String,
}

impl std::fmt::Debug for CaPem {
    // The key must not reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaPem").finish_non_exhaustive()
    }
}

/// A leaf for one role, PEM, with the moment it should be replaced.
#[derive(Clone)]
pub struct Leaf {
    /// The certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
    /// When the controller should issue the next one.
    pub renew_after: Timestamp,
}

/// Making a certificate failed (a key that does not parse, or a name rcgen refuses).
#[derive(Debug, thiserror::Error)]
#[error("link certificate: {0}")]
pub struct PkiError(String);

impl From<rcgen::Error> for PkiError {
    fn from(error: rcgen::Error) -> Self {
        Self(error.to_string())
    }
}

/// The CA's parameters, the same on every call for the same shard: a leaf signed after an
/// operator restart names the issuer exactly as the CA certificate names its subject.
fn ca_params(shard: &str) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{shard} link CA"));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "mush-on-kube");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn at(when: Timestamp) -> Result<time::OffsetDateTime, PkiError> {
    time::OffsetDateTime::from_unix_timestamp(when.as_second())
        .map_err(|e| PkiError(format!("time {when} out of range: {e}")))
}

fn days(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_hours(24 * n)
}

/// A new CA for `shard` (its `namespace/name`), valid from `now` for [`CA_DAYS`].
pub fn new_ca(shard: &str, now: Timestamp) -> Result<CaPem, PkiError> {
    let mut params = ca_params(shard)?;
    params.not_before = valid_from(now)?;
    params.not_after = at(now + days(CA_DAYS))?;
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(CaPem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A new leaf for `role`, signed by `shard`'s CA, valid from `now` for [`LEAF_DAYS`].
pub fn issue(shard: &str, ca: &CaPem, role: Role, now: Timestamp) -> Result<Leaf, PkiError> {
    let issuer = Issuer::new(ca_params(shard)?, KeyPair::from_pem(&ca.key)?);
    let mut params = CertificateParams::new(vec![role.dns_name().to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{shard} {}", role.as_str()));
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match role {
        Role::Gateway => ExtendedKeyUsagePurpose::ClientAuth,
        Role::Game => ExtendedKeyUsagePurpose::ServerAuth,
    }];
    params.not_before = valid_from(now)?;
    params.not_after = at(now + days(LEAF_DAYS))?;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Leaf {
        cert: cert.pem(),
        key: key.serialize_pem(),
        renew_after: now + days(LEAF_RENEW_DAYS),
    })
}

/// What the controller does with a role's Secret, from what it holds now.
#[derive(Debug, PartialEq, Eq)]
pub enum LeafState {
    /// Keep it.
    Current,
    /// Issue a new leaf, for the reason given (logged and sent as an Event).
    Renew(&'static str),
}

/// Whether a role's Secret needs a new leaf: missing, of another CA (the CA was
/// replaced), without a renewal time the operator wrote, or past it.
pub fn leaf_state(
    ca_cert: &str,
    secret_ca: Option<&str>,
    renew_after: Option<&str>,
    now: Timestamp,
) -> LeafState {
    let Some(secret_ca) = secret_ca else {
        return LeafState::Renew("no certificate yet");
    };
    if secret_ca != ca_cert {
        return LeafState::Renew("issued by another CA");
    }
    match renew_after.and_then(|t| t.parse::<Timestamp>().ok()) {
        None => LeafState::Renew("renewal time missing"),
        Some(due) if due <= now => LeafState::Renew("due for renewal"),
        Some(_) => LeafState::Current,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::StreamExt;
    use mush_rpc::tls::ReloadingServer;
    use mush_rpc::tls::{LinkFiles, connect_channel, incoming};

    use super::*;

    fn now() -> Timestamp {
        "2026-11-26T12:00:00Z".parse().expect("time")
    }

    /// Writes one end's files as the kubelet mounts its Secret.
    fn mount(dir: &std::path::Path, leaf: &Leaf, ca: &CaPem) -> LinkFiles {
        std::fs::create_dir_all(dir).expect("dir");
        std::fs::write(dir.join("tls.crt"), &leaf.cert).expect("write");
        std::fs::write(dir.join("tls.key"), &leaf.key).expect("write");
        std::fs::write(dir.join("ca.crt"), &ca.cert).expect("write");
        LinkFiles::in_dir(dir)
    }

    /// Runs the link's own handshake (what game pods and gateways run): a game pod with
    /// `game`'s files, a gateway with `gateway`'s. Decided by the game pod's side: under
    /// TLS 1.3 a client finishes before the server has judged its certificate.
    async fn handshake(game: &LinkFiles, gateway: &LinkFiles) -> Result<(), String> {
        let server: Arc<ReloadingServer> = Arc::new(game.server().map_err(|e| e.to_string())?);
        let client = Arc::new(gateway.client().map_err(|e| e.to_string())?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (refused_tx, mut refused_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut accepted = Box::pin(incoming(listener, server, move |_, error| {
            let _ = refused_tx.send(error.to_string());
        }));
        let endpoint =
            tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("endpoint");
        let connecting = tokio::spawn(async move { connect_channel(&endpoint, client).await });
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            tokio::select! {
                Some(accepted) = accepted.next() => accepted.map(drop).map_err(|e| e.to_string()),
                Some(refused) = refused_rx.recv() => Err(refused),
            }
        })
        .await
        .unwrap_or_else(|_| Err("no outcome within 5 s".into()));
        connecting.abort();
        outcome
    }

    /// Leaves the operator issues pass the link's real verification both ways; a game
    /// pod's leaf cannot act as a gateway; a leaf signed after a restart (the CA read back
    /// from its PEM) chains to the same CA; another shard's CA is refused.
    #[tokio::test]
    async fn issued_leaves_pass_the_links_own_handshake_and_keep_roles_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = new_ca("games/world", now()).expect("CA");
        let gateway = issue("games/world", &ca, Role::Gateway, now()).expect("gateway");
        let game = issue("games/world", &ca, Role::Game, now()).expect("game");
        let game_files = mount(&dir.path().join("game"), &game, &ca);
        let gateway_files = mount(&dir.path().join("gateway"), &gateway, &ca);
        handshake(&game_files, &gateway_files)
            .await
            .expect("the link's handshake");

        // The game pod's own leaf, presented as a gateway, is refused.
        let posing = mount(&dir.path().join("posing"), &game, &ca);
        let refused = handshake(&game_files, &posing)
            .await
            .expect_err("game leaf as gateway");
        assert!(refused.contains("client authentication"), "{refused}");

        // Signed later from the stored PEM: same CA, still accepted.
        let stored = CaPem {
            cert: ca.cert.clone(),
            key: ca.key.clone(),
        };
        let later = issue("games/world", &stored, Role::Gateway, now()).expect("renewed");
        assert_ne!(later.cert, gateway.cert);
        let renewed = mount(&dir.path().join("renewed"), &later, &ca);
        handshake(&game_files, &renewed)
            .await
            .expect("renewed gateway");

        // Another shard's CA and gateway: refused.
        let other_ca = new_ca("games/other", now()).expect("CA");
        let other = issue("games/other", &other_ca, Role::Gateway, now()).expect("other");
        let stranger = mount(&dir.path().join("stranger"), &other, &other_ca);
        handshake(&game_files, &stranger)
            .await
            .expect_err("another shard's gateway");
    }

    #[test]
    fn a_leaf_is_renewed_when_missing_foreign_unmarked_or_due() {
        let ca = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
        let due = now() + days(LEAF_RENEW_DAYS);
        let due = due.to_string();
        // (case, ca.crt in the Secret, renew-after, now, expected)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Timestamp,
            LeafState,
        );
        let table: [Case; 6] = [
            (
                "none yet",
                None,
                None,
                now(),
                LeafState::Renew("no certificate yet"),
            ),
            (
                "another CA",
                Some("other"),
                Some(&due),
                now(),
                LeafState::Renew("issued by another CA"),
            ),
            (
                "no mark",
                Some(ca),
                None,
                now(),
                LeafState::Renew("renewal time missing"),
            ),
            (
                "garbled mark",
                Some(ca),
                Some("soon"),
                now(),
                LeafState::Renew("renewal time missing"),
            ),
            ("fresh", Some(ca), Some(&due), now(), LeafState::Current),
            (
                "due",
                Some(ca),
                Some(&due),
                now() + days(LEAF_RENEW_DAYS),
                LeafState::Renew("due for renewal"),
            ),
        ];
        for (case, secret_ca, renew_after, at, expected) in table {
            assert_eq!(
                leaf_state(ca, secret_ca, renew_after, at),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn leaves_renew_a_third_of_their_life_before_they_expire() {
        let ca = new_ca("games/world", now()).expect("CA");
        let leaf = issue("games/world", &ca, Role::Game, now()).expect("leaf");
        assert_eq!(leaf.renew_after, now() + days(LEAF_RENEW_DAYS));
        assert!(format!("{ca:?}").find("PRIVATE").is_none());
    }
}
