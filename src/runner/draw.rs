//! A guided sweep's draw ([`Draw`]): which seed drew a run's `[swarm]` settings, which
//! drew its `[nemesis]` fault schedule, and the edits made to that schedule after (a
//! fault moved, retargeted, lengthened, removed, or one added). A plain seed N is the
//! draw `settings=N,faults=N` without edits; `sweep --guided` breeds new draws from the
//! runs that reached rare states ([`super::guided`]), and `run --seed N --draw TEXT`
//! replays any of them exactly.
//!
//! The text form is the public interface (`--draw`, a sweep's replay command and its
//! JSON lines): comma-separated `settings=N`, `faults=N` and then the edits in order,
//! such as `settings=12,faults=40,shift=3:+250ms,retarget=2:91,add=1500ms:77,remove=4,stretch=1:800ms`.
//! An edit names a fault by its index in the schedule as the edits before it left it
//! (sorted by time, from 0); the seeds in `retarget` and `add` draw the new fault as the
//! nemesis draws one ([`super::swarm::draw_fault`]).

use super::swarm::{draw_fault, SeedRng};
use crate::scenario::{FaultSpec, NemesisSpec, Scenario};
use std::fmt;
use std::str::FromStr;

/// The stream constant of a guided edit's own draws ("edit" in ASCII), so that an edit's
/// seed never replays the swarm's or the nemesis' numbers.
const EDIT_STREAM: u64 = 0x0000_0000_6564_6974;

/// How one run's configuration and faults were drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draw {
    /// The seed the `[swarm]` settings are drawn from.
    pub settings_seed: u64,
    /// The seed the `[nemesis]` fault schedule is drawn from.
    pub faults_seed: u64,
    /// The edits to the drawn schedule, in order.
    pub edits: Vec<Edit>,
}

/// One change to a drawn fault schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// `shift=I:±Dms`: fault I fires D ms later (or earlier), kept inside the safety phase
    /// after the nemesis' start.
    Shift {
        /// The fault's index in the schedule.
        fault: usize,
        /// How much later (earlier when negative), in ms.
        delta_ms: i64,
    },
    /// `retarget=I:S`: fault I keeps its kind, time and duration; its target and
    /// parameters are drawn again from seed S.
    Retarget {
        /// The fault's index in the schedule.
        fault: usize,
        /// The seed of the new target and parameters.
        seed: u64,
    },
    /// `add=Tms:S`: a new fault at T ms, its kind, duration and target drawn from seed S.
    Add {
        /// When it fires, in ms into the safety phase.
        at_ms: u64,
        /// The seed of its kind, duration, target and parameters.
        seed: u64,
    },
    /// `remove=I`: fault I does not fire.
    Remove {
        /// The fault's index in the schedule.
        fault: usize,
    },
    /// `stretch=I:Dms`: fault I lasts D ms.
    Stretch {
        /// The fault's index in the schedule.
        fault: usize,
        /// Its new duration, in ms.
        duration_ms: u64,
    },
}

impl Draw {
    /// The draw of a plain seed: both from `seed`, no edits.
    pub fn plain(seed: u64) -> Draw {
        Draw { settings_seed: seed, faults_seed: seed, edits: Vec::new() }
    }

    /// Applies the edits to `faults`, the schedule drawn for `s` (whose `nemesis` is the
    /// one the swarm left), keeping it sorted by time. An edit naming a fault the schedule
    /// does not have is an error (see [`Draw::check`]).
    pub(super) fn apply(&self, s: &Scenario, nemesis: &NemesisSpec, faults: &mut Vec<FaultSpec>) -> Result<(), String> {
        let last_ms = s.duration_ms.saturating_sub(1).max(nemesis.start_ms);
        for (n, edit) in self.edits.iter().enumerate() {
            let index = match *edit {
                Edit::Shift { fault, .. }
                | Edit::Retarget { fault, .. }
                | Edit::Remove { fault }
                | Edit::Stretch { fault, .. } => Some(fault),
                Edit::Add { .. } => None,
            };
            if let Some(i) = index.filter(|&i| i >= faults.len()) {
                return Err(format!(
                    "edit {} (`{edit}`) names fault {i}, but the schedule has {} faults then (0 to {})",
                    n + 1,
                    faults.len(),
                    faults.len().saturating_sub(1)
                ));
            }
            match *edit {
                Edit::Shift { fault, delta_ms } => {
                    let at = faults[fault].at_ms.saturating_add_signed(delta_ms);
                    faults[fault].at_ms = at.clamp(nemesis.start_ms, last_ms);
                }
                Edit::Retarget { fault, seed } => {
                    let old = &faults[fault];
                    let mut rng = SeedRng::new(seed, EDIT_STREAM);
                    let fresh = draw_fault(s, nemesis, &mut rng, old.at_ms, Some(old.action.kind()));
                    faults[fault] = FaultSpec { duration_ms: old.duration_ms, ..fresh };
                }
                Edit::Add { at_ms, seed } => {
                    let mut rng = SeedRng::new(seed, EDIT_STREAM);
                    faults.push(draw_fault(s, nemesis, &mut rng, at_ms.clamp(nemesis.start_ms, last_ms), None));
                }
                Edit::Remove { fault } => {
                    faults.remove(fault);
                }
                Edit::Stretch { fault, duration_ms } => faults[fault].duration_ms = Some(duration_ms.max(1)),
            }
            // Stable: faults at equal times keep their order.
            faults.sort_by_key(|f| f.at_ms);
        }
        Ok(())
    }

