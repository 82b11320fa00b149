//! Clients (the people counselled) and their consent record.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::dates::{check_recorded_date, check_year};
use super::enums::{ConsentMethod, Sex};
use super::error::Result;
use super::ids::{ClientId, WorkerId};
use super::text::{
    check_optional, check_phone, check_text, clean_optional, clean_optional_phone, clean_text,
    ADDRESS_MAX, NAME_MAX, VERSION_MAX, VILLAGE_MAX,
};

/// A consent record (given or refused) for a client.
///
/// A value embedded in [`Client`]; build it literally and let [`Client::new`] (or
/// [`Consent::cleaned`]) normalise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Whether consent was given (`false` records a refusal).
    pub given: bool,
    /// When it was asked: `EARLIEST_DATE..=today`.
    pub date: NaiveDate,
    /// Version of the consent text read to the client, 1..=[`VERSION_MAX`] chars.
    pub version: String,
    /// How consent was taken.
    pub method: ConsentMethod,
}

impl Consent {
    /// Trim text fields, then [`validate`](Self::validate).
    pub fn cleaned(self, today: NaiveDate) -> Result<Self> {
        let consent = Self {
            version: clean_text("consent.version", &self.version, VERSION_MAX)?,
            ..self
        };
        consent.validate(today)?;
        Ok(consent)
    }

    /// Check every rule (fields reported as `consent.*`).
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        check_recorded_date("consent.date", self.date, today)?;
        check_text("consent.version", &self.version, VERSION_MAX)
    }
}

/// A person receiving counselling. Every text field is personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// Identity.
    pub id: ClientId,
    /// Name used by the worker, 1..=[`NAME_MAX`] chars, single line.
    pub display_name: String,
    /// Sex, if recorded.
    pub sex: Option<Sex>,
    /// Birth year, if known: within `MAX_AGE_YEARS` before today's year, not in the future.
    pub birth_year: Option<i32>,
    /// Phone number as entered (see [`clean_phone`](super::text::clean_phone)).
    pub phone: Option<String>,
    /// Village, ≤ [`VILLAGE_MAX`] chars, single line.
    pub village: Option<String>,
    /// Address or directions, ≤ [`ADDRESS_MAX`] chars, single line.
    pub address: Option<String>,
    /// Latest consent record, if asked.
    pub consent: Option<Consent>,
    /// The worker responsible for the client.
    pub assigned_worker: WorkerId,
    /// Registration date: `EARLIEST_DATE..=today`.
    pub registered_on: NaiveDate,
}

/// Input for [`Client::new`]: every field of [`Client`] except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// See [`Client::display_name`].
    pub display_name: String,
    /// See [`Client::sex`].
    pub sex: Option<Sex>,
    /// See [`Client::birth_year`].
    pub birth_year: Option<i32>,
    /// See [`Client::phone`]; blank means none.
    pub phone: Option<String>,
    /// See [`Client::village`]; blank means none.
    pub village: Option<String>,
    /// See [`Client::address`]; blank means none.
    pub address: Option<String>,
    /// See [`Client::consent`].
    pub consent: Option<Consent>,
    /// See [`Client::assigned_worker`].
    pub assigned_worker: WorkerId,
    /// See [`Client::registered_on`].
    pub registered_on: NaiveDate,
}

impl Client {
    /// Create a client with a fresh id, trimming text and mapping blank optionals to `None`.
    pub fn new(input: NewClient, today: NaiveDate) -> Result<Self> {
        let client = Self {
            id: ClientId::new(),
            display_name: clean_text("display_name", &input.display_name, NAME_MAX)?,
            sex: input.sex,
            birth_year: input.birth_year,
            phone: clean_optional_phone("phone", input.phone.as_deref())?,
            village: clean_optional("village", input.village.as_deref(), VILLAGE_MAX)?,
            address: clean_optional("address", input.address.as_deref(), ADDRESS_MAX)?,
            consent: input.consent.map(|c| c.cleaned(today)).transpose()?,
            assigned_worker: input.assigned_worker,
            registered_on: input.registered_on,
        };
        client.validate(today)?;
        Ok(client)
    }

