//! Synthetic people and places for the demo: first and last names, villages and phone numbers
//! from East-African (Kenya, Uganda) and South-Asian (Nepal, India, Bangladesh) settings.
//!
//! Every person is invented: names are combined at random from common given names and
//! surnames, and phone numbers follow each country's mobile format with random digits. A
//! person's name, village and phone always come from the same country.

use std::collections::BTreeSet;

use rand::seq::IndexedRandom;
use rand::Rng;

use ipc_core::model::Sex;

/// One setting: names, villages and the mobile-number format of a country.
#[derive(Debug)]
pub struct Region {
    /// Country (for the summary only).
    pub country: &'static str,
    female: &'static [&'static str],
    male: &'static [&'static str],
    surnames: &'static [&'static str],
    villages: &'static [&'static str],
    /// Mobile prefix including the country code, e.g. `+254 7`.
    phone_prefix: &'static str,
    /// Digits after the prefix, grouped: e.g. `[2, 3, 3]` gives `+254 7xx xxx xxx`.
    phone_groups: &'static [usize],
    /// Faith or community groups people go to (for tasks in notes).
    pub groups: &'static [&'static str],
}

/// The settings the demo draws from.
pub const REGIONS: &[Region] = &[
    Region {
        country: "Kenya",
        female: &[
            "Achieng",
            "Akinyi",
            "Atieno",
            "Adhiambo",
            "Awino",
            "Wanjiru",
            "Njeri",
            "Wambui",
            "Nyambura",
            "Wanjiku",
            "Chebet",
            "Jepkemboi",
            "Mwanaisha",
            "Zawadi",
            "Nafula",
        ],
        male: &[
            "Otieno",
            "Ochieng",
            "Omondi",
            "Onyango",
            "Kamau",
            "Mwangi",
            "Njoroge",
            "Kiprono",
            "Kipchumba",
            "Wafula",
            "Barasa",
            "Juma",
            "Baraka",
        ],
        surnames: &[
            "Odhiambo",
            "Ouma",
            "Okoth",
            "Owino",
            "Otieno",
            "Kariuki",
            "Karanja",
            "Mwangi",
            "Njoroge",
            "Kiprotich",
            "Rotich",
            "Wafula",
            "Barasa",
            "Mutua",
            "Wekesa",
        ],
        villages: &[
            "Kibera",
            "Mathare",
            "Kisumu Ndogo",
            "Nyalenda",
            "Kondele",
            "Manyatta",
            "Ahero",
            "Bondo",
            "Maseno",
            "Luanda",
            "Mumias",
            "Kakamega",
        ],
        phone_prefix: "+254 7",
        phone_groups: &[2, 3, 3],
        groups: &[
            "the church women's group",
            "the chama savings group",
            "the mosque",
        ],
    },
    Region {
        country: "Uganda",
        female: &[
            "Nakato",
            "Babirye",
            "Namubiru",
            "Nabirye",
            "Nansubuga",
            "Akello",
            "Apio",
            "Auma",
            "Kisakye",
            "Namutebi",
            "Atim",
            "Nalwoga",
        ],
        male: &[
            "Okello",
            "Kato",
            "Waiswa",
            "Mugisha",
            "Ssemakula",
            "Ocen",
            "Byaruhanga",
            "Tumusiime",
            "Opio",
            "Mukasa",
        ],
        surnames: &[
            "Ssemwanga",
            "Mukasa",
            "Kiggundu",
            "Nakimera",
            "Tumwine",
            "Odongo",
            "Opio",
            "Namaganda",
            "Kasozi",
            "Lubega",
            "Okot",
            "Akena",
        ],
        villages: &[
            "Kasangati",
            "Nansana",
            "Mukono",
            "Kira",
            "Wakiso",
            "Gayaza",
            "Laroo",
            "Bardege",
            "Adyel",
            "Ojwina",
            "Namasuba",
        ],
        phone_prefix: "+256 7",
        phone_groups: &[2, 3, 3],
        groups: &[
            "the church choir",
            "the village savings group",
            "the mothers' union",
        ],
    },
    Region {
        country: "Nepal",
        female: &[
            "Sita", "Gita", "Sarita", "Kamala", "Laxmi", "Sunita", "Anita", "Pramila", "Bishnu",
            "Radha", "Sabitri", "Durga",
        ],
        male: &[
            "Ram", "Hari", "Krishna", "Bikash", "Suman", "Rajesh", "Dipak", "Santosh", "Bishal",
        ],
        surnames: &[
            "Shrestha",
            "Tamang",
            "Gurung",
            "Magar",
            "Rai",
            "Thapa",
            "Adhikari",
            "Poudel",
            "Karki",
            "Bhandari",
            "Khadka",
            "Chaudhary",
        ],
        villages: &[
            "Banepa",
            "Dhulikhel",
            "Panauti",
            "Hetauda",
            "Ratnanagar",
            "Tansen",
            "Bidur",
            "Dhunche",
            "Khairahani",
        ],
        phone_prefix: "+977 98",
        phone_groups: &[8],
        groups: &[
            "the mothers' group",
            "the temple bhajan group",
            "the cooperative",
        ],
    },
    Region {
        country: "India",
        female: &[
            "Sunita", "Meena", "Rekha", "Pooja", "Kavita", "Anjali", "Shabana", "Farzana",
            "Lakshmi", "Savitri", "Guddi", "Rani",
        ],
        male: &[
            "Ramesh", "Suresh", "Imran", "Arjun", "Mahesh", "Vijay", "Raju", "Salim", "Dinesh",
        ],
        surnames: &[
            "Patel", "Yadav", "Kushwaha", "Verma", "Sharma", "Singh", "Khan", "Ansari", "Meena",
            "Ahirwar", "Lodhi", "Malviya",
        ],
        villages: &[
            "Sehore",
            "Ashta",
            "Ichhawar",
            "Budhni",
            "Raisen",
            "Bareli",
            "Obaidullaganj",
            "Nasrullaganj",
            "Berasia",
        ],
        phone_prefix: "+91 9",
        phone_groups: &[4, 5],
        groups: &[
            "the self-help group",
            "the temple satsang",
            "the anganwadi mothers' meeting",
        ],
    },
    Region {
        country: "Bangladesh",
        female: &[
            "Rahima", "Fatema", "Nasrin", "Shirin", "Taslima", "Morium", "Salma", "Rokeya",
            "Jesmin", "Shefali",
        ],
        male: &[
            "Rahim", "Karim", "Jamal", "Habib", "Shafiq", "Alamgir", "Nazrul", "Belal",
        ],
        surnames: &[
            "Begum", "Akter", "Khatun", "Hossain", "Islam", "Rahman", "Uddin", "Mia", "Sarkar",
            "Mondal",
        ],
        villages: &[
            "Pirganj",
            "Mithapukur",
            "Gaibandha",
            "Kurigram",
            "Ulipur",
            "Sundarganj",
            "Badarganj",
            "Kaunia",
        ],
        phone_prefix: "+880 17",
        phone_groups: &[2, 3, 3],
        groups: &[
            "the women's savings group",
            "the mosque",
            "the courtyard meeting",
        ],
    },
];

