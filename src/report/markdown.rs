//! The Markdown summary of a report (`README.md`): the lesson, how to reproduce the run,
//! what happened, the faults, every anomaly kind with the story of its first instance,
//! and the scenario file.

use super::{secs, ReportData};
use crate::explain;
use crate::scenario::Lang;
use std::fmt::Write;

/// The scenario file as the commands name it: `scenarios/<file>`, whatever path the
/// report was generated from, so reports do not depend on the working directory.
pub(crate) fn scenario_path(data: &ReportData<'_>) -> String {
    let file =
        data.scenario.path.file_name().map_or_else(|| data.scenario.name.clone(), |f| f.to_string_lossy().into_owned());
    format!("scenarios/{file}")
}

/// The commands that replay, explain and re-report the run.
pub(crate) fn commands(data: &ReportData<'_>) -> Vec<String> {
    let (path, seed) = (scenario_path(data), data.outcome.seed);
    let set = data.scenario.set_arguments();
    ["run", "explain", "report"].iter().map(|c| format!("kafkasim {c} {path} --seed {seed}{set}")).collect()
}

/// Lines of facts about the run (no wall-clock figures: reports must be reproducible).
pub(crate) fn facts(data: &ReportData<'_>) -> Vec<String> {
    let s = &data.outcome.stats;
    let mut out = vec![
        format!(
            "sends: {} invoked, {} acknowledged, {} failed, {} with unknown outcome; {} distinct values consumed",
            s.sent, s.acked, s.failed, s.unknown, s.consumed
        ),
        format!("faults fired: {}; simulated time: {}", s.faults, secs(data.end_ns)),
    ];
    for span in &data.outcome.unavailability {
        let until = span.until_ms.map_or("the end".to_string(), |ms| secs(ms * 1_000_000));
        out.push(format!(
            "unavailable: {} had no live leader from {} to {until}",
            span.tp,
            secs(span.from_ms * 1_000_000)
        ));
    }
    out.extend(explain::mechanism::RefusedCommits::of(&data.outcome.history).line());
    // The count of records overtaken across partitions is the ordering lessons' point;
    // elsewhere it only distracts.
    let ordering = data.scenario.theme == Some(crate::scenario::Theme::Ordering);
    if ordering && data.scenario.topics.iter().any(|t| t.partitions > 1) {
        out.push(format!(
            "records a consumer received after a record their producer sent later, in another partition (overtaken across partitions): {}",
            data.overtaken
        ));
    }
    out.extend(crate::report::describe::rate_schedule_lines(data.scenario, None));
    out.push(format!("expectation: {}", data.verdict));
    out.push(format!("trace hash: {:016x}", data.outcome.trace_hash));
    out
}

