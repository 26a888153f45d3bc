//! `mush game`: one stateless game pod.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use mush_game::{CacheTtl, GameSettings, NatsAuth, NatsTls, PasswordCost, Pod, PodConfig};
use mush_proto::PodId;
use mush_store::{Dbref, Store, StoreMetrics};
use prometheus_client::registry::Registry;

use crate::config::{LinkTlsArgs, StoreArgs};
use crate::health::{self, ReadyCheck, redis_ready};

/// Flags of `mush game`.
#[derive(Args, Debug, Clone)]
pub struct GameArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub link_tls: LinkTlsArgs,
    /// This pod's name; in Kubernetes the pod name (downward API).
    #[arg(long, env = "POD_NAME")]
    pub pod_id: Option<String>,
    /// gRPC listen address.
    #[arg(long, env = "MUSH_GRPC_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    /// Host gateways dial to reach this pod; in Kubernetes the pod IP.
    #[arg(long, env = "POD_IP", default_value = "127.0.0.1")]
    pub advertise_host: String,
    /// NATS server for cache invalidations.
    /// Credentials may ride in it (`nats://user:password@host:4222`); it is never printed.
    #[arg(
        long,
        env = "MUSH_NATS",
        default_value = "nats://127.0.0.1:4222",
        hide_env_values = true
    )]
    pub nats: String,
    /// NATS user (with `--nats-password`), for a server that requires one.
    #[arg(long, env = "MUSH_NATS_USER", requires = "nats_password")]
    pub nats_user: Option<String>,
    /// NATS password of `--nats-user`; give it through the environment (a Secret).
    #[arg(
        long,
        env = "MUSH_NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user"
    )]
    pub nats_password: Option<String>,
    /// NATS token, for a server that takes one instead of a user.
    #[arg(
        long,
        env = "MUSH_NATS_TOKEN",
        hide_env_values = true,
        conflicts_with = "nats_user"
    )]
    pub nats_token: Option<String>,
    /// NATS credentials file (a user JWT and its key, as `nsc` writes them), for servers
    /// in operator mode. Read at start.
    #[arg(
        long,
        env = "MUSH_NATS_CREDS_FILE",
        conflicts_with_all = ["nats_user", "nats_token"]
    )]
    pub nats_creds_file: Option<PathBuf>,
    /// CA file (PEM) of the NATS servers' certificates: TLS to NATS is then required.
    #[arg(long, env = "MUSH_NATS_CA_FILE")]
    pub nats_ca_file: Option<PathBuf>,
    /// This pod's client certificate (PEM), for a NATS server that verifies clients.
    #[arg(long, env = "MUSH_NATS_CERT_FILE", requires_all = ["nats_key_file", "nats_ca_file"])]
    pub nats_cert_file: Option<PathBuf>,
    /// The key of `--nats-cert-file` (PEM).
    #[arg(long, env = "MUSH_NATS_KEY_FILE", requires = "nats_cert_file")]
    pub nats_key_file: Option<PathBuf>,
    /// Health and metrics listen address.
    #[arg(long, env = "MUSH_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    pub http: SocketAddr,
    /// Password of the God character, needed only to create the world on first boot.
    #[arg(long, env = "MUSH_GOD_PASSWORD", hide_env_values = true)]
    pub god_password: Option<String>,
    /// The game's name (banner, WHO, MSSP).
    #[arg(long, env = "MUSH_NAME", default_value = "mush-on-kube")]
    pub mud_name: String,
    /// Flags of players created at the connect screen, space-separated (TinyMUX's flags,
    /// for instance `ANSI`; as in TinyMUX, every player may build without one).
    #[arg(long, env = "MUSH_NEW_PLAYER_FLAGS", default_value = "")]
    pub new_player_flags: String,
    /// The master room's object number (TinyMUX's `master_room`): the `$`-commands of
    /// what it holds serve every player, its objects' `@aconnect`s run for everyone, and
    /// it keeps the `@function` and `@attribute` definitions. A new world makes #2.
    #[arg(long, env = "MUSH_MASTER_ROOM", default_value_t = 2)]
    pub master_room: u64,
    /// `@pemit` reaches players anywhere, as TinyMUX's `pemit_far_players` (a far player's
    /// page lock and connection still apply). On by default, as in Debian's TinyMUX
    /// (its `compat.conf`); `false` keeps `@pemit` to players nearby or controlled.
    #[arg(long, env = "MUSH_PEMIT_FAR_PLAYERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub pemit_far_players: bool,
    /// `@pemit` and `@remit` reach any object anywhere, as TinyMUX's `pemit_any_object`.
    /// On by default, as in Debian's TinyMUX; `false` keeps them to what is nearby or
    /// controlled. `@oemit` is never widened.
    #[arg(long, env = "MUSH_PEMIT_ANY_OBJECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub pemit_any_object: bool,
    /// Failed `connect`s, per address and per player within 15 minutes, answered at
    /// once; after that each answer waits twice as long as the one before (1 s, 2 s, ...
    /// up to 30 s), and every failure is logged and counted (`mush_game_login_failures`).
    #[arg(long, env = "MUSH_LOGIN_FREE_FAILURES", default_value_t = 3)]
    pub login_free_failures: u64,
    /// Players one address may create per hour (TinyMUX's `pcreate_per_hour` is one
    /// count for the whole game; this one is per address, so one visitor cannot use it up).
    #[arg(long, env = "MUSH_CREATES_PER_ADDRESS_HOUR", default_value_t = 20)]
    pub creates_per_address_hour: u64,
    /// Argon2 memory cost of new password hashes, KiB.
    #[arg(long, env = "MUSH_PASSWORD_MEMORY_KIB", default_value_t = PasswordCost::default().memory_kib)]
    pub password_memory_kib: u32,
    /// Argon2 passes of new password hashes.
    #[arg(long, env = "MUSH_PASSWORD_ITERATIONS", default_value_t = PasswordCost::default().iterations)]
    pub password_iterations: u32,
    /// Seconds a drain (SIGTERM) may take; keep it below the pod's termination grace period.
    #[arg(long, env = "MUSH_DRAIN_GRACE", default_value_t = 20)]
    pub drain_grace_secs: u64,
    /// Heartbeat lifetime in milliseconds: a pod silent this long is presumed dead.
    #[arg(long, env = "MUSH_HEARTBEAT_TTL_MS", default_value_t = 3000)]
    pub heartbeat_ttl_ms: u64,
}

