//! The harness itself, against the real binaries.

use std::time::Duration;

use mush_harness::{NatsServer, RedisCluster};

#[test]
fn cluster_has_three_masters_with_replicas_and_cleans_up() {
    let cluster = RedisCluster::start().expect("cluster");
    assert_eq!(cluster.urls().len(), 6);
    assert_eq!(cluster.master_ports().expect("masters").len(), 3);
    let ports = cluster.ports();
    drop(cluster);
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "node on {port} still listening after drop"
        );
    }
}

#[test]
fn killed_master_is_replaced_by_its_replica() {
    let mut cluster = RedisCluster::start().expect("cluster");
    let killed = cluster.kill_a_master().expect("kill");
    cluster
        .wait_healthy(Duration::from_secs(30))
        .expect("failover");
    let masters = cluster.master_ports().expect("masters");
    assert_eq!(masters.len(), 3, "a replica was promoted: {masters:?}");
    assert!(!masters.contains(&killed));
}

#[test]
fn nats_stops_and_starts_on_the_same_port() {
    let mut nats = NatsServer::start().expect("nats");
    let port = nats.port();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    nats.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    nats.start_again().expect("restart");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}