/// A synthetic person's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Index into [`REGIONS`].
    pub region: usize,
    /// "First Last".
    pub display_name: String,
    /// Sex, when recorded.
    pub sex: Option<Sex>,
    /// Mobile number, when the person has one.
    pub phone: Option<String>,
    /// Village.
    pub village: String,
}

impl Person {
    /// The setting this person comes from.
    pub fn region(&self) -> &'static Region {
        REGIONS.get(self.region).unwrap_or(&REGIONS[0])
    }
}

/// Draws people with distinct names and distinct phone numbers.
#[derive(Debug, Default)]
pub struct PersonFactory {
    names: BTreeSet<String>,
    phones: BTreeSet<String>,
}

/// How many times to redraw a clashing name before accepting a duplicate (real caseloads have
/// namesakes too; only very large demo caseloads reach this).
const MAX_REDRAWS: usize = 50;

impl PersonFactory {
    /// A factory with nothing drawn yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Draw a new person. Most clients of IPC programmes are women: about 70 % female,
    /// 27 % male, and 3 % with sex not recorded; 1 in 10 has no phone.
    pub fn person<R: Rng>(&mut self, rng: &mut R) -> Person {
        let region = rng.random_range(0..REGIONS.len());
        let r = &REGIONS[region];
        let roll = rng.random_range(0..100u32);
        let sex = match roll {
            0..70 => Some(Sex::Female),
            70..97 => Some(Sex::Male),
            _ => None,
        };
        let mut display_name = String::new();
        for _ in 0..MAX_REDRAWS {
            let first_names = match sex {
                Some(Sex::Male) => r.male,
                _ => r.female,
            };
            let first = first_names.choose(rng).copied().unwrap_or("Amina");
            let last = r.surnames.choose(rng).copied().unwrap_or("Demo");
            display_name = format!("{first} {last}");
            if !self.names.contains(&display_name) {
                break;
            }
        }
        self.names.insert(display_name.clone());
        let phone = if rng.random_bool(0.9) {
            let mut phone = phone_number(r, rng);
            while self.phones.contains(&phone) {
                phone = phone_number(r, rng);
            }
            self.phones.insert(phone.clone());
            Some(phone)
        } else {
            None
        };
        let village = r.villages.choose(rng).copied().unwrap_or("Demo village");
        Person {
            region,
            display_name,
            sex,
            phone,
            village: village.to_owned(),
        }
    }
}

fn phone_number<R: Rng>(region: &Region, rng: &mut R) -> String {
    let mut out = region.phone_prefix.to_owned();
    let mut first = true;
    for &len in region.phone_groups {
        if !first {
            out.push(' ');
        }
        first = false;
        for _ in 0..len {
            let digit = rng.random_range(0..10u8);
            out.push(char::from(b'0' + digit));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_core::model::{check_phone, check_text, NAME_MAX, VILLAGE_MAX};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn people_are_valid_distinct_and_deterministic() {
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut factory = PersonFactory::new();
            (0..200)
                .map(|_| factory.person(&mut rng))
                .collect::<Vec<_>>()
        };
        let people = draw(7);
        assert_eq!(people, draw(7));
        assert_ne!(people, draw(8));
        let names: BTreeSet<_> = people.iter().map(|p| p.display_name.as_str()).collect();
        assert_eq!(names.len(), people.len(), "names are distinct");
        let phones: Vec<_> = people.iter().filter_map(|p| p.phone.as_deref()).collect();
        let distinct: BTreeSet<_> = phones.iter().collect();
        assert_eq!(distinct.len(), phones.len(), "phones are distinct");
        for p in &people {
            check_text("display_name", &p.display_name, NAME_MAX).unwrap();
            check_text("village", &p.village, VILLAGE_MAX).unwrap();
            if let Some(phone) = &p.phone {
                check_phone("phone", phone).unwrap();
            }
            assert!(p.region().villages.contains(&p.village.as_str()));
        }
        let countries: BTreeSet<_> = people.iter().map(|p| p.region().country).collect();
        assert_eq!(countries.len(), REGIONS.len(), "every setting appears");
        let women = people.iter().filter(|p| p.sex == Some(Sex::Female)).count();
        assert!((110..=170).contains(&women), "{women} of 200 are women");
    }
}
