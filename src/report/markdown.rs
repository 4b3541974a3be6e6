//! The Markdown summary of a report (`README.md`): the lesson, how to reproduce the run,
//! what happened, the faults, every anomaly kind with the story of its first instance,
//! and the scenario file.

use super::{secs, ReportData};
use crate::explain;
use std::fmt::Write;

/// The scenario file as the commands name it: `scenarios/<file>`, whatever path the
/// report was generated from, so reports do not depend on the working directory.
pub(crate) fn scenario_path(data: &ReportData<'_>) -> String {
    let file =
        data.scenario.path.file_name().map_or_else(|| data.scenario.name.clone(), |f| f.to_string_lossy().into_owned());
    format!("scenarios/{file}")
}

/// The commands that replay, explain and re-report the run (the last two in the
/// report's language).
pub(crate) fn commands(data: &ReportData<'_>) -> Vec<String> {
    let (path, seed) = (scenario_path(data), data.outcome.seed);
    let set = data.scenario.set_arguments();
    let lang = data.lang.pick(String::new(), format!(" --lang {}", data.lang.code()));
    [("run", ""), ("explain", lang.as_str()), ("report", lang.as_str())]
        .iter()
        .map(|(c, lang)| format!("kafkasim {c} {path} --seed {seed}{set}{lang}"))
        .collect()
}

/// Lines of facts about the run (no wall-clock figures: reports must be reproducible).
pub(crate) fn facts(data: &ReportData<'_>) -> Vec<String> {
    let (s, lang) = (&data.outcome.stats, data.lang);
    let mut out = vec![
        lang.pick(
            format!(
                "sends: {} invoked, {} acknowledged, {} failed, {} with unknown outcome; {} distinct values consumed",
                s.sent, s.acked, s.failed, s.unknown, s.consumed
            ),
            format!(
                "发送：调用 {} 次，确认 {} 次，失败 {} 次，结果未知 {} 次；消费到 {} 个不同的值",
                s.sent, s.acked, s.failed, s.unknown, s.consumed
            ),
        ),
        lang.pick(
            format!("faults fired: {}; simulated time: {}", s.faults, secs(data.end_ns)),
            format!("触发的故障：{} 个；模拟时间：{}", s.faults, secs(data.end_ns)),
        ),
    ];
    for group in crate::runner::grouped_unavailability(&data.outcome.unavailability) {
        let until = group.until_ms.map_or(lang.pick("the end", "结束").to_string(), |ms| secs(ms * 1_000_000));
        let from = secs(group.from_ms * 1_000_000);
        let partitions = group.partitions_phrase(lang);
        out.push(lang.pick(
            format!("unavailable: {partitions} had no live leader from {from} to {until}"),
            format!("不可用：{partitions} 从 {from} 到 {until} 没有存活的 leader"),
        ));
    }
    out.extend(explain::mechanism::RefusedCommits::of(&data.outcome.history).line_in(lang));
    // The count of records overtaken across partitions is the ordering lessons' point;
    // elsewhere it only distracts.
    let ordering = data.scenario.theme == Some(crate::scenario::Theme::Ordering);
    if ordering && data.scenario.topics.iter().any(|t| t.partitions > 1) {
        out.push(lang.pick(
            format!(
                "records a consumer received after a record their producer sent later, in another partition (overtaken across partitions): {}",
                data.overtaken
            ),
            format!(
                "消费者在其生产者更晚发送的另一分区的消息之后才收到的消息（跨分区被超越）：{}",
                data.overtaken
            ),
        ));
    }
    out.extend(crate::report::describe::rate_schedule_lines(data.scenario, None));
    out.push(format!("{}{}", lang.pick("expectation: ", "预期："), data.verdict));
    out.push(format!("{}{:016x}", lang.pick("trace hash: ", "跟踪哈希："), data.outcome.trace_hash));
    out
}

/// The scenario's theme as a report names it.
pub(crate) fn theme(data: &ReportData<'_>) -> String {
    data.scenario.theme.map_or(data.lang.pick("no theme", "无主题").to_string(), |t| t.to_string())
}

