//! Property tests: random command sequences (well-formed commands with
//! random names and values, and random token soup) never panic; a failing
//! invocation changes nothing; read-only invocations change nothing; and
//! after every successful one the database keeps its invariants.

use std::collections::BTreeSet;

use proptest::prelude::*;
use rswitch_cli::vsctl::{db_diff, execute, Db, InterfaceType, OFPP_LOCAL};

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(items).prop_map(String::from)
}

const NAMES: &[&str] = &["br0", "br1", "p1", "p2", "tap1", "x"];
const VALUES: &[&str] = &[
    "5", "4096", "-1", "[]", "1,2", "abc", "100", "{a=b}", "\"q\"", "1-3", "0", "65279", "",
];
const TYPES: &[&str] = &[
    "internal", "patch", "vxlan", "gre", "geneve", "\"\"", "system", "tap",
];

/// One well-formed-looking command with random names and values.
fn command() -> impl Strategy<Value = Vec<String>> {
    let n = || pick(NAMES);
    let v = || pick(VALUES);
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    prop_oneof![
        n().prop_map(move |b| words(&format!("add-br {b}"))),
        n().prop_map(move |b| words(&format!("--may-exist add-br {b}"))),
        (n(), n()).prop_map(move |(b, p)| words(&format!("add-br {b} {p} 5"))),
        n().prop_map(move |b| words(&format!("del-br {b}"))),
        n().prop_map(move |b| words(&format!("--if-exists del-br {b}"))),
        (n(), n()).prop_map(move |(b, p)| words(&format!("add-port {b} {p}"))),
        (n(), n(), v()).prop_map(move |(b, p, t)| vec![
            "add-port".into(),
            b,
            p,
            format!("tag={t}")
        ]),
        (n(), n()).prop_map(move |(b, p)| words(&format!("--may-exist add-port {b} {p}"))),
        n().prop_map(move |p| words(&format!("del-port {p}"))),
        (n(), n()).prop_map(move |(b, p)| words(&format!("del-port {b} {p}"))),
        n().prop_map(move |p| words(&format!("--if-exists del-port {p}"))),
        n().prop_map(move |p| words(&format!("--with-iface del-port {p}"))),
        (n(), v()).prop_map(move |(p, t)| vec!["set".into(), "Port".into(), p, format!("tag={t}")]),
        (n(), v()).prop_map(move |(p, t)| vec![
            "set".into(),
            "Port".into(),
            p,
            format!("trunks={t}")
        ]),
        (n(), pick(TYPES)).prop_map(move |(p, t)| vec![
            "set".into(),
            "Interface".into(),
            p,
            format!("type={t}")
        ]),
        (n(), v()).prop_map(move |(p, t)| vec![
            "set".into(),
            "Interface".into(),
            p,
            format!("ofport_request={t}")
        ]),
        (n(), v()).prop_map(move |(p, t)| vec![
            "set".into(),
            "Interface".into(),
            p,
            format!("external-ids:k={t}")
        ]),
        (n(), v()).prop_map(move |(p, t)| vec![
            "set".into(),
            "Interface".into(),
            p,
            format!("options={t}")
        ]),
        (n(), v()).prop_map(move |(b, t)| vec![
            "set".into(),
            "Bridge".into(),
            b,
            format!("fail_mode={t}")
        ]),
        (n(), v()).prop_map(move |(p, t)| vec!["add".into(), "Port".into(), p, "trunks".into(), t]),
        (n(), v()).prop_map(move |(p, t)| vec![
            "remove".into(),
            "Port".into(),
            p,
            "trunks".into(),
            t
        ]),
        (n(), v()).prop_map(move |(p, t)| vec![
            "add".into(),
            "Interface".into(),
            p,
            "external_ids".into(),
            t
        ]),
        n().prop_map(move |p| words(&format!("clear Port {p} tag trunks"))),
        n().prop_map(move |p| words(&format!("get Interface {p} ofport type external_ids:k"))),
        v().prop_map(move |t| vec!["find".into(), "Port".into(), format!("tag={t}")]),
        n().prop_map(move |b| words(&format!("set-fail-mode {b} secure"))),
        n().prop_map(move |b| words(&format!("br-exists {b}"))),
        n().prop_map(move |b| words(&format!("list-ports {b}"))),
        Just(words("show")),
        Just(words("list Interface")),
        Just(words("--format=json list Port")),
    ]
}

