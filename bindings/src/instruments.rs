//! Questionnaires and languages on [`IpcStore`]: the translations the shell chose, the
//! instrument definitions rendered for a form (items, options, which text is a fallback,
//! bands) and scoring without storing.

use ipc_core::instruments::{render, score_values, TranslationPack};
use ipc_core::protocol::agenda::AgendaTranslation;

use crate::error::{IpcError, Result};
use crate::records::{InstrumentForm, ScoreResult};
use crate::store::{IpcStore, Translations};
use crate::types::answers;

#[uniffi::export]
impl IpcStore {
    /// Choose the language of the texts: an agenda translation
    /// (`{"language": "sw", "texts": {key: text}}`) and questionnaire translation packs, as
    /// JSON shipped with the app. Each is checked against the content it translates; texts
    /// it lacks are shown in the original language and marked as fallbacks. `null`/`nil` and
    /// an empty list go back to the original texts.
    #[uniffi::method(default(instrument_packs_json = []))]
    pub fn set_translations(
        &self,
        agenda_json: Option<String>,
        instrument_packs_json: Vec<String>,
    ) -> Result<()> {
        let agenda = agenda_json
            .map(|json| AgendaTranslation::from_json(&json, &self.protocol.agenda))
            .transpose()?;
        let instruments = instrument_packs_json
            .iter()
            .map(|json| TranslationPack::from_json(json, &self.protocol.instruments))
            .collect::<Result<Vec<_>, _>>()?;
        *self.translations.write().unwrap_or_else(|e| e.into_inner()) = Translations {
            agenda,
            instruments,
        };
        Ok(())
    }

    /// The ids of the questionnaires available (e.g. `gad7`, `phq2`, `phq9`).
    pub fn instrument_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .protocol
            .instruments
            .iter()
            .map(|d| d.id().to_string())
            .collect();
        ids.dedup();
        ids
    }

    /// A questionnaire ready to show (latest version), in the chosen language.
    pub fn instrument(&self, instrument: String) -> Result<InstrumentForm> {
        let def = self
            .protocol
            .instruments
            .get(&instrument)
            .ok_or_else(|| IpcError::invalid("instrument", "unknown instrument"))?;
        let translations = self.translations.read().unwrap_or_else(|e| e.into_inner());
        let pack = translations
            .instruments
            .iter()
            .find(|p| p.instrument() == def.id() && p.version() == def.version());
        Ok(InstrumentForm::new(render(def, pack)?, def))
    }

    /// Score answers (values in item order) without storing them, e.g. to show the total
    /// while the form is still open.
    pub fn score(&self, instrument: String, values: Vec<u32>) -> Result<ScoreResult> {
        let def = self
            .protocol
            .instruments
            .get(&instrument)
            .ok_or_else(|| IpcError::invalid("instrument", "unknown instrument"))?;
        Ok(score_values(def, &answers(&values)?)?.into())
    }
}
