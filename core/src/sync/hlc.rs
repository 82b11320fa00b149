//! Hybrid logical clock (HLC): physical milliseconds + a counter + the node (device) id.
//!
//! Every operation carries an [`Hlc`]. The clock never goes backwards, even when the phone's
//! wall clock does: a tick takes the maximum of the wall clock and the last value issued, and
//! bumps the counter when the wall clock has not advanced. Receiving a remote timestamp moves
//! the clock past it, so causally later writes always sort later. The total order
//! `(wall_ms, counter, node)` is the last-writer-wins order of the merge.
//!
//! The text form `{wall_ms:012x}.{counter:08x}.{node:32 hex}` sorts lexicographically in the
//! same order as the struct, so it can be compared in SQL and stored as `TEXT`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::DeviceId;

/// Largest wall-clock value the 12-hex-digit text form can carry (year 10889).
pub const MAX_WALL_MS: u64 = 0xffff_ffff_ffff;

/// A hybrid logical timestamp. Ordered by `(wall_ms, counter, node)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hlc {
    /// Physical component: Unix milliseconds (the max of wall clocks seen).
    pub wall_ms: u64,
    /// Logical component: orders events within the same millisecond.
    pub counter: u32,
    /// The device that issued the timestamp; breaks ties so the order is total.
    pub node: DeviceId,
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.wall_ms, self.counter, self.node.as_bytes()).cmp(&(
            other.wall_ms,
            other.counter,
            other.node.as_bytes(),
        ))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The text form of a timestamp is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed hybrid logical clock value")]
pub struct HlcParseError;

impl Hlc {
    /// The smallest timestamp a node can issue.
    pub fn zero(node: DeviceId) -> Self {
        Hlc {
            wall_ms: 0,
            counter: 0,
            node,
        }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:012x}.{:08x}.{}",
            self.wall_ms,
            self.counter,
            self.node.as_uuid().simple()
        )
    }
}

