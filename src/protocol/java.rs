//! Java's string hashing and `HashMap` iteration order, where Kafka's choices depend on
//! them: `String.hashCode` picks a group's `__consumer_offsets` partition, and the order
//! in which a `java.util.HashMap` keyed by member id iterates decides which member a
//! coordinator makes the new group leader (`ClassicGroup.remove`) and which members of a
//! sticky assignment keep an extra partition (`AbstractStickyAssignor`). Kafka's member ids
//! end in a random UUID, so that order is arbitrary but fixed by the ids; kafkasim derives
//! it from its own ids the same way.

/// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units,
/// wrapping as Java's `int` does.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |hash, unit| hash.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// The order in which a `java.util.HashMap<String, _>` that had `keys` inserted in the
/// given order (and nothing removed) iterates them: by bucket, then by insertion within a
/// bucket. A key's bucket is its spread hash (`h ^ (h >>> 16)`) masked by the table
/// size, which starts at 16 and doubles whenever the map holds more than three quarters
/// of it (`HashMap.resize`). Very full buckets (Java turns a bucket of 8 into a tree)
/// do not occur with group-sized maps.
pub fn hash_map_order<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let keys: Vec<&str> = keys.into_iter().collect();
    let mut table_size: usize = 16;
    while keys.len() > table_size / 4 * 3 {
        table_size *= 2;
    }
    let bucket = |key: &str| {
        let h = string_hash(key);
        ((h ^ ((h as u32) >> 16) as i32) as u32 as usize) & (table_size - 1)
    };
    let mut ordered: Vec<(usize, usize, &str)> =
        keys.iter().enumerate().map(|(inserted, key)| (bucket(key), inserted, *key)).collect();
    ordered.sort();
    ordered.into_iter().map(|(_, _, key)| key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_is_javas() {
        // "abc".hashCode() == 96354; "billing".hashCode() == -109829509 (Java).
        assert_eq!(string_hash("abc"), 96354);
        assert_eq!(string_hash("billing"), -109_829_509);
        assert_eq!(string_hash(""), 0);
    }

    #[test]
    fn hash_map_order_is_javas() {
        // Printed by OpenJDK 17: `new HashMap<>()`, put in the order given, `keySet()`.
        assert_eq!(
            hash_map_order(["consumer1", "consumer2", "consumer3", "consumer4"]),
            ["consumer4", "consumer3", "consumer2", "consumer1"]
        );
        assert_eq!(hash_map_order(["c1", "c2", "c3"]), ["c3", "c1", "c2"]);
        // Fourteen keys: the table has grown to 32 buckets.
        let keys = [
            "consumer-1-a",
            "consumer-2-b",
            "consumer-10-c",
            "consumer-3-d",
            "consumer-4-e",
            "consumer-5-f",
            "consumer-6-g",
            "consumer-7-h",
            "consumer-8-i",
            "consumer-9-j",
            "consumer-11-k",
            "consumer-12-l",
            "consumer-13-m",
            "consumer-14-n",
        ];
        assert_eq!(
            hash_map_order(keys),
            [
                "consumer-1-a",
                "consumer-10-c",
                "consumer-9-j",
                "consumer-14-n",
                "consumer-8-i",
                "consumer-13-m",
                "consumer-7-h",
                "consumer-6-g",
                "consumer-5-f",
                "consumer-4-e",
                "consumer-3-d",
                "consumer-12-l",
                "consumer-2-b",
                "consumer-11-k",
            ]
        );
    }
}