/// The catalog texts in the report's language, each with its label: lesson, mechanism
/// and fix, in that order (those the file has).
pub(crate) fn labelled_texts(data: &ReportData<'_>) -> Vec<(&'static str, String)> {
    let (texts, lang) = (data.scenario.texts(data.lang), data.lang);
    [
        (lang.pick("Lesson", "要点"), texts.lesson),
        (lang.pick("Mechanism", "机制"), texts.mechanism),
        (lang.pick("Fix", "修复"), texts.fix),
    ]
    .into_iter()
    .filter_map(|(label, text)| Some((label, text?.trim().to_string())))
    .collect()
}

/// The report's title: the scenario's, in the report's language, else its name.
pub(crate) fn title(data: &ReportData<'_>) -> String {
    data.scenario.texts(data.lang).title.unwrap_or_else(|| data.scenario.name.clone())
}

/// The first line of the release settings: which Kafka release's behaviour the run
/// follows ([`crate::scenario::render_switch_settings`] gives it in English).
pub(crate) fn release_heading(data: &ReportData<'_>, english: &str) -> String {
    let release = data.scenario.profile.version;
    data.lang.pick(
        english.to_string(),
        format!("Kafka {release} 的行为（kafka_version）；未列出的设置按文件所写，否则为 Kafka 的默认值"),
    )
}

/// The glossary's terms as Markdown links into `docs/glossary.md`, in the report's
/// language.
fn glossary_links(data: &ReportData<'_>) -> Vec<String> {
    data.terms
        .iter()
        .map(|t| format!("[{}](../../docs/glossary.md#{})", t.name(data.lang), t.anchor_in(data.lang)))
        .collect()
}

