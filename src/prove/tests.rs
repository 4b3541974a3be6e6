//! The seeds a proof runs, the judgement of a seed, and the what-if search's order, on
//! hand-made proofs (the sim tests in `sim-tests/prove_fix.rs` run real scenarios).

use super::what_if::{search, sets};
use super::*;
use crate::check::AnomalyKind::{Duplicate, LostWrite, NonmonotonicSend};

fn scenario(seeds: &str) -> Scenario {
    let text = format!("seeds = {seeds}\nduration = \"1s\"\n");
    crate::scenario::parse(&text, std::path::Path::new("x.toml")).unwrap()
}

fn setting(text: &str) -> Setting {
    text.parse().unwrap()
}

fn trial(seed: u64, left: &[AnomalyKind]) -> Trial {
    Trial { seed, left: left.to_vec(), other: vec![], panic: None }
}

fn proof(trials: Vec<Trial>) -> Proof {
    Proof { settings: vec![], targets: vec![Duplicate], trials }
}

#[test]
fn a_proof_runs_the_seed_then_the_scenarios_own_then_the_following_numbers() {
    let sc = scenario("[4, 2, 9]");
    assert_eq!(proof_seeds(&sc, 2, 4), [2, 4, 9, 10, 11]);
    assert_eq!(proof_seeds(&sc, 7, 1), [7, 4]);
    assert_eq!(proof_seeds(&sc, 4, 0), [4]);
    // The next numbers skip those already run.
    assert_eq!(proof_seeds(&scenario("[3, 1]"), 2, 3), [2, 3, 1, 4]);
}

#[test]
fn a_seed_is_prevented_only_without_any_target_kind_and_without_a_panic() {
    let mut t = trial(1, &[]);
    assert!(t.prevented());
    t.panic = Some("boom".into());
    assert!(!t.prevented());
    assert!(!trial(1, &[Duplicate]).prevented());
    let p = proof(vec![trial(1, &[]), trial(2, &[Duplicate]), trial(3, &[Duplicate])]);
    assert_eq!((p.prevented(), p.prevented_seeds()), (false, 1));
    assert_eq!(p.verdict_line(Lang::En), "not prevented: seed 2 still shows duplicate");
    assert_eq!(p.left(), BTreeMap::from([(Duplicate, 2)]));
    let ok = proof(vec![trial(1, &[]), trial(2, &[])]);
    assert_eq!(ok.verdict_line(Lang::En), "prevented in 2/2 seeds");
    assert_eq!(ok.verdict_line(Lang::Zh), "在 2/2 个种子中都被阻止");
    assert_eq!(p.verdict_line(Lang::Zh), "没有被阻止：种子 2 仍然出现 duplicate");
}

#[test]
fn candidate_sets_go_by_size_then_candidate_order_without_one_key_twice() {
    let c = [setting("acks=all"), setting("acks=1"), setting("min.insync.replicas=2")];
    assert_eq!(sets(&c, 1), [vec![0], vec![1], vec![2]]);
    assert_eq!(sets(&c, 2), [vec![0, 2], vec![1, 2]]);
}

#[test]
fn what_if_names_the_smallest_preventing_set_and_tries_pairs_only_when_no_single_one_does() {
    let c = [setting("a=1"), setting("b=2"), setting("c=3")];
    fn prevents(keys: &'static [&'static str]) -> impl Fn(&[Setting]) -> Result<Proof, ()> {
        move |set: &[Setting]| {
            let on: Vec<&str> = set.iter().map(|s| s.key.as_str()).collect();
            let left: &[AnomalyKind] = if keys.iter().all(|k| on.contains(k)) { &[] } else { &[Duplicate] };
            Ok(proof(vec![trial(1, left)]))
        }
    }
    // b alone prevents: every single is tried (the table), no pair.
    let single = search(&c, prevents(&["b"])).unwrap();
    assert_eq!(single.rows.len(), 3);
    assert_eq!(single.answer().map(|r| single.label(r)), Some("b=2".to_string()));
    // Only a and c together: pairs in order until that one.
    let pair = search(&c, prevents(&["a", "c"])).unwrap();
    let labels: Vec<String> = pair.rows.iter().map(|r| pair.label(r)).collect();
    assert_eq!(labels, ["a=1", "b=2", "c=3", "a=1 + b=2", "a=1 + c=3"]);
    assert!(pair.render(Lang::En).contains("smallest preventing change: a=1 + c=3"));
    let zh = pair.render(Lang::Zh);
    assert!(
        zh.starts_with("候选")
            && zh.contains("能阻止异常的最小改动：a=1 + c=3（在试过的每个种子中都阻止了 duplicate）"),
        "{zh}"
    );
    // Nothing prevents: said so.
    let none = search(&c, prevents(&["d"])).unwrap();
    assert!(none.answer().is_none() && none.rows.len() == 6);
    assert!(
        none.render(Lang::En).contains("no candidate alone or in pairs prevents duplicate"),
        "{}",
        none.render(Lang::En)
    );
}

#[test]
fn other_kinds_are_listed_but_do_not_change_the_verdict() {
    let mut t = trial(5, &[]);
    t.other = vec![LostWrite, NonmonotonicSend];
    let p = proof(vec![t]);
    assert!(p.prevented());
    assert!(p.detail_lines(Lang::En).iter().any(|l| l.contains("lost-write (1 seed), nonmonotonic-send (1 seed)")));
}
