//! NATS as `nats/nats-server.conf` sets it up: anonymous clients are refused, every service
//! signs in as its own user and may do what it needs (provision the streams, publish its own
//! subjects) and nothing that belongs to another (ingest cannot write users and roles).

use std::time::Duration;

use async_nats::jetstream;
use devstack::nats::NatsUser;
use devstack::test::TestNats;
use plumbing::streams::{Definitions, Service, provision};

async fn connect(url: &str) -> Result<jetstream::Context, async_nats::ConnectError> {
    let (options, address) = plumbing::streams::connect_options(url);
    let client = options
        .connection_timeout(Duration::from_secs(10))
        .connect(address)
        .await?;
    let mut js = jetstream::new(client);
    // A refused request gets no answer: wait for it a short while.
    js.set_timeout(Duration::from_secs(3));
    Ok(js)
}

async fn messages(js: &jetstream::Context, stream: &str) -> u64 {
    let mut stream = js.get_stream(stream).await.expect("stream");
    stream.info().await.expect("info").state.messages
}

#[tokio::test]
async fn an_anonymous_client_cannot_connect() {
    let nats = TestNats::start().expect("nats starts");
    let refused = connect(&nats.server.anonymous_url()).await;
    let Err(err) = refused else {
        panic!("an anonymous client is refused");
    };
    assert_eq!(
        err.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation,
        "{err}"
    );
    let wrong = nats.url_for(NatsUser::Ingest).replace("@", "x@");
    assert!(
        connect(&wrong).await.is_err(),
        "a wrong password is refused"
    );
}

#[tokio::test]
async fn every_service_provisions_with_its_own_user() {
    let nats = TestNats::start().expect("nats starts");
    // In the order a fresh stack may start them, and again (an update of what exists).
    for _ in 0..2 {
        for (user, service) in [
            (NatsUser::Query, Service::Query),
            (NatsUser::Ingest, Service::Ingest),
            (NatsUser::Sink, Service::Sink),
            (NatsUser::Auth, Service::Auth),
        ] {
            let js = connect(&nats.url_for(user)).await.expect("connects");
            let definitions = Definitions::for_service(service, 1).expect("definitions");
            provision(&js, &definitions)
                .await
                .unwrap_or_else(|err| panic!("{} provisions: {err:#}", user.name()));
        }
    }
    let operator = connect(&nats.url()).await.expect("operator");
    for stream in ["AUTH", "EVENTS", "EVENTS_HISTORY", "EVENTS_DLQ", "PERSONS"] {
        assert!(operator.get_stream(stream).await.is_ok(), "{stream} exists");
    }
}

