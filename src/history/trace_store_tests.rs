use super::*;
use crate::history::{ElectionReason, History, RunPhase};
use proptest::prelude::*;

fn at(time_ns: u64, node: &str, event: Event) -> TraceEvent {
    TraceEvent { time_ns, node: node.into(), event }
}

fn append(tp: &str, broker: u32, as_leader: bool, leader_epoch: u32, base_offset: u64, values: &[u64]) -> Event {
    Event::Append { tp: tp.into(), broker, as_leader, leader_epoch, base_offset, values: values.into() }
}

fn hw(tp: &str, broker: u32, is_leader: bool, leader_epoch: u32, old: u64, new: u64) -> Event {
    Event::HighWatermark { tp: tp.into(), broker, is_leader, leader_epoch, old, new }
}

fn acked(acks: Acks, base_offset: u64, count: u64) -> Event {
    Event::ProduceAcknowledged { tp: "orders-0".into(), broker: 1, leader_epoch: 3, acks, base_offset, count }
}

fn election(tp: &str) -> Event {
    Event::LeaderElection {
        tp: tp.into(),
        leader: Some(2),
        leader_epoch: 4,
        partition_epoch: 9,
        isr: vec![2, 3],
        unclean: false,
        reason: ElectionReason::BrokerFailure,
    }
}

/// Every hot kind with edge values, cold events between them, equal and falling times.
fn mixed() -> Vec<TraceEvent> {
    let max = u64::MAX;
    vec![
        at(0, "broker-1", Event::BrokerStarted { broker: 1 }),
        at(5, "broker-1", append("orders-0", 1, true, 0, 0, &[])),
        at(5, "broker-2", append("orders-0", 2, false, 0, 0, &[7])),
        at(6, "broker-2", append("orders-1", 2, false, u32::MAX, max, &[1, 2])),
        at(6, "broker-3", append("orders-1", u32::MAX, true, 1, max - 2, &[max, 0, max, 5, 3])),
        at(7, "runner", Event::Phase { name: RunPhase::Safety }),
        at(max, "broker-3", append("orders-2", 3, true, 1, 40, &(0..40).map(|v| v * 1000).collect::<Vec<_>>())),
        // Time never goes back in a run, but the stream must not care.
        at(3, "broker-1", hw("orders-0", 1, true, 0, 0, 1)),
        at(3, "broker-1", hw("orders-0", 1, false, 2, max, 0)),
        at(4, "controller", election("orders-0")),
        at(4, "broker-1", hw("orders-0", 1, true, 2, 0, max)),
        at(4, "broker-1", hw("orders-0", 1, true, 2, 12, 12)),
        at(9, "broker-1", acked(Acks::All, 0, 1)),
        at(9, "broker-1", acked(Acks::Leader, max, max)),
        at(10, "broker-1", acked(Acks::None, 17, 0)),
        at(10, "controller", election("orders-1")),
        at(11, "controller", election("orders-2")),
    ]
}

#[test]
fn every_event_comes_back_as_pushed_in_order() {
    let events = mixed();
    let trace = Trace::from(events.clone());
    assert_eq!(trace.len(), events.len());
    assert!(!trace.is_empty());
    let back: Vec<TraceEvent> = trace.iter().map(Cow::into_owned).collect();
    assert_eq!(back, events);
    assert_eq!(trace.iter().len(), events.len());
    assert_eq!(trace.clone().into_iter().collect::<Vec<_>>(), events);
}

#[test]
fn hot_events_are_decoded_and_cold_ones_borrowed() {
    let trace = Trace::from(mixed());
    let kinds: Vec<bool> = trace.iter().map(|e| matches!(e, Cow::Owned(_))).collect();
    let hot: Vec<bool> = mixed()
        .iter()
        .map(|e| {
            matches!(e.event, Event::Append { .. } | Event::HighWatermark { .. } | Event::ProduceAcknowledged { .. })
        })
        .collect();
    assert_eq!(kinds, hot);
    let others: Vec<TraceEvent> = mixed().into_iter().zip(&hot).filter(|(_, &hot)| !hot).map(|(e, _)| e).collect();
    assert_eq!(trace.other_than_replica_traffic().cloned().collect::<Vec<_>>(), others);
}

#[test]
fn iteration_from_any_index_yields_the_rest() {
    let events: Vec<TraceEvent> = (0..1000u64)
        .map(|i| match i % 7 {
            0 => at(i * 10, "controller", election("orders-0")),
            1 | 2 => at(i * 10, "broker-1", append("orders-0", 1, true, 0, i, &[i, i + 1])),
            3 => at(i * 10, "broker-2", hw("orders-0", 2, false, 0, i, i + 2)),
            _ => at(i * 10 + 1, "broker-1", acked(Acks::All, i, 2)),
        })
        .collect();
    let trace = Trace::from(events.clone());
    for from in [0, 1, 127, 128, 129, 255, 256, 500, 998, 999, 1000, 1001, 5000] {
        let rest: Vec<TraceEvent> = trace.iter_from(from).map(Cow::into_owned).collect();
        assert_eq!(rest, events[from.min(events.len())..], "from {from}");
        assert_eq!(trace.iter_from(from).len(), events.len().saturating_sub(from), "from {from}");
    }
    assert_eq!(trace.last().map(Cow::into_owned).as_ref(), events.last());
}

