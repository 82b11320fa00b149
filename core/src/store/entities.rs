//! [`Entity`] for every synced domain struct: its kind, id, scope and validation.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::model::{
    Client, ClientId, Course, Extra, InventoryEntry, ModelError, QuestionnaireResponse, Referral,
    Reminder, RiskEvent, Screening, Session, SupervisorNote, TimelineEvent,
};
use crate::store::record::Entity;
use crate::sync::op::EntityKind;

macro_rules! entity {
    ($ty:ty, $kind:ident) => {
        entity!($ty, $kind, |e: &$ty, today| e.validate(today));
    };
    ($ty:ty, $kind:ident, undated) => {
        entity!($ty, $kind, |e: &$ty, _today| e.validate());
    };
    ($ty:ty, $kind:ident, $check:expr) => {
        impl Entity for $ty {
            const KIND: EntityKind = EntityKind::$kind;
            fn id(&self) -> Uuid {
                self.id.as_uuid()
            }
            fn scope(&self) -> ClientId {
                self.client_id
            }
            fn check(&self, today: NaiveDate) -> Result<(), ModelError> {
                let check: fn(&$ty, NaiveDate) -> Result<(), ModelError> = $check;
                check(self, today)
            }
        }
    };
}

impl Entity for Client {
    const KIND: EntityKind = EntityKind::Client;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn scope(&self) -> ClientId {
        self.id
    }
    fn check(&self, today: NaiveDate) -> Result<(), ModelError> {
        self.validate(today)
    }
}

impl Entity for Extra {
    const KIND: EntityKind = EntityKind::Extra;
    fn id(&self) -> Uuid {
        self.id
    }
    fn scope(&self) -> ClientId {
        self.client_id
    }
    fn check(&self, _today: NaiveDate) -> Result<(), ModelError> {
        self.validate()
    }
}

entity!(Course, Course);
entity!(Session, Session);
entity!(Screening, Screening);
entity!(QuestionnaireResponse, Response);
entity!(InventoryEntry, InventoryEntry, undated);
entity!(TimelineEvent, TimelineEvent);
entity!(RiskEvent, RiskEvent);
entity!(Referral, Referral);
entity!(SupervisorNote, SupervisorNote, undated);
entity!(Reminder, Reminder, undated);
