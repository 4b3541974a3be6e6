//! The nemesis's node and link faults beyond crash and partition: power loss, pause and
//! resume, the partition shapes drawn around a target, FoundationDB-style clogging, and
//! message reordering and duplication. Every fault is traced with what it resolved to.

use super::{Nemesis, METASTORE};
use crate::history::Event;
use crate::scenario::{SplitShape, Target};
use crate::sim::net::Addr;
use madsim::rand::{seq::SliceRandom, thread_rng, Rng};
use madsim::time::{sleep_until, Instant};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The links a running clog holds clogged, so that `heal` can unclog them.
pub(super) type Clogged = Arc<Mutex<BTreeSet<(Addr, Addr)>>>;

use super::super::observer::ClusterObservation;

/// Every directed link between the two sides, both ways.
fn links_between(side_a: &[String], side_b: &[String]) -> Vec<(Addr, Addr)> {
    let mut links = Vec::new();
    for a in side_a {
        for b in side_b.iter().filter(|b| !side_a.contains(b)) {
            links.push((Addr::new(a), Addr::new(b)));
            links.push((Addr::new(b), Addr::new(a)));
        }
    }
    links
}

impl Nemesis {
    /// Both sides of a link fault: `target` and `peers` (the rest of `peers` when they
    /// overlap), resolved now.
    fn sides(&self, target: &Target, peers: &Target, observation: &ClusterObservation) -> (Vec<String>, Vec<String>) {
        let side_a = self.resolve(target, observation);
        let side_b = self.resolve(peers, observation).into_iter().filter(|n| !side_a.contains(n)).collect();
        (side_a, side_b)
    }

    /// Cuts power to `names`; returns those that were up.
    pub(super) fn power_loss(&self, names: Vec<String>) -> Vec<String> {
        let lost: Vec<String> = {
            let mut nodes = self.nodes.lock().expect("nodes poisoned");
            names.into_iter().filter(|n| nodes.power_loss(n)).collect()
        };
        self.trace("power-loss", lost.clone(), "machine lost power; unflushed page cache lost".into());
        lost
    }

    /// Pauses `names`; returns those that were running.
    pub(super) fn pause(&self, names: Vec<String>) -> Vec<String> {
        let paused: Vec<String> = {
            let mut nodes = self.nodes.lock().expect("nodes poisoned");
            names.into_iter().filter(|n| nodes.pause(n)).collect()
        };
        self.trace("pause", paused.clone(), "process stopped (as in a long GC pause)".into());
        paused
    }

    /// Resumes `names`, those of them that are paused.
    pub(super) fn resume(&self, names: Vec<String>) {
        let resumed: Vec<String> = {
            let mut nodes = self.nodes.lock().expect("nodes poisoned");
            names.into_iter().filter(|n| nodes.resume(n)).collect()
        };
        if !resumed.is_empty() {
            self.trace("resume", resumed, "process runs again, unaware that time passed".into());
        }
    }

    /// Draws a partition of the given shape around `target` and blocks it; returns the
    /// links it blocked.
    pub(super) fn split(
        &mut self,
        shape: SplitShape,
        target: &Target,
        observation: &ClusterObservation,
    ) -> Vec<(Addr, Addr)> {
        let centre = self.resolve(target, observation);
        let mut others: Vec<String> = self.brokers().into_iter().filter(|b| !centre.contains(b)).collect();
        others.shuffle(&mut thread_rng());
        let metastore_free = !centre.iter().any(|n| n == METASTORE);
        let (side_a, side_b, detail) = match shape {
            SplitShape::Isolate => {
                let mut rest = others;
                if metastore_free {
                    rest.push(METASTORE.to_string());
                }
                (centre.clone(), rest, "isolated from the cluster".to_string())
            }
            SplitShape::MajorityMinority => {
                let minority_size = (self.broker_count as usize / 2).max(centre.len());
                let mut minority = centre.clone();
                let fill = minority_size.saturating_sub(minority.len()).min(others.len());
                minority.extend(others.drain(..fill));
                let mut majority = others;
                if metastore_free {
                    majority.push(METASTORE.to_string());
                }
                let detail = format!("minority {} | majority {}", minority.join(", "), majority.join(", "));
                (minority, majority, detail)
            }
            SplitShape::Bridge => {
                let mut half_a = Vec::new();
                if metastore_free {
                    half_a.push(METASTORE.to_string());
                }
                let first = others.len().div_ceil(2);
                half_a.extend(others.drain(..first));
                let half_b = others;
                let detail = format!("{} | {} with bridge {}", half_a.join(", "), half_b.join(", "), centre.join(", "));
                (half_a, half_b, detail)
            }
        };
        let links = links_between(&side_a, &side_b);
        {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            for (from, to) in &links {
                nodes.network().block(from, to);
            }
        }
        self.blocked.extend(links.iter().cloned());
        self.trace("partition", centre, format!("{}: {detail}", shape.name()));
        links
    }