impl FromStr for Hlc {
    type Err = HlcParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('.');
        let (Some(wall), Some(counter), Some(node), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HlcParseError);
        };
        if wall.len() != 12 || counter.len() != 8 || node.len() != 32 {
            return Err(HlcParseError);
        }
        let is_lower_hex = |p: &str| p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !(is_lower_hex(wall) && is_lower_hex(counter) && is_lower_hex(node)) {
            return Err(HlcParseError);
        }
        let wall_ms = u64::from_str_radix(wall, 16).map_err(|_| HlcParseError)?;
        let counter = u32::from_str_radix(counter, 16).map_err(|_| HlcParseError)?;
        let node = uuid::Uuid::try_parse(node).map_err(|_| HlcParseError)?;
        Ok(Hlc {
            wall_ms,
            counter,
            node: DeviceId::from_uuid(node),
        })
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The clock state of one device. Persisted after every tick by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// A clock for `node` that resumes after `last` (the persisted value, or zero).
    pub fn resume(last: Hlc) -> Self {
        HlcClock { last }
    }

    /// The last timestamp issued or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// Issue a timestamp for a local event, given the device's wall clock in Unix ms.
    /// Strictly greater than every timestamp issued or observed before.
    pub fn tick(&mut self, physical_ms: u64) -> Hlc {
        let physical_ms = physical_ms.min(MAX_WALL_MS);
        let next = if physical_ms > self.last.wall_ms {
            Hlc {
                wall_ms: physical_ms,
                counter: 0,
                node: self.last.node,
            }
        } else {
            self.bump(self.last.wall_ms, self.last.counter)
        };
        self.last = next;
        next
    }

    /// Move the clock past a timestamp received from another device (the HLC receive rule).
    pub fn observe(&mut self, remote: &Hlc, physical_ms: u64) {
        let physical_ms = physical_ms.min(MAX_WALL_MS);
        let wall = physical_ms.max(self.last.wall_ms).max(remote.wall_ms);
        let next = if wall == self.last.wall_ms && wall == remote.wall_ms {
            self.bump(wall, self.last.counter.max(remote.counter))
        } else if wall == self.last.wall_ms {
            self.bump(wall, self.last.counter)
        } else if wall == remote.wall_ms {
            self.bump(wall, remote.counter)
        } else {
            Hlc {
                wall_ms: wall,
                counter: 0,
                node: self.last.node,
            }
        };
        self.last = next;
    }

    /// The successor of `(wall, counter)` on this node; a saturated counter carries into the
    /// millisecond so the clock still advances.
    fn bump(&self, wall: u64, counter: u32) -> Hlc {
        match counter.checked_add(1) {
            Some(counter) => Hlc {
                wall_ms: wall,
                counter,
                node: self.last.node,
            },
            None => Hlc {
                wall_ms: wall.saturating_add(1).min(MAX_WALL_MS),
                counter: 0,
                node: self.last.node,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(b: u8) -> DeviceId {
        DeviceId::from_bytes([b; 16])
    }

    #[test]
    fn text_form_round_trips_and_sorts_like_the_struct() {
        let a = Hlc {
            wall_ms: 1_767_600_000_000,
            counter: 7,
            node: node(1),
        };
        let s = a.to_string();
        assert_eq!(s.len(), 12 + 1 + 8 + 1 + 32);
        assert_eq!(s.parse::<Hlc>().unwrap(), a);
        let b = Hlc { counter: 8, ..a };
        assert!(a < b && a.to_string() < b.to_string());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Hlc>(&json).unwrap(), a);
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "",
            "1.2.3",
            "00000000000g.00000000.00000000000000000000000000000000",
            "000000000001.00000000.0000000000000000000000000000000",
            "000000000001.00000000.00000000000000000000000000000000.0",
            "00000000000A.00000000.00000000000000000000000000000000",
        ] {
            assert_eq!(bad.parse::<Hlc>(), Err(HlcParseError), "{bad}");
        }
    }

    #[test]
    fn never_goes_backwards_when_the_wall_clock_does() {
        let mut c = HlcClock::resume(Hlc::zero(node(1)));
        let a = c.tick(10_000);
        let b = c.tick(5_000); // the phone clock jumped back
        let d = c.tick(10_000);
        assert!(a < b && b < d);
        assert_eq!(b.wall_ms, 10_000);
    }

    #[test]
    fn observing_a_remote_future_time_moves_past_it() {
        let mut c = HlcClock::resume(Hlc::zero(node(1)));
        c.tick(1_000);
        let remote = Hlc {
            wall_ms: 9_000,
            counter: 3,
            node: node(2),
        };
        c.observe(&remote, 1_001);
        let next = c.tick(1_002);
        assert!(next > remote);
    }

    #[test]
    fn counter_overflow_carries_into_the_millisecond() {
        let mut c = HlcClock::resume(Hlc {
            wall_ms: 50,
            counter: u32::MAX,
            node: node(1),
        });
        let t = c.tick(10);
        assert_eq!((t.wall_ms, t.counter), (51, 0));
    }

    proptest! {
        #[test]
        fn ticks_and_observations_are_strictly_increasing(
            events in proptest::collection::vec((any::<bool>(), 0u64..1_000_000, 0u64..1_000_000, 0u32..4), 1..200)
        ) {
            let mut c = HlcClock::resume(Hlc::zero(node(1)));
            let mut prev = c.last();
            for (local, phys, remote_wall, remote_counter) in events {
                if local {
                    let t = c.tick(phys);
                    prop_assert!(t > prev);
                    prev = t;
                } else {
                    let r = Hlc { wall_ms: remote_wall, counter: remote_counter, node: node(2) };
                    c.observe(&r, phys);
                    prop_assert!(c.last() >= prev);
                    let t = c.tick(phys);
                    prop_assert!(t > r && t > prev);
                    prev = t;
                }
            }
        }
    }
}
