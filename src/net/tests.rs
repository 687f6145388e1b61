//! The link layer over real HTTP on ephemeral ports: a tiny target server
//! records what it receives; tests wait for conditions with bounds, never
//! for a fixed time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use reqwest::StatusCode;
use tokio::task::JoinHandle;

use super::*;

/// A node stand-in: records every body posted to `/replicate`, answers 200
/// `{"node":name,"acked":n}`.
struct Target {
    url: String,
    received: Arc<Mutex<Vec<String>>>,
    server: JoinHandle<()>,
}

impl Target {
    async fn start(name: &'static str) -> Target {
        let received: Arc<Mutex<Vec<String>>> = Arc::default();
        let app = Router::new()
            .route(
                "/replicate",
                post(
                    |State((name, received)): State<(&'static str, Arc<Mutex<Vec<String>>>)>,
                     body: String| async move {
                        let mut received = received.lock().unwrap();
                        received.push(body);
                        axum::Json(serde_json::json!({ "node": name, "acked": received.len() }))
                    },
                ),
            )
            .with_state((name, received.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Target {
            url,
            received,
            server,
        }
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Link layer a->b (to `b`) and, if given, b->a (to `a`).
async fn layer(b: &Target, a: Option<&Target>, seed: u64) -> LinkLayer {
    let mut routes = vec![Route::new("a", "b", &b.url)];
    if let Some(a) = a {
        routes.push(Route::new("b", "a", &a.url));
    }
    LinkLayer::start(routes, seed).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// POST `body` through link (from, to); the status and body the sender sees.
async fn send(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    body: &str,
) -> (StatusCode, String) {
    let reply = client
        .post(format!("http://{addr}/replicate"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (reply.status(), reply.text().await.unwrap())
}

/// Wait (at most 10 s) until `cond` holds.
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn counters(layer: &LinkLayer, from: &str, to: &str) -> LinkCounters {
    layer
        .counters()
        .into_iter()
        .find(|c| c.from == from && c.to == to)
        .unwrap()
}

#[tokio::test]
async fn pass_delivers_relays_the_reply_and_counts() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    let addr = links.addr("a", "b").unwrap();
    let big = "x".repeat(1 << 20);
    for body in ["one", "two", &big] {
        let (status, reply) = send(&client(), addr, body).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            reply.starts_with(r#"{"acked":"#) && reply.contains(r#""node":"b""#),
            "{reply}"
        );
    }
    assert_eq!(
        b.received(),
        vec!["one".to_string(), "two".to_string(), big]
    );
    let c = counters(&links, "a", "b");
    assert_eq!(
        (c.received, c.passed, c.dropped, c.lost, c.duplicated),
        (3, 3, 0, 0, 0)
    );
    links.shutdown().await;
}

#[tokio::test]
async fn drop_refuses_and_the_target_sees_nothing() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    links.set("a", "b", LinkBehaviour::partitioned());
    let (status, reply) = send(&client(), links.addr("a", "b").unwrap(), "m").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply, r#"{"error":"link a->b: partitioned"}"#);
    assert_eq!(b.count(), 0);
    assert_eq!(
        (
            counters(&links, "a", "b").dropped,
            counters(&links, "a", "b").passed
        ),
        (1, 0)
    );
    links.shutdown().await;
}

#[tokio::test]
async fn partition_one_way_cuts_only_that_direction() {
    let (a, b) = (Target::start("a").await, Target::start("b").await);
    let links = layer(&b, Some(&a), 1).await;
    links.update_all(|from, to, behaviour| behaviour.drop = (from, to) == ("a", "b"));
    let c = client();
    assert_eq!(
        send(&c, links.addr("a", "b").unwrap(), "to b").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        send(&c, links.addr("b", "a").unwrap(), "to a").await.0,
        StatusCode::OK
    );
    assert_eq!((a.received(), b.count()), (vec!["to a".to_string()], 0));
    links.shutdown().await;
}

#[tokio::test]
async fn blackhole_never_answers_and_forwards_nothing() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    links.set(
        "a",
        "b",
        LinkBehaviour {
            drop: true,
            drop_mode: DropMode::Blackhole,
            ..Default::default()
        },
    );
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let result = impatient
        .post(format!(
            "http://{}/replicate",
            links.addr("a", "b").unwrap()
        ))
        .body("m")
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert_eq!((b.count(), counters(&links, "a", "b").dropped), (0, 1));
    // After the heal the link passes again; the blackholed message stays lost.
    links.heal_all();
    assert_eq!(
        send(&client(), links.addr("a", "b").unwrap(), "after")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(b.received(), vec!["after".to_string()]);
    links.shutdown().await;
}

#[tokio::test]
async fn hold_keeps_messages_until_released() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    links.set(
        "a",
        "b",
        LinkBehaviour {
            hold: true,
            ..Default::default()
        },
    );
    let addr = links.addr("a", "b").unwrap();
    let senders: Vec<_> = (0..5)
        .map(|i| {
            let c = client();
            tokio::spawn(async move { send(&c, addr, &format!("m{i}")).await.0 })
        })
        .collect();
    wait_until("5 messages are held", || {
        counters(&links, "a", "b").held == 5
    })
    .await;
    assert_eq!(b.count(), 0);
    assert!(
        senders.iter().all(|s| !s.is_finished()),
        "held messages are not answered"
    );

    links.release_held("a", "b");
    for sender in senders {
        assert_eq!(sender.await.unwrap(), StatusCode::OK);
    }
    let mut received = b.received();
    received.sort();
    assert_eq!(received, ["m0", "m1", "m2", "m3", "m4"]);

    // Still holding: a new message waits again, and clearing hold releases it.
    let c = client();
    let late = tokio::spawn(async move { send(&c, addr, "late").await.0 });
    wait_until("the late message is held", || {
        counters(&links, "a", "b").held == 6
    })
    .await;
    assert_eq!(b.count(), 5);
    links.set("a", "b", LinkBehaviour::pass());
    assert_eq!(late.await.unwrap(), StatusCode::OK);
    assert_eq!(b.count(), 6);
    links.shutdown().await;
}

#[tokio::test]
async fn heal_all_restores_the_base_behaviour() {
    let (a, b) = (Target::start("a").await, Target::start("b").await);
    let links = layer(&b, Some(&a), 1).await;
    let base = LinkBehaviour {
        latency: Latency::Constant { ms: 20 },
        ..Default::default()
    };
    links.set_base("a", "b", base.clone());
    assert_eq!(links.behaviour("a", "b"), Some(base.clone()));
    links.update_all(|_, _, behaviour| {
        behaviour.drop = true;
        behaviour.loss = 0.5;
    });
    assert_eq!(
        links.behaviour("a", "b").unwrap().latency,
        Latency::Constant { ms: 20 },
        "faults compose"
    );
    assert_eq!(
        send(&client(), links.addr("a", "b").unwrap(), "cut")
            .await
            .0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    links.heal_all();
    assert_eq!(links.behaviour("a", "b"), Some(base));
    assert_eq!(links.behaviour("b", "a"), Some(LinkBehaviour::pass()));
    assert_eq!(
        send(&client(), links.addr("a", "b").unwrap(), "healed")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&client(), links.addr("b", "a").unwrap(), "healed")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!((b.received(), a.count()), (vec!["healed".to_string()], 1));
    assert!(counters(&links, "a", "b").delay_ms_p50 >= 20);
    links.shutdown().await;
}

#[tokio::test]
async fn duplicate_delivers_every_message_twice() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    links.set(
        "a",
        "b",
        LinkBehaviour {
            duplicate: 1.0,
            ..Default::default()
        },
    );
    let addr = links.addr("a", "b").unwrap();
    for i in 0..3 {
        let (status, reply) = send(&client(), addr, &format!("m{i}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(reply.contains(r#""node":"b""#));
    }
    wait_until("6 copies arrive", || b.count() == 6).await;
    let mut received = b.received();
    received.sort();
    assert_eq!(received, ["m0", "m0", "m1", "m1", "m2", "m2"]);
    let c = counters(&links, "a", "b");
    assert_eq!((c.passed, c.duplicated), (3, 3));
    links.shutdown().await;
}

#[tokio::test]
async fn loss_delivers_nothing_and_fails_the_sender() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    links.set(
        "a",
        "b",
        LinkBehaviour {
            loss: 1.0,
            ..Default::default()
        },
    );
    for _ in 0..5 {
        let (status, reply) = send(&client(), links.addr("a", "b").unwrap(), "m").await;
        assert_eq!(
            (status, reply.as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"link a->b: message lost"}"#
            )
        );
    }
    assert_eq!(b.count(), 0);
    assert_eq!(
        (
            counters(&links, "a", "b").lost,
            counters(&links, "a", "b").passed
        ),
        (5, 0)
    );
    links.shutdown().await;
}

#[tokio::test]
async fn reply_loss_delivers_but_the_sender_sees_a_failure() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    links.set(
        "a",
        "b",
        LinkBehaviour {
            reply_loss: 1.0,
            ..Default::default()
        },
    );
    let (status, reply) = send(&client(), links.addr("a", "b").unwrap(), "m").await;
    assert_eq!(
        (status, reply.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"link a->b: reply lost"}"#
        )
    );
    assert_eq!(
        b.received(),
        ["m"],
        "the receiver got it: a resend will be a duplicate"
    );
    let c = counters(&links, "a", "b");
    assert_eq!((c.passed, c.lost_replies, c.lost), (1, 1, 0));
    links.shutdown().await;
}

/// Messages enter the link strictly in order (each sent once the previous one
/// has arrived at the link); with reordering, the target sees some out of order.
#[tokio::test]
async fn reorder_lets_later_messages_overtake_earlier_ones() {
    for trial in 0..3u64 {
        let b = Target::start("b").await;
        let links = layer(&b, None, trial).await;
        links.set(
            "a",
            "b",
            LinkBehaviour {
                reorder: true,
                reorder_ms: 50,
                ..Default::default()
            },
        );
        let addr = links.addr("a", "b").unwrap();
        let mut senders = Vec::new();
        for i in 0..20u64 {
            let c = client();
            senders.push(tokio::spawn(async move {
                send(&c, addr, &i.to_string()).await.0
            }));
            wait_until("the message reaches the link", || {
                counters(&links, "a", "b").received == i + 1
            })
            .await;
        }
        for sender in senders {
            assert_eq!(sender.await.unwrap(), StatusCode::OK);
        }
        let order: Vec<u64> = b.received().iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(order.len(), 20);
        links.shutdown().await;
        if order.windows(2).any(|w| w[0] > w[1]) {
            return;
        }
        eprintln!("trial {trial}: no message overtook another: {order:?}");
    }
    panic!("no reordering in 3 trials");
}

#[tokio::test]
async fn constant_latency_shows_in_the_percentiles() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    links.set(
        "a",
        "b",
        LinkBehaviour {
            latency: Latency::Constant { ms: 50 },
            ..Default::default()
        },
    );
    for _ in 0..4 {
        let start = Instant::now();
        assert_eq!(
            send(&client(), links.addr("a", "b").unwrap(), "m").await.0,
            StatusCode::OK
        );
        assert!(start.elapsed() >= Duration::from_millis(50));
    }
    let c = counters(&links, "a", "b");
    assert!(
        c.delay_ms_p50 >= 50 && c.delay_ms_p99 >= 50 && c.delay_ms_max >= c.delay_ms_p99,
        "{c:?}"
    );
    links.shutdown().await;
}

#[tokio::test]
async fn counters_serialize_to_json_with_every_field() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    send(&client(), links.addr("a", "b").unwrap(), "m").await;
    let json = serde_json::to_value(links.counters()).unwrap();
    let link = &json.as_array().unwrap()[0];
    for field in [
        "from",
        "to",
        "passed",
        "dropped",
        "lost",
        "held",
        "duplicated",
        "delay_ms_p50",
        "delay_ms_p99",
        "delay_ms_max",
    ] {
        assert!(link.get(field).is_some(), "missing {field} in {link}");
    }
    assert_eq!(
        (
            link["from"].as_str(),
            link["to"].as_str(),
            link["passed"].as_u64()
        ),
        (Some("a"), Some("b"), Some(1))
    );
    links.shutdown().await;
}

#[tokio::test]
async fn the_same_seed_makes_the_same_choices() {
    async fn fates(seed: u64) -> Vec<StatusCode> {
        let b = Target::start("b").await;
        let links = layer(&b, None, seed).await;
        links.set(
            "a",
            "b",
            LinkBehaviour {
                loss: 0.5,
                ..Default::default()
            },
        );
        let mut statuses = Vec::new();
        for _ in 0..32 {
            statuses.push(send(&client(), links.addr("a", "b").unwrap(), "m").await.0);
        }
        links.shutdown().await;
        statuses
    }
    let first = fates(42).await;
    assert!(first.contains(&StatusCode::OK) && first.contains(&StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(first, fates(42).await);
    assert_ne!(first, fates(43).await);
}

#[tokio::test]
async fn a_dead_target_is_a_bad_gateway_not_a_link_fault() {
    let b = Target::start("b").await;
    let dead_url = b.url.clone();
    drop(b);
    let links = LinkLayer::start(vec![Route::new("a", "b", dead_url)], 1)
        .await
        .unwrap();
    // The aborted target may take a moment to stop listening.
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        status = send(&client(), links.addr("a", "b").unwrap(), "m").await.0;
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let c = counters(&links, "a", "b");
    assert!(
        c.forward_errors >= 1 && c.dropped == 0 && c.lost == 0,
        "{c:?}"
    );
    links.shutdown().await;
}

#[tokio::test]
async fn shutdown_fails_held_messages_and_closes_the_listeners() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    links.set(
        "a",
        "b",
        LinkBehaviour {
            hold: true,
            ..Default::default()
        },
    );
    let addr = links.addr("a", "b").unwrap();
    let c = client();
    let held = tokio::spawn(async move {
        c.post(format!("http://{addr}/replicate"))
            .body("m")
            .send()
            .await
            .map(|r| r.status())
    });
    wait_until("the message is held", || {
        counters(&links, "a", "b").held == 1
    })
    .await;
    tokio::time::timeout(Duration::from_secs(5), links.shutdown())
        .await
        .expect("shutdown is prompt");
    let answer = held.await.unwrap();
    assert!(
        answer
            .as_ref()
            .map_or(true, |s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "{answer:?}"
    );
    assert_eq!(b.count(), 0);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn duplicate_routes_are_refused() {
    let routes = vec![
        Route::new("a", "b", "http://127.0.0.1:1"),
        Route::new("a", "b", "http://127.0.0.1:2"),
    ];
    assert!(LinkLayer::start(routes, 1).await.is_err());
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let b = Target::start("b").await;
    let links = layer(&b, None, 1).await;
    let too_big = "x".repeat(MAX_BODY_BYTES + 1);
    assert_eq!(
        send(&client(), links.addr("a", "b").unwrap(), &too_big)
            .await
            .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!((b.count(), counters(&links, "a", "b").received), (0, 0));
    links.shutdown().await;
}
