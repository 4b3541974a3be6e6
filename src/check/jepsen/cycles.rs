//! Elle's cycle anomalies over Jepsen's Kafka dependency graph (`cycles!` in
//! `jepsen.tests.kafka`, which calls `elle.txn/cycles!`): `G0`, a cycle of ww edges only,
//! and `G1c`, a cycle of ww and wr edges with at least one wr edge.
//!
//! As `elle.txn/cycle-cases-in-scc` does, the graph (see [`graph`](super::graph)) is cut
//! into strongly connected components, and each component gets at most one cycle: a
//! shortest `G0` if it has a ww cycle, else a shortest `G1c` (Elle skips `G1c` once `G0`
//! is found, since `G0` implies it). The search is a breadth-first search from each
//! node through larger nodes only (so each cycle is found from its smallest node), which
//! stops once no shorter cycle is possible or, for a huge component, after a fixed
//! amount of work (Elle stops after a timeout); it depends only on the history.

use super::analysis::{op_reads, who_when, Analysis};
use super::graph::{components, Graph, Node, WR, WW};
use crate::check::describe::plural;
use crate::check::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{MicroOp, Op};

/// How many edges the searches of one component may look at once they have a cycle;
/// beyond it the shortest cycle found so far is reported.
const WORK_PER_COMPONENT: usize = 4_000_000;

/// How many steps of a cycle its description tells; a longer cycle's description ends
/// with how many more there are (its records hold them all).
const MAX_STEPS_TOLD: usize = 8;

/// One step of a cycle, from one node to the next, as Jepsen's explainers tell it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step<'a> {
    /// The first node sent `before` to `key`, directly followed in the log by the
    /// second node's `after`.
    Ww { key: &'a str, before: u64, after: u64 },
    /// The first node sent `value` to `key` and the second polled it.
    Wr { key: &'a str, value: u64 },
}

/// The `G0` and `G1c` anomalies of a history; `ww_deps: false` searches the wr edges
/// only, as Jepsen does without `:ww-deps`. One anomaly per strongly connected
/// component with a cycle, in the order of the components' first ops.
pub(super) fn cycles(a: &Analysis<'_>, ww_deps: bool) -> Vec<Anomaly> {
    let graph = Graph::new(a, ww_deps);
    let mut out = Vec::new();
    for component in components(&graph.out, WW | WR, |_| true) {
        let found = match shortest_cycle(&graph.out, &component, WW, false) {
            Some(cycle) => Some((AnomalyKind::G0, cycle)),
            None => shortest_cycle(&graph.out, &component, WW | WR, true).map(|c| (AnomalyKind::G1c, c)),
        };
        if let Some((kind, cycle)) = found {
            out.push(describe(a, &graph, kind, &cycle));
        }
    }
    out
}

/// A shortest cycle within the component `nodes` (sorted) over edges meeting `rels`,
/// with at least one edge taken as wr when `need_wr`: the nodes in order, the first one
/// not repeated, each with whether the edge leaving it is taken as wr (an edge that is
/// both ww and wr is taken as ww, as Jepsen's explainers try ww first, unless the cycle
/// still needs its wr edge).
fn shortest_cycle(out: &[Vec<(u32, u8)>], nodes: &[u32], rels: u8, need_wr: bool) -> Option<Vec<(u32, bool)>> {
    // States: (node, a wr edge taken yet), numbered 2 * position + wr.
    let position = |n: u32| nodes.binary_search(&n).ok();
    let mut seen = vec![u32::MAX; 2 * nodes.len()];
    let mut parent = vec![(0u32, false); 2 * nodes.len()];
    let mut best: Option<Vec<(u32, bool)>> = None;
    let mut work = 0usize;
    for (round, &start) in nodes.iter().enumerate() {
        if best.as_ref().is_some_and(|b| b.len() <= 2 || work > WORK_PER_COMPONENT) {
            break;
        }
        let limit = best.as_ref().map_or(usize::MAX, |b| b.len() - 1);
        let first = 2 * round;
        seen[first] = round as u32;
        let mut layer = vec![first];
        let mut depth = 0;
        let mut closing: Option<(usize, bool)> = None;
        'search: while !layer.is_empty() && depth < limit {
            depth += 1;
            let mut next_layer = Vec::new();
            for &state in &layer {
                let (node, wr) = (nodes[state / 2], state % 2 == 1);
                for &(to, flags) in &out[node as usize] {
                    work += 1;
                    // Each cycle is found from its smallest node.
                    if flags & rels == 0 || to < start {
                        continue;
                    }
                    let as_wr = flags & WR != 0 && (flags & WW == 0 || (need_wr && !wr));
                    let wr_after = wr || as_wr;
                    if to == start {
                        if wr_after || !need_wr {
                            closing = Some((state, as_wr));
                            break 'search;
                        }
                        continue;
                    }
                    let Some(p) = position(to) else { continue };
                    let to_state = 2 * p + usize::from(need_wr && wr_after);
                    if seen[to_state] != round as u32 {
                        seen[to_state] = round as u32;
                        parent[to_state] = (state as u32, as_wr);
                        next_layer.push(to_state);
                    }
                }
            }
            layer = next_layer;
        }
        if let Some((mut state, last_wr)) = closing {
            let mut cycle = vec![(nodes[state / 2], last_wr)];
            while state != first {
                let (from, as_wr) = parent[state];
                state = from as usize;
                cycle.push((nodes[state / 2], as_wr));
            }
            cycle.reverse();
            best = Some(simple(cycle));
        }
    }
    best
}

