//! Explanations a person can follow: for an anomaly, the life of each record involved, in
//! simulated-time order, read from the history and the trace (who sent it, where and in
//! which leader epoch it was appended, who fetched it, when it was acknowledged and
//! committed, which fault struck, who was elected with what log end, where it was
//! truncated, overwritten or overtaken, what consumers saw), closed by a one-sentence
//! cause and the configuration that would have prevented it.
//!
//! `setup` (what the run was configured with) holds the facts the prevention depends on;
//! `life` tells one record's story; `cause` writes the closing sentences.

mod cause;
pub mod glossary;
mod life;
pub mod mechanism;
mod setup;
#[cfg(test)]
mod tests;

pub use life::Line;
pub use setup::Setup;

use crate::check::describe::secs;
use crate::check::{Anomaly, AnomalyKind, RecordRole};
use crate::history::History;
use crate::scenario::Lang;
use life::{Facts, Focus, Life};
use std::collections::BTreeSet;

/// The explanation of one anomaly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Story {
    /// The anomaly's kind.
    pub kind: AnomalyKind,
    /// The checker's one-sentence description.
    pub summary: String,
    /// One heading per record followed, with its life in simulated-time order.
    pub records: Vec<(String, Vec<Line>)>,
    /// Why it happened, one sentence.
    pub cause: String,
    /// The configuration that would have prevented it, one sentence.
    pub prevention: String,
    /// The language the story is told in (its headings, lines and closing sentences;
    /// the checker's `summary` is English in both).
    pub lang: Lang,
}

/// How many records of one anomaly a story follows.
const MAX_RECORDS: usize = 2;

/// Explains one anomaly found in `history`, in `lang`.
pub fn explain(history: &History, anomaly: &Anomaly, setup: &Setup, lang: Lang) -> Story {
    let mut records = Vec::new();
    let mut facts = Facts::default();
    for focus in focuses(anomaly) {
        let key = &focus.key;
        let heading = match (focus.value, focus.offset) {
            (Some(v), Some(o)) => {
                lang.pick(format!("value {v} of {key} (offset {o})"), format!("{key} 的值 {v}（位移 {o}）"))
            }
            (Some(v), None) => lang.pick(format!("value {v} of {key}"), format!("{key} 的值 {v}")),
            (None, Some(o)) => lang.pick(format!("offset {o} of {key}"), format!("{key} 的位移 {o}")),
            (None, None) => key.clone(),
        };
        let Life { lines, facts: found } = life::life(history, &focus, lang);
        if records.is_empty() {
            facts = found;
        }
        records.push((heading, lines));
    }
    if records.is_empty() {
        // No record to follow (hw-regression, commit-regression, split-ownership,
        // no-progress): the partition's leadership and faults around the anomaly.
        // Without a record at all (a liveness failure), the faults and elections of the
        // whole run.
        let key = anomaly.records.first().map(|r| r.key.clone());
        let window = match anomaly.records.iter().filter_map(|r| r.time_ns).min() {
            Some(time) => (time.saturating_sub(5_000_000_000), time + 1_000_000_000),
            // From the first fault: the elections of the cluster's start tell nothing.
            None => (
                history
                    .trace
                    .iter()
                    .find(|e| matches!(e.event, crate::history::Event::Fault { .. }))
                    .map_or(0, |e| e.time_ns),
                u64::MAX,
            ),
        };
        let Life { mut lines, facts: found } = life::partition_story(history, key.as_deref(), window, lang);
        lines.extend(anomaly.records.iter().filter_map(|r| {
            r.time_ns.map(|t| Line {
                time_ns: t,
                text: format!("{}{}", r.by.as_ref().map(|b| format!("{b}: ")).unwrap_or_default(), r.note),
            })
        }));
        lines.sort_by_key(|l| l.time_ns);
        facts = found;
        let whole_run = lang.pick("the run: its faults and elections", "整个运行：它的故障与选举");
        records.push((key.unwrap_or_else(|| whole_run.to_string()), lines));
    }
    let (cause, prevention) = cause::cause(anomaly, &facts, setup, lang);
    Story { kind: anomaly.kind, summary: anomaly.description.clone(), records, cause, prevention, lang }
}

