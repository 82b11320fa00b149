//! Synthetic wording for the demo: the important people of the interpersonal inventory, life
//! events for the timeline, and short session notes and between-session tasks per problem
//! area. Texts never contain a client's name (a real note rarely needs one, and it keeps the
//! privacy check meaningful).

use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

use ipc_core::model::{DisputeStage, MoodChange, ProblemArea, Sex};

/// Pronouns for the client in notes.
#[derive(Debug, Clone, Copy)]
pub struct Pronouns {
    /// she / he / they
    pub subject: &'static str,
    /// She / He / They
    pub subject_cap: &'static str,
    /// her / him / them
    pub object: &'static str,
    /// her / his / their
    pub possessive: &'static str,
}

/// Pronouns for a client of `sex` (they/them when not recorded or other).
pub fn pronouns(sex: Option<Sex>) -> Pronouns {
    match sex {
        Some(Sex::Female) => Pronouns {
            subject: "she",
            subject_cap: "She",
            object: "her",
            possessive: "her",
        },
        Some(Sex::Male) => Pronouns {
            subject: "he",
            subject_cap: "He",
            object: "him",
            possessive: "his",
        },
        _ => Pronouns {
            subject: "they",
            subject_cap: "They",
            object: "them",
            possessive: "their",
        },
    }
}

/// An important person in the client's life (interpersonal inventory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryPerson {
    /// How the client refers to the person.
    pub label: &'static str,
    /// Relationship category.
    pub relationship: &'static str,
    /// Closeness 1 (distant) to 5 (very close).
    pub closeness: u8,
    /// How the person helps.
    pub support: Option<&'static str>,
    /// What goes wrong between them.
    pub conflict: Option<&'static str>,
    /// What changed recently.
    pub what_changed: Option<&'static str>,
    /// What the client expects of the person.
    pub expectations: Option<&'static str>,
}

const fn person(label: &'static str, relationship: &'static str, closeness: u8) -> InventoryPerson {
    InventoryPerson {
        label,
        relationship,
        closeness,
        support: None,
        conflict: None,
        what_changed: None,
        expectations: None,
    }
}

const WOMAN_CIRCLE: &[InventoryPerson] = &[
    InventoryPerson {
        support: Some("Visits on market days and helps with the children"),
        ..person("Sister", "sibling", 5)
    },
    InventoryPerson {
        support: Some("Listens without judging"),
        ..person("Mother", "parent", 4)
    },
    InventoryPerson {
        support: Some("Lends salt and sugar; greets at the water point"),
        ..person("Neighbour", "neighbour", 2)
    },
    InventoryPerson {
        support: Some("Helps with cooking and fetching water"),
        ..person("Eldest daughter", "child", 4)
    },
    InventoryPerson {
        support: Some("Sells next to her at the market"),
        ..person("Friend from the market", "friend", 3)
    },
    InventoryPerson {
        conflict: Some("Criticises how the house is kept"),
        ..person("Co-wife", "in-law", 1)
    },
];

const MAN_CIRCLE: &[InventoryPerson] = &[
    InventoryPerson {
        support: Some("Shares meals; helps when money is short"),
        ..person("Brother", "sibling", 4)
    },
    InventoryPerson {
        support: Some("Prays for him; worries about him"),
        ..person("Mother", "parent", 4)
    },
    InventoryPerson {
        support: Some("Plays football with him on Sundays"),
        ..person("Friend from work", "friend", 3)
    },
    InventoryPerson {
        support: Some("Helps on the farm after school"),
        ..person("Son", "child", 4)
    },
    InventoryPerson {
        support: Some("Greets him in the morning; little contact"),
        ..person("Neighbour", "neighbour", 2)
    },
];

/// The person at the centre of the problem area (the first inventory entry).
pub fn focus_person(area: ProblemArea, sex: Option<Sex>) -> InventoryPerson {
    let woman = sex != Some(Sex::Male);
    match (area, woman) {
        (ProblemArea::Grief, true) => InventoryPerson {
            what_changed: Some("Died after a long illness; the family home feels empty"),
            expectations: Some("Wishes she had said goodbye"),
            ..person("Late husband", "spouse (died)", 5)
        },
        (ProblemArea::Grief, false) => InventoryPerson {
            what_changed: Some("Died suddenly last year"),
            expectations: Some("Wishes they had made peace"),
            ..person("Late father", "parent (died)", 4)
        },
        (ProblemArea::Disputes, true) => InventoryPerson {
            conflict: Some("Argues about money for school fees; shouts when drunk"),
            expectations: Some("Wants him to share decisions about money"),
            ..person("Husband", "spouse", 2)
        },
        (ProblemArea::Disputes, false) => InventoryPerson {
            conflict: Some("Dispute over the boundary of the family land"),
            expectations: Some("Wants the elders to settle it fairly"),
            ..person("Elder brother", "sibling", 2)
        },
        (ProblemArea::LifeChanges, true) => InventoryPerson {
            what_changed: Some("Went to the city for work; sends money rarely"),
            expectations: Some("Hopes he will call every week"),
            ..person("Husband", "spouse", 3)
        },
        (ProblemArea::LifeChanges, false) => InventoryPerson {
            what_changed: Some("Closed the workshop where he worked for years"),
            ..person("Former employer", "work", 2)
        },
        (ProblemArea::Loneliness, true) => InventoryPerson {
            what_changed: Some("Moved away to another district"),
            expectations: Some("Would like to find a friend like her nearby"),
            ..person("Old friend", "friend", 3)
        },
        (ProblemArea::Loneliness, false) => InventoryPerson {
            what_changed: Some("Does not visit since the quarrel two years ago"),
            ..person("Cousin", "relative", 2)
        },
    }
}