    /// Whether the draw applies to `scenario`: edits need a `[nemesis]` schedule, and
    /// every edit must name a fault the schedule has at that point.
    pub fn check(&self, scenario: &Scenario, seed: u64) -> Result<(), String> {
        if !self.edits.is_empty() && scenario.nemesis.is_none() {
            return Err("the scenario has no [nemesis]: there is no drawn fault schedule to edit".to_string());
        }
        super::swarm::try_instantiate_draw(scenario, seed, Some(self)).map(|_| ())
    }
}

impl fmt::Display for Draw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "settings={},faults={}", self.settings_seed, self.faults_seed)?;
        for edit in &self.edits {
            write!(f, ",{edit}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Edit::Shift { fault, delta_ms } => write!(f, "shift={fault}:{delta_ms:+}ms"),
            Edit::Retarget { fault, seed } => write!(f, "retarget={fault}:{seed}"),
            Edit::Add { at_ms, seed } => write!(f, "add={at_ms}ms:{seed}"),
            Edit::Remove { fault } => write!(f, "remove={fault}"),
            Edit::Stretch { fault, duration_ms } => write!(f, "stretch={fault}:{duration_ms}ms"),
        }
    }
}

impl FromStr for Draw {
    type Err = String;

    /// Parses the text form; an error names the part that is wrong and what was expected.
    fn from_str(text: &str) -> Result<Draw, String> {
        let mut parts = text.split(',').map(str::trim);
        let mut seed_of = |key: &str| -> Result<u64, String> {
            let part = parts.next().unwrap_or("");
            let value = part.strip_prefix(key).and_then(|p| p.strip_prefix('=')).ok_or_else(|| {
                format!("`{part}`: a draw starts with `settings=N,faults=N` (such as `settings=12,faults=40`)")
            })?;
            number(value, part)
        };
        let settings_seed = seed_of("settings")?;
        let faults_seed = seed_of("faults")?;
        let edits = parts.map(|part| part.parse()).collect::<Result<_, _>>()?;
        Ok(Draw { settings_seed, faults_seed, edits })
    }
}

impl FromStr for Edit {
    type Err = String;

    fn from_str(part: &str) -> Result<Edit, String> {
        let expected = "expected shift=I:±Dms, retarget=I:SEED, add=Tms:SEED, remove=I or stretch=I:Dms";
        let (name, value) = part.split_once('=').ok_or_else(|| format!("`{part}`: {expected}"))?;
        let pair = || value.split_once(':').ok_or_else(|| format!("`{part}`: {expected}"));

        match name {
            "shift" => {
                let (fault, delta) = pair()?;
                let delta = millis(delta, part)?;
                let delta_ms =
                    delta.parse::<i64>().map_err(|_| format!("`{part}`: a shift such as +250ms or -40ms"))?;
                Ok(Edit::Shift { fault: index(fault, part)?, delta_ms })
            }
            "retarget" => {
                let (fault, seed) = pair()?;
                Ok(Edit::Retarget { fault: index(fault, part)?, seed: number(seed, part)? })
            }
            "add" => {
                let (at, seed) = pair()?;
                Ok(Edit::Add { at_ms: number(millis(at, part)?, part)?, seed: number(seed, part)? })
            }
            "remove" => Ok(Edit::Remove { fault: index(value, part)? }),
            "stretch" => {
                let (fault, duration) = pair()?;
                Ok(Edit::Stretch { fault: index(fault, part)?, duration_ms: number(millis(duration, part)?, part)? })
            }
            _ => Err(format!("`{part}`: unknown edit `{name}`; {expected}")),
        }
    }
}

/// The number of a time in ms (`250ms` → `250`).
fn millis<'t>(text: &'t str, part: &str) -> Result<&'t str, String> {
    text.strip_suffix("ms").ok_or_else(|| format!("`{part}`: a time in ms, such as 250ms"))
}

/// A whole number, or an error naming the part it came from.
fn number(text: &str, part: &str) -> Result<u64, String> {
    text.parse().map_err(|_| format!("`{part}`: `{text}` is not a whole number"))
}

/// A fault index.
fn index(text: &str, part: &str) -> Result<usize, String> {
    text.parse().map_err(|_| format!("`{part}`: `{text}` is not a fault index (0, 1, ...)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_reads_back_from_its_text() {
        let text =
            "settings=12,faults=40,shift=3:+250ms,shift=0:-40ms,retarget=2:91,add=1500ms:77,remove=4,stretch=1:800ms";
        let draw: Draw = text.parse().unwrap();
        assert_eq!(draw.settings_seed, 12);
        assert_eq!(draw.faults_seed, 40);
        assert_eq!(draw.edits[1], Edit::Shift { fault: 0, delta_ms: -40 });
        assert_eq!(draw.edits[3], Edit::Add { at_ms: 1500, seed: 77 });
        assert_eq!(draw.to_string(), text);
        assert_eq!(Draw::plain(7).to_string(), "settings=7,faults=7");
    }

    #[test]
    fn a_bad_draw_is_refused_with_the_part_and_what_was_expected() {
        let error = |text: &str| text.parse::<Draw>().unwrap_err();
        assert!(error("faults=1,settings=2").contains("starts with `settings=N,faults=N`"), "{}", error("faults=1"));
        assert!(error("settings=x,faults=1").contains("`x` is not a whole number"));
        assert!(error("settings=1,faults=1,move=2:3").contains("unknown edit `move`"));
        assert!(error("settings=1,faults=1,shift=2:250").contains("a time in ms"));
        assert!(error("settings=1,faults=1,remove=-1").contains("not a fault index"));
    }
}
