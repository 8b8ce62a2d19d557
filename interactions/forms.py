"""Forms of the interactions page."""

from __future__ import annotations

from django import forms

from catalog.forms import UploadForm

from .rules import ITEM_EVENT_TYPES


class InteractionUploadForm(UploadForm):
    default_event_type = forms.ChoiceField(
        choices=[("", "Automatic (rating if there is a rating column, else purchase)")]
        + [(name, name) for name in ITEM_EVENT_TYPES],
        required=False,
        label="Event type of rows without one",
    )
    train = forms.BooleanField(required=False, initial=True, label="Train a new model after the import")
    allow_duplicate = forms.BooleanField(
        required=False, label="Import again even if an identical file was imported before"
    )
    option_names = (*UploadForm.option_names, "default_event_type")
    field_order = [
        "file",
        "format",
        "delimiter",
        "has_header",
        "column_names",
        "mapping",
        "default_event_type",
        "train",
        "allow_duplicate",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            "CSV (UTF-8, may be gzipped) or JSON lines with user_id and item_id, and optionally "
            "interaction_score (or rating / value), timestamp, event_type, event_id."
        )
        self.fields["mapping"].help_text = (
            'Your column → ours, e.g. {"customer_id": "user_id", "product": "item_id"}; '
            "map a column to null to skip it."
        )

    def read_params(self) -> dict[str, str]:
        params = super().read_params()
        data = self.cleaned_data
        if data.get("default_event_type"):
            params["default_event_type"] = data["default_event_type"]
        params["train"] = "true" if data.get("train") else "false"
        params["allow_duplicate"] = "true" if data.get("allow_duplicate") else "false"
        return params
