//! Behaviour of `vsctl::execute` beyond the OVS transcript: the LABS.md
//! command lines, all-or-nothing invocations, OpenFlow port numbering,
//! `db_diff`, the JSON config format and rswitch's refusals.

use rswitch_cli::vsctl::{
    db_diff, execute, BridgeField, Change, Db, FailMode, InterfaceType, Invocation, PortField,
    VsctlError, OFPP_LOCAL,
};

/// Splits on spaces (the tests' command lines need no quoting).
fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn run(db: &Db, line: &str) -> (Db, String) {
    execute(db, &argv(line)).unwrap_or_else(|e| panic!("`{line}` failed: {}", e.stderr()))
}

fn fail(db: &Db, line: &str) -> VsctlError {
    match execute(db, &argv(line)) {
        Ok((_, out)) => panic!("`{line}` succeeded: {out:?}"),
        Err(e) => e,
    }
}

/// Applies each line in turn.
fn setup(lines: &[&str]) -> Db {
    lines.iter().fold(Db::new(), |db, l| run(&db, l).0)
}

fn ofport(db: &Db, iface: &str) -> u16 {
    let (_, p) = db.port(iface).expect("port exists");
    p.interface.ofport.expect("ofport assigned")
}

const TAP: &str = "tap3a1f9c0e-2b";

/// The L4 script (seed 000), one invocation.
fn l4_chain() -> String {
    format!(
        "-- --if-exists del-port {TAP} -- add-port br-int {TAP} -- set Interface {TAP} type=internal \
         -- set Interface {TAP} external-ids:iface-id=3a1f9c0e-2b4d-4c1e-9f0a-5d6e7f8a9b0c \
         -- set Interface {TAP} external-ids:iface-status=active \
         -- set Interface {TAP} external-ids:attached-mac=fa:16:3e:2a:46:e0"
    )
}

#[test]
fn l4_chain_on_fresh_db_and_twice_in_a_row() {
    let db = setup(&["add-br br-int"]);
    let (db1, out) = run(&db, &l4_chain());
    assert_eq!(out, "");
    let (db2, _) = run(&db1, &l4_chain());
    for db in [&db1, &db2] {
        let (br, port) = db.port(TAP).unwrap();
        assert_eq!(br.name, "br-int");
        assert_eq!(port.interface.kind, InterfaceType::Internal);
        assert_eq!(
            port.interface.external_ids["iface-id"],
            "3a1f9c0e-2b4d-4c1e-9f0a-5d6e7f8a9b0c"
        );
        assert_eq!(port.interface.external_ids["iface-status"], "active");
        assert_eq!(
            port.interface.external_ids["attached-mac"],
            "fa:16:3e:2a:46:e0"
        );
        // Deleted and re-created in one transaction: the number is kept.
        assert_eq!(ofport(db, TAP), 1);
    }
    // Nothing changed for the daemon the second time.
    assert_eq!(db_diff(&db1, &db2), vec![]);
    let (_, out) = run(&db2, &format!("get Interface {TAP} external-ids"));
    assert_eq!(
        out,
        "{attached-mac=\"fa:16:3e:2a:46:e0\", iface-id=\"3a1f9c0e-2b4d-4c1e-9f0a-5d6e7f8a9b0c\", iface-status=active}\n"
    );
    let (_, show) = run(&db2, "show");
    assert!(show.contains(&format!(
        "        Port {TAP}\n            Interface {TAP}\n                type: internal\n"
    )));
    let (_, list) = run(&db2, "list Interface");
    assert!(list.contains("external_ids        : {attached-mac=\"fa:16:3e:2a:46:e0\""));
}