/// `n` other people of the client's circle, distinct and different from `focus`.
pub fn circle<R: Rng>(
    rng: &mut R,
    sex: Option<Sex>,
    focus: &InventoryPerson,
    n: usize,
) -> Vec<InventoryPerson> {
    let pool = if sex == Some(Sex::Male) {
        MAN_CIRCLE
    } else {
        WOMAN_CIRCLE
    };
    let mut out: Vec<InventoryPerson> = pool
        .iter()
        .filter(|p| p.label != focus.label)
        .copied()
        .collect();
    out.shuffle(rng);
    out.truncate(n);
    out
}

/// The life event that started the problem (first timeline entry).
pub fn trigger_event(area: ProblemArea, sex: Option<Sex>) -> &'static str {
    let woman = sex != Some(Sex::Male);
    match (area, woman) {
        (ProblemArea::Grief, true) => "Death of her husband",
        (ProblemArea::Grief, false) => "Death of his father",
        (ProblemArea::Disputes, true) => "Husband started drinking; quarrels about money",
        (ProblemArea::Disputes, false) => "Quarrel with his brother over the family land",
        (ProblemArea::LifeChanges, true) => "Husband left for work in the city",
        (ProblemArea::LifeChanges, false) => "Lost his job when the workshop closed",
        (ProblemArea::Loneliness, true) => "Best friend moved to another district",
        (ProblemArea::Loneliness, false) => "Moved to the village for work; knows no one",
    }
}

/// Other life events, with how mood changed.
const OTHER_EVENTS: &[(&str, MoodChange)] = &[
    ("Child ill with malaria for two weeks", MoodChange::Worse),
    (
        "Harvest failed after the rains came late",
        MoodChange::Worse,
    ),
    (
        "Started selling vegetables at the market",
        MoodChange::Better,
    ),
    ("Daughter passed her school exams", MoodChange::Better),
    ("Joined a savings group", MoodChange::Better),
    ("Rent was raised; had to move rooms", MoodChange::Worse),
    ("Festival at home with the family", MoodChange::NoChange),
];

/// `n` other life events, distinct.
pub fn other_events<R: Rng>(rng: &mut R, n: usize) -> Vec<(&'static str, MoodChange)> {
    OTHER_EVENTS.choose_multiple(rng, n).copied().collect()
}

/// A dispute topic for the disputes problem area.
pub fn dispute_topic(sex: Option<Sex>) -> &'static str {
    if sex == Some(Sex::Male) {
        "the land boundary"
    } else {
        "money for school fees"
    }
}

/// What is needed to write a session's note and task.
#[derive(Debug, Clone, Copy)]
pub struct NoteContext<'a> {
    /// The client's recorded sex (for pronouns and examples).
    pub sex: Option<Sex>,
    /// The problem area.
    pub area: ProblemArea,
    /// Dispute stage, for disputes.
    pub stage: Option<DisputeStage>,
    /// The focus person's label, e.g. "Husband".
    pub focus: &'a str,
    /// A community group the client could join.
    pub group: &'a str,
    /// The life event at the start of the problem.
    pub trigger: &'a str,
    /// Planned sessions.
    pub planned: u8,
}

