//! The data plane as players see it: real Redis Cluster, NATS, game pods and a gateway
//! (the `mush` binary as child processes), real sockets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use mush_proto::{GatewayId, Handle};
use mush_store::Store;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

mod support;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_on_different_pods_talk_page_and_see_each_other() {
    let (shard, dir) = tokio::task::block_in_place(|| start_shard("talk", &[]));
    let store = store_of(&shard).await;
    let mut alice = Player::login(shard.telnet_addr(), "Alice").await;
    let alice_pod = pod_of(&store, "Alice").await;
    let (mut bob, bob_name) =
        login_elsewhere(shard.telnet_addr(), &store, &alice_pod, "Bob", dir.path()).await;
    alice.expect(&format!("{bob_name} has connected.")).await;

    alice.send("say hello from pod one").await;
    alice.expect("You say, \"hello from pod one\"").await;
    bob.expect("Alice says, \"hello from pod one\"").await;

    bob.send(":waves.").await;
    alice.expect(&format!("{bob_name} waves.")).await;
    bob.expect(&format!("{bob_name} waves.")).await;
    bob.send(";'s hat tilts").await;
    alice.expect(&format!("{bob_name}'s hat tilts")).await;

    bob.send("page Alice=psst").await;
    bob.expect("You paged Alice with 'psst'.").await;
    alice.expect(&format!("{bob_name} pages: psst")).await;