/// The anomaly that stands for each kind found, as indexes into `anomalies`, one per
/// kind in the order the kinds first appear: the first of its kind, except that a
/// reordered send is shown by an instance that is only a reorder when there is one (a
/// record that is also a duplicate tells the duplicate's lesson, not the reorder's).
pub fn examples(anomalies: &[Anomaly]) -> Vec<usize> {
    let duplicated: BTreeSet<(&str, u64)> = anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::Duplicate)
        .flat_map(|a| a.records.iter().filter_map(|r| Some((r.key.as_str(), r.value?))))
        .collect();
    let only_reordered = |a: &Anomaly| {
        !matches!(a.kind, AnomalyKind::NonmonotonicSend | AnomalyKind::IntNonmonotonicSend)
            || !a.records.iter().any(|r| r.value.is_some_and(|v| duplicated.contains(&(r.key.as_str(), v))))
    };
    let mut chosen: Vec<usize> = Vec::new();
    for (i, a) in anomalies.iter().enumerate() {
        match chosen.iter().position(|&c| anomalies[c].kind == a.kind) {
            None => chosen.push(i),
            Some(at) if !only_reordered(&anomalies[chosen[at]]) && only_reordered(a) => chosen[at] = i,
            Some(_) => {}
        }
    }
    chosen
}

/// The records of an anomaly worth following: those with a value, the checker's first
/// (the record the anomaly is about) first, without repeats; for a poll skip, a skipped
/// record rather than its neighbours.
fn focuses(anomaly: &Anomaly) -> Vec<Focus> {
    let mut refs: Vec<_> = anomaly.records.iter().filter(|r| r.value.is_some()).collect();
    match anomaly.kind {
        AnomalyKind::PollSkip | AnomalyKind::IntPollSkip | AnomalyKind::ConsumeSkip => {
            refs.retain(|r| r.role == RecordRole::Subject)
        }
        AnomalyKind::LostWrite | AnomalyKind::G1a => refs.truncate(1),
        _ => {}
    }
    let mut out: Vec<Focus> = Vec::new();
    for r in refs {
        let focus = Focus { key: r.key.clone(), value: r.value, offset: r.offset };
        if !out.iter().any(|f| f.key == focus.key && f.value == focus.value) && out.len() < MAX_RECORDS {
            out.push(focus);
        }
    }
    out
}

/// The glossary terms a set of stories uses, in reading order ([`glossary::Term::ALL`]).
/// The glossary's needles are English: give it the English telling of the stories (the
/// Chinese telling uses the same terms).
pub fn terms_of<'a>(stories: impl IntoIterator<Item = &'a Story>) -> Vec<glossary::Term> {
    let text: String = stories.into_iter().map(render_text).collect();
    glossary::terms_used(&text)
}

/// The story as plain text, as `kafkasim explain` prints it, in the story's language.
pub fn render_text(story: &Story) -> String {
    let lang = story.lang;
    // The checker's description is shared with `kafkasim check` and stays English.
    let mut out = lang.pick(
        format!("{}: {}\n", story.kind, story.summary),
        format!("{}\n  检查器的描述（英文）：{}\n", story.kind, story.summary),
    );
    for (heading, lines) in &story.records {
        out += &lang.pick(format!("\n  The life of {heading}:\n"), format!("\n  {heading} 的经历：\n"));
        if lines.is_empty() {
            out +=
                lang.pick("    (nothing in the history or trace mentions it)\n", "    （历史和跟踪中都没有提到它）\n");
        }
        for line in lines {
            out += &format!("    {:>10}  {}\n", secs(line.time_ns), line.text);
        }
    }
    out += &lang.pick(
        format!("\n  Cause: {}\n  Prevention: {}\n", story.cause, story.prevention),
        format!("\n  原因：{}\n  预防：{}\n", story.cause, story.prevention),
    );
    out
}