/// A simple cycle out of a closed walk. A shortest walk back to the start through a wr
/// edge may pass one node twice, before and after its wr edge; the part between the two
/// visits is then a shorter cycle holding that wr edge.
fn simple(mut cycle: Vec<(u32, bool)>) -> Vec<(u32, bool)> {
    loop {
        let repeat = (0..cycle.len()).find_map(|j| (0..j).find(|&i| cycle[i].0 == cycle[j].0).map(|i| (i, j)));
        match repeat {
            Some((i, j)) => cycle = cycle[i..j].to_vec(),
            None => return cycle,
        }
    }
}

/// How the edge from `a` to `b` came about: a ww step (Jepsen's `WWExplainer`: a value
/// of `b` directly after one of `a`) or a wr step (`WRExplainer`: `b` polled a value of
/// `a`), the wr one when `as_wr`.
fn explain<'a>(an: &Analysis<'a>, graph: &Graph<'a>, (a, b): (u32, u32), as_wr: bool) -> Option<Step<'a>> {
    let node = graph.nodes[b as usize];
    let op: &'a Op = an.op(node.at).op;
    if as_wr {
        return op_reads(op).into_iter().find_map(|(key, pairs)| {
            pairs.iter().find(|&&(_, v)| graph.writer(key, v) == Some(a)).map(|&(_, value)| Step::Wr { key, value })
        });
    }
    node_sends(op, node).into_iter().find_map(|(key, after)| {
        let order = an.orders.get(key)?;
        let i = order.index_of(after).filter(|&i| i > 0)?;
        let before = order.by_index[i - 1].1;
        (graph.writer(key, before) == Some(a)).then_some(Step::Ww { key, before, after })
    })
}

/// The `(key, value)` sends of a node, in op order.
fn node_sends(op: &Op, node: Node) -> Vec<(&str, u64)> {
    let mops = op.micro_ops();
    let chosen: &[MicroOp] = match node.send {
        Some(i) => &mops[i..=i],
        None => mops,
    };
    chosen
        .iter()
        .filter_map(|m| match m {
            MicroOp::Send { key, value, .. } => Some((&**key, *value)),
            _ => None,
        })
        .collect()
}