/// Arbitrary argument words, to exercise the parsers' error paths.
fn soup() -> impl Strategy<Value = Vec<String>> {
    let token = prop_oneof![
        pick(&[
            "--",
            "-",
            "--if-exists",
            "--may-exist",
            "--columns=name",
            "--columns",
            "-t",
            "--timeout=0",
            "-f",
            "table",
            "--bare",
            "--oneline",
            "--id=@x",
            "set",
            "get",
            "add",
            "remove",
            "clear",
            "list",
            "find",
            "add-br",
            "add-port",
            "del-port",
            "Port",
            "Interface",
            "Bridge",
            "o",
            ".",
            "br0",
            "p1",
            "tag=1",
            "trunks={",
            "options:peer=",
            "external_ids:\"a",
            "{a=}",
            "[1,",
            "\\",
            "\"",
            "é",
            "x=\"\\u12\"",
            "name",
            "_uuid",
            "",
            "-vfoo",
            "--no",
            "--rundir",
        ]),
        "[ -~]{0,12}",
    ];
    prop::collection::vec(token, 0..8)
}

/// An invocation: one to three commands separated by `--`, or soup.
fn invocation() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        4 => prop::collection::vec(command(), 1..4).prop_map(|cmds| {
            let mut argv = Vec::new();
            for (i, c) in cmds.into_iter().enumerate() {
                if i > 0 {
                    argv.push("--".to_string());
                }
                argv.extend(c);
            }
            argv
        }),
        1 => soup(),
    ]
}

fn check_invariants(db: &Db) {
    let mut names = BTreeSet::new();
    let mut uuids = BTreeSet::new();
    assert!(uuids.insert(db.uuid.clone()));
    assert!(
        db.bridges.windows(2).all(|w| w[0].name < w[1].name),
        "bridges sorted and unique"
    );
    for br in &db.bridges {
        assert!(uuids.insert(br.uuid.clone()));
        let local = br
            .ports
            .iter()
            .find(|p| p.name == br.name)
            .expect("LOCAL port");
        assert_eq!(local.interface.kind, InterfaceType::Internal);
        assert_eq!(local.interface.ofport, Some(OFPP_LOCAL));
        assert!(
            br.ports.windows(2).all(|w| w[0].name < w[1].name),
            "ports sorted"
        );
        let mut ofports = BTreeSet::new();
        for p in &br.ports {
            assert_eq!(
                p.name, p.interface.name,
                "one interface named like its port"
            );
            assert!(names.insert(p.name.clone()), "port name {} unique", p.name);
            assert!(uuids.insert(p.uuid.clone()) && uuids.insert(p.interface.uuid.clone()));
            let n = p.interface.ofport.expect("every interface has an ofport");
            assert!(ofports.insert(n), "ofport {n} unique on {}", br.name);
            assert!(!matches!(p.tag, Some(t) if t >= 4096) && p.trunks.iter().all(|&t| t < 4096));
        }
    }
    let json = serde_json::to_string(db).unwrap();
    let back: Db = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, db, "JSON round trip");
    assert!(db_diff(db, db).is_empty());
}

proptest! {
    // PROPTEST_CASES=N runs more (or fewer) cases.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_sequences_keep_the_database_sound(seq in prop::collection::vec(invocation(), 1..12)) {
        let mut db = Db::new();
        for argv in seq {
            let before = db.clone();
            let read_only = rswitch_cli::vsctl::Invocation::parse(&argv)
                .map(|i| i.is_read_only())
                .unwrap_or(true);
            match execute(&db, &argv) {
                Err(e) => {
                    prop_assert!(e.exit_code == 1 || e.exit_code == 2, "{argv:?}: {e:?}");
                    prop_assert!(e.exit_code == 2 || e.stderr().starts_with("rswitch: "));
                    // The caller's database is untouched.
                    prop_assert_eq!(&db, &before);
                }
                Ok((new, _out)) => {
                    if read_only {
                        prop_assert_eq!(&new, &before, "read-only {:?} changed the db", argv);
                    }
                    check_invariants(&new);
                    let _ = db_diff(&before, &new);
                    // Appending a failing command makes the whole invocation
                    // fail, so nothing of it is applied.
                    let mut failing = argv.clone();
                    failing.extend(["--", "del-br", "no-such-bridge"].map(String::from));
                    if rswitch_cli::vsctl::Invocation::parse(&failing).is_ok() {
                        let e = execute(&before, &failing).expect_err("failing tail");
                        prop_assert_eq!(e.message, "no bridge named no-such-bridge");
                    }
                    db = new;
                }
            }
        }
    }
}