    let mut carol = Player::login(shard.telnet_addr(), "Carol").await;
    carol.send("WHO").await;
    let who = carol.expect("Players logged in.").await;
    for name in ["Alice", bob_name.as_str(), "Carol"] {
        assert!(who.contains(name), "{name} missing from WHO: {who}");
    }
    // A page between Alice and Bob never reaches Carol.
    carol.send("think done").await;
    let seen = carol.expect("done").await;
    assert!(!seen.contains("psst"), "page leaked: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_game_pod_is_replaced_without_dropping_the_player() {
    let (mut shard, _dir) = tokio::task::block_in_place(|| start_shard("restart", &[]));
    let store = store_of(&shard).await;
    let mut alice = Player::login(shard.telnet_addr(), "Alice").await;
    // A mortal may not add exits to Limbo (TinyMUX: she does not control it) nor link one
    // to it; she builds her own room, goes there and opens an exit in it.
    alice.send("@dig/teleport Workshop").await;
    alice.expect("Workshop").await;
    alice.send("@open out;o").await;
    alice.expect("Opened.").await;
    alice.send("@create anvil").await;
    alice.expect("anvil created as object").await;

    let pod = pod_of(&store, "Alice").await;
    tokio::task::block_in_place(|| {
        shard.kill_pod(pod.as_str()).expect("kill");
        shard.start_pod().expect("new pod");
    });
    alice.send("think still here").await;
    alice.expect("still here").await;
    assert!(
        alice.is_open().await,
        "the gateway closed the player's connection"
    );
    assert_ne!(
        pod_of(&store, "Alice").await,
        pod,
        "session still points at the dead pod"
    );

    alice.send("look").await;
    let look = alice.expect("Obvious exits:").await;
    assert!(
        look.contains("Workshop"),
        "lost the room built before the restart: {look}"
    );
    alice.send("inventory").await;
    alice.expect("anvil").await;
    alice.send("home").await;
    alice.expect("Limbo").await;

    // The dead pod, its sessions moved, is dropped from the registry.
    let deadline = Instant::now() + Duration::from_secs(20);
    while store
        .pods()
        .await
        .expect("pods")
        .iter()
        .any(|p| p.info.id == pod)
    {
        assert!(
            Instant::now() < deadline,
            "dead pod {pod} never deregistered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_telnet_negotiation_and_a_websocket_client_both_play() {
    let (shard, _dir) = tokio::task::block_in_place(|| start_shard("wire", &[]));
    let store = store_of(&shard).await;
    let mut raw = Player::connect(shard.telnet_addr()).await;
    raw.send("MSSP-REQUEST").await;
    let mssp = raw.expect("MSSP-REPLY-END").await;
    for var in ["MSSP-REPLY-START", "NAME\t", "PLAYERS\t", "UPTIME\t"] {
        assert!(mssp.contains(var), "{var} missing from {mssp:?}");
    }
    let mut bytes = vec![IAC, 251, 31, IAC, SB, 31, 0, 132, 0, 40, IAC, SE];
    bytes.extend_from_slice(&[IAC, 251, 24, IAC, SB, 24, 0]);
    bytes.extend_from_slice(b"TINTIN++");
    bytes.extend_from_slice(&[IAC, SE]);
    bytes.extend_from_slice(b"create Raw secret\r\n");
    for byte in bytes {
        raw.send_raw(&[byte]).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    raw.expect("Limbo").await;

    let (mut ws, _) = tokio_tungstenite::connect_async(shard.websocket_url())
        .await
        .expect("ws connect");
    let mut ws_text = String::new();
    let mut ws_expect = async |ws: &mut tokio_tungstenite::WebSocketStream<_>, needle: &str| loop {
        if let Some(at) = ws_text.find(needle) {
            return ws_text.drain(..at + needle.len()).collect::<String>();
        }
        let frame = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("ws timed out")
            .expect("ws closed")
            .expect("ws error");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            ws_text.push_str(text.as_str());
            ws_text.push('\n');
        }
    };
    ws_expect(&mut ws, "connect <name> <password>").await;
    ws.send("create Webby secret".into()).await.expect("send");
    ws_expect(&mut ws, "Limbo").await;
    raw.expect("Webby has connected.").await;
    raw.send("say hi web").await;
    ws_expect(&mut ws, "Raw says, \"hi web\"").await;
    ws.send("say hi telnet".into()).await.expect("send");
    raw.expect("Webby says, \"hi telnet\"").await;
    // Escape sequences and line breaks typed in a browser never reach a terminal: a frame
    // with a line break is two commands, and control characters are dropped.
    ws.send("say \u{1b}[2Jclear\u{9b}31m\r\nsay You paged me".into())
        .await
        .expect("send");
    let said = raw.expect("Webby says, \"You paged me\"").await;
    assert!(said.contains("Webby says, \"[2Jclear31m\""), "{said:?}");
    assert!(
        !said.contains('\u{1b}') && !said.contains('\u{9b}'),
        "{said:?}"
    );
    // A frame of more lines than a burst (100 here) sends the first 100 and says so,
    // instead of stalling the connection while it waits for thousands of tokens.
    let many: Vec<String> = (0..150).map(|n| format!("think many{n}z")).collect();
    ws.send(many.join("\n").into()).await.expect("send");
    ws_expect(
        &mut ws,
        "That message had more than 100 lines; only the first 100 were sent.",
    )
    .await;
    ws_expect(&mut ws, "many99z").await;
    ws.send("think after-many".into()).await.expect("send");
    let rest = ws_expect(&mut ws, "after-many").await;
    assert!(!rest.contains("many100z"), "{rest:?}");

    // What the negotiation taught the gateway lands in the session's metadata.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = store.list_active().await.expect("records");
        let meta = records
            .iter()
            .find(|r| r.meta.get("naws").map(String::as_str) == Some("132x40"));
        if let Some(record) = meta {
            assert_eq!(
                record.meta.get("client").map(String::as_str),
                Some("TINTIN++")
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "NAWS/TTYPE never reached the metadata"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_loses_nothing() {
    let (shard, _dir) = tokio::task::block_in_place(|| {
        start_shard("bad", &["--input-rate", "50", "--input-burst", "20"])
    });
    let mut eve = Player::login(shard.telnet_addr(), "Eve").await;

    eve.send(&"x".repeat(20_000)).await;
    eve.expect("That line is too long").await;
    eve.send("think after long line").await;
    eve.expect("after long line").await;

    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i * 7919 % 256) as u8)
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    eve.send_raw(&garbage).await;
    eve.send_raw(b"\r\n").await;
    eve.send("think after garbage").await;
    eve.expect("after garbage").await;

    let flood: String = (0..200).map(|n| format!("think flood-{n}\r\n")).collect();
    eve.send_raw(flood.as_bytes()).await;
    eve.expect("too fast").await;
    for n in 0..200 {
        eve.expect(&format!("flood-{n}\r\n")).await;
    }
    eve.send("think still fine").await;
    eve.expect("still fine").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_pods_ignore_unknown_fields_and_refuse_oversized_messages() {
    use mush_rpc::v1::{GatewayEvent, Hello, Input, PodBatch, SessionOpen, gateway_event};

    /// A newer gateway's batch: the same field 1, plus a field this pod has never heard of.
    #[derive(Clone, PartialEq, prost::Message)]
    struct FutureBatch {
        #[prost(message, repeated, tag = "1")]
        events: Vec<GatewayEvent>,
        #[prost(string, tag = "99")]
        from_the_future: String,
    }

    let (shard, _dir) = tokio::task::block_in_place(|| start_shard("grpc", &[]));
    let store = store_of(&shard).await;
    let pods = live_pods(&store, 1).await;
    let addr = pods[0].info.addr.clone();
    let files = &shard.gateway_link_files();
    let handle = register_probe(&store, &pods[0].info.id).await;

    let event = |kind| GatewayEvent { kind: Some(kind) };
    let batch = FutureBatch {
        events: vec![
            event(gateway_event::Kind::Hello(Hello {
                gateway_id: "probe".into(),
                broadcast: false,
            })),
            event(gateway_event::Kind::Open(SessionOpen {
                handle: handle.0,
                ..Default::default()
            })),
            event(gateway_event::Kind::Input(Input {
                handle: handle.0,
                seq: 1,
                line: "WHO".into(),
                acked: 0,
            })),
        ],
        from_the_future: "ignore me".into(),
    };
    let attach = |batches: Vec<FutureBatch>| {
        let addr = addr.clone();
        async move {
            let channel = link_channel(files.as_ref(), &addr).await;
            let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(8 << 20);
            grpc.ready().await.expect("ready");
            let codec = tonic_prost::ProstCodec::<FutureBatch, PodBatch>::default();
            let path = tonic::codegen::http::uri::PathAndQuery::from_static("/mush.v1.Game/Attach");
            let outbound =
                futures_util::stream::iter(batches).chain(futures_util::stream::pending());
            grpc.streaming(tonic::Request::new(outbound), path, codec)
                .await
        }
    };
    let mut replies = attach(vec![batch.clone()])
        .await
        .expect("attach")
        .into_inner();
    let mut text = String::new();
    while !text.contains("logged in.") {
        let reply = tokio::time::timeout(Duration::from_secs(10), replies.message())
            .await
            .expect("reply in time")
            .expect("stream ok")
            .expect("stream open");
        for event in reply.events {
            match event.kind {
                Some(mush_rpc::v1::pod_event::Kind::Output(output)) => text.push_str(&output.text),
                // A command's own reply travels with its acknowledgement.
                Some(mush_rpc::v1::pod_event::Kind::Ack(ack)) => text.push_str(&ack.text),
                _ => {}
            }
        }
    }
    assert!(text.contains("Welcome"), "{text}");

    // Over the 1 MiB limit: the pod refuses the stream, and keeps serving others.
    let mut huge = batch.clone();
    huge.events.truncate(1);
    huge.from_the_future = "x".repeat(2 << 20);
    let refused = match attach(vec![huge]).await {
        Err(status) => status,
        Ok(response) => {
            let mut stream = response.into_inner();
            tokio::time::timeout(Duration::from_secs(10), stream.message())
                .await
                .expect("answer in time")
                .expect_err("oversized message accepted")
        }
    };
    assert!(
        matches!(
            refused.code(),
            tonic::Code::ResourceExhausted
                | tonic::Code::OutOfRange
                | tonic::Code::Internal
                | tonic::Code::Unknown
                | tonic::Code::Cancelled
        ),
        "unexpected status {refused:?}"
    );
    let mut player = Player::login(shard.telnet_addr(), "Survivor").await;
    player.send("think pods still serve").await;
    player.expect("pods still serve").await;
}

/// `GET path` over a plain socket; returns (status, body).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_follow_nats_and_metrics_count_commands() {
    let (mut shard, _dir) = tokio::task::block_in_place(|| start_shard("health", &[]));
    let pod = shard.pod_http("game-0").expect("pod http");
    assert_eq!(http_get(pod, "/livez").await.0, 200);
    wait_status(pod, "/readyz", 200).await;
    wait_status(shard.gateway_http(), "/readyz", 200).await;

    let mut player = Player::login(shard.telnet_addr(), "Metric").await;
    player.send("think counted").await;
    player.expect("counted").await;
    let (_, pod_metrics) = http_get(pod, "/metrics").await;
    let (_, gateway_metrics) = http_get(shard.gateway_http(), "/metrics").await;
    assert!(
        pod_metrics.contains("mush_game_command_seconds_bucket"),
        "{pod_metrics}"
    );
    assert!(
        pod_metrics.contains("mush_store_writebehind_ops_total"),
        "{pod_metrics}"
    );
    assert!(
        gateway_metrics.contains("mush_gateway_sessions 1"),
        "{gateway_metrics}"
    );

    // NATS gone: the pod says it is not ready (its caches run on the short TTL), and keeps
    // serving; NATS back: ready again.
    tokio::task::block_in_place(|| shard.nats_mut().stop());
    let reason = wait_status(pod, "/readyz", 503).await;
    assert!(reason.contains("NATS"), "{reason}");
    player.send("think served without NATS").await;
    player.expect("served without NATS").await;
    tokio::task::block_in_place(|| shard.nats_mut().start_again()).expect("restart nats");
    wait_status(pod, "/readyz", 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_pod_hands_its_players_over_mid_typing() {
    const PLAYERS: usize = 8;
    const COMMANDS: usize = 40;
    let (mut shard, _dir) = tokio::task::block_in_place(|| start_shard("drain", &[]));
    let store = store_of(&shard).await;
    let mut players = Vec::new();
    for i in 0..PLAYERS {
        players.push(Player::login(shard.telnet_addr(), &format!("Typist{i}")).await);
    }
    let victim = pod_of(&store, "Typist0").await;
    let typing: Vec<_> = players
        .into_iter()
        .enumerate()
        .map(|(i, mut player)| {
            tokio::spawn(async move {
                for n in 0..COMMANDS {
                    player.send(&format!("think tok.{i}.{n}.")).await;
                    player.expect(&format!("tok.{i}.{n}.\r\n")).await;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                player.send("think finished").await;
                player.expect("finished").await;
                assert!(player.is_open().await, "player {i} was disconnected");
                (i, player.transcript)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let victim_name = victim.clone();
    let status = tokio::task::spawn_blocking(move || {
        let status = shard.terminate_pod(victim_name.as_str(), Duration::from_secs(25));
        (shard, status)
    });
    let mut transcripts = Vec::new();
    for task in typing {
        transcripts.push(task.await.expect("player task"));
    }
    let (_shard, status) = status.await.expect("terminate");
    let status = status
        .expect("terminate")
        .expect("pod exited by itself within its grace period");
    assert!(status.success(), "drained pod exited with {status}");
    for (i, transcript) in transcripts {
        for n in 0..COMMANDS {
            let seen = transcript.matches(&format!("tok.{i}.{n}.\r\n")).count();
            assert_eq!(seen, 1, "player {i} command {n} answered {seen} times");
        }
    }
    assert!(
        store
            .pods()
            .await
            .expect("pods")
            .iter()
            .all(|p| p.info.id.as_str() != "game-0" || p.alive),
        "drained pod left a dead registry entry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateways_sessions_are_reaped_not_leaked() {
    let (mut shard, _dir) = tokio::task::block_in_place(|| start_shard("gwkill", &[]));
    let store = store_of(&shard).await;
    let mut ghosts = Vec::new();
    for name in ["Ghost1", "Ghost2", "Ghost3"] {
        ghosts.push(Player::login(shard.telnet_addr(), name).await);
    }
    let ghost = store
        .player_by_name("Ghost1")
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(store.list_active().await.expect("records").len(), 3);

    tokio::task::block_in_place(|| shard.kill_gateway());
    for ghost in &mut ghosts {
        let deadline = Instant::now() + Duration::from_secs(10);
        while ghost.is_open().await {
            assert!(Instant::now() < deadline, "connection outlived its gateway");
        }
    }
    tokio::task::block_in_place(|| shard.start_gateway()).expect("new gateway");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = store.list_active().await.expect("records").len();
        let conns = store.player_conns(ghost).await.expect("conns").len();
        let dead = store.dead_gateways().await.expect("gateways").len();
        if records == 0 && conns == 0 && dead == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "leaked: {records} records, {conns} player connections, {dead} dead gateways"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut witness = Player::login(shard.telnet_addr(), "Witness").await;
    witness.send("WHO").await;
    let who = witness.expect("logged in.").await;
    assert!(who.contains("1 Player logged in."), "{who}");
}

/// The game pods' gRPC port: a client without the shard's gateway certificate does not get
/// past the TLS handshake, and a gateway that names another gateway's connections (a
/// leaked gateway key, a confused gateway) cannot take them over, type in them, or end
/// them, neither on the pod serving them nor on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_pods_refuse_strangers_and_other_gateways_sessions() {
    use mush_rpc::v1::game_client::GameClient;
    use mush_rpc::v1::{
        GatewayBatch, GatewayEvent, Hello, Input, SessionOpen, gateway_event, pod_event,
    };

    let (shard, _dir) = tokio::task::block_in_place(|| start_shard("link", &[]));
    let store = store_of(&shard).await;
    let pods = live_pods(&store, 2).await;
    let pod_https: Vec<_> = pods
        .iter()
        .map(|p| shard.pod_http(p.info.id.as_str()).expect("pod http"))
        .collect();
    let mut victim = Player::login(shard.telnet_addr(), "Victim").await;
    let mut witness = Player::login(shard.telnet_addr(), "Witness").await;

    // Plain gRPC, as anything in the cluster network could send: refused at the handshake.
    for pod in &pods {
        let plain = tonic::transport::Endpoint::from_shared(format!("http://{}", pod.info.addr))
            .expect("uri")
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5));
        let served = match plain.connect().await {
            Err(_) => false,
            Ok(channel) => GameClient::new(channel)
                .attach(futures_util::stream::pending::<GatewayBatch>())
                .await
                .is_ok(),
        };
        assert!(
            !served,
            "{} served a client without a certificate",
            pod.info.id
        );
    }
    for &http in &pod_https {
        let refused = metric(http, "mush_game_link_refused_total").await;
        assert!(
            refused >= 1,
            "the pod at {http} counted {refused} refused handshakes"
        );
    }

    // A gateway's certificate, but another gateway's connections.
    let handles: Vec<u64> = store
        .list_active()
        .await
        .expect("connections")
        .iter()
        .map(|record| record.handle.0)
        .collect();
    assert_eq!(handles.len(), 2, "{handles:?}");
    let files = shard.gateway_link_files();
    let event = |kind| GatewayEvent { kind: Some(kind) };
    let mut streams = Vec::new();
    for pod in &pods {
        let mut events = vec![event(gateway_event::Kind::Hello(Hello {
            gateway_id: "impostor".into(),
            broadcast: false,
        }))];
        for &handle in &handles {
            events.push(event(gateway_event::Kind::Open(SessionOpen {
                handle,
                resume: true,
                next_seq: 1,
                ..Default::default()
            })));
            events.push(event(gateway_event::Kind::Input(Input {
                handle,
                seq: 1,
                line: "say pwned".into(),
                acked: 0,
            })));
        }
        let mut client = GameClient::new(link_channel(files.as_ref(), &pod.info.addr).await);
        let outbound = futures_util::stream::iter([GatewayBatch { events }])
            .chain(futures_util::stream::pending());
        let stream = client
            .attach(outbound)
            .await
            .expect("a gateway's certificate is accepted");
        streams.push(stream.into_inner());
    }
    let want = (handles.len() * pods.len()) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut refused = 0;
        for &http in &pod_https {
            refused += metric(http, "mush_game_opens_refused_total").await;
        }
        if refused == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{refused} of {want} opens refused"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for stream in &mut streams {
        while let Ok(Ok(Some(batch))) =
            tokio::time::timeout(Duration::from_millis(500), stream.message()).await
        {
            for event in batch.events {
                assert!(
                    !matches!(
                        event.kind,
                        Some(
                            pod_event::Kind::Output(_)
                                | pod_event::Kind::Ack(_)
                                | pod_event::Kind::Broadcast(_)
                        )
                    ),
                    "the impostor was served: {event:?}"
                );
            }
        }
    }

    // Both players still play, on their own sessions, and nobody said "pwned".
    victim.send("say still here").await;
    witness.expect("Victim says, \"still here\"").await;
    witness.send("say so am I").await;
    victim.expect("Witness says, \"so am I\"").await;
    for player in [&victim, &witness] {
        assert!(
            !player.transcript.contains("pwned"),
            "{}",
            player.transcript
        );
    }
}

/// A command the dead pod ran, whose acknowledgement never reached the gateway, is answered
/// from the journal on the next pod with the same reply, and not run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_resent_after_its_pod_died_is_answered_from_the_journal() {
    use mush_rpc::v1::game_client::GameClient;
    use mush_rpc::v1::{
        GatewayBatch, GatewayEvent, Hello, Input, SessionOpen, gateway_event, pod_event,
    };

    let (mut shard, _dir) = tokio::task::block_in_place(|| start_shard("journal", &[]));
    let store = store_of(&shard).await;
    let pods = live_pods(&store, 2).await;
    let (first, second) = (&pods[0].info, &pods[1].info);
    let handle = register_probe(&store, &first.id).await;
    let files = &shard.gateway_link_files();

    let event = |kind| GatewayEvent { kind: Some(kind) };
    let input = |seq, line: &str| {
        event(gateway_event::Kind::Input(Input {
            handle: handle.0,
            seq,
            line: line.into(),
            acked: 0,
        }))
    };
    // Attaches as gateway "probe", sends `events`, and collects acks until `last` is acked.
    let exchange = |addr: String, events: Vec<GatewayEvent>, last: u64| async move {
        let mut client = GameClient::new(link_channel(files.as_ref(), &addr).await);
        let mut all = vec![event(gateway_event::Kind::Hello(Hello {
            gateway_id: "probe".into(),
            broadcast: false,
        }))];
        all.extend(events);
        let outbound = futures_util::stream::iter([GatewayBatch { events: all }])
            .chain(futures_util::stream::pending());
        let mut replies = client.attach(outbound).await.expect("attach").into_inner();
        let mut acks = std::collections::BTreeMap::new();
        while !acks.contains_key(&last) {
            let batch = tokio::time::timeout(Duration::from_secs(10), replies.message())
                .await
                .expect("answer in time")
                .expect("stream ok")
                .expect("stream open");
            for event in batch.events {
                if let Some(pod_event::Kind::Ack(ack)) = event.kind {
                    acks.insert(ack.seq, ack.text);
                }
            }
        }
        acks
    };

    let create = "create Journal secret";
    let open = |resume| {
        event(gateway_event::Kind::Open(SessionOpen {
            handle: handle.0,
            resume,
            next_seq: 1,
            ..Default::default()
        }))
    };
    let acks = exchange(first.addr.clone(), vec![open(false), input(1, create)], 1).await;
    let reply = acks[&1].clone();
    assert!(reply.contains("Limbo"), "{reply}");

    // The pod dies; the gateway never saw that acknowledgement and re-sends command 1 to the
    // pod the session moves to.
    let first_name = first.id.to_string();
    shard.kill_pod(&first_name).expect("kill");
    assert_eq!(
        store
            .move_handle(handle, &first.id, &second.id)
            .await
            .expect("move"),
        mush_store::MoveOutcome::Moved
    );
    let acks = exchange(
        second.addr.clone(),
        vec![open(true), input(1, create), input(2, "think after")],
        2,
    )
    .await;
    assert_eq!(
        acks[&1], reply,
        "the re-sent command was not answered from the journal"
    );
    assert_eq!(acks[&2], "after", "the session did not resume logged in");
    let second_http = shard.pod_http(second.id.as_str()).expect("second pod http");
    let (_, metrics) = http_get(second_http, "/metrics").await;
    assert!(
        metrics.contains("mush_game_journal_answers_total 1"),
        "{metrics}"
    );
}

/// A line for a room crosses a gateway's stream once, as a Broadcast naming the listeners,
/// when the gateway said it reads them; a gateway that did not (an older version during a
/// rolling update) gets the same line as plain output to each listener. Either way the
/// speaker's own copy is in its command's reply, and nobody gets a line twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_output_is_one_broadcast_for_gateways_that_read_them() {
    use mush_rpc::v1::game_client::GameClient;
    use mush_rpc::v1::{
        GatewayBatch, GatewayEvent, Hello, Input, PodEvent, SessionOpen, gateway_event, pod_event,
    };

    let (shard, _dir) = tokio::task::block_in_place(|| start_shard("broadcast", &[]));
    let store = store_of(&shard).await;
    let pod = live_pods(&store, 1).await[0].info.clone();
    let files = shard.gateway_link_files();
    let event = |kind| GatewayEvent { kind: Some(kind) };
    for (name, broadcast) in [("old", false), ("new", true)] {
        let gateway = format!("probe-{name}");
        let mut handles = Vec::new();
        for _ in 0..3 {
            handles.push(register_on(&store, &pod.id, &gateway).await.0);
        }
        let mut events = vec![event(gateway_event::Kind::Hello(Hello {
            gateway_id: gateway.clone(),
            broadcast,
        }))];
        for (i, &handle) in handles.iter().enumerate() {
            events.push(event(gateway_event::Kind::Open(SessionOpen {
                handle,
                next_seq: 1,
                ..Default::default()
            })));
            events.push(event(gateway_event::Kind::Input(Input {
                handle,
                seq: 1,
                line: format!("create {name}{i} secret"),
                acked: 0,
            })));
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tx.send(GatewayBatch { events }).expect("queued");
        let outbound =
            futures_util::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|b| (b, rx)) });
        let mut client = GameClient::new(link_channel(files.as_ref(), &pod.addr).await);
        let mut replies = client.attach(outbound).await.expect("attach").into_inner();
        // Every event, deliveries opened.
        let mut seen: Vec<pod_event::Kind> = Vec::new();
        async fn next(
            replies: &mut tonic::Streaming<mush_rpc::v1::PodBatch>,
            seen: &mut Vec<pod_event::Kind>,
        ) {
            let batch = tokio::time::timeout(Duration::from_secs(10), replies.message())
                .await
                .expect("events in time")
                .expect("stream ok")
                .expect("stream open");
            let mut stack: Vec<PodEvent> = batch.events;
            stack.reverse();
            while let Some(event) = stack.pop() {
                match event.kind {
                    Some(pod_event::Kind::Delivery(d)) => stack.extend(d.events.into_iter().rev()),
                    Some(kind) => seen.push(kind),
                    None => {}
                }
            }
        }
        let acked = |seen: &[pod_event::Kind], handle: u64, seq: u64| {
            seen.iter().find_map(|e| match e {
                pod_event::Kind::Ack(a) if a.handle == handle && a.seq == seq => {
                    Some(a.text.clone())
                }
                _ => None,
            })
        };
        while handles.iter().any(|&h| acked(&seen, h, 1).is_none()) {
            next(&mut replies, &mut seen).await;
        }
        let line = format!("hello-{name}");
        tx.send(GatewayBatch {
            events: vec![event(gateway_event::Kind::Input(Input {
                handle: handles[0],
                seq: 2,
                line: format!("@emit {line}"),
                acked: 1,
            }))],
        })
        .expect("queued");
        seen.clear();
        let copies = |seen: &[pod_event::Kind]| -> Vec<u64> {
            let mut to: Vec<u64> = seen
                .iter()
                .flat_map(|e| match e {
                    pod_event::Kind::Output(o) if o.text == line => vec![o.handle],
                    pod_event::Kind::Broadcast(b) if b.text == line => b.handles.clone(),
                    _ => Vec::new(),
                })
                .collect();
            to.sort_unstable();
            to
        };
        while acked(&seen, handles[0], 2).is_none() || copies(&seen).len() < 2 {
            next(&mut replies, &mut seen).await;
        }
        assert_eq!(acked(&seen, handles[0], 2).as_deref(), Some(line.as_str()));
        assert_eq!(copies(&seen), handles[1..], "{name}: {seen:?}");
        let broadcasts = seen
            .iter()
            .filter(|e| matches!(e, pod_event::Kind::Broadcast(_)))
            .count();
        assert_eq!(broadcasts, usize::from(broadcast), "{name}: {seen:?}");
    }
}

/// Waits until at least `count` game pods heartbeat.
/// A role whose health port is taken stops at once with the reason, for every role: it
/// must not serve players without probes (Kubernetes would never see it ready) or metrics.
#[test]
fn a_taken_health_port_stops_each_role_with_the_reason() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let http = taken.local_addr().expect("addr").to_string();
    // Nothing else they need is there either: the health port comes first.
    for (role, elsewhere) in [
        ("gateway", ["--redis", "redis://127.0.0.1:1"]),
        ("game", ["--redis", "redis://127.0.0.1:1"]),
        ("operator", ["--kubeconfig", "/nonexistent/kubeconfig"]),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mush"))
            .args([role, "--http", &http])
            .args(elsewhere)
            .env("RUST_BACKTRACE", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn mush");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("mush {role} kept running with its health port taken");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
            .expect("stderr");
        assert!(!status.success(), "mush {role}: {status}");
        assert!(
            stderr.contains(&format!("binding the health server on {http}"))
                && stderr.contains("in use"),
            "mush {role}: {stderr}"
        );
    }
}

async fn live_pods(store: &Store, count: usize) -> Vec<mush_store::PodStatus> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pods = store.live_pods().await.expect("pods");
        if pods.len() >= count {
            return pods;
        }
        assert!(Instant::now() < deadline, "only {} pods live", pods.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers a connection of a fake gateway "probe" on `pod`, as a gateway would before
/// opening the session there.
async fn register_probe(store: &Store, pod: &mush_proto::PodId) -> Handle {
    register_on(store, pod, "probe").await
}

/// Registers a connection of the fake gateway `gateway` on `pod`.
async fn register_on(store: &Store, pod: &mush_proto::PodId, gateway: &str) -> Handle {
    let handle = Handle(store.allocate_handles(1).await.expect("handle").start);
    store
        .register(&mush_store::NewConnection {
            handle,
            gateway: GatewayId::new(gateway).expect("id"),
            pod: Some(pod.clone()),
            address: "127.0.0.1:1".into(),
            host: "localhost".into(),
            conn_type: mush_proto::ConnType::Telnet,
            connected_at_ms: mush_store::now_ms(),
        })
        .await
        .expect("register");
    handle
}

/// A disconnect storm (every socket closed at once, as a gateway restart or a network blip
/// does): a newcomer is answered at once, every departure is worked through with none
/// failed, and the presence state is exact afterwards (no connection record, no player
/// connection entry, WHO and `look` show only who is connected).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_storm_leaves_presence_exact() {
    const PLAYERS: usize = 300;
    let (shard, _dir) = tokio::task::block_in_place(|| {
        start_shard(
            "storm",
            &["--input-rate", "100000", "--input-burst", "100000"],
        )
    });
    let store = store_of(&shard).await;
    let addr = shard.telnet_addr();
    let mut crowd = Vec::with_capacity(PLAYERS);
    for wave in 0..PLAYERS / 20 {
        let logins = (0..20)
            .map(|i| async move { Player::login(addr, &format!("Crowd{}", wave * 20 + i)).await });
        crowd.extend(futures_util::future::join_all(logins).await);
    }
    assert_eq!(store.list_active().await.expect("records").len(), PLAYERS);
    let mut ids = Vec::new();
    for i in 0..PLAYERS {
        let name = format!("Crowd{i}");
        ids.push(
            store
                .player_by_name(&name)
                .await
                .expect("lookup")
                .expect(&name),
        );
    }

    let closed = Instant::now();
    drop(crowd);
    let mut newcomer = Player::connect(addr).await;
    newcomer.send("create Newcomer secret").await;
    newcomer.expect("Limbo").await;
    let answered = closed.elapsed();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let records = store.list_active().await.expect("records").len();
        let mut conns = 0;
        for &id in &ids {
            conns += store.player_conns(id).await.expect("conns").len();
        }
        if records == 1 && conns == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the storm: {records} connection records, {conns} player connections left"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled = closed.elapsed();
    println!(
        "{PLAYERS} sockets closed at once: a newcomer answered after {answered:?}, \
         presence exact after {settled:?}"
    );
    assert!(
        answered < Duration::from_secs(5),
        "newcomer waited {answered:?}"
    );
    newcomer.send("WHO").await;
    let who = newcomer.expect("logged in.").await;
    assert!(who.contains("1 Player logged in."), "{who}");
    newcomer.send("look").await;
    newcomer.send("think end-of-look").await;
    let look = newcomer.expect("end-of-look").await;
    // A departure's announcement may still be arriving (presence goes first, then the
    // room is told); only the room's contents count.
    let listed: Vec<&str> = look
        .lines()
        .filter(|line| !line.trim_end().ends_with("has disconnected."))
        .filter(|line| line.contains("Crowd"))
        .collect();
    assert!(
        listed.is_empty(),
        "look lists disconnected players: {listed:?} in {look}"
    );
    for pod in shard.pod_names() {
        let http = shard.pod_http(&pod).expect("pod http");
        let (_, metrics) = http_get(http, "/metrics").await;
        let failed = metrics
            .lines()
            .find_map(|l| l.strip_prefix("mush_game_departure_failures_total "))
            .expect("departure failures metric");
        assert_eq!(failed.trim(), "0", "{pod}: departures failed");
    }
}

/// One player's maximal output cannot break the stream it shares with others: an
/// `examine` of an object holding 150 attributes of 7,000 characters (about 1 MB, more
/// than a gRPC message may carry) arrives whole, in pieces, while a bystander on the same
/// pod is answered throughout and no session has to move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maximal_output_does_not_disturb_other_sessions() {
    const ATTRS: usize = 150;
    let (shard, _dir) = tokio::task::block_in_place(|| {
        start_shard(
            "loud",
            &["--input-rate", "100000", "--input-burst", "100000"],
        )
    });
    let store = store_of(&shard).await;
    let addr = shard.telnet_addr();
    let mut loud = Player::login(addr, "Loud").await;
    let pod = pod_of(&store, "Loud").await;
    let mut bystander = None;
    for i in 0..6 {
        let name = format!("Bystander{i}");
        let player = Player::login(addr, &name).await;
        if pod_of(&store, &name).await == pod {
            bystander = Some(player);
            break;
        }
    }
    let mut bystander = bystander.expect("a bystander on the loud player's pod");
    let value = "x".repeat(7_000);
    for n in 0..ATTRS {
        loud.send(&format!("&a{n} me={value}")).await;
    }
    loud.send("think set-done").await;
    loud.expect("set-done").await;

    loud.send("examine me").await;
    loud.send("think examined").await;
    // Meanwhile the bystander keeps being answered.
    for n in 0..20 {
        let token = format!("still-here-{n}");
        bystander.send(&format!("think {token}")).await;
        bystander.expect(&token).await;
    }
    let shown = loud.expect("examined").await;
    let lines = shown.lines().filter(|l| l.ends_with(&value)).count();
    assert_eq!(lines, ATTRS, "every attribute shown once");
    let (_, metrics) = http_get(shard.gateway_http(), "/metrics").await;
    let moves = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mush_gateway_moves_total "))
        .expect("moves metric");
    assert_eq!(moves.trim(), "0", "a session had to move: a stream broke");
    bystander.send("think after").await;
    bystander.expect("after").await;
}

/// The doors: wrong passwords are answered at once at first, then ever more slowly (per
/// address and per player, shared by every pod), each one counted; a right password
/// still gets in and clears the player's count; an address that made its hour's players
/// is refused more, with TinyMUX's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_passwords_slows_down_and_creations_are_limited_per_address() {
    let (shard, _dir) = tokio::task::block_in_place(|| {
        start_shard_with("doors", |options| {
            set_flag(&mut options.game_args, "--login-free-failures", "2");
            set_flag(&mut options.game_args, "--creates-per-address-hour", "3");
        })
    });
    let addr = shard.telnet_addr();
    drop(Player::login(addr, "Target").await);

    let mut guesser = Player::connect(addr).await;
    let mut waits = Vec::new();
    for n in 0..4 {
        let started = Instant::now();
        guesser.send(&format!("connect Target guess{n}")).await;
        guesser.expect("has a different password.").await;
        waits.push(started.elapsed());
    }
    // The first two are free; then 1 s, then 2 s.
    assert!(waits[0] < Duration::from_millis(900), "{waits:?}");
    assert!(waits[1] < Duration::from_millis(900), "{waits:?}");
    assert!(waits[2] >= Duration::from_secs(1), "{waits:?}");
    assert!(waits[3] >= Duration::from_secs(2), "{waits:?}");
    // Another connection from the same address is held back as well, even for another
    // player; the right password still gets in.
    let mut other = Player::connect(addr).await;
    let started = Instant::now();
    other.send("connect Nobody secret").await;
    other.expect("has a different password.").await;
    assert!(started.elapsed() >= Duration::from_secs(4), "not held back");
    let mut owner = Player::connect(addr).await;
    owner.send("connect Target secret").await;
    owner.expect("Limbo").await;
    let mut failed = 0;
    for pod in shard.pod_names() {
        let http = shard.pod_http(&pod).expect("http");
        failed += metric(http, "mush_game_login_failures_total").await;
    }
    assert_eq!(failed, 5);

    // Three players were made from this address this hour (Target and two more); the
    // next is refused.
    for name in ["Second", "Third"] {
        drop(Player::login(addr, name).await);
    }
    let mut fourth = Player::connect(addr).await;
    fourth.send("create Fourth secret").await;
    fourth
        .expect("The limit of new players for this hour has been reached. Please try again later.")
        .await;
}

/// Only a login stops the connect screen's clock: a socket that keeps typing empty lines
/// or wrong passwords there is still closed when the login timeout runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_at_the_connect_screen_does_not_hold_off_its_timeout() {
    let (shard, _dir) = tokio::task::block_in_place(|| {
        start_shard("login-timeout", &["--login-timeout-secs", "2"])
    });
    let mut lingerer = Player::connect(shard.telnet_addr()).await;
    let started = Instant::now();
    while lingerer.is_open().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "typing at the connect screen kept the socket open"
        );
        lingerer.send("").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        lingerer.transcript.contains("Connect timed out. Goodbye!"),
        "{}",
        lingerer.transcript
    );
    // A player who logs in is not closed by it.
    let mut player = Player::login(shard.telnet_addr(), "Stayer").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    player.send("think still here").await;
    player.expect("still here").await;
}

