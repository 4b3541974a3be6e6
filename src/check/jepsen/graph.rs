//! The dependency graph between operations that Jepsen's Kafka checker hands to Elle
//! (`writer-of`, `readers-of`, `ww-graph`, `wr-graph` and `graph` in
//! `jepsen.tests.kafka`), and its strongly connected components.
//!
//! - **Nodes.** Completed `send`, `poll` and `txn` ops of any type (`ok`, `info`, `fail`),
//!   as Jepsen's `writer-of` and `readers-of` take every completion. A `send` op with
//!   several sends is kafkasim's asynchronous producer's window of independent `send()`
//!   calls, so each of its sends is a node of its own (for a one-send op, the op). An op
//!   that writes nothing has no outgoing edge, so it cannot lie on a cycle and is left out.
//! - **Writer of a value.** Per key, the last completion (in history order) that sent it
//!   (Jepsen's `writer-of`).
//! - **ww edges** (`ww-graph`): for every value `v2` some op sent to a key, take the value
//!   `v1` just before it in the key's version order (`previous-value`, by the dense
//!   index); the writer of `v1` precedes the writer of `v2`. No self-edges. A `v1` nobody
//!   sent is skipped (Jepsen throws `no-writer-of-value`).
//! - **wr edges** (`wr-graph`): the writer of a value precedes every op, other than
//!   itself, that polled that value from that key (polls of any completion type, as
//!   Jepsen's `readers-of`).
//!
//! One edge may be both ww and wr.
//!
//! Without a `txn` op that sends, every node sends one value to one key, and its edges
//! run along that key's version order, from a value to the next one: such a graph can
//! only have a cycle in a key whose order holds one value at two places (a
//! `duplicate`). The graph then takes only those keys' sends, which keeps it tiny for
//! kafkasim's own histories (hundreds of thousands of sends, no transactions).

use super::analysis::{op_reads, op_writes, Analysis, ByValue, Keep};
use crate::history::{MicroOp, OpFn};
use std::collections::BTreeMap;

/// The edge is a write-write dependency.
pub(super) const WW: u8 = 1;
/// The edge is a write-read dependency.
pub(super) const WR: u8 = 2;

/// One node: a completion (index into [`Analysis::ops`]) and, for one send of a `send`
/// op, that send's position among the op's micro-ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Node {
    /// Index into [`Analysis::ops`].
    pub at: usize,
    /// The micro-op, for a send of a `send` op; `None` for a whole `txn` op.
    pub send: Option<usize>,
}

/// The dependency graph, nodes numbered in history order.
pub(super) struct Graph<'a> {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// Key → value → the node that sent it (the last one).
    pub writers: BTreeMap<&'a str, ByValue<u32>>,
    /// Node → `(target, WW | WR flags)`, targets ascending, one entry per target.
    pub out: Vec<Vec<(u32, u8)>>,
}

impl<'a> Graph<'a> {
    /// Builds the graph of a history's analysis; `ww_deps: false` leaves the ww edges out
    /// (Jepsen's `:ww-deps` option, `--no-ww-deps` on its command line).
    pub fn new(a: &Analysis<'a>, ww_deps: bool) -> Self {
        let txn_sends = a
            .ops
            .iter()
            .any(|c| c.op.f == OpFn::Txn && c.op.micro_ops().iter().any(|m| matches!(m, MicroOp::Send { .. })));
        let may_cycle = |key: &str| txn_sends || a.orders.get(key).is_some_and(|o| o.has_repeats());
        let mut nodes = Vec::new();
        let mut txn_node: BTreeMap<usize, u32> = BTreeMap::new();
        let mut sent: BTreeMap<&'a str, Vec<(u64, u32)>> = BTreeMap::new();
        for (at, c) in a.ops.iter().enumerate() {
            let op: &'a crate::history::Op = c.op;
            match op.f {
                OpFn::Send => {
                    for (i, mop) in op.micro_ops().iter().enumerate() {
                        if let MicroOp::Send { key, value, .. } = mop {
                            if !may_cycle(key) {
                                continue;
                            }
                            let n = nodes.len() as u32;
                            nodes.push(Node { at, send: Some(i) });
                            sent.entry(&**key).or_default().push((*value, n));
                        }
                    }
                }
                OpFn::Txn => {
                    let writes = op_writes(op);
                    if writes.is_empty() {
                        continue;
                    }
                    let n = nodes.len() as u32;
                    nodes.push(Node { at, send: None });
                    txn_node.insert(at, n);
                    for (key, sends) in writes {
                        sent.entry(key).or_default().extend(sends.iter().map(|s| (s.value, n)));
                    }
                }
                _ => {}
            }
        }
        let writers: BTreeMap<&'a str, ByValue<u32>> =
            sent.into_iter().map(|(k, pairs)| (k, ByValue::build(pairs, Keep::Last))).collect();
        let mut edges: Vec<(u32, u32, u8)> = Vec::new();
        if ww_deps {
            for (key, by_value) in &writers {
                let Some(order) = a.orders.get(key) else { continue };
                for (v2, &n2) in by_value.iter() {
                    let Some(i2) = order.index_of(v2).filter(|&i| i > 0) else { continue };
                    let v1 = order.by_index[i2 - 1].1;
                    if let Some(&n1) = by_value.get(&v1) {
                        if n1 != n2 {
                            edges.push((n1, n2, WW));
                        }
                    }
                }
            }
        }
        for (&at, &reader) in &txn_node {
            for (key, pairs) in op_reads(a.op(at).op) {
                let Some(by_value) = writers.get(key) else { continue };
                for (_, v) in pairs {
                    if let Some(&w) = by_value.get(&v) {
                        if nodes[w as usize].at != at {
                            edges.push((w, reader, WR));
                        }
                    }
                }
            }
        }
        edges.sort_unstable();
        let mut out: Vec<Vec<(u32, u8)>> = vec![Vec::new(); nodes.len()];
        for (from, to, flags) in edges {
            let list = &mut out[from as usize];
            match list.last_mut() {
                Some((last, f)) if *last == to => *f |= flags,
                _ => list.push((to, flags)),
            }
        }
        Graph { nodes, writers, out }
    }