/// Renders the Markdown summary.
pub(crate) fn render(data: &ReportData<'_>) -> String {
    let sc = data.scenario;
    let mut md = format!("# {}\n\n", sc.title.as_deref().unwrap_or(&sc.name));
    let theme = sc.theme.map_or("no theme".to_string(), |t| t.to_string());
    let _ = writeln!(
        md,
        "Scenario `{}` ({theme}), seed {}. The charts are in [report.html](report.html).\n",
        sc.name, data.outcome.seed
    );
    for (label, text) in [("Lesson", &sc.lesson), ("Mechanism", &sc.mechanism), ("Fix", &sc.fix)] {
        if let Some(text) = text {
            let _ = writeln!(md, "**{label}.** {}\n", text.trim());
        }
    }
    md += "## Reproduce\n\n```\n";
    for c in commands(data) {
        md += &c;
        md.push('\n');
    }
    md += "```\n\n## The run\n\n";
    for f in facts(data) {
        let _ = writeln!(md, "- {f}");
    }
    let mut release = crate::scenario::render_switch_settings(sc).into_iter();
    if let Some(heading) = release.next() {
        let _ = writeln!(md, "\n## Release settings\n\n{heading}:\n");
        for line in release {
            let _ = writeln!(md, "- `{line}`");
        }
    }
    if let Some(drawn) = &data.outcome.drawn {
        md += "\n## Drawn from the seed\n\n";
        for line in drawn.lines() {
            let _ = writeln!(md, "- {line}");
        }
    }
    md += "\n## Faults\n\n";
    if data.faults.is_empty() {
        md += "None.\n";
    } else {
        md += "| time | fault | targets | what it did |\n|---|---|---|---|\n";
        for (t, kind, targets, detail) in &data.faults {
            let _ = writeln!(md, "| {} | {kind} | {} | {} |", secs(*t), targets.join(", "), detail.replace('|', "\\|"));
        }
    }
    let groups = crate::check::groups::rebalances(&data.outcome.history);
    if !groups.is_empty() {
        md += "\n## Consumer groups\n\nEach generation's (or, under the consumer protocol, member epoch's) assignment (as `kafkasim run` prints it):\n\n";
        md += "| group | rebalance | at | members and their partitions |\n|---|---|---|---|\n";
        for r in &groups {
            let line = r.assignment_line().replace('|', "\\|");
            let _ = writeln!(md, "| {} | {} | {} | {line} |", r.group, r.label(), secs(r.time_ns));
        }
        md.push('\n');
        for g in crate::check::groups::ownerless_time(&data.outcome.history) {
            let _ = writeln!(md, "- {}: {}", g.group, g.summary());
        }
    }
    if !data.lags.is_empty() {
        md += "\n## Consumer lag\n\nPer group and partition (charted in report.html): the lag (the leader's high \
               watermark minus the group's committed offset, as `kafka-consumer-groups.sh` computes it) at its \
               largest and at the end of the run, and the records retention deleted before any member of the group read \
               them:\n\n";
        md += "| group | partition | peak lag (at) | lag at the end | deleted unread |\n|---|---|---:|---:|---:|\n";
        for group in &data.lags {
            for p in &group.partitions {
                let peak = p.peak().map_or("-".to_string(), |(t, lag)| format!("{lag} ({})", secs(t)));
                let last = p.last().map_or("-".to_string(), |lag| lag.to_string());
                let _ = writeln!(md, "| {} | {} | {peak} | {last} | {} |", group.group, p.tp, p.deleted_unread());
            }
        }
    }
    let _ = write!(
        md,
        "\n## Topics and groups at the end of the run\n\nAs `kafkasim describe` prints them (Kafka's \
         `kafka-topics.sh --describe` and `kafka-consumer-groups.sh --describe`):\n\n```\n{}```\n",
        data.described
    );
    md += "\n## Anomalies\n\n";
    if data.stories.is_empty() {
        md += "None.\n";
    } else {
        md += "| anomaly | count | cause | prevention |\n|---|---|---|---|\n";
        for (kind, count, story) in &data.stories {
            let _ = writeln!(
                md,
                "| `{kind}` | {count} | {} | {} |",
                story.cause.replace('|', "\\|"),
                story.prevention.replace('|', "\\|")
            );
        }
        md += "\nOne instance of each kind (the first, unless a later one teaches more plainly: a reordered send that is not also a duplicate), told from the history and the trace";
        let terms = explain::terms_of(data.stories.iter().map(|(_, _, story)| story));
        let links: Vec<String> =
            terms.iter().map(|t| format!("[{}](../../docs/glossary.md#{})", t.name(Lang::En), t.anchor())).collect();
        if !links.is_empty() {
            let _ = write!(md, " (its terms are defined in the glossary: {})", links.join(", "));
        }
        md += ":\n\n";
        for (_, _, story) in &data.stories {
            let _ = writeln!(md, "```text\n{}```\n", explain::render_text(story));
        }
    }
    md += &super::proof::markdown(data);
    if !sc.notes.is_empty() {
        md += "\n## Notes\n\n";
        for n in &sc.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    let _ = write!(md, "\n## Scenario file\n\n```toml\n{}\n```\n", sc.source.trim_end());
    md
}