fn welcome(name: &str) -> String {
    format!(
        "Welcome to {name}.\n\
         \n\
         connect <name> <password>    connect to your character\n\
         create <name> <password>     create a new character\n\
         WHO                          see who is connected\n\
         QUIT                         leave"
    )
}

/// TLS to NATS from the flags. The files must be readable now: the NATS client reads them
/// only when it connects, and a pod that cannot reach NATS still serves (on short cache
/// lifetimes), so a wrong path would otherwise show only as a warning.
fn nats_tls(args: &GameArgs) -> anyhow::Result<NatsTls> {
    let files = [
        &args.nats_ca_file,
        &args.nats_cert_file,
        &args.nats_key_file,
    ];
    for path in files.into_iter().flatten() {
        std::fs::metadata(path).with_context(|| format!("NATS TLS file {}", path.display()))?;
    }
    Ok(NatsTls {
        ca: args.nats_ca_file.clone(),
        client: args.nats_cert_file.clone().zip(args.nats_key_file.clone()),
    })
}

/// Runs a game pod until SIGTERM or Ctrl-C.
pub async fn run(args: GameArgs) -> anyhow::Result<()> {
    let http = health::bind(args.http).await?;
    let pod_id = match &args.pod_id {
        Some(id) => PodId::new(id.clone())?,
        None => PodId::new(format!("game-{}", std::process::id()))?,
    };
    let mut registry = Registry::default();
    let store = Store::connect(args.store.store_config()?, StoreMetrics::new(&mut registry))
        .await
        .context("connecting to Redis Cluster")?;
    let heartbeat_ttl = Duration::from_millis(args.heartbeat_ttl_ms.max(300));
    let config = PodConfig {
        pod_id,
        listen: args.listen,
        advertise_host: args.advertise_host.clone(),
        nats_url: args.nats.clone(),
        nats_auth: match (
            &args.nats_user,
            &args.nats_password,
            &args.nats_token,
            &args.nats_creds_file,
        ) {
            (Some(user), Some(password), _, _) => {
                NatsAuth::UserPassword(user.clone(), password.clone())
            }
            (_, _, Some(token), _) => NatsAuth::Token(token.clone()),
            (_, _, _, Some(path)) => NatsAuth::credentials(path)?,
            _ => NatsAuth::None,
        },
        nats_tls: nats_tls(&args)?,
        heartbeat_interval: heartbeat_ttl / 3,
        heartbeat_ttl,
        god_password: args.god_password.clone(),
        settings: GameSettings {
            welcome: welcome(&args.mud_name),
            new_player_flags: args
                .new_player_flags
                .split_whitespace()
                .map(str::to_uppercase)
                .collect(),
            start_room: Dbref(0),
            master_room: Dbref(args.master_room),
            pemit_far_players: args.pemit_far_players,
            pemit_any_object: args.pemit_any_object,
            login_free_failures: args.login_free_failures,
            creates_per_address_hour: args.creates_per_address_hour,
        },
        password_cost: PasswordCost {
            memory_kib: args.password_memory_kib,
            iterations: args.password_iterations,
        },
        cache_ttl: CacheTtl::default(),
        drain_grace: Duration::from_secs(args.drain_grace_secs),
        link_tls: args.link_tls.files(),
    };
    let (pod, listener) = Pod::start(&config, store.clone(), &mut registry).await?;
    let engine = pod.engine().clone();
    let slow = Duration::from_millis(args.store.redis_slow_ms);
    let ready: ReadyCheck = Arc::new(move || {
        let (store, engine) = (store.clone(), engine.clone());
        Box::pin(async move {
            redis_ready(&store, slow).await?;
            if !engine.nats_connected() {
                return Err("NATS is not connected".into());
            }
            Ok(())
        })
    });
    // For operators and the soak test: does the pod's cache still agree with Redis?
    // Read-only, on the internal health port beside the probes.
    let audited = pod.engine().clone();
    let debug = axum::Router::new().route(
        "/debug/cache",
        axum::routing::get(move || {
            let engine = audited.clone();
            async move {
                match engine.audit_cache().await {
                    Ok(audit) => (axum::http::StatusCode::OK, audit.to_json()),
                    Err(error) => (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        format!("audit failed: {error}"),
                    ),
                }
            }
        }),
    );
    health::run_role(http, registry, ready, debug, |stop| async move {
        pod.serve(&config, listener, health::wait_true(stop))
            .await
            .map_err(anyhow::Error::from)
    })
    .await
}
