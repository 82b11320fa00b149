//! The error type of the instruments module: definition and translation-pack validation,
//! registry look-ups and scoring.
//!
//! Errors name fields, ids and allowed ranges. They never carry an answer given by a client:
//! an out-of-range answer is reported by item and allowed range only.

/// Result alias for the instruments module.
pub type Result<T> = std::result::Result<T, InstrumentError>;

/// Everything that can go wrong loading, translating or scoring an instrument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    // ---- JSON shape -------------------------------------------------------------------
    /// The JSON did not parse or did not have the expected shape (unknown field, wrong type,
    /// missing field). `what` says which document ("definition", "translation pack",
    /// "change rules"); `message` is the parser's description. These documents hold
    /// instrument texts and configuration, never client data.
    #[error("{what} JSON is invalid at line {line}, column {column}: {message}")]
    Json {
        /// Which kind of document failed to parse.
        what: &'static str,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// The parser's description of the problem.
        message: String,
    },

    // ---- definition validation --------------------------------------------------------
    /// An id (instrument, item, option set, band or flag) does not match
    /// `[a-z][a-z0-9_]*` (at most 64 characters).
    #[error("{field} is not a valid id (lowercase letters, digits and '_', starting with a letter, at most 64 characters): {id:?}")]
    InvalidId {
        /// Where the id was found, e.g. `items[3].id`.
        field: String,
        /// The offending id.
        id: String,
    },
    /// The version string is not dotted numbers such as `1.0` or `2.1.3`.
    #[error("{field} is not a valid version (dotted numbers such as \"1.0\"): {version:?}")]
    InvalidVersion {
        /// Where the version was found.
        field: String,
        /// The offending version.
        version: String,
    },
    /// A language tag does not match `[a-z]{2,3}(-[A-Za-z0-9]{2,8})*`.
    #[error("{field} is not a valid language tag (e.g. \"en\", \"sw\", \"pt-BR\"): {tag:?}")]
    InvalidLanguage {
        /// Where the tag was found.
        field: String,
        /// The offending tag.
        tag: String,
    },
    /// A text that must be shown is empty or only whitespace.
    #[error("{field} must not be empty")]
    EmptyText {
        /// Where the empty text was found, e.g. `items[phq9_3].text`.
        field: String,
    },
    /// A LOINC code is not of the form `digits-checkdigit` or its check digit is wrong.
    #[error("{field} is not a valid LOINC code (digits, '-', mod-10 check digit): {code:?}")]
    InvalidLoinc {
        /// Where the code was found.
        field: String,
        /// The offending code.
        code: String,
    },
    /// A LOINC answer code is not of the form `LA<digits>-<digit>`.
    #[error("{field} is not a valid LOINC answer code (LA<digits>-<digit>): {code:?}")]
    InvalidAnswerCode {
        /// Where the code was found.
        field: String,
        /// The offending code.
        code: String,
    },
    /// Two entries of the same kind share an id (items, option sets, bands).
    #[error("duplicate {kind} id {id:?}")]
    DuplicateId {
        /// What kind of entry is duplicated ("item", "option set", "band").
        kind: &'static str,
        /// The duplicated id.
        id: String,
    },
    /// An item refers to an option set the definition does not define.
    #[error("item {item:?} refers to unknown option set {option_set:?}")]
    UnknownOptionSet {
        /// The item holding the reference.
        item: String,
        /// The missing option set.
        option_set: String,
    },
    /// An option set has no options.
    #[error("option set {option_set:?} has no options")]
    EmptyOptionSet {
        /// The empty option set.
        option_set: String,
    },
    /// Two options of one set share a value.
    #[error("option set {option_set:?} has the value {value} more than once")]
    DuplicateOptionValue {
        /// The option set.
        option_set: String,
        /// The repeated value.
        value: u8,
    },
    /// Option values are not exactly 0, 1, …, n-1 in order.
    #[error("option set {option_set:?} values must be 0, 1, 2, … in order without gaps")]
    OptionValuesNotContiguous {
        /// The option set.
        option_set: String,
    },
    /// Two options of one set share a LOINC answer code (main or alternative), so a coded
    /// answer could not be mapped back to one value.
    #[error("option set {option_set:?} uses answer code {code:?} more than once")]
    DuplicateAnswerCode {
        /// The option set.
        option_set: String,
        /// The repeated code.
        code: String,
    },
    /// The scored items' largest possible total does not fit in 16 bits.
    #[error("the maximum possible total of the scored items exceeds {}", u16::MAX)]
    MaxTotalTooLarge,
    /// The definition has no items at all, or none of them is scored.
    #[error("the definition has no scored items")]
    NoScoredItems,
    /// The scoring section names a difficulty item that is not an unscored item of the
    /// definition.
    #[error("scoring.difficulty_item {item:?} must name an unscored item of the definition")]
    InvalidDifficultyItem {
        /// The named item.
        item: String,
    },
    /// The bands list is empty.
    #[error("bands.ranges must not be empty")]
    NoBands,
    /// A band has `min > max`.
    #[error("band {band:?} has min greater than max")]
    BandInverted {
        /// The band.
        band: String,
    },
    /// The first band does not start at total 0.
    #[error("the first band {band:?} must start at 0")]
    BandsNotFromZero {
        /// The first band.
        band: String,
    },
    /// There are totals between two consecutive bands that belong to neither.
    #[error("totals between band {before:?} and band {after:?} belong to no band")]
    BandGap {
        /// The lower band.
        before: String,
        /// The upper band.
        after: String,
    },
    /// Two consecutive bands share totals (or are out of order).
    #[error("band {before:?} and band {after:?} overlap or are out of order")]
    BandOverlap {
        /// The lower band.
        before: String,
        /// The upper band.
        after: String,
    },
    /// The last band does not end exactly at the maximum possible total.
    #[error("the last band must end at the maximum total {max_total}, it ends at {ends_at}")]
    BandsDoNotCoverMax {
        /// The maximum possible total of the definition.
        max_total: u16,
        /// Where the last band ends.
        ends_at: u16,
    },
    /// A flag rule's `when` names neither or both of `item` and `total: true`.
    #[error("flag rule {flag:?} must name exactly one of \"item\" or \"total\": true")]
    FlagTarget {
        /// The flag.
        flag: String,
    },
    /// A flag rule refers to an item the definition does not have.
    #[error("flag rule {flag:?} refers to unknown item {item:?}")]
    FlagUnknownItem {
        /// The flag.
        flag: String,
        /// The missing item.
        item: String,
    },
    /// A flag rule compares with a value outside what its target can take.
    #[error("flag rule {flag:?} compares with {value}, outside the possible range 0..={max}")]
    FlagValueOutOfRange {
        /// The flag.
        flag: String,
        /// The rule's value.
        value: u16,
        /// The largest value the target can take.
        max: u16,
    },

    // ---- registry ---------------------------------------------------------------------
    /// A definition with the same id and version is already registered.
    #[error("instrument {id:?} version {version:?} is already registered")]
    DuplicateDefinition {
        /// The instrument id.
        id: String,
        /// The version.
        version: String,
    },
    /// No definition with this id is known.
    #[error("unknown instrument {id:?}")]
    UnknownInstrument {
        /// The instrument id.
        id: String,
    },
    /// The instrument is known but not in this version.
    #[error("instrument {id:?} has no version {version:?}")]
    UnknownVersion {
        /// The instrument id.
        id: String,
        /// The missing version.
        version: String,
    },

    // ---- translation packs ------------------------------------------------------------
    /// A translation pack translates an item the definition does not have.
    #[error("translation pack refers to unknown item {item:?}")]
    UnknownPackItem {
        /// The unknown item id.
        item: String,
    },
    /// A translation pack translates an option set the definition does not have.
    #[error("translation pack refers to unknown option set {option_set:?}")]
    UnknownPackOptionSet {
        /// The unknown option set id.
        option_set: String,
    },
    /// A translation pack translates an option value the option set does not have (or a key
    /// that is not a plain number).
    #[error("translation pack option set {option_set:?} has no option {value:?}")]
    UnknownPackOption {
        /// The option set.
        option_set: String,
        /// The key as written in the pack.
        value: String,
    },
    /// A key appears twice in one JSON object of a translation pack.
    #[error("translation pack {field} has the key {key:?} more than once")]
    DuplicateKey {
        /// The object holding the duplicate, e.g. `items` or `options.frequency`.
        field: String,
        /// The duplicated key.
        key: String,
    },
    /// A translation pack was used with a definition it was not validated for.
    #[error("translation pack is for {pack_instrument:?} version {pack_version:?}, not {instrument:?} version {version:?}")]
    PackMismatch {
        /// The pack's instrument id.
        pack_instrument: String,
        /// The pack's version.
        pack_version: String,
        /// The definition's instrument id.
        instrument: String,
        /// The definition's version.
        version: String,
    },

    // ---- scoring ----------------------------------------------------------------------
    /// Required (scored) items were not answered; the response cannot be scored.
    #[error("cannot score: required items not answered: {}", items.join(", "))]
    MissingItems {
        /// Ids of the unanswered scored items, in definition order.
        items: Vec<String>,
    },
    /// An answer is not one of the item's option values. The value itself is not reported.
    #[error("answer for item {item:?} is not one of its allowed values 0..={max}")]
    InvalidAnswer {
        /// The item answered.
        item: String,
        /// The largest allowed value.
        max: u8,
    },
    /// An answer names an item the definition does not have.
    #[error("answer refers to unknown item {item:?}")]
    UnknownItem {
        /// The unknown item id.
        item: String,
    },
    /// The same item was answered more than once.
    #[error("item {item:?} was answered more than once")]
    DuplicateAnswer {
        /// The item.
        item: String,
    },
    /// A list of values in item order had the wrong length.
    #[error("expected {expected} values (or {scored_only} with only the scored items), got {got}")]
    WrongAnswerCount {
        /// Number of items (scored and unscored).
        expected: usize,
        /// Number of scored items (also accepted).
        scored_only: usize,
        /// Number of values given.
        got: usize,
    },
    /// The definition's bands do not contain a total. Cannot happen with a validated
    /// definition; reported instead of panicking.
    #[error("no band contains the total")]
    NoBandForTotal,

    // ---- change rules -----------------------------------------------------------------
    /// A change rule has a value outside its meaningful range.
    #[error("change rule {field} is out of range: {reason}")]
    InvalidChangeRule {
        /// The field.
        field: &'static str,
        /// What the allowed range is.
        reason: &'static str,
    },
}

impl InstrumentError {
    /// Wraps a `serde_json` error for the named kind of document.
    pub(crate) fn json(what: &'static str, err: &serde_json::Error) -> Self {
        let full = err.to_string();
        // serde_json appends " at line L column C"; the position has its own fields.
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        Self::Json {
            what,
            line: err.line(),
            column: err.column(),
            message,
        }
    }
}