#[test]
fn an_empty_trace_has_no_events() {
    let trace = Trace::new();
    assert!(trace.is_empty());
    assert_eq!(trace.iter().count(), 0);
    assert_eq!(trace.iter_from(3).count(), 0);
    assert!(trace.last().is_none());
    assert_eq!(trace, Trace::from(Vec::new()));
}

#[test]
fn the_hash_is_that_of_the_vec_of_events() {
    let events = mixed();
    let hash = |h: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        h(&mut hasher);
        hasher.finish()
    };
    assert_eq!(hash(&|h| Trace::from(events.clone()).hash(h)), hash(&|h| events.hash(h)));
    let history = History { ops: Vec::new(), trace: Trace::from(events.clone()) };
    let mut other = events.clone();
    other[3].time_ns += 1;
    assert_ne!(history.trace_hash(), History { ops: Vec::new(), trace: Trace::from(other) }.trace_hash());
}

#[test]
fn equal_names_share_one_id_whatever_string_they_arrive_in() {
    let mut trace = Trace::new();
    for i in 0..100 {
        // A fresh `Arc` for every event, as `Recorder::trace` makes.
        trace.push(at(i, "broker-1", hw("orders-0", 1, true, 0, i, i + 1)));
    }
    assert_eq!(trace.names.names.len(), 2);
    let first = trace.iter().next().unwrap();
    let last = trace.last().unwrap();
    assert!(Arc::ptr_eq(&first.node, &last.node), "decoded names are the interned ones");
}

#[test]
fn a_busy_partitions_events_take_about_a_dozen_bytes() {
    // As a busy run traces them: leader and followers append a few records, the high
    // watermark follows, the leader acknowledges.
    let mut trace = Trace::new();
    for batch in 0..1000u64 {
        let (time, offset, value) = (1_000_000_000 + batch * 250_000, batch * 4, 40_000 + batch * 24);
        let values: Vec<u64> = (0..4).map(|i| value + i * 6).collect();
        let node = |broker: u32| format!("broker-{broker}");
        for broker in 1..=3u32 {
            let time = time + u64::from(broker) * 1000;
            trace.push(at(time, &node(broker), append("orders-3", broker, broker == 1, 2, offset, &values)));
        }
        for broker in 1..=3u32 {
            trace.push(at(time + 5000, &node(broker), hw("orders-3", broker, broker == 1, 2, offset, offset + 4)));
        }
        trace.push(at(time + 6000, "broker-1", acked(Acks::All, offset, 4)));
    }
    let per_event = trace.bytes.len() as f64 / trace.len() as f64;
    assert!(per_event < 13.0, "{per_event} bytes per event");
}

fn arb_event() -> impl Strategy<Value = TraceEvent> {
    let name = prop::sample::select(vec!["broker-1", "broker-2", "controller", "orders-0", "orders-10"]);
    let acks = prop::sample::select(vec![Acks::None, Acks::Leader, Acks::All]);
    let event = prop_oneof![
        (
            name.clone(),
            any::<u32>(),
            any::<bool>(),
            any::<u32>(),
            any::<u64>(),
            prop::collection::vec(any::<u64>(), 0..40)
        )
            .prop_map(|(tp, b, l, e, o, v)| append(tp, b, l, e, o, &v)),
        (name.clone(), any::<u32>(), any::<bool>(), any::<u32>(), any::<u64>(), any::<u64>())
            .prop_map(|(tp, b, l, e, old, new)| hw(tp, b, l, e, old, new)),
        (name.clone(), any::<u32>(), any::<u32>(), acks, any::<u64>(), any::<u64>()).prop_map(
            |(tp, broker, leader_epoch, acks, base_offset, count)| Event::ProduceAcknowledged {
                tp: tp.into(),
                broker,
                leader_epoch,
                acks,
                base_offset,
                count
            }
        ),
        name.clone().prop_map(election),
        any::<u32>().prop_map(|broker| Event::BrokerStarted { broker }),
    ];
    (any::<u64>(), name, event).prop_map(|(time_ns, node, event)| at(time_ns, node, event))
}

proptest! {
    #[test]
    fn any_events_round_trip(events in prop::collection::vec(arb_event(), 0..300), from in 0usize..320) {
        let trace = Trace::from(events.clone());
        let back: Vec<TraceEvent> = trace.iter().map(Cow::into_owned).collect();
        prop_assert_eq!(&back, &events);
        let rest: Vec<TraceEvent> = trace.iter_from(from).map(Cow::into_owned).collect();
        prop_assert_eq!(&rest[..], &events[from.min(events.len())..]);
    }
}