    /// Check every rule on a stored or updated client.
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        check_text("display_name", &self.display_name, NAME_MAX)?;
        if let Some(year) = self.birth_year {
            check_year("birth_year", year, today)?;
        }
        if let Some(phone) = &self.phone {
            check_phone("phone", phone)?;
        }
        check_optional("village", self.village.as_deref(), VILLAGE_MAX)?;
        check_optional("address", self.address.as_deref(), ADDRESS_MAX)?;
        if let Some(consent) = &self.consent {
            consent.validate(today)?;
        }
        check_recorded_date("registered_on", self.registered_on, today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::error::Reason;
    use crate::model::test_support::{assert_rejected, date, days, text_of_len, today};

    fn consent() -> Consent {
        Consent {
            given: true,
            date: today(),
            version: " v1 ".into(),
            method: ConsentMethod::Verbal,
        }
    }

    fn make(f: impl FnOnce(&mut NewClient)) -> Result<Client> {
        let mut input = NewClient {
            display_name: "Amina ZQX".into(),
            sex: Some(Sex::Female),
            birth_year: Some(1990),
            phone: Some(" +254 712 345678 ".into()),
            village: Some("Village ZQX".into()),
            address: Some("Near the market ZQX".into()),
            consent: Some(consent()),
            assigned_worker: WorkerId::new(),
            registered_on: today(),
        };
        f(&mut input);
        Client::new(input, today())
    }

    #[test]
    fn valid_client_is_normalised() {
        let c = make(|_| {}).unwrap();
        assert_eq!(c.phone.as_deref(), Some("+254 712 345678"));
        assert_eq!(c.consent.as_ref().map(|c| c.version.as_str()), Some("v1"));
        assert!(c.validate(today()).is_ok());
        let blank = make(|n| {
            n.phone = Some("  ".into());
            n.village = Some(" ".into());
            n.address = None;
            n.sex = None;
            n.birth_year = None;
            n.consent = None;
        })
        .unwrap();
        assert_eq!(
            (blank.phone, blank.village, blank.address),
            (None, None, None)
        );
    }

    #[test]
    fn display_name_rules() {
        assert!(make(|n| n.display_name = text_of_len(NAME_MAX)).is_ok());
        let r = make(|n| n.display_name = text_of_len(NAME_MAX + 1));
        assert_rejected(r, "display_name", Reason::TooLong { max: NAME_MAX });
        assert_rejected(
            make(|n| n.display_name = " ".into()),
            "display_name",
            Reason::Empty,
        );
        let r = make(|n| n.display_name = "Amina\nZQX".into());
        assert_rejected(r, "display_name", Reason::ControlCharacters);
    }

    #[test]
    fn birth_year_rules() {
        assert!(make(|n| n.birth_year = Some(2024)).is_ok());
        assert_rejected(
            make(|n| n.birth_year = Some(2025)),
            "birth_year",
            Reason::InFuture,
        );
        assert!(make(|n| n.birth_year = Some(1904)).is_ok());
        let r = make(|n| n.birth_year = Some(1903));
        assert_rejected(r, "birth_year", Reason::TooFarInPast);
    }

    #[test]
    fn phone_rules() {
        assert!(make(|n| n.phone = Some("1234567".into())).is_ok());
        let r = make(|n| n.phone = Some("123456".into()));
        assert_rejected(r, "phone", Reason::TooShort { min: 7 });
        assert!(make(|n| n.phone = Some("1".repeat(20))).is_ok());
        let r = make(|n| n.phone = Some("1".repeat(21)));
        assert_rejected(r, "phone", Reason::TooLong { max: 20 });
        let r = make(|n| n.phone = Some("0712 ZQX 678".into()));
        assert_rejected(r, "phone", Reason::InvalidFormat);
    }

    #[test]
    fn village_and_address_limits() {
        assert!(make(|n| n.village = Some(text_of_len(VILLAGE_MAX))).is_ok());
        let r = make(|n| n.village = Some(text_of_len(VILLAGE_MAX + 1)));
        assert_rejected(r, "village", Reason::TooLong { max: VILLAGE_MAX });
        assert!(make(|n| n.address = Some(text_of_len(ADDRESS_MAX))).is_ok());
        let r = make(|n| n.address = Some(text_of_len(ADDRESS_MAX + 1)));
        assert_rejected(r, "address", Reason::TooLong { max: ADDRESS_MAX });
        let r = make(|n| n.address = Some("line ZQX\nline".into()));
        assert_rejected(r, "address", Reason::ControlCharacters);
    }

    #[test]
    fn registered_on_rules() {
        assert!(make(|n| n.registered_on = today()).is_ok());
        let r = make(|n| n.registered_on = days(1));
        assert_rejected(r, "registered_on", Reason::InFuture);
        assert!(make(|n| n.registered_on = date(2000, 1, 1)).is_ok());
        let r = make(|n| n.registered_on = date(1999, 12, 31));
        assert_rejected(r, "registered_on", Reason::TooFarInPast);
    }

    #[test]
    fn consent_rules() {
        let with = |f: fn(&mut Consent)| {
            make(|n| {
                let mut c = consent();
                f(&mut c);
                n.consent = Some(c);
            })
        };
        assert!(with(|c| c.given = false).is_ok());
        assert_rejected(with(|c| c.date = days(1)), "consent.date", Reason::InFuture);
        assert!(with(|c| c.date = date(2000, 1, 1)).is_ok());
        let r = with(|c| c.date = date(1999, 12, 31));
        assert_rejected(r, "consent.date", Reason::TooFarInPast);
        assert!(with(|c| c.version = "v".repeat(VERSION_MAX)).is_ok());
        let r = with(|c| c.version = "v".repeat(VERSION_MAX + 1));
        assert_rejected(r, "consent.version", Reason::TooLong { max: VERSION_MAX });
        assert_rejected(
            with(|c| c.version = "  ".into()),
            "consent.version",
            Reason::Empty,
        );
    }

    #[test]
    fn validate_checks_updates() {
        let mut c = make(|_| {}).unwrap();
        c.phone = Some(String::new());
        assert_rejected(c.validate(today()), "phone", Reason::Empty);
        c.phone = None;
        c.village = Some(" ZQX".into());
        assert_rejected(c.validate(today()), "village", Reason::InvalidFormat);
        c.village = None;
        c.birth_year = Some(2025);
        assert_rejected(c.validate(today()), "birth_year", Reason::InFuture);
    }

    #[test]
    fn serde_round_trip() {
        let c = make(|_| {}).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Client>(&json).unwrap(), c);
    }
}
