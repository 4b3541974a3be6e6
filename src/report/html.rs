//! The self-contained HTML page of a report: inline CSS, inline SVG charts and a few lines
//! of inline script; nothing is fetched when the page is viewed.

use super::markdown::{commands, facts, labelled_texts, release_heading, theme, title};
use super::svg::{self, esc};
use super::{secs, timeline, ReportData, BUCKET_NS};
use crate::explain::glossary::Term;
use crate::scenario::Lang;
use std::fmt::Write;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.5em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}table{border-collapse:collapse;width:100%;font-size:.9em}\
td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}\
pre.commands{white-space:pre-wrap;overflow-wrap:anywhere}li code,td code{overflow-wrap:anywhere;word-break:break-word}li{overflow-wrap:anywhere}\
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\
svg.chart{display:block;width:100%;height:auto;margin:.4em 0 1em}\
details{margin:.3em 0}code{background:#f3f3f3;padding:0 3px}\
#tip{position:absolute;display:none;max-width:28em;background:#ffffe8;border:1px solid #999;padding:3px 6px;font-size:.8em;pointer-events:none;z-index:10;white-space:pre-wrap}\
[data-story]{cursor:help}#anomalies tr[data-records]{cursor:pointer}#anomalies tr.picked{background:#fff3c4}\
circle.rec.hl{r:7px;stroke:#000;stroke-width:2px}path.rec.hl{stroke:#000;stroke-width:4px}";

/// The page's script: counts what rendered (so a headless browser test can see that the
/// page rendered and its script ran), shows the story of the mark or event under the
/// pointer (`data-story`) in a tooltip, and highlights an anomaly's records on the
/// timelines when its row is clicked. Loaded with `#selftest` it does both once itself
/// and writes what happened into `data-selftest-*` attributes of `<body>`.
const SCRIPT: &str = "window.addEventListener('error',function(e){document.documentElement.setAttribute('data-error',String(e.message));});\
document.addEventListener('DOMContentLoaded',function(){\
var b=document.body;\
b.setAttribute('data-charts',String(document.querySelectorAll('svg.chart').length));\
b.setAttribute('data-anomaly-rows',String(document.querySelectorAll('#anomalies tr').length));\
var tip=document.createElement('div');tip.id='tip';tip.setAttribute('role','tooltip');b.appendChild(tip);\
document.addEventListener('mouseover',function(e){\
var el=e.target&&e.target.closest?e.target.closest('[data-story]'):null;\
if(!el){tip.style.display='none';return;}\
tip.textContent=el.getAttribute('data-story');tip.style.display='block';\
var x=e.pageX+14,w=tip.offsetWidth;if(x+w>window.scrollX+document.documentElement.clientWidth){x=Math.max(0,e.pageX-w-8);}\
tip.style.left=x+'px';tip.style.top=(e.pageY+14)+'px';});\
function pick(row){\
document.querySelectorAll('.rec.hl').forEach(function(m){m.classList.remove('hl');});\
document.querySelectorAll('#anomalies tr.picked').forEach(function(r){r.classList.remove('picked');});\
var want={};(row.getAttribute('data-records')||'').split(' ').forEach(function(r){if(r){want[r]=1;}});\
var n=0,first=null;document.querySelectorAll('.rec').forEach(function(m){if(want[m.getAttribute('data-rec')]){m.classList.add('hl');n++;if(!first){first=m;}}});\
row.classList.add('picked');b.setAttribute('data-highlighted',String(n));return first;}\
document.querySelectorAll('#anomalies tr[data-records]').forEach(function(row){row.addEventListener('click',function(e){\
if(e.target.closest('summary,details')){return;}var first=pick(row);if(first&&e.isTrusted){first.scrollIntoView({block:'center'});}});});\
if(location.hash==='#selftest'){\
var m=document.querySelector('.rec')||document.querySelector('[data-story]');\
if(m){var r=m.getBoundingClientRect();m.dispatchEvent(new MouseEvent('mouseover',{bubbles:true,clientX:r.left,clientY:r.top}));\
b.setAttribute('data-selftest-tooltip',tip.style.display==='block'?tip.textContent:'');}\
var row=document.querySelector('#anomalies tr[data-records]');\
if(row){row.dispatchEvent(new MouseEvent('click',{bubbles:true}));}\
b.setAttribute('data-selftest-highlighted',b.getAttribute('data-highlighted')||'0');\
b.setAttribute('data-selftest','done');}});";

/// The most records (`partition:offset`) an anomaly row lists for highlighting.
const ROW_RECORDS: usize = 500;

/// Renders the page.
pub(crate) fn render(data: &ReportData<'_>) -> String {
    let (sc, lang) = (data.scenario, data.lang);
    let history = &data.outcome.history;
    let title = title(data);
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>\n",
        lang.code(),
        esc(&title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
    let (name, theme, seed) = (esc(&sc.name), theme(data), data.outcome.seed);
    let _ = writeln!(
        h,
        "{}",
        lang.pick(
            format!("<p>Scenario <code>{name}</code> ({theme}), seed {seed}.</p>"),
            format!("<p>场景 <code>{name}</code>（{theme}），种子 {seed}。English: <a href=\"report.html\">report.html</a>。</p>"),
        )
    );
    for (label, text) in labelled_texts(data) {
        let _ = writeln!(h, "<p><b>{label}{}</b> {}</p>", lang.pick(".", "。"), esc(&text));
    }
    let _ = writeln!(h, "<pre class=\"commands\">{}</pre>", esc(&commands(data).join("\n")));
    let _ = write!(h, "<h2>{}</h2>\n<ul>", lang.pick("The run", "这次运行"));
    for f in facts(data) {
        let _ = write!(h, "<li>{}</li>", esc(&f));
    }
    h += "</ul>\n";

    let bands = timeline::fault_bands(history, data.end_ns);
    let marks = timeline::record_marks(history, &data.outcome.anomalies);
    h += svg::DEFS;
    h += lang.pick(
        "<h2>Timeline per partition</h2>\n<p>Top: the faults, one bar per fault and target, from when it began to when it \
         ended. Black: the acting leader's high watermark (broken while no leader serves one); dashed: each replica's \
         log end offset; lanes: leader (dark) and ISR members (light) per broker, hatched while the broker is down; \
         orange lines: elections (red: unclean); crosses: an acknowledged record a replica truncated or came back \
         without (red: lost for good); purple dots: the records of the anomalies below. Hover a mark, a bar or a line \
         for its story; click an anomaly's row to highlight its records.</p>\n",
        "<h2>各分区的时间线</h2>\n<p>顶部：故障，每个故障和目标一条横条，从开始到结束。黑线：当前 leader 的高水位\
         （没有 leader 提供高水位时断开）；虚线：各副本的日志末端位移；泳道：每个 broker 是 leader（深色）还是 ISR \
         成员（浅色），broker 宕机时画斜线；橙色竖线：选举（红色：非干净选举）；叉：某个副本截断了、或重启后丢失了\
         的已确认消息（红色：永久丢失）；紫色圆点：下面各异常涉及的消息。把鼠标悬停在标记、横条或线上可以看到它\
         的经过（图中的提示为英文）；点击异常表中的一行会高亮它的消息。</p>\n",
    );
    for p in timeline::timelines(history) {
        let mine: Vec<&timeline::RecordMark> = marks.iter().filter(|m| m.tp == p.tp).collect();
        let _ = writeln!(h, "<h3>{}</h3>\n{}", esc(&p.tp), svg::partition_timeline(&p, &bands, &mine, data.end_ns));
    }
    h += lang.pick(
        "<h2>Throughput and latency</h2>\n<p>Records acknowledged per second (top) and the mean (green) and largest (orange) \
         send latency of the send operations completed in each second (bottom); faults shaded.</p>\n",
        "<h2>吞吐量和延迟</h2>\n<p>每秒确认的消息数（上）以及每秒内完成的发送操作的平均（绿色）和最大（橙色）发送延迟\
         （下）；故障期间加阴影。</p>\n",
    );
    let buckets = timeline::throughput(history, BUCKET_NS, data.end_ns);
    h += &svg::throughput_chart(&buckets, BUCKET_NS, &bands, data.end_ns);
    let load = timeline::broker_load(history);
    if !load.is_empty() {
        h += lang.pick(
            "\n<h2>Brokers' request pipelines</h2>\n<p>Per broker (one colour each) and per 100 ms window: how busy its \
             request handlers were (top), the deepest its request queue got (middle) and the longest a request \
             waited in it (bottom). A line at zero: the broker served nothing then (idle or down); faults shaded.</p>\n",
            "\n<h2>各 broker 的请求流水线</h2>\n<p>按 broker（每个一种颜色）和每 100 ms 窗口：请求处理线程的繁忙程度\
             （上）、请求队列的最大深度（中）以及请求在队列中等待的最长时间（下）。线在零处：该 broker 那时没有处理\
             任何请求（空闲或宕机）；故障期间加阴影。</p>\n",
        );
        h += &svg::broker_load_chart(&load, &bands, data.end_ns);
    }
    h += lang.pick(
        "\n<h2>Log order per partition</h2>\n<p>Each partition's final log as the final drain read it, by offset.",
        "\n<h2>各分区的日志顺序</h2>\n<p>最终排空读到的每个分区的最终日志，按位移排列。",
    );
    h += &svg::log_order_legend(lang);
    h += "</p>\n";
    for order in timeline::log_orders(history) {
        h += &svg::log_order_strip(&order);
        h.push('\n');
    }

    let _ = writeln!(h, "<h2>{}</h2>", lang.pick("Faults", "故障"));
    if data.faults.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", lang.pick("None.", "无。"));
    } else {
        h += lang.pick(
            "<table id=\"faults\"><tr><th>time</th><th>fault</th><th>targets</th><th>what it did</th></tr>",
            "<table id=\"faults\"><tr><th>时间</th><th>故障</th><th>目标</th><th>它做了什么</th></tr>",
        );
        for row in &data.faults {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                secs(row.time_ns),
                esc(&row.label()),
                esc(&row.targets_text(lang)),
                esc(&row.detail)
            );
        }
        h += "</table>\n";
    }
    let groups = crate::check::groups::rebalances(history);
    if !groups.is_empty() {
        h += lang.pick(
            "<h2>Consumer groups</h2>\n<table id=\"groups\"><tr><th>group</th><th>rebalance</th><th>at</th><th>members and their partitions</th></tr>",
            "<h2>消费者组</h2>\n<table id=\"groups\"><tr><th>组</th><th>再均衡</th><th>时间</th><th>成员及其分区</th></tr>",
        );
        for r in &groups {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.group),
                r.label(),
                secs(r.time_ns),
                esc(&r.assignment_line())
            );
        }
        h += "</table>\n<ul>";
        for g in crate::check::groups::ownerless_time(history) {
            let _ = write!(h, "<li>{}: {}</li>", esc(&g.group), esc(&g.summary_in(lang)));
        }
        h += "</ul>\n";
        if sc.theme == Some(crate::scenario::Theme::ConsumerGroups) {
            h += lang.pick(
                "<h3>Members, generations and assignments</h3>\n<p>One lane per member: the partitions it held \
                 (from the assignment it was given until it revoked or lost them, was given another, or its process \
                 crashed; its label: the partitions, or their count where space is short); dashed lines: each \
                 generation (member epoch under KIP-848) as its first member received its assignment; faults on top. \
                 Hover a span for its story.</p>\n",
                "<h3>成员、代与分配</h3>\n<p>每个成员一条泳道：它持有的分区（从它得到分配起，直到它撤销或失去这些分区、\
                 得到另一个分配、或它的进程崩溃；标签是分区，空间不够时是分区数）；虚线：每一代（KIP-848 下是成员纪元）\
                 在其第一个成员收到分配时开始；故障在顶部。把鼠标悬停在一段上可以看到它的经过。</p>\n",
            );
            for g in super::group_lanes::group_lanes(history, data.end_ns) {
                let _ = writeln!(h, "<h4>{}</h4>\n{}", esc(&g.group), svg::group_chart(&g, &bands, data.end_ns));
            }
        }
    }
    if !data.lags.is_empty() {
        h += lang.pick(
            "<h2>Consumer lag per partition</h2>\n<p>Per group, each partition's lag over time as \
             <code>kafka-consumer-groups.sh --describe</code> would have shown it: the leader's high watermark \
             (what ListOffsets <code>latest</code> answers) minus the group's committed offset, from its first \
             commit on, the largest in each 100 ms; red ticks under the axis: retention deleted records the group had not read; faults \
             shaded.</p>\n",
            "<h2>各分区的消费者滞后</h2>\n<p>按组，每个分区的滞后随时间的变化，与 \
             <code>kafka-consumer-groups.sh --describe</code> 显示的一致：leader 的高水位（ListOffsets \
             <code>latest</code> 的回答）减去组的已提交位移，从第一次提交开始，取每 100 ms 的最大值；坐标轴下的红色刻度：\
             保留策略删除了组尚未读取的消息；故障期间加阴影。</p>\n",
        );
        for group in &data.lags {
            let _ = writeln!(h, "<h3>{}</h3>\n{}", esc(&group.group), svg::lag_chart(group, &bands, data.end_ns));
        }
    }
    let _ = write!(
        h,
        "{}\n<pre id=\"describe\">{}</pre>\n",
        lang.pick(
            "<h2>Topics and groups at the end of the run</h2>\n<p>As <code>kafkasim describe</code> prints them.</p>",
            "<h2>运行结束时的主题和消费者组</h2>\n<p>与 <code>kafkasim describe</code> 的输出相同。</p>",
        ),
        esc(&data.described)
    );
    h += lang.pick(
        "<h2>Anomalies</h2>\n<table id=\"anomalies\"><tr><th>anomaly</th><th>count</th><th>an instance and its story</th></tr>",
        "<h2>异常</h2>\n<table id=\"anomalies\"><tr><th>异常</th><th>数量</th><th>一个实例及其经过</th></tr>",
    );
    if data.stories.is_empty() {
        let _ = write!(h, "<tr><td colspan=\"3\">{}</td></tr>", lang.pick("None.", "无。"));
    }
    let (cause, prevention, story_label) =
        (lang.pick("Cause.", "原因。"), lang.pick("Prevention.", "预防。"), lang.pick("story", "经过"));
    for (kind, count, story) in &data.stories {
        let mut lines = String::new();
        for (heading, life) in &story.records {
            let _ = writeln!(lines, "{}", lang.pick(format!("The life of {heading}:"), format!("{heading} 的经历：")));
            for l in life {
                let _ = writeln!(lines, "{:>10}  {}", secs(l.time_ns), l.text);
            }
        }
        let records: std::collections::BTreeSet<String> = data
            .outcome
            .anomalies
            .iter()
            .filter(|a| a.kind == *kind)
            .flat_map(|a| a.records.iter().filter_map(|r| r.offset.map(|o| format!("{}:{o}", r.key))))
            .take(ROW_RECORDS)
            .collect();
        let records: Vec<String> = records.into_iter().collect();
        let _ = write!(
            h,
            "<tr data-kind=\"{kind}\" data-records=\"{}\"><td><code>{kind}</code></td><td>{count}</td><td>{}<p><b>{cause}</b> {}</p><p><b>{prevention}</b> {}</p><details><summary>{story_label}</summary><pre>{}</pre></details></td></tr>",
            esc(&records.join(" ")),
            esc(&story.summary),
            esc(&story.cause),
            esc(&story.prevention),
            esc(&lines)
        );
    }
    h += "</table>\n";
    h += &terms_html(&data.terms, lang);
    h += &super::proof::html(data);
    let _ = writeln!(h, "<h2>{}</h2>", lang.pick("Configuration", "配置"));
    let mut release = crate::scenario::render_switch_settings(sc).into_iter();
    if let Some(heading) = release.next() {
        let heading = release_heading(data, &heading);
        let _ = write!(h, "<p>{}{}</p><ul id=\"release-settings\">", esc(&heading), lang.pick(":", "："));
        for line in release {
            let _ = write!(h, "<li><code>{}</code></li>", esc(&line));
        }
        h += "</ul>\n";
    }
    if let Some(drawn) = &data.outcome.drawn {
        h += lang.pick(
            "<p>Drawn from the seed (swarm and nemesis):</p><ul id=\"drawn\">",
            "<p>由种子抽取（swarm 和 nemesis）：</p><ul id=\"drawn\">",
        );
        for line in drawn.lines() {
            let _ = write!(h, "<li>{}</li>", esc(&line));
        }
        h += "</ul>\n";
    }
    if !sc.notes.is_empty() {
        h += "<ul>";
        for n in &sc.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h += "</ul>";
    }
    let _ = writeln!(h, "<pre>{}</pre>\n</body></html>", esc(sc.source.trim_end()));
    h
}

/// The glossary terms the stories use, defined below the anomaly table (the report is
/// one self-contained file, so the definitions are in it); empty without stories.
fn terms_html(terms: &[Term], lang: Lang) -> String {
    if terms.is_empty() {
        return String::new();
    }
    let mut h = format!(
        "<details id=\"terms\"><summary>{}</summary><dl>",
        lang.pick("Terms these stories use", "这些故事用到的术语")
    );
    for term in terms {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(term.name(lang)), esc(term.definition(lang)));
    }
    h + "</dl></details>\n"
}
