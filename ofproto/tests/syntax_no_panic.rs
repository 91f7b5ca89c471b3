//! The flow parser never panics: random strings, and golden-corpus flows
//! mutated (bytes replaced, spliced, truncated, tokens swapped), go through
//! every flow-mod command and the flows-file parser. Whatever parses must
//! print, and every error must name something from its input.

use ofproto::syntax::dump::{format_flow_line, FlowLine, LineStyle};
use ofproto::syntax::flow::{parse_flow_mod, parse_flows_file, FlowMod, FlowModCommand};
use ofproto::syntax::PortMap;
use proptest::prelude::*;

const COMMANDS: [FlowModCommand; 5] = [
    FlowModCommand::Add,
    FlowModCommand::Modify,
    FlowModCommand::ModifyStrict,
    FlowModCommand::Delete,
    FlowModCommand::DeleteStrict,
];

fn corpus() -> Vec<&'static str> {
    include_str!("data/golden_flows.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split('\t').next())
        .collect()
}

fn ports() -> PortMap {
    let mut p = PortMap::new();
    p.insert("p1", 1);
    p.insert("p 2", 2);
    p.set_bridge_name("br0");
    p
}

fn print(fm: &FlowMod, ports: &PortMap) -> String {
    let line = FlowLine {
        n_packets: 1,
        n_bytes: 2,
        ..FlowLine::of_flow_mod(fm)
    };
    format_flow_line(
        &line,
        10,
        LineStyle {
            stats: true,
            ages: true,
            ports: Some(ports),
        },
    )
}

fn exercise(s: &str) {
    let ports = ports();
    for cmd in COMMANDS {
        match parse_flow_mod(s, cmd, Some(&ports)) {
            Ok(fm) => {
                let text = print(&fm, &ports);
                let _ = parse_flow_mod(&text, cmd, Some(&ports));
            }
            Err(e) => assert!(!e.0.is_empty(), "{s:?}: empty error"),
        }
    }
    if let Ok(fms) = parse_flows_file(s, FlowModCommand::Add, Some(&ports)) {
        for fm in &fms {
            let _ = print(fm, &ports);
        }
    }
}

/// Characters that matter to the grammar, so random strings reach deep.
const ALPHABET: &[char] = &[
    'a', 'c', 'd', 'e', 'i', 'l', 'n', 'o', 'p', 'r', 's', 't', 'x', '0', '1', '2', '5', '9', 'f',
    ':', '=', ',', ' ', '(', ')', '[', ']', '.', '/', '-', '>', '+', '|', '"', '*', '_', '#', '\n',
    'é',
];

fn mutated() -> impl Strategy<Value = String> {
    let corpus = corpus();
    (
        prop::sample::select(corpus.clone()),
        prop::sample::select(corpus),
        prop::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(ALPHABET)),
            0..6,
        ),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0u8..4,
    )
        .prop_map(|(a, b, edits, cut_a, cut_b, mode)| {
            let mut s: Vec<char> = a.chars().collect();
            match mode {
                // Splice the head of one flow onto the tail of another.
                0 => {
                    let bc: Vec<char> = b.chars().collect();
                    let i = if s.is_empty() {
                        0
                    } else {
                        cut_a.index(s.len())
                    };
                    let j = if bc.is_empty() {
                        0
                    } else {
                        cut_b.index(bc.len())
                    };
                    s.truncate(i);
                    s.extend_from_slice(&bc[j..]);
                }
                // Truncate.
                1 if !s.is_empty() => s.truncate(cut_a.index(s.len())),
                // Swap the match and action halves.
                2 => {
                    let t: String = s.iter().collect();
                    if let Some((m, act)) = t.split_once("actions=") {
                        s = format!("actions={m},{act}").chars().collect();
                    }
                }
                _ => {}
            }
            for (idx, c) in edits {
                if s.is_empty() {
                    s.push(c);
                } else {
                    let i = idx.index(s.len());
                    s[i] = c;
                }
            }
            s.into_iter().collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn mutated_corpus_never_panics(s in mutated()) {
        exercise(&s);
    }

    #[test]
    fn random_grammar_strings_never_panic(s in prop::collection::vec(prop::sample::select(ALPHABET), 0..60)) {
        let s: String = s.into_iter().collect();
        exercise(&s);
        exercise(&format!("actions={s}"));
        exercise(&format!("ip,{s} actions=drop"));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,80}") {
        exercise(&s);
        exercise(&format!("actions=learn({s})"));
    }
}

#[test]
fn whole_corpus_never_panics() {
    for s in corpus() {
        exercise(s);
    }
}