/// `op 12 (process 3 at 2.104 s)` the first time a cycle's description names the op,
/// `op 12` after that (the sends of one `send` op are different nodes of one op).
fn name(an: &Analysis<'_>, graph: &Graph<'_>, n: u32, named: &mut Vec<usize>) -> String {
    let at = graph.nodes[n as usize].at;
    let c = an.op(at);
    if named.contains(&at) {
        return format!("op {}", c.op.index);
    }
    named.push(at);
    format!("op {} ({})", c.op.index, who_when(c))
}

/// `2 operations`, or, when some are sends of one `send` op, `3 independent sends and
/// transactions of 1 operation`.
fn among(graph: &Graph<'_>, cycle: &[(u32, bool)]) -> String {
    let nodes: Vec<Node> = cycle.iter().map(|&(n, _)| graph.nodes[n as usize]).collect();
    let ops: std::collections::BTreeSet<usize> = nodes.iter().map(|n| n.at).collect();
    if ops.len() == nodes.len() {
        return plural(ops.len(), "operation");
    }
    let what =
        if nodes.iter().all(|n| n.send.is_some()) { "independent sends" } else { "transactions and independent sends" };
    format!("{} {what} of {}", nodes.len(), plural(ops.len(), "operation"))
}

/// The anomaly for one cycle, told step by step.
fn describe(an: &Analysis<'_>, graph: &Graph<'_>, kind: AnomalyKind, cycle: &[(u32, bool)]) -> Anomaly {
    let mut sentences = Vec::new();
    let mut records = Vec::new();
    let mut named = Vec::new();
    for (i, &(from, as_wr)) in cycle.iter().enumerate() {
        let to = cycle[(i + 1) % cycle.len()].0;
        let a = name(an, graph, from, &mut named);
        let b = name(an, graph, to, &mut named);
        let (a_op, b_op) = (an.op(graph.nodes[from as usize].at).op, an.op(graph.nodes[to as usize].at).op);
        let offset = |key: &str, v: u64| an.orders.get(key).and_then(|o| o.offset_of(v));
        match explain(an, graph, (from, to), as_wr) {
            Some(Step::Ww { key, before, after }) => {
                sentences.push(format!("{a} sent {key} value {before} just before {b} sent value {after} (ww)"));
                records.push(RecordRef::new(key, offset(key, before), Some(before), "sent").seen_in(a_op));
                records.push(RecordRef::new(key, offset(key, after), Some(after), "sent next").seen_in(b_op));
            }
            Some(Step::Wr { key, value }) => {
                sentences.push(format!("{a} sent {key} value {value}, which {b} polled (wr)"));
                records.push(RecordRef::new(key, offset(key, value), Some(value), "sent").seen_in(a_op));
                records.push(RecordRef::new(key, offset(key, value), Some(value), "polled").seen_in(b_op));
            }
            None => sentences.push(format!("{a} precedes {b}")),
        }
    }
    let what = match kind {
        AnomalyKind::G0 => "a cycle of write-write dependencies",
        _ => "a cycle of write-write and write-read dependencies",
    };
    if sentences.len() > MAX_STEPS_TOLD {
        let more = sentences.len() - MAX_STEPS_TOLD;
        sentences.truncate(MAX_STEPS_TOLD);
        let steps = if more == 1 { "1 more step".to_string() } else { format!("{more} more steps") };
        sentences.push(format!("and {steps} back to the first (every step is in the records)"));
    }
    let description = format!("{what} among {}: {}.", among(graph, cycle), sentences.join("; "));
    Anomaly::new(kind, crate::check::describe::capitalize(&description), records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::{Hist, M};
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        cycles(&Analysis::new(h), true)
    }

    /// `(key, value, note)` of each record.
    fn steps(anomaly: &Anomaly) -> Vec<(String, u64, String)> {
        anomaly.records.iter().map(|r| (r.key.clone(), r.value.unwrap_or(0), r.note.clone())).collect()
    }

    #[test]
    fn two_txns_ordered_both_ways_on_two_keys_are_g0() {
        // Jepsen's g0-test, with txn ops: a before b on x, b before a on y.
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 1), M::Send("y", Some(1), 1)])
            .txn(1, OpType::Ok, &[M::Send("x", Some(1), 2), M::Send("y", Some(0), 2)])
            .build();
        let found = found(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::G0);
        assert_eq!(
            found[0].description,
            "A cycle of write-write dependencies among 2 operations: op 1 (process 0 at 0.200 s) sent x value 1 \
             just before op 3 (process 1 at 0.400 s) sent value 2 (ww); op 3 sent y value 2 just before op 1 sent \
             value 1 (ww)."
        );
        assert_eq!(
            steps(&found[0]),
            vec![
                ("x".into(), 1, "sent".into()),
                ("x".into(), 2, "sent next".into()),
                ("y".into(), 2, "sent".into()),
                ("y".into(), 1, "sent next".into()),
            ]
        );
        assert_eq!(found[0].records[1].offset, Some(1));
        assert!(cycles(&Analysis::new(&h), false).is_empty(), "without ww edges there is no cycle");
    }

    #[test]
    fn txns_ordered_the_same_way_on_every_key_are_no_cycle() {
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 1), M::Send("y", Some(0), 1)])
            .txn(1, OpType::Ok, &[M::Send("x", Some(1), 2), M::Send("y", Some(1), 2)])
            .txn(2, OpType::Ok, &[M::Poll(&[("x", &[(0, 1), (1, 2)])]), M::Send("z", Some(0), 3)])
            .build();
        assert!(found(&h).is_empty());
    }

    #[test]
    fn two_txns_reading_each_others_writes_are_g1c() {
        // Jepsen's g1c-pure-wr-test: t1 is visible to t2 and t2 to t1.
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 1), M::Poll(&[("y", &[(0, 2)])])])
            .txn(1, OpType::Ok, &[M::Send("y", Some(0), 2), M::Poll(&[("x", &[(0, 1)])])])
            .build();
        for ww_deps in [true, false] {
            let found = cycles(&Analysis::new(&h), ww_deps);
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].kind, AnomalyKind::G1c);
            assert_eq!(
                found[0].description,
                "A cycle of write-write and write-read dependencies among 2 operations: op 1 (process 0 at 0.200 s) \
                 sent x value 1, which op 3 (process 1 at 0.400 s) polled (wr); op 3 sent y value 2, which op 1 \
                 polled (wr)."
            );
        }
    }

    #[test]
    fn a_txn_reading_a_write_that_its_own_write_precedes_is_g1c() {
        // Jepsen's g1c-ww-wr-test: t2 read t1's x, and t2's y came before t1's y.
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 1), M::Send("y", Some(2), 3)])
            .txn(1, OpType::Ok, &[M::Poll(&[("x", &[(0, 1)])]), M::Send("y", Some(1), 2)])
            .build();
        let found = found(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::G1c);
        assert_eq!(
            steps(&found[0]),
            vec![
                ("x".into(), 1, "sent".into()),
                ("x".into(), 1, "polled".into()),
                ("y".into(), 2, "sent".into()),
                ("y".into(), 3, "sent next".into()),
            ]
        );
        assert!(cycles(&Analysis::new(&h), false).is_empty(), "it needs the ww edge");
    }

    #[test]
    fn a_txn_reading_another_which_came_after_it_is_no_cycle() {
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 1), M::Send("y", Some(0), 3)])
            .txn(1, OpType::Ok, &[M::Poll(&[("x", &[(0, 1)])]), M::Send("y", Some(1), 2)])
            .build();
        assert!(found(&h).is_empty());
    }

    #[test]
    fn a_send_ops_sends_are_independent_so_interleaving_is_no_g0() {
        // Jepsen's g0-test as kafkasim's asynchronous producers record it: two `send`
        // ops, each a window of independent sends.
        let h = Hist::new()
            .sends(0, OpType::Ok, &[M::Send("x", Some(0), 1), M::Send("y", Some(1), 1)])
            .sends(1, OpType::Ok, &[M::Send("x", Some(1), 2), M::Send("y", Some(0), 2)])
            .build();
        assert!(found(&h).is_empty());
    }

    #[test]
    fn a_duplicated_value_makes_a_g0_between_two_sends() {
        // a, b, a again: the version order puts a last, so each send precedes the other.
        let h = Hist::new().send_ok(0, "x", 0, 1).send_ok(1, "x", 1, 2).poll_ok(2, &[("x", &[(2, 1)])]).build();
        let found = found(&h);
        assert_eq!(found.iter().map(|a| a.kind).collect::<Vec<_>>(), vec![AnomalyKind::G0]);
    }

    #[test]
    fn a_batch_appended_twice_is_a_g0_among_the_sends_of_one_op() {
        // One asynchronous send op's batch 1, 2, 3 appended twice (a retry): each of its
        // sends precedes the next, and the last precedes the first.
        let h = Hist::new()
            .sends(0, OpType::Ok, &[M::Send("x", Some(3), 1), M::Send("x", Some(4), 2), M::Send("x", Some(5), 3)])
            .poll_ok(1, &[("x", &[(0, 1), (1, 2), (2, 3), (3, 1), (4, 2), (5, 3)])])
            .build();
        let found = found(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].description,
            "A cycle of write-write dependencies among 3 independent sends of 1 operation: op 1 (process 0 at \
             0.200 s) sent x value 1 just before op 1 sent value 2 (ww); op 1 sent x value 2 just before op 1 sent \
             value 3 (ww); op 1 sent x value 3 just before op 1 sent value 1 (ww)."
        );
    }

    #[test]
    fn a_component_with_a_ww_cycle_reports_only_g0() {
        // Ops 1 and 3 are a G0 (x and y); op 5 read op 1's x and its z came before op 1's:
        // a G1c 1 -> 5 -> 1 in the same component. One anomaly: the G0.
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 1), M::Send("y", Some(1), 1), M::Send("z", Some(1), 1)])
            .txn(1, OpType::Ok, &[M::Send("x", Some(1), 2), M::Send("y", Some(0), 2)])
            .txn(2, OpType::Ok, &[M::Poll(&[("x", &[(0, 1)])]), M::Send("z", Some(0), 3)])
            .build();
        let found = found(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::G0);
        assert_eq!(found[0].records.len(), 4, "two steps");
        let wr_only = cycles(&Analysis::new(&h), false);
        assert!(wr_only.is_empty(), "{wr_only:?}");
    }

    #[test]
    fn a_walk_through_a_node_twice_is_cut_to_its_cycle() {
        assert_eq!(simple(vec![(1, false), (2, false), (3, true), (2, false)]), vec![(2, false), (3, true)]);
        assert_eq!(simple(vec![(1, true), (2, false)]), vec![(1, true), (2, false)]);
    }

    #[test]
    fn the_search_is_deterministic_and_bounded_on_a_big_component() {
        // 300 txns in a ring of wr edges, each also reading its predecessor: one G1c.
        let mut h = Hist::new();
        for i in 0..300u64 {
            let read = (i + 299) % 300;
            h = h.txn(i, OpType::Ok, &[M::Send("k", Some(i), i), M::Poll(&[("k", &[(read, read)])])]);
        }
        let h = h.build();
        let first = cycles(&Analysis::new(&h), false);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].kind, AnomalyKind::G1c);
        assert_eq!(first[0].records.len(), 600, "the ring is the only cycle");
        assert!(first[0]
            .description
            .ends_with("; and 292 more steps back to the first (every step is in the records)."));
        assert_eq!(first, cycles(&Analysis::new(&h), false));
    }
}