    /// The node that sent `value` to `key`, if any.
    pub fn writer(&self, key: &str, value: u64) -> Option<u32> {
        self.writers.get(key)?.get(&value).copied()
    }
}

/// Tarjan's strongly connected components of the graph restricted to the edges whose
/// flags meet `rels` and to the nodes `within` says yes to, without recursion. Returns
/// the components of more than one node (a node has no edge to itself), each sorted,
/// ordered by their smallest node.
pub(super) fn components(out: &[Vec<(u32, u8)>], rels: u8, within: impl Fn(u32) -> bool) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let n = out.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut next = 0u32;
    let mut found = Vec::new();
    // Each frame: a node and how many of its edges were looked at.
    let mut frames: Vec<(u32, usize)> = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN || !within(root) {
            continue;
        }
        frames.push((root, 0));
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&(v, edge)) = frames.last() {
            if let Some(&(w, flags)) = out[v as usize].get(edge) {
                frames.last_mut().expect("a frame").1 += 1;
                if flags & rels == 0 || !within(w) {
                    continue;
                }
                if index[w as usize] == UNSEEN {
                    index[w as usize] = next;
                    low[w as usize] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    frames.push((w, 0));
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w as usize] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort_unstable();
                    found.push(component);
                }
            }
        }
    }
    found.sort_unstable_by_key(|c| c[0]);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::{Hist, M};
    use crate::history::OpType;

    fn edges(g: &Graph) -> Vec<(usize, usize, u8)> {
        let mut all = Vec::new();
        for (from, list) in g.out.iter().enumerate() {
            for &(to, flags) in list {
                all.push((g.nodes[from].at, g.nodes[to as usize].at, flags));
            }
        }
        all
    }

    #[test]
    fn consecutive_values_give_ww_edges_and_reads_give_wr_edges_to_writing_txns_only() {
        // Op 0 sends x:10, op 1 sends x:11 (ww 0 -> 1); op 2 (a txn that writes) polls
        // x:11 (wr 1 -> 2); op 3 (a poll) reads x:10 but writes nothing: no node.
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(1, "x", 1, 11)
            .txn(2, OpType::Ok, &[M::Poll(&[("x", &[(1, 11)])]), M::Send("y", Some(0), 20)])
            .poll_ok(3, &[("x", &[(0, 10)])])
            .build();
        let a = Analysis::new(&h);
        let g = Graph::new(&a, true);
        assert_eq!(g.nodes.len(), 3);
        assert_eq!(edges(&g), vec![(0, 1, WW), (1, 2, WR)]);
        assert_eq!(edges(&Graph::new(&a, false)), vec![(1, 2, WR)]);
    }

    #[test]
    fn each_send_of_a_send_op_is_its_own_node() {
        // (With a transaction in the history, every key's sends are nodes.)
        let h = Hist::new()
            .sends(0, OpType::Ok, &[M::Send("x", Some(0), 10), M::Send("x", Some(2), 12)])
            .send_ok(1, "x", 1, 11)
            .txn(2, OpType::Ok, &[M::Send("z", Some(0), 30)])
            .build();
        let g = Graph::new(&Analysis::new(&h), true);
        assert_eq!(g.nodes.len(), 4);
        assert_eq!(edges(&g), vec![(0, 1, WW), (1, 0, WW)]);
        // The two sends of op 0 are different nodes: no cycle.
        assert!(components(&g.out, WW | WR, |_| true).is_empty());
    }

    #[test]
    fn without_transactions_only_keys_with_a_repeated_value_are_in_the_graph() {
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(1, "x", 1, 11)
            .send_ok(0, "y", 0, 20)
            .send_ok(1, "y", 1, 21)
            .poll_ok(2, &[("y", &[(2, 20)])])
            .build();
        let g = Graph::new(&Analysis::new(&h), true);
        assert_eq!(g.writers.keys().copied().collect::<Vec<_>>(), vec!["y"]);
        assert_eq!(edges(&g), vec![(2, 3, WW), (3, 2, WW)]);
    }

    #[test]
    fn components_are_found_without_recursion_and_in_node_order() {
        // 0 <-> 1, 2 -> 3 -> 4 -> 2, 5 alone; a long chain 6 -> ... -> 100006 -> 6.
        let mut out: Vec<Vec<(u32, u8)>> = vec![vec![(1, WW)], vec![(0, WR)], vec![(3, WW)], vec![(4, WW)]];
        out.push(vec![(2, WW)]);
        out.push(vec![]);
        let chain = 100_000u32;
        for i in 0..=chain {
            let next = if i == chain { 6 } else { 7 + i };
            out.push(vec![(next, WW)]);
        }
        let found = components(&out, WW | WR, |_| true);
        assert_eq!(found.len(), 3);
        assert_eq!((found[0].clone(), found[1].clone()), (vec![0, 1], vec![2, 3, 4]));
        assert_eq!(found[2].len(), chain as usize + 1);
        assert_eq!(components(&out, WW, |_| true).len(), 2, "0 <-> 1 needs its wr edge");
        assert_eq!(components(&out, WW | WR, |n| n != 3).len(), 2);
    }
}
