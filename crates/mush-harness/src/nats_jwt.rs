//! NATS decentralized authentication for tests: an operator, an account and its users,
//! each a JWT signed as `nsc` signs them (ed25519 nkeys), and the credentials files a
//! client reads. Written here so that no Go tool is needed to test a pod's `.creds` file.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use serde_json::{Value, json};

/// Every JWT's header.
const HEADER: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;

/// Signs `claims` (with `sub`, `name` and `nats` set) as `issuer`. nats-server checks the
/// signature, the issuer's kind and `nats.version`; `jti` is only an id to it.
fn encode(issuer: &KeyPair, mut claims: Value, serial: &mut u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    *serial += 1;
    claims["iss"] = json!(issuer.public_key());
    claims["iat"] = json!(now);
    claims["jti"] = json!(format!("MUSHTEST{now}X{serial}"));
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let signature = issuer.sign(signed.as_bytes()).expect("ed25519 signs");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Unlimited, as `-1`: a limit left out means zero to nats-server (no connections at all
/// for an account, nothing published for a user).
fn unlimited() -> Value {
    json!({ "subs": -1, "data": -1, "payload": -1 })
}

/// An operator with one account, whose users may connect to a server started with
/// [`NatsOperator::server_config`].
pub struct NatsOperator {
    operator: KeyPair,
    account: KeyPair,
    operator_jwt: String,
    account_jwt: String,
    serial: u64,
}

impl NatsOperator {
    /// A new operator and account, with fresh keys.
    pub fn new() -> Self {
        let (operator, account) = (KeyPair::new_operator(), KeyPair::new_account());
        let mut serial = 0;
        let operator_jwt = encode(
            &operator,
            json!({
                "name": "mush-test-operator",
                "sub": operator.public_key(),
                "nats": { "type": "operator", "version": 2 }
            }),
            &mut serial,
        );
        let mut limits = unlimited();
        limits["imports"] = json!(-1);
        limits["exports"] = json!(-1);
        limits["wildcards"] = json!(true);
        limits["conn"] = json!(-1);
        limits["leaf"] = json!(-1);
        let account_jwt = encode(
            &operator,
            json!({
                "name": "mush-test-account",
                "sub": account.public_key(),
                "nats": {
                    "limits": limits,
                    "default_permissions": { "pub": {}, "sub": {} },
                    "type": "account",
                    "version": 2
                }
            }),
            &mut serial,
        );
        Self {
            operator,
            account,
            operator_jwt,
            account_jwt,
            serial,
        }
    }

    /// nats-server's configuration lines: operator mode, the account preloaded into a
    /// memory resolver.
    pub fn server_config(&self) -> String {
        format!(
            "operator: \"{}\"\nresolver: MEMORY\nresolver_preload: {{\n  {}: \"{}\"\n}}\n",
            self.operator_jwt,
            self.account.public_key(),
            self.account_jwt
        )
    }

    /// A credentials file's text for a new user `name` of the account, as `nsc generate
    /// creds` writes it.
    pub fn user_creds(&mut self, name: &str) -> String {
        let user = KeyPair::new_user();
        let mut claims = unlimited();
        claims["pub"] = json!({});
        claims["sub"] = json!({});
        claims["type"] = json!("user");
        claims["version"] = json!(2);
        let jwt = encode(
            &self.account,
            json!({ "name": name, "sub": user.public_key(), "nats": claims }),
            &mut self.serial,
        );
        let seed = user.seed().expect("a user key has a seed");
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        )
    }

    /// The operator's public key (a server names the operators it trusts by it).
    pub fn public_key(&self) -> String {
        self.operator.public_key()
    }
}

impl Default for NatsOperator {
    fn default() -> Self {
        Self::new()
    }
}