#[test]
fn l4_script_as_two_invocations_renumbers_like_ovs() {
    // The seed runs `del-port` and `add-port` as two commands: the port
    // really goes away in between, and OVS does not reuse its number at once.
    let mut db = setup(&["add-br br-int"]);
    let mut numbers = Vec::new();
    for _ in 0..3 {
        db = run(&db, &format!("-- --if-exists del-port {TAP}")).0;
        let chain = l4_chain();
        let add = chain
            .split_once(" -- add-port")
            .map(|(_, r)| format!("-- add-port{r}"))
            .unwrap();
        db = run(&db, &add).0;
        numbers.push(ofport(&db, TAP));
    }
    assert_eq!(numbers, [1, 2, 3]);
}

#[test]
fn all_or_nothing() {
    let db = setup(&["add-br br0", "add-port br0 p1"]);
    for line in [
        "add-port br0 q1 -- add-port br0 q1",
        "add-port br0 q1 -- set Port q1 tag=5000",
        "add-br brx -- add-port brx q2 -- set Interface q2 nosuch=1",
        "del-port p1 -- del-br br0 -- del-br br9",
        "set Port p1 tag=5 -- set Interface p1 type=geneve",
    ] {
        let before = db.clone();
        let e = fail(&db, line);
        assert_eq!(e.exit_code, 1, "{line}");
        assert_eq!(db, before, "{line}");
    }
    // br-exists on a missing bridge exits 2 and discards earlier commands.
    let e = fail(&db, "add-br brr -- br-exists nosuch");
    assert_eq!((e.exit_code, e.stderr()), (2, String::new()));
    assert!(db.bridge("brr").is_none());
    // A successful chain applies every command.
    let (db, _) = run(
        &db,
        "add-br brx -- add-port brx q2 tag=7 -- set Interface q2 type=patch options:peer=p",
    );
    let (_, p) = db.port("q2").unwrap();
    assert_eq!((p.tag, p.interface.kind), (Some(7), InterfaceType::Patch));
    assert_eq!(p.interface.options["peer"], "p");
}

#[test]
fn may_exist_and_if_exists() {
    let db = setup(&["add-br br0", "add-port br0 p1", "add-br br1"]);
    assert_eq!(run(&db, "--may-exist add-br br0").0, db);
    assert_eq!(
        fail(&db, "add-br br0").stderr(),
        "rswitch: cannot create a bridge named br0 because a bridge named br0 already exists\n"
    );
    assert_eq!(run(&db, "--may-exist add-port br0 p1 tag=9").0, db);
    assert_eq!(
        fail(&db, "--may-exist add-port br1 p1").message,
        "\"--may-exist add-port br1 p1\" but p1 is actually attached to bridge br0"
    );
    assert_eq!(run(&db, "--if-exists del-port p9").0, db);
    assert_eq!(run(&db, "-- --if-exists del-port p9").0, db);
    assert_eq!(fail(&db, "del-port p9").message, "no port named p9");
    assert_eq!(run(&db, "--if-exists del-br br9").0, db);
    let (db2, _) = run(&db, "--if-exists del-port p1");
    assert!(db2.port("p1").is_none());
    assert_eq!(
        fail(&db, "add-br br9 br0 5").message.split(';').next(),
        Some("fake bridges (add-br BRIDGE PARENT VLAN) are not supported by rswitch")
    );
}