impl NoteContext<'_> {
    fn p(&self) -> Pronouns {
        pronouns(self.sex)
    }

    fn focus_lower(&self) -> String {
        format!("{} {}", self.p().possessive, self.focus.to_lowercase())
    }

    /// Note of the first session.
    pub fn initial_note(&self) -> String {
        format!(
            "First visit. Explained IPC, confidentiality and that depression is a health \
             condition. Mood low since: {}. Drew the timeline and started the inventory. \
             Agreed {} sessions on {}.",
            self.trigger.to_lowercase(),
            self.planned,
            self.area.ipc_label().to_lowercase()
        )
    }

    /// Note of a middle session; `k` picks one of a few variants.
    pub fn middle_note(&self, k: usize) -> String {
        let p = self.p();
        let focus = self.focus_lower();
        let variants: [String; 3] = match self.area {
            ProblemArea::Grief => [
                format!(
                    "Talked about {focus}: good memories and hard ones. {} cried and said it \
                     was a relief to talk.",
                    p.subject_cap
                ),
                "Spoke about the funeral and what was left unsaid. Linked low days to \
                 reminders of the loss."
                    .to_owned(),
                format!(
                    "Looked at who {} can lean on now; plans to go to {}.",
                    p.subject, self.group
                ),
            ],
            ProblemArea::Disputes => [
                format!(
                    "Went through the disagreement with {focus} (stage: {}). Named what each \
                     side expects.",
                    self.stage.map_or("not yet clear", |s| s.as_str())
                ),
                format!(
                    "Listed options and practised saying what {} needs calmly (role-play).",
                    p.subject
                ),
                format!(
                    "{} tried the conversation; it went partly well. Reviewed what to change \
                     next time.",
                    p.subject_cap
                ),
            ],
            ProblemArea::LifeChanges => [
                "Discussed what was lost and what is new since the change. Mood linked to \
                 worry about money."
                    .to_owned(),
                format!(
                    "Listed skills {} already has and one new person to ask for help.",
                    p.subject
                ),
                format!(
                    "Planned the new role step by step; {} felt more hopeful.",
                    p.subject
                ),
            ],
            ProblemArea::Loneliness => [
                format!(
                    "Mapped people {} used to see. Chose one small step: greet a neighbour at \
                     the water point.",
                    p.subject
                ),
                format!(
                    "Practised starting a conversation (role-play). {} was nervous but \
                     managed.",
                    p.subject_cap
                ),
                format!(
                    "{} went to {} once; talked about how it felt.",
                    p.subject_cap, self.group
                ),
            ],
        };
        variants
            .into_iter()
            .nth(k % 3)
            .unwrap_or_else(|| "Reviewed the week and the task.".to_owned())
    }

    /// Note of the last session.
    pub fn termination_note(&self) -> String {
        "Last session. Reviewed progress since the first visit, feelings about ending, warning \
         signs and who to contact if low mood returns."
            .to_owned()
    }

    /// Between-session task; `k` picks a variant.
    pub fn task(&self, k: usize) -> String {
        let focus = self.focus_lower();
        let variants: [String; 2] = match self.area {
            ProblemArea::Grief => [
                format!("Share one good memory of {focus} with someone close"),
                format!("Go to {} once before the next visit", self.group),
            ],
            ProblemArea::Disputes => [
                format!(
                    "Talk with {focus} about {} at a calm moment",
                    dispute_topic(self.sex)
                ),
                "Ask a respected elder to be present at the next discussion".to_owned(),
            ],
            ProblemArea::LifeChanges => [
                format!("Ask at {} about joining", self.group),
                "Write down one thing that went well each evening".to_owned(),
            ],
            ProblemArea::Loneliness => [
                "Greet two neighbours this week".to_owned(),
                format!("Go to {} once before the next visit", self.group),
            ],
        };
        variants
            .into_iter()
            .nth(k % 2)
            .unwrap_or_else(|| "Notice which days mood is lowest".to_owned())
    }
}

/// Reasons a step was left out of a session.
pub const SKIP_REASONS: &[&str] = &[
    "Ran out of time; the client had to collect the children",
    "Phone line kept dropping",
    "Client was tired after a night shift",
];

/// Addresses or directions (optional on a client).
pub const ADDRESSES: &[&str] = &[
    "Near the water point",
    "Behind the primary school",
    "Second house after the health post",
    "Opposite the market, blue door",
];

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_core::model::{
        check_multiline, check_text, LABEL_MAX, RELATIONSHIP_MAX, SHORT_TEXT_MAX,
    };
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn texts_fit_the_model_limits() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for sex in [Some(Sex::Female), Some(Sex::Male), None] {
            for &area in ProblemArea::ALL {
                let focus = focus_person(area, sex);
                let others = circle(&mut rng, sex, &focus, 3);
                assert_eq!(others.len(), 3);
                assert!(others.iter().all(|p| p.label != focus.label));
                for p in std::iter::once(&focus).chain(&others) {
                    check_text("label", p.label, LABEL_MAX).unwrap();
                    check_text("relationship", p.relationship, RELATIONSHIP_MAX).unwrap();
                    assert!((1..=5).contains(&p.closeness));
                }
                let ctx = NoteContext {
                    sex,
                    area,
                    stage: Some(DisputeStage::Impasse),
                    focus: focus.label,
                    group: "the savings group",
                    trigger: trigger_event(area, sex),
                    planned: 6,
                };
                let mut texts = vec![ctx.initial_note(), ctx.termination_note()];
                for k in 0..3 {
                    texts.push(ctx.middle_note(k));
                    texts.push(ctx.task(k));
                }
                for t in texts {
                    check_multiline("notes", &t, SHORT_TEXT_MAX).unwrap();
                    assert!(!t.contains("  "), "no doubled spaces: {t}");
                }
            }
        }
    }
}
