"""Forms of the training pages: the tenant's training config."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from interactions.rules import EVENT_TYPES
from recsys_site.errors import ApplicationError, ValidationFailed
from recsys_site.web import form_error_from

from . import schedules
from .models import TrainingConfig

WEIGHT_PREFIX = "weight_"
MAX_LAYERS = 6


class TrainingConfigForm(forms.Form):
    """The fields of `PUT /api/v1/training-config`, with the same bounds; event weights get one field each."""

    embedding_dim = forms.IntegerField(min_value=1, max_value=512, help_text="GMF factors per user and item.")
    mlp_layers = forms.CharField(
        label="MLP layers",
        max_length=200,
        help_text="Comma-separated widths, e.g. 128, 64, 32. The first is split between user and item, so it is even.",
    )
    epochs = forms.IntegerField(min_value=1, max_value=500, help_text="At most; early stopping usually ends sooner.")
    batch_size = forms.IntegerField(min_value=16, max_value=1_000_000)
    learning_rate = forms.FloatField(min_value=1e-6, max_value=1.0)
    num_negatives = forms.IntegerField(min_value=1, max_value=50, help_text="Negatives sampled per interaction.")
    l2 = forms.FloatField(label="L2", min_value=0, max_value=1.0, help_text="Penalty on the embeddings; 0 = none.")
    min_interactions = forms.IntegerField(
        min_value=1, max_value=100_000_000, help_text="Fewer distinct user-item pairs than this: no training."
    )
    keep_versions = forms.IntegerField(
        min_value=1, max_value=100, help_text="Model files are kept for the newest N versions (and the active one)."
    )
    retrain_schedule = forms.CharField(
        max_length=100,
        help_text="Cron, UTC: minute hour day-of-month month day-of-week. “0 3 * * *” is every day at 03:00; "
        "“0 */6 * * *” every six hours; “30 2 * * 1” Mondays at 02:30. It retrains only when new events arrived.",
    )
    schedule_enabled = forms.BooleanField(required=False, label="Retrain on this schedule")

    sections = [
        {"title": "Model", "names": ["embedding_dim", "mlp_layers"]},
        {
            "title": "Training",
            "names": ["epochs", "batch_size", "learning_rate", "num_negatives", "l2", "min_interactions"],
        },
        {"title": "Schedule and storage", "names": ["retrain_schedule", "schedule_enabled", "keep_versions"]},
        {
            "title": "Event weights",
            "help": "How much each kind of event counts towards a user's interest in an item; 0 ignores it.",
            "names": [WEIGHT_PREFIX + name for name in EVENT_TYPES],
            "compact": True,
        },
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in EVENT_TYPES:
            self.fields[WEIGHT_PREFIX + name] = forms.FloatField(
                label=name.replace("_", " ").capitalize(), min_value=0, max_value=100
            )

    @classmethod
    def for_config(cls, config: TrainingConfig) -> TrainingConfigForm:
        initial: dict[str, Any] = {
            name: getattr(config, name)
            for name in (
                "embedding_dim",
                "epochs",
                "batch_size",
                "learning_rate",
                "num_negatives",
                "l2",
                "min_interactions",
                "keep_versions",
                "retrain_schedule",
                "schedule_enabled",
            )
        }
        initial["mlp_layers"] = ", ".join(str(width) for width in config.mlp_layers)
        for name in EVENT_TYPES:
            initial[WEIGHT_PREFIX + name] = config.event_weights.get(name, 0.0)
        return cls(initial=initial)

    def grouped(self) -> list[dict[str, Any]]:
        """The fields section by section, for the template: [{title, help, compact, fields}]."""
        return [{**section, "fields": [self[name] for name in section["names"]]} for section in self.sections]

    def clean_mlp_layers(self) -> list[int]:
        text = self.cleaned_data["mlp_layers"]
        parts = [part for part in re.split(r"[\s,]+", text.strip()) if part]
        try:
            widths = [int(part) for part in parts]
        except ValueError:
            raise forms.ValidationError("Whole numbers separated by commas, e.g. 128, 64, 32.") from None
        if not 1 <= len(widths) <= MAX_LAYERS:
            raise forms.ValidationError(f"Between 1 and {MAX_LAYERS} layers.")
        if any(not 1 <= width <= 2048 for width in widths):
            raise forms.ValidationError("Each width is between 1 and 2048.")
        return widths

    def clean_retrain_schedule(self) -> str:
        expression = " ".join(self.cleaned_data["retrain_schedule"].split())
        try:
            schedules.validate_cron(expression)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message) from None
        return expression

    def clean(self):
        cleaned = super().clean()
        weights = [cleaned.get(WEIGHT_PREFIX + name) for name in EVENT_TYPES]
        if all(weight is not None for weight in weights) and not any(weights):
            self.add_error(None, "At least one event type needs a weight above 0.")
        return cleaned

    def config_data(self) -> dict[str, Any]:
        """The input of `training_config_update`."""
        data = {key: value for key, value in self.cleaned_data.items() if not key.startswith(WEIGHT_PREFIX)}
        data["event_weights"] = {name: self.cleaned_data[WEIGHT_PREFIX + name] for name in EVENT_TYPES}
        return data

    def add_service_error(self, exc: ApplicationError) -> None:
        """Put a refusal of `training_config_update` beside its field.

        Event weights come back keyed by event type; parameter checks (`invalid_training_config`) name the
        parameter at the start of the message ("mlp_layers[0] must be ..."); anything else goes on top.
        """
        details = {
            (WEIGHT_PREFIX + key if key in EVENT_TYPES else key): value for key, value in (exc.details or {}).items()
        }
        if not details and exc.code == "invalid_training_config":
            named = re.match(r"[a-z_0-9]+", exc.message)
            if named and named.group(0) in self.fields:
                details = {named.group(0): [exc.message]}
        form_error_from(self, ApplicationError(exc.message, code=exc.code, details=details))