#[tokio::test]
async fn ingest_publishes_events_but_cannot_write_users_or_remove_history() {
    let nats = TestNats::start().expect("nats starts");
    let operator = connect(&nats.url()).await.expect("operator");
    provision(&operator, &Definitions::bundled().expect("definitions"))
        .await
        .expect("provisioned");
    let ingest = connect(&nats.url_for(NatsUser::Ingest))
        .await
        .expect("ingest connects");

    ingest
        .publish("events.p1.track", "{}".into())
        .await
        .expect("publishes")
        .await
        .expect("EVENTS stores ingest's event");
    assert_eq!(messages(&operator, "EVENTS").await, 1);

    // A role change forged by a client holding ingest's credentials: no PubAck, nothing stored.
    let forged = r#"{"type":"user_role_changed","user_id":"x","role":"admin"}"#;
    let published = match ingest.publish("auth.user.x", forged.into()).await {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!published, "ingest may not publish on auth.>");
    assert_eq!(messages(&operator, "AUTH").await, 0, "AUTH holds nothing");

    // Nor may it purge or delete the streams.
    let events = ingest
        .get_stream("EVENTS")
        .await
        .expect("stream info is allowed");
    assert!(events.purge().await.is_err(), "ingest may not purge EVENTS");
    assert!(
        ingest.delete_stream("EVENTS_HISTORY").await.is_err(),
        "ingest may not delete the history"
    );
    assert_eq!(messages(&operator, "EVENTS").await, 1);

    // Nor empty AUTH by shrinking it, nor drop the sink's consumer (which would take the
    // unstored backlog with it), nor read AUTH message by message (password hashes).
    let mut auth_config = operator
        .get_stream("AUTH")
        .await
        .expect("AUTH")
        .info()
        .await
        .expect("info")
        .config
        .clone();
    auth_config.max_messages = 1;
    assert!(
        ingest.update_stream(auth_config).await.is_err(),
        "ingest may not update AUTH"
    );
    let events = ingest.get_stream("EVENTS").await.expect("stream info");
    assert!(
        events.delete_consumer("sink-clickhouse").await.is_err(),
        "ingest may not delete the sink's consumer"
    );
    operator
        .publish("auth.user.a", r#"{"password_hash":"…"}"#.into())
        .await
        .expect("publishes")
        .await
        .expect("stored");
    let as_operator = operator.get_stream("AUTH").await.expect("AUTH");
    assert!(
        as_operator
            .direct_get_first_for_subject("auth.user.a")
            .await
            .is_ok(),
        "the message can be read, by the operator"
    );
    let auth_stream = ingest.get_stream("AUTH").await.expect("stream info");
    assert!(
        auth_stream
            .direct_get_first_for_subject("auth.user.a")
            .await
            .is_err(),
        "ingest may not read AUTH message by message"
    );
    assert!(
        operator
            .get_stream("EVENTS")
            .await
            .expect("EVENTS")
            .consumer_info("sink-clickhouse")
            .await
            .is_ok(),
        "the sink's consumer is still there"
    );

    // No stream at all, but its uploads' bucket: the purge deny names each stream, so one
    // added to the definitions without its deny is caught here.
    let mut names = operator.stream_names();
    let mut streams = Vec::new();
    while let Some(name) = futures_util::StreamExt::next(&mut names).await {
        streams.push(name.expect("a stream name"));
    }
    assert!(streams.len() >= 5, "{streams:?}");
    let purges = streams.iter().map(|name| async {
        let purged = match ingest.get_stream(name.as_str()).await {
            Ok(stream) => stream.purge().await.is_ok(),
            Err(_) => false,
        };
        (name.clone(), purged)
    });
    for (name, purged) in futures_util::future::join_all(purges).await {
        assert!(!purged, "ingest purged {name}");
    }

    // The operator may: the `nats` CLI's user.
    let events = operator.get_stream("EVENTS").await.expect("stream");
    events.purge().await.expect("the operator purges");
    assert_eq!(messages(&operator, "EVENTS").await, 0);
}

#[tokio::test]
async fn only_auth_writes_users_and_query_only_reads() {
    let nats = TestNats::start().expect("nats starts");
    let operator = connect(&nats.url()).await.expect("operator");
    provision(&operator, &Definitions::bundled().expect("definitions"))
        .await
        .expect("provisioned");
    let auth = connect(&nats.url_for(NatsUser::Auth)).await.expect("auth");
    auth.publish("auth.user.x", "{}".into())
        .await
        .expect("publishes")
        .await
        .expect("AUTH stores auth's message");
    assert_eq!(messages(&operator, "AUTH").await, 1);

    for user in [NatsUser::Query, NatsUser::Sink] {
        let js = connect(&nats.url_for(user)).await.expect("connects");
        let published = match js.publish("auth.user.y", "{}".into()).await {
            Ok(ack) => ack.await.is_ok(),
            Err(_) => false,
        };
        assert!(!published, "{} may not publish on auth.>", user.name());
    }
    let query = connect(&nats.url_for(NatsUser::Query))
        .await
        .expect("query");
    let published = match query.publish("events.p1.track", "{}".into()).await {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!published, "query may not publish events");
    assert_eq!(messages(&operator, "AUTH").await, 1);
    assert_eq!(messages(&operator, "EVENTS").await, 0);
}

#[tokio::test]
async fn links_come_from_ingest_erasures_from_query_and_only_the_sink_deletes_them() {
    let nats = TestNats::start().expect("nats starts");
    let operator = connect(&nats.url()).await.expect("operator");
    provision(&operator, &Definitions::bundled().expect("definitions"))
        .await
        .expect("provisioned");
    let published = |js: jetstream::Context, subject: &'static str| async move {
        match js.publish(subject, "{}".into()).await {
            Ok(ack) => ack.await.is_ok(),
            Err(_) => false,
        }
    };
    let ingest = connect(&nats.url_for(NatsUser::Ingest))
        .await
        .expect("ingest");
    assert!(published(ingest.clone(), "persons.p1.link").await);
    assert!(
        !published(ingest, "persons.p1.erase").await,
        "ingest publishes links, not erasures"
    );
    for user in [NatsUser::Auth, NatsUser::Query, NatsUser::Sink] {
        let js = connect(&nats.url_for(user)).await.expect("connects");
        assert!(
            !published(js, "persons.p1.link").await,
            "{} may not publish links",
            user.name()
        );
    }
    assert_eq!(messages(&operator, "PERSONS").await, 1);

    for user in [NatsUser::Auth, NatsUser::Query, NatsUser::Ingest] {
        let js = connect(&nats.url_for(user)).await.expect("connects");
        let stream = js.get_stream("PERSONS").await.expect("stream info");
        assert!(
            stream.delete_consumer("sink-persons").await.is_err(),
            "{} may not delete the projection's consumer",
            user.name()
        );
        assert!(
            stream.delete_message(1).await.is_err(),
            "{} may not delete a link",
            user.name()
        );
    }
    let sink = connect(&nats.url_for(NatsUser::Sink)).await.expect("sink");
    let stream = sink.get_stream("PERSONS").await.expect("stream info");
    stream
        .delete_consumer("sink-persons")
        .await
        .expect("the sink deletes its consumer, to rebuild the mapping");
    assert_eq!(messages(&operator, "PERSONS").await, 1);

    // Erasures: only query publishes them (an admin's request); only the sink, which runs
    // them, deletes the erased person's messages.
    let query = connect(&nats.url_for(NatsUser::Query))
        .await
        .expect("query");
    assert!(published(query, "persons.p1.erase").await);
    for user in [NatsUser::Auth, NatsUser::Sink] {
        let js = connect(&nats.url_for(user)).await.expect("connects");
        assert!(
            !published(js, "persons.p1.erase").await,
            "{} may not publish erasures",
            user.name()
        );
    }
    assert_eq!(messages(&operator, "PERSONS").await, 2);
    stream
        .delete_message(1)
        .await
        .expect("the sink deletes an erased person's link");
    assert_eq!(messages(&operator, "PERSONS").await, 1);
}