/// The gateway tells `stream` its address holds too many connections, and closes it.
async fn refused_for_its_address(mut stream: TcpStream) {
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut text))
        .await
        .expect("closed in time")
        .expect("read");
    assert!(
        text.contains("Too many connections from your address"),
        "{text:?}"
    );
}

/// One address cannot hold every socket: past its limit a connection is told why and
/// closed, and closing one makes room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_limited() {
    let (shard, _dir) = tokio::task::block_in_place(|| {
        start_shard_with("per-address", |options| {
            set_flag(
                &mut options.gateway_args,
                "--max-connections-per-address",
                "3",
            );
        })
    });
    let addr = shard.telnet_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Player::connect(addr).await);
    }
    refused_for_its_address(TcpStream::connect(addr).await.expect("connect")).await;
    drop(held.pop());
    // The slot is free once the gateway has seen the close: a new connection is let in
    // within a few seconds (a fixed 200 ms pause raced a busy machine).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut probe = TcpStream::connect(addr).await.expect("connect");
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), probe.read(&mut buf))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(0);
        if !String::from_utf8_lossy(&buf[..n]).contains("Too many connections") {
            // Let in: this connection is served like any other.
            tokio::io::AsyncWriteExt::write_all(&mut probe, b"WHO\r\n")
                .await
                .expect("write");
            let mut seen = Vec::new();
            while !String::from_utf8_lossy(&seen).contains("logged in.") {
                let n = tokio::time::timeout(Duration::from_secs(10), probe.read(&mut buf))
                    .await
                    .expect("WHO answered")
                    .expect("read");
                assert!(n > 0, "closed before WHO answered");
                seen.extend_from_slice(&buf[..n]);
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed slot was never given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A PROXY protocol version 2 header for a TCP connection from `client` (IPv4), as a
/// load balancer sends it first.
fn proxy_header(client: std::net::SocketAddrV4, gateway: SocketAddr) -> Vec<u8> {
    let SocketAddr::V4(gateway) = gateway else {
        panic!("an IPv4 gateway address");
    };
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0, 12]);
    header.extend_from_slice(&client.ip().octets());
    header.extend_from_slice(&gateway.ip().octets());
    header.extend_from_slice(&client.port().to_be_bytes());
    header.extend_from_slice(&gateway.port().to_be_bytes());
    header
}

