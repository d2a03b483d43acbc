//! Redirects.

use crate::support::{exact, lines, run, Record, Seen, Server};

/// curl's -L/--location is accepted and changes nothing: redirects are
/// followed with or without it.
#[test]
fn location_flag_is_accepted_and_redirects_are_followed_anyway() {
    let server = Server::start();
    let url = server.url("/redirect/2");
    for flag in ["-L", "--location"] {
        let run = run(&[flag], format!("{url}\n"));
        assert_eq!(run.code(), 0, "{flag}: {}", run.stderr);
        assert_eq!(
            run.records[0].final_url.as_deref(),
            Some(server.url("/redirect/0").as_str()),
            "{flag}"
        );
    }
    assert_eq!(server.hits(), 6);
}

#[test]
fn relative_redirect_chain_is_followed_to_the_final_url() {
    let server = Server::start();
    let url = server.url("/redirect/3");
    let run = run(&[], format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [Record::success(&url, 200, 4)
            .with_final_url(&server.url("/redirect/0"))
            .with_redirects(3)]
    );
    let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(
        targets,
        ["/redirect/3", "/redirect/2", "/redirect/1", "/redirect/0"]
    );
}

#[test]
fn redirect_limit_is_inclusive() {
    let server = Server::start();
    let (two, three) = (server.url("/redirect/2"), server.url("/redirect/3"));
    let run = run(&["--max-redirects", "2"], format!("{two}\n{three}\n"));
    assert_eq!(run.code(), 1);
    assert_eq!(
        exact(&run.sorted()),
        [
            Record::success(&two, 200, 4)
                .with_final_url(&server.url("/redirect/0"))
                .with_redirects(2),
            Record::failure(&three, "too_many_redirects")
                .with_error("too many redirects (limit 2)"),
        ]
    );
    run.checked_summary();
}

#[test]
fn redirect_loop_is_too_many_redirects() {
    let server = Server::start();
    let url = server.url("/loop");
    let run = run(&[], format!("{url}\n"));
    assert_eq!(run.code(), 1);
    assert_eq!(
        exact(&run.records),
        [Record::failure(&url, "too_many_redirects").with_error("too many redirects (limit 10)")]
    );
    // The first request and the 10 redirects followed, then it stops.
    assert_eq!(server.hits(), 11);
}

#[test]
fn max_redirects_zero_returns_the_3xx() {
    let server = Server::start();
    let url = server.url("/redirect/3");
    let run = run(&["--max-redirects", "0"], format!("{url}\n"));
    assert_eq!(run.code(), 0);
    // "moved" is the redirect's own body; no final_url, nothing followed;
    // `location` says where it points, resolved against the URL.
    assert_eq!(
        exact(&run.records),
        [Record::success(&url, 302, 5).with_location(&server.url("/redirect/2"))]
    );
    assert_eq!(server.hits(), 1);
}

const CREDENTIALS: [&str; 8] = [
    "-H",
    "Authorization: Bearer secret",
    "-H",
    "Cookie: session=1",
    "-H",
    "Proxy-Authorization: Basic eA==",
    "-H",
    "X-Other: kept",
];

/// curl's rule (CVE-2018-1000007): credentials stay with the origin they were
/// given for. A different port is a different origin.
#[test]
fn credentials_are_not_sent_to_another_origin() {
    let (a, b) = (Server::start(), Server::start());
    let target = b.url("/landing");
    let url = a.url(&format!("/to?{target}"));
    let run = run(&CREDENTIALS, format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        run.records[0].exact(),
        Record::success(&url, 200, 2)
            .with_final_url(&target)
            .with_redirects(1)
    );
    let (first, second) = (a.seen(), b.seen());
    assert_eq!((first.len(), second.len()), (1, 1));
    let h = &first[0].headers;
    assert_eq!(h["authorization"], "Bearer secret");
    assert_eq!(h["cookie"], "session=1");
    assert_eq!(h["proxy-authorization"], "Basic eA==");
    let h = &second[0].headers;
    assert!(h.get("authorization").is_none(), "{h:?}");
    assert!(h.get("cookie").is_none(), "{h:?}");
    assert!(h.get("proxy-authorization").is_none(), "{h:?}");
    assert_eq!(h["x-other"], "kept");
}

#[test]
fn credentials_are_kept_on_a_same_origin_redirect() {
    let a = Server::start();
    let target = a.url("/landing");
    let url = a.url(&format!("/to?{target}"));
    let run = run(&CREDENTIALS, format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records[0].final_url.as_deref(), Some(target.as_str()));
    let seen = a.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.headers["authorization"], "Bearer secret", "{}", s.target);
        assert_eq!(s.headers["cookie"], "session=1", "{}", s.target);
        assert_eq!(
            s.headers["proxy-authorization"], "Basic eA==",
            "{}",
            s.target
        );
        assert_eq!(s.headers["x-other"], "kept", "{}", s.target);
    }
}

/// `-u USER:PASSWORD` (Basic, RFC 7617) goes to the input URL's origin,
/// redirect hops back to it included, never to another origin; a URL's own
/// credentials and an `Authorization` field win; the secret is never printed.
#[test]
fn user_credentials_stay_with_the_input_origin() {
    const ALICE: &str = "Basic YWxpY2U6czNjcjpldA=="; // alice:s3cr:et
    let (a, b) = (Server::start(), Server::start());
    let back = a.url("/back");
    let to_b = b.url(&format!("/to?{back}"));
    let via_b = a.url(&format!("/to?{to_b}"));
    let same = a.url(&format!("/to?{}", a.url("/landing")));
    let run = run(&["-u", "alice:s3cr:et", "-c", "1"], lines(&[&via_b, &same]));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert!(!run.stdout.contains("s3cr") && !run.stderr.contains("s3cr"));
    let auth = |seen: &[Seen]| -> Vec<(String, Option<String>)> {
        seen.iter()
            .map(|s| {
                let value = s.headers.get("authorization");
                (
                    s.target.clone(),
                    value.map(|v| v.to_str().unwrap().to_owned()),
                )
            })
            .collect()
    };
    // A's hops all carry it (the first URL's hop back from B too); B's none.
    let on_a = auth(&a.seen());
    assert_eq!(on_a.len(), 4, "{on_a:?}");
    assert!(
        on_a.iter().all(|(_, v)| v.as_deref() == Some(ALICE)),
        "{on_a:?}"
    );
    assert_eq!(auth(&b.seen()), [(b.seen()[0].target.clone(), None)]);

    // A URL's own user:password@ wins, and so does -H Authorization.
    let c = Server::start();
    let own = c.url("/own").replace("http://", "http://bob:pw@");
    let run = crate::support::run(&["-u", "alice:s3cr:et"], format!("{own}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(c.seen()[0].headers["authorization"], "Basic Ym9iOnB3");
    let d = Server::start();
    let run = crate::support::run(
        &["-u", "alice:s3cr:et", "-H", "Authorization: Bearer t"],
        lines(&[d.url("/")]),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(d.seen()[0].headers["authorization"], "Bearer t");
}