#[test]
fn ofports_round_robin_like_ovs_and_reuse_after_restart() {
    let mut db = setup(&["add-br br0"]);
    for p in ["a1", "a2", "a3"] {
        db = run(
            &db,
            &format!("add-port br0 {p} -- set Interface {p} type=internal"),
        )
        .0;
    }
    assert_eq!(
        [ofport(&db, "a1"), ofport(&db, "a2"), ofport(&db, "a3")],
        [1, 2, 3]
    );
    assert_eq!(ofport(&db, "br0"), OFPP_LOCAL);
    // A freed number is not handed out again at once (old flows may still
    // name it) ...
    db = run(&db, "del-port a2").0;
    db = run(&db, "add-port br0 a4").0;
    assert_eq!(ofport(&db, "a4"), 4);
    // ... but a restarted daemon starts from the lowest free number, as
    // ovs-vswitchd does: the allocation cursor is not configuration.
    let json = serde_json::to_string_pretty(&db).unwrap();
    let mut restarted: Db = serde_json::from_str(&json).unwrap();
    assert_eq!(restarted, db);
    restarted = run(&restarted, "add-port br0 a5").0;
    assert_eq!(ofport(&restarted, "a5"), 2);
    // Numbers survive the restart unchanged.
    assert_eq!(
        [
            ofport(&restarted, "a1"),
            ofport(&restarted, "a3"),
            ofport(&restarted, "a4")
        ],
        [1, 3, 4]
    );
    // Re-creating a bridge in the same transaction does not reset its
    // numbering (ovs-vswitchd matches bridges by name and keeps them) ...
    let db = run(&restarted, "del-br br0 -- add-br br0 -- add-port br0 z").0;
    assert_eq!(ofport(&db, "z"), 3);
    // ... deleting it for real does.
    let db = run(&db, "del-br br0").0;
    let db = run(&db, "add-br br0 -- add-port br0 z").0;
    assert_eq!(ofport(&db, "z"), 1);
}

#[test]
fn ofport_cursor_wraps_and_then_reuses_freed_numbers() {
    let mut db = setup(&["add-br br0", "add-port br0 keep"]);
    assert_eq!(ofport(&db, "keep"), 1);
    // 32766 more allocations bring the cursor to the top of the automatic
    // range (1..32767); batches keep the test fast.
    let mut left = 32766;
    while left > 0 {
        let n = left.min(500);
        let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let add: Vec<String> = names.iter().map(|t| format!("add-port br0 {t}")).collect();
        let del: Vec<String> = names.iter().map(|t| format!("del-port {t}")).collect();
        db = run(&db, &add.join(" -- ")).0;
        db = run(&db, &del.join(" -- ")).0;
        left -= n;
    }
    db = run(&db, "add-port br0 t").0;
    assert_eq!(
        ofport(&db, "t"),
        2,
        "wrapped past 32767, skipping 1 (in use)"
    );
}

#[test]
fn ofport_requests() {
    let db = setup(&[
        "add-br br0",
        "add-port br0 r1 -- set Interface r1 ofport_request=10",
        "add-port br0 r2 -- set Interface r2 ofport_request=10",
        "add-port br0 a1",
    ]);
    assert_eq!(
        (ofport(&db, "r1"), ofport(&db, "r2"), ofport(&db, "a1")),
        (10, 1, 2)
    );
    // Requesting a free number moves an existing port there.
    let db = run(&db, "set Interface a1 ofport_request=20").0;
    assert_eq!(ofport(&db, "a1"), 20);
    // Requesting a number another port requested too keeps the current one.
    let db = run(&db, "set Interface r2 ofport_request=10").0;
    assert_eq!(ofport(&db, "r2"), 1);
    // Requesting the number of a port that did not request it takes it; the
    // other port is renumbered.
    let db = run(
        &db,
        "set Interface r2 ofport_request=20 -- clear Interface a1 ofport_request",
    )
    .0;
    assert_eq!(ofport(&db, "r2"), 20);
    assert_eq!(ofport(&db, "a1"), 3);
    // The number shows in the same invocation only after commit, as in OVS.
    let (db, out) = run(&db, "add-port br0 n -- get Interface n ofport");
    assert_eq!(out, "[]\n");
    assert_eq!(run(&db, "get Interface n ofport").1, "4\n");
    assert_eq!(
        fail(&db, "set Interface n ofport_request=65280").message,
        "constraint violation: 65280 is not in the valid range 1 to 65279 (inclusive)"
    );
    assert!(fail(&db, "set Interface n ofport=7")
        .message
        .contains("use ofport_request"));
    // Several new ports in one invocation are numbered in command order.
    let (db, _) = run(&db, "add-port br0 zz -- add-port br0 aa");
    assert_eq!((ofport(&db, "zz"), ofport(&db, "aa")), (5, 6));
}