/// Renders the Markdown summary.
pub(crate) fn render(data: &ReportData<'_>) -> String {
    let (sc, lang) = (data.scenario, data.lang);
    let mut md = format!("# {}\n\n", title(data));
    let (html_file, _) = super::Report::file_names(lang);
    let (theme, seed) = (theme(data), data.outcome.seed);
    let _ = writeln!(
        md,
        "{}\n",
        lang.pick(
            format!("Scenario `{}` ({theme}), seed {seed}. The charts are in [{html_file}]({html_file}).", sc.name),
            format!(
                "场景 `{}`（{theme}），种子 {seed}。图表在 [{html_file}]({html_file}) 中。English: [README.md](README.md)。",
                sc.name
            ),
        )
    );
    for (label, text) in labelled_texts(data) {
        let _ = writeln!(md, "**{label}{}** {text}\n", lang.pick(".", "。"));
    }
    let _ = write!(md, "## {}\n\n```\n", lang.pick("Reproduce", "复现"));
    for c in commands(data) {
        md += &c;
        md.push('\n');
    }
    let _ = write!(md, "```\n\n## {}\n\n", lang.pick("The run", "这次运行"));
    for f in facts(data) {
        let _ = writeln!(md, "- {f}");
    }
    let mut release = crate::scenario::render_switch_settings(sc).into_iter();
    if let Some(heading) = release.next() {
        let heading = release_heading(data, &heading);
        let _ =
            writeln!(md, "\n## {}\n\n{heading}{}\n", lang.pick("Release settings", "版本设置"), lang.pick(":", "："));
        for line in release {
            let _ = writeln!(md, "- `{line}`");
        }
    }
    if let Some(drawn) = &data.outcome.drawn {
        let _ = write!(md, "\n## {}\n\n", lang.pick("Drawn from the seed", "由种子抽取"));
        for line in drawn.lines() {
            let _ = writeln!(md, "- {line}");
        }
    }
    let _ = write!(md, "\n## {}\n\n", lang.pick("Faults", "故障"));
    if data.faults.is_empty() {
        md += lang.pick("None.\n", "无。\n");
    } else {
        md += lang.pick(
            "| time | fault | targets | what it did |\n|---|---|---|---|\n",
            "| 时间 | 故障 | 目标 | 它做了什么 |\n|---|---|---|---|\n",
        );
        for row in &data.faults {
            let (time, label, targets) = (secs(row.time_ns), row.label(), row.targets_text(lang));
            let _ = writeln!(md, "| {time} | {label} | {targets} | {} |", row.detail.replace('|', "\\|"));
        }
    }
    let groups = crate::check::groups::rebalances(&data.outcome.history);
    if !groups.is_empty() {
        md += lang.pick(
            "\n## Consumer groups\n\nEach generation's (or, under the consumer protocol, member epoch's) assignment (as `kafkasim run` prints it):\n\n",
            "\n## 消费者组\n\n每一代（在 consumer 协议下是每个成员纪元）的分配（与 `kafkasim run` 的输出相同）：\n\n",
        );
        md += lang.pick(
            "| group | rebalance | at | members and their partitions |\n|---|---|---|---|\n",
            "| 组 | 再均衡 | 时间 | 成员及其分区 |\n|---|---|---|---|\n",
        );
        for r in &groups {
            let line = r.assignment_line().replace('|', "\\|");
            let _ = writeln!(md, "| {} | {} | {} | {line} |", r.group, r.label(), secs(r.time_ns));
        }
        md.push('\n');
        for g in crate::check::groups::ownerless_time(&data.outcome.history) {
            let _ = writeln!(md, "- {}: {}", g.group, g.summary_in(lang));
        }
    }
    if !data.lags.is_empty() {
        md += &lang.pick(
            format!(
                "\n## Consumer lag\n\nPer group and partition (charted in {html_file}): the lag (the leader's high \
                 watermark minus the group's committed offset, as `kafka-consumer-groups.sh` computes it) at its \
                 largest and at the end of the run, and the records retention deleted before any member of the group \
                 read them:\n\n"
            ),
            format!(
                "\n## 消费者滞后\n\n按组和分区（图表见 {html_file}）：滞后（leader 的高水位减去组的已提交位移，\
                 与 `kafka-consumer-groups.sh` 的算法相同）的最大值和运行结束时的值，以及组内任何成员读到之前就被\
                 保留策略删除的消息数：\n\n"
            ),
        );
        md += lang.pick(
            "| group | partition | peak lag (at) | lag at the end | deleted unread |\n|---|---|---:|---:|---:|\n",
            "| 组 | 分区 | 最大滞后（时间） | 结束时的滞后 | 未读即删除 |\n|---|---|---:|---:|---:|\n",
        );
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
        "{}\n\n```\n{}```\n",
        lang.pick(
            "\n## Topics and groups at the end of the run\n\nAs `kafkasim describe` prints them (Kafka's \
             `kafka-topics.sh --describe` and `kafka-consumer-groups.sh --describe`):",
            "\n## 运行结束时的主题和消费者组\n\n与 `kafkasim describe` 的输出相同（即 Kafka 的 \
             `kafka-topics.sh --describe` 和 `kafka-consumer-groups.sh --describe`）：",
        ),
        data.described
    );
    let _ = write!(md, "\n## {}\n\n", lang.pick("Anomalies", "异常"));
    if data.stories.is_empty() {
        md += lang.pick("None.\n", "无。\n");
    } else {
        md += lang.pick(
            "| anomaly | count | cause | prevention |\n|---|---|---|---|\n",
            "| 异常 | 数量 | 原因 | 预防 |\n|---|---|---|---|\n",
        );
        for (kind, count, story) in &data.stories {
            let _ = writeln!(
                md,
                "| `{kind}` | {count} | {} | {} |",
                story.cause.replace('|', "\\|"),
                story.prevention.replace('|', "\\|")
            );
        }
        md += lang.pick(
            "\nOne instance of each kind (the first, unless a later one teaches more plainly: a reordered send that is not also a duplicate), told from the history and the trace",
            "\n每种异常的一个实例（第一个，除非后面的某个讲得更清楚：例如一个不同时也是重复的乱序发送），根据历史和跟踪讲述",
        );
        let links = glossary_links(data);
        if !links.is_empty() {
            let _ = write!(
                md,
                "{}",
                lang.pick(
                    format!(" (its terms are defined in the glossary: {})", links.join(", ")),
                    format!("（其中的术语见术语表：{}）", links.join("、")),
                )
            );
        }
        md += lang.pick(":\n\n", "：\n\n");
        for (_, _, story) in &data.stories {
            let _ = writeln!(md, "```text\n{}```\n", explain::render_text(story));
        }
    }
    md += &super::proof::markdown(data);
    if !sc.notes.is_empty() {
        let _ = write!(md, "\n## {}\n\n", lang.pick("Notes", "说明"));
        for n in &sc.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    let _ = write!(md, "\n## {}\n\n```toml\n{}\n```\n", lang.pick("Scenario file", "场景文件"), sc.source.trim_end());
    md
}