/// Behind a load balancer that speaks PROXY protocol (`--proxy-protocol true`), every
/// limit counts the address the header names, not the balancer's: connections per
/// address at the gateway and player creations per address on the game pods. A
/// connection without the header is closed unheard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_protocol_gives_the_limits_the_players_own_addresses() {
    let (shard, _dir) = tokio::task::block_in_place(|| {
        start_shard_with("proxy", |options| {
            set_flag(
                &mut options.gateway_args,
                "--max-connections-per-address",
                "2",
            );
            set_flag(&mut options.game_args, "--creates-per-address-hour", "1");
            options
                .gateway_args
                .extend(["--proxy-protocol", "true", "--max-connections", "6"].map(str::to_owned));
        })
    });
    let addr = shard.telnet_addr();
    let from = |ip: [u8; 4], port: u16| std::net::SocketAddrV4::new(ip.into(), port);
    let connect = |client: std::net::SocketAddrV4| async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        tokio::io::AsyncWriteExt::write_all(&mut stream, &proxy_header(client, addr))
            .await
            .expect("write header");
        stream
    };
    let alice = from([203, 0, 113, 7], 40001);
    let mut first = Player::greeted(connect(alice).await).await;
    first.send("create ProxiedOne secret").await;
    first.expect("Limbo").await;
    // The game pod counted the creation against 203.0.113.7: the next one from there is
    // refused, one from another address is not (both reach the gateway from 127.0.0.1).
    let mut second = Player::greeted(connect(from([203, 0, 113, 7], 40002)).await).await;
    second.send("create ProxiedTwo secret").await;
    second
        .expect("The limit of new players for this hour has been reached.")
        .await;
    let mut other = Player::greeted(connect(from([198, 51, 100, 9], 40003)).await).await;
    other.send("create ProxiedThree secret").await;
    other.expect("Limbo").await;

    // 203.0.113.7 holds its two connections; a third is refused with the reason.
    refused_for_its_address(connect(from([203, 0, 113, 7], 40004)).await).await;

    // Without a header (a client reaching past the balancer) nothing is said: closed.
    let mut bare = TcpStream::connect(addr).await.expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut bare, b"connect Wizard pw\r\nWHO\r\n")
        .await
        .expect("write");
    let mut heard = Vec::new();
    // Closed with input unread, so the close may arrive as a reset.
    match tokio::time::timeout(Duration::from_secs(5), bare.read_to_end(&mut heard))
        .await
        .expect("closed in time")
    {
        Ok(_) => {}
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
    }
    assert!(heard.is_empty(), "{:?}", String::from_utf8_lossy(&heard));
    let failures = metric(
        shard.gateway_http(),
        "mush_gateway_proxy_header_failures_total",
    )
    .await;
    assert_eq!(failures, 1);

    // Sockets that never send their header hold places in the total while they wait: with
    // three players and three silent sockets the gateway is full, and says so at once.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut told = String::new();
    let mut late = TcpStream::connect(addr).await.expect("connect");
    tokio::time::timeout(Duration::from_secs(5), late.read_to_string(&mut told))
        .await
        .expect("refused at once, not after the header timeout")
        .expect("read");
    assert!(told.contains("The game is full right now"), "{told:?}");
    drop(silent);
    // Their places come back as soon as they go.
    let mut again = None;
    for _ in 0..50 {
        let stream = connect(from([192, 0, 2, 1], 40005)).await;
        // Peeked, so that a greeting is left for `greeted` to read.
        let refusal = b"The game is full";
        let mut first = [0u8; 16];
        match tokio::time::timeout(Duration::from_secs(2), stream.peek(&mut first)).await {
            Ok(Ok(n)) if n > 0 && !refusal.starts_with(&first[..n.min(refusal.len())]) => {
                again = Some(stream);
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let mut newcomer = Player::greeted(again.expect("let in once the silent ones closed")).await;
    newcomer.send("WHO").await;
    newcomer.expect("Players logged in").await;
}

/// A bystander's `think` is answered within 2 s after attack `n`.
async fn answered_at_once(bystander: &mut Player, n: usize) {
    let started = Instant::now();
    let text = format!("still here {n}");
    bystander.send(&format!("think {text}")).await;
    bystander.expect(&text).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the bystander waited {:?} after attack {n}",
        started.elapsed()
    );
}

/// The gateway's resident memory in KiB.
fn gateway_rss_kib(shard: &mush::shard::Shard) -> u64 {
    let pid = shard.gateway_pid().expect("gateway running");
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Hostile telnet clients, each against a running shard while a bystander plays: a storm
/// of option negotiations is not reflected (a connection's first 256 are answered), an
/// endless subnegotiation and a 1 MB line are bounded (no memory kept, a clear refusal),
/// invalid UTF-8 and terminal escapes typed by one player reach another as clean text,
/// and through all of it the bystander is answered at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_telnet_clients_are_bounded_and_others_play_on() {
    const IAC: u8 = 255;
    const SB: u8 = 250;
    const SE: u8 = 240;
    let (shard, _dir) = tokio::task::block_in_place(|| start_shard("hostile", &[]));
    let addr = shard.telnet_addr();
    let mut bystander = Player::login(addr, "Bystander").await;
    let rss_before = gateway_rss_kib(&shard);

    // 1. A negotiation storm: 1 MiB of DO/DONT/WILL/WONT over every option, sent while
    // reading what comes back.
    let mut storm = TcpStream::connect(addr).await.expect("connect");
    let mut negotiations = Vec::with_capacity(1 << 20);
    'fill: for round in 0u32.. {
        for option in 0..=255u8 {
            let verb = [251u8, 252, 253, 254][(round as usize + option as usize) % 4];
            negotiations.extend_from_slice(&[IAC, verb, option]);
            if negotiations.len() >= 1 << 20 {
                break 'fill;
            }
        }
    }
    let (mut reader, mut writer) = storm.split();
    let sent = negotiations.len();
    let (written, (replied, closed)) = tokio::join!(
        tokio::io::AsyncWriteExt::write_all(&mut writer, &negotiations),
        async {
            let mut buf = vec![0u8; 65536];
            let mut total = 0;
            loop {
                match tokio::time::timeout(Duration::from_secs(2), reader.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break (total, true),
                    Ok(Ok(n)) => total += n,
                    Err(_) => break (total, false),
                }
            }
        }
    );
    println!(
        "negotiation storm: {sent} bytes sent ({written:?}), {replied} bytes back, closed {closed}"
    );
    assert!(
        replied < sent / 8,
        "{replied} bytes answered {sent} bytes of negotiation: amplified"
    );
    drop(storm);
    answered_at_once(&mut bystander, 1).await;

    // 2. A subnegotiation that never ends: 1 MiB inside IAC SB TTYPE without IAC SE, then
    // the end and a command: the connection still answers, and nothing was kept.
    let mut endless = TcpStream::connect(addr).await.expect("connect");
    let mut sub = vec![IAC, SB, 24];
    sub.extend(std::iter::repeat_n(b'x', 1 << 20));
    sub.extend_from_slice(&[IAC, SE]);
    sub.extend_from_slice(b"WHO\r\n");
    let (mut reader, mut writer) = endless.split();
    let (_, seen) = tokio::join!(
        tokio::io::AsyncWriteExt::write_all(&mut writer, &sub),
        async {
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 65536];
            while !String::from_utf8_lossy(&seen).contains("logged in.") {
                match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            seen
        }
    );
    assert!(
        String::from_utf8_lossy(&seen).contains("logged in."),
        "WHO after an endless subnegotiation went unanswered"
    );
    drop(endless);
    answered_at_once(&mut bystander, 2).await;

    // 3. A 1 MiB line in one write: refused with the limit, the connection usable after.
    let mut long = Player::login(addr, "Longline").await;
    let mut line = vec![b'y'; 1 << 20];
    line.extend_from_slice(b"\r\nthink after the long line\r\n");
    long.send_raw(&line).await;
    long.expect("That line is too long").await;
    long.expect("after the long line").await;
    answered_at_once(&mut bystander, 3).await;

    // 4. Invalid UTF-8 and terminal escapes in a `say` arrive as clean text.
    long.send_raw(b"say bad \xc3\x28 bytes \x1b[2J\x07 end\r\n")
        .await;
    let heard = bystander.expect(" end\"").await;
    assert!(heard.contains("Longline says, \"bad "), "{heard:?}");
    assert!(
        !heard.contains('\u{1b}') && !heard.contains('\u{7}'),
        "control characters reached another player: {heard:?}"
    );
    answered_at_once(&mut bystander, 4).await;

    // The gateway kept none of it: a few MiB of attack, well under 8 MiB more held.
    let grown = gateway_rss_kib(&shard).saturating_sub(rss_before);
    println!("gateway grew by {grown} KiB");
    assert!(grown < 8 * 1024, "the gateway grew by {grown} KiB");
}