#[test]
fn diff_reports_what_the_daemon_must_do() {
    let old = setup(&[
        "add-br br0",
        "add-port br0 p1",
        "add-port br0 p2",
        "add-br br1",
        "add-port br1 q",
    ]);
    let (new, _) = run(
        &old,
        "del-br br1 -- add-br br2 -- add-port br2 r -- del-port p2 -- add-port br2 p2 \
         -- set Port p1 tag=5 -- set Interface p1 type=internal -- set-fail-mode br0 secure",
    );
    let s = |x: &str| x.to_string();
    assert_eq!(
        db_diff(&old, &new),
        vec![
            Change::PortRemoved {
                bridge: s("br0"),
                port: s("p2")
            },
            Change::PortRemoved {
                bridge: s("br1"),
                port: s("q")
            },
            Change::BridgeRemoved { bridge: s("br1") },
            Change::BridgeAdded { bridge: s("br2") },
            Change::BridgeChanged {
                bridge: s("br0"),
                fields: vec![BridgeField::FailMode]
            },
            Change::PortAdded {
                bridge: s("br2"),
                port: s("p2")
            },
            Change::PortAdded {
                bridge: s("br2"),
                port: s("r")
            },
            Change::PortChanged {
                bridge: s("br0"),
                port: s("p1"),
                fields: vec![PortField::Tag, PortField::Type]
            },
        ]
    );
    assert_eq!(db_diff(&new, &new), vec![]);
}

#[test]
fn json_config_round_trip() {
    let (db, _) = run(
        &setup(&["add-br br-int", "set-fail-mode br-int secure"]),
        "add-port br-int patch-tun -- set Interface patch-tun type=patch options:peer=patch-int \
         -- add-port br-int vm trunks=1,2 vlan_mode=trunk",
    );
    let json = serde_json::to_value(&db).unwrap();
    let br = &json["bridges"][0];
    assert_eq!(br["fail_mode"], "secure");
    assert_eq!(br["ports"][1]["interface"]["type"], "patch");
    assert_eq!(br["ports"][2]["vlan_mode"], "trunk");
    let back: Db = serde_json::from_value(json).unwrap();
    assert_eq!(back, db);
    assert_eq!(
        back.bridge("br-int").unwrap().fail_mode,
        Some(FailMode::Secure)
    );
    // New rows after a reload still get fresh UUIDs.
    let (again, _) = run(&back, "add-port br-int x");
    let uuids: std::collections::BTreeSet<&str> = again.bridges[0]
        .ports
        .iter()
        .flat_map(|p| [p.uuid.as_str(), p.interface.uuid.as_str()])
        .collect();
    assert_eq!(uuids.len(), 2 * again.bridges[0].ports.len());
}

#[test]
fn records_by_uuid_and_prefix() {
    let db = setup(&["add-br br0", "add-port br0 p1"]);
    let uuid = db.port("p1").unwrap().1.interface.uuid.clone();
    assert_eq!(run(&db, &format!("get Interface {uuid} name")).1, "p1\n");
    assert_eq!(
        run(&db, &format!("get Interface {} name", &uuid[..8])).1,
        "p1\n"
    );
    assert_eq!(run(&db, "get Interface p1 _uuid").1, format!("{uuid}\n"));
    assert_eq!(
        run(&db, "get Open_vSwitch . _uuid").1,
        format!("{}\n", db.uuid)
    );
    assert!(run(&db, "show")
        .1
        .starts_with(&format!("{}\n    Bridge br0\n", db.uuid)));
}