    /// Starts a clog: every link between the sides clogs at a random moment of the first
    /// half of `duration_ms` and unclogs at a random moment of the second half.
    pub(super) fn clog(&mut self, target: &Target, peers: &Target, duration_ms: u64, observation: &ClusterObservation) {
        let (side_a, side_b) = self.sides(target, peers, observation);
        let links = links_between(&side_a, &side_b);
        let start = Instant::now();
        let half = (duration_ms / 2).max(1);
        let mut steps: Vec<(u64, bool, (Addr, Addr))> = Vec::new();
        let mut rng = thread_rng();
        for link in links {
            steps.push((rng.gen_range(0..half), true, link.clone()));
            steps.push((rng.gen_range(half..duration_ms.max(half + 1)), false, link));
        }
        // Sorting by time alone keeps equal times in drawing order: deterministic.
        steps.sort_by_key(|(at, _, _)| *at);
        self.trace(
            "clog",
            side_a.clone(),
            format!("{} links to {} clog one by one over {duration_ms} ms", steps.len() / 2, side_b.join(", ")),
        );
        let nodes = self.nodes.clone();
        let recorder = self.recorder.clone();
        let clogged: Clogged = Arc::default();
        let still_clogged = clogged.clone();
        let task = madsim::task::spawn(async move {
            for (at, clog, (from, to)) in steps {
                sleep_until(start + Duration::from_millis(at)).await;
                let nodes = nodes.lock().expect("nodes poisoned");
                let mut clogged = clogged.lock().expect("clogged links poisoned");
                if clog {
                    nodes.network().block(&from, &to);
                    clogged.insert((from, to));
                } else {
                    nodes.network().unblock(&from, &to);
                    clogged.remove(&(from, to));
                }
            }
            let detail = "every clogged link unclogged".to_string();
            recorder.trace("nemesis", Event::Fault { kind: "unclog".into(), targets: side_a, detail });
        });
        self.clogs.push((task, still_clogged));
    }

    /// Lets messages between the sides overtake each other; returns the links.
    pub(super) fn reorder(
        &mut self,
        target: &Target,
        peers: &Target,
        observation: &ClusterObservation,
    ) -> Vec<(Addr, Addr)> {
        let (side_a, side_b) = self.sides(target, peers, observation);
        let links = links_between(&side_a, &side_b);
        {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            for (from, to) in &links {
                nodes.network().set_reordering(from, to, true);
            }
        }
        self.trace("reorder", side_a, format!("messages to and from {} may overtake each other", side_b.join(", ")));
        links
    }

    /// Delivers messages between the sides twice with probability `rate`; returns the links.
    pub(super) fn duplicate(
        &mut self,
        target: &Target,
        peers: &Target,
        rate: f64,
        observation: &ClusterObservation,
    ) -> Vec<(Addr, Addr)> {
        let (side_a, side_b) = self.sides(target, peers, observation);
        let links = links_between(&side_a, &side_b);
        {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            for (from, to) in &links {
                nodes.network().set_duplication(from, to, rate);
            }
        }
        let detail = format!("messages to and from {} delivered twice with probability {rate}", side_b.join(", "));
        self.trace("duplicate", side_a, detail);
        links
    }

    /// Restores FIFO delivery on `links`.
    pub(super) fn stop_reordering(&self, links: Vec<(Addr, Addr)>) {
        let nodes = self.nodes.lock().expect("nodes poisoned");
        for (from, to) in &links {
            nodes.network().set_reordering(from, to, false);
        }
        drop(nodes);
        self.trace("reorder-healed", Vec::new(), format!("{} links deliver in order again", links.len()));
    }

    /// Stops duplicating messages on `links`.
    pub(super) fn stop_duplicating(&self, links: Vec<(Addr, Addr)>) {
        let nodes = self.nodes.lock().expect("nodes poisoned");
        for (from, to) in &links {
            nodes.network().set_duplication(from, to, 0.0);
        }
        drop(nodes);
        self.trace("duplicate-healed", Vec::new(), format!("{} links deliver once again", links.len()));
    }
}