#[test]
fn show_prints_runtime_error_and_quotes_names() {
    let (mut db, _) = run(
        &setup(&["add-br br0"]),
        "add-port br0 1eth -- set Interface 1eth type=vxlan options:remote_ip=198.19.0.2",
    );
    db.interface_mut("1eth").unwrap().error =
        Some("could not open network device 1eth (No such device)".into());
    let (_, show) = run(&db, "show");
    assert_eq!(
        show,
        format!(
            "{}\n    Bridge br0\n        Port \"1eth\"\n            Interface \"1eth\"\n                type: vxlan\n                options: {{remote_ip=\"198.19.0.2\"}}\n                error: \"could not open network device 1eth (No such device)\"\n        Port br0\n            Interface br0\n                type: internal\n    ovs_version: \"{}\"\n",
            db.uuid,
            rswitch_cli::vsctl::RSWITCH_VERSION
        )
    );
}

#[test]
fn refusals_are_clear() {
    let db = setup(&["add-br br0", "add-port br0 p1"]);
    for (line, msg) in [
        (
            "--id=@p create Port name=x",
            "'create' command is not supported by rswitch",
        ),
        (
            "set-controller br0 tcp:1.2.3.4:6653",
            "'set-controller' command is not supported by rswitch",
        ),
        (
            "add-bond br0 b a c",
            "'add-bond' command is not supported by rswitch",
        ),
        ("--id=@x get Bridge br0", "--id is not supported by rswitch"),
        (
            "set Bridge br0 ports=[]",
            "column ports of table Bridge cannot be modified in rswitch",
        ),
        (
            "set Interface p1 type=geneve",
            "Interface type \"geneve\" is not supported by rswitch",
        ),
        (
            "set Interface p1 mtu_request=9000",
            "column mtu_request of table Interface is not supported by rswitch",
        ),
        (
            "set Interface p1 link_state=up",
            "column link_state of table Interface is status maintained by rswitch",
        ),
        (
            "set Open_vSwitch . ovs_version=1",
            "column ovs_version of table Open_vSwitch is status",
        ),
        (
            "set Port p1 vlan_mode=dot1q-tunnel",
            "vlan_mode dot1q-tunnel is not supported by rswitch",
        ),
        (
            "set Interface p1 name=x",
            "cannot modify read-only column name in table Interface",
        ),
    ] {
        let e = fail(&db, line);
        assert!(e.message.starts_with(msg), "{line}: {}", e.message);
        assert_eq!(e.exit_code, 1);
        assert!(e.stderr().starts_with("rswitch: "));
    }
    // Tables rswitch does not implement are empty rather than errors.
    assert_eq!(run(&db, "list Controller").1, "");
    assert_eq!(
        fail(&db, "get Mirror m name").message,
        "no row \"m\" in table Mirror"
    );
    assert_eq!(
        run(
            &db,
            "get-controller br0 -- del-controller br0 -- get-manager"
        )
        .1,
        ""
    );
}

#[test]
fn global_options_and_invocation() {
    let inv = Invocation::parse(&argv("--rundir /tmp/rsw --timeout=5 -- list-br")).unwrap();
    assert_eq!(inv.rundir(), Some("/tmp/rsw"));
    assert!(inv.is_read_only());
    let inv = Invocation::parse(&argv("--rundir=/r add-br x")).unwrap();
    assert_eq!(inv.rundir(), Some("/r"));
    assert!(!inv.is_read_only());
    assert!(Invocation::parse(&argv("--dry-run add-br x"))
        .unwrap()
        .is_read_only());
    let db = Db::new();
    let (same, out) = run(&db, "--dry-run add-br x -- list-br");
    assert_eq!((same, out.as_str()), (db.clone(), "x\n"));
    let (_, help) = run(&db, "--help");
    assert!(help.contains("add-port"));
    let (_, version) = run(&db, "-V");
    assert!(version.starts_with("rswitch (rswitch) "));
    assert_eq!(
        fail(&db, "").message,
        "missing command name (use --help for help)"
    );
    assert_eq!(
        fail(&db, "--no list-br").message.split(';').next(),
        Some("option '--no' is ambiguous")
    );
    assert_eq!(run(&db, "--may add-br b").0.bridges.len(), 1);
    let (_, out) = run(&run(&db, "add-br b").0, "--oneline list-br -- br-exists b");
    assert_eq!(out, "b\n\n");
}
