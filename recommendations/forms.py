"""Forms of the recommendation pages: the preview's user and item lookups, and the recommendation settings."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Tenant
from accounts.selectors import item_id_pattern, user_id_pattern
from interactions.rules import ITEM_EVENT_TYPES, id_problem
from recsys_site.errors import ApplicationError
from recsys_site.web import form_error_from

from .models import RecommendationSettings

HOME_WEIGHT_PREFIX = "home_weight_"
HOME_WEIGHTS = ("click", "search", "diverse")
HOME_WEIGHTS_ERROR = "home_weights"
MAX_SYNONYM_LINES = 5000


def _checked_id(value: str, pattern: Any, what: str) -> str:
    text = value.strip()
    problem = id_problem(text, pattern)
    if problem is not None:
        raise forms.ValidationError(f"This {what} {problem}.")
    return text


class PreviewForm(forms.Form):
    """Whose recommendations to show, and how many, optionally in one category."""

    user_id = forms.CharField(label="User id", max_length=255)
    category = forms.ChoiceField(required=False, label="Category")
    n = forms.IntegerField(label="How many", min_value=1, max_value=100, initial=10, required=False)

    def __init__(self, *args: Any, tenant: Tenant, categories: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["category"].choices = [("", "All categories"), *((name, name) for name in categories)]
        self.fields["user_id"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        self.fields["n"].widget.attrs["placeholder"] = str(self.fields["n"].initial)

    def clean_user_id(self) -> str:
        return _checked_id(self.cleaned_data["user_id"], user_id_pattern(self.tenant), "user id")

    def clean_n(self) -> int:
        return self.cleaned_data["n"] or self.fields["n"].initial


class ItemLookupForm(forms.Form):
    item_id = forms.CharField(label="Item id", max_length=255)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["item_id"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def clean_item_id(self) -> str:
        return _checked_id(self.cleaned_data["item_id"], item_id_pattern(self.tenant), "item id")


def synonyms_to_text(synonyms: dict[str, list[str]]) -> str:
    return "\n".join(f"{term}: {', '.join(words)}" for term, words in sorted(synonyms.items()))


def synonyms_from_text(text: str) -> dict[str, list[str]]:
    """`earbuds: earphones, in-ear` per line -> {"earbuds": ["earphones", "in-ear"]}; blank lines are skipped.

    Raises forms.ValidationError naming the line of the first problem.
    """
    synonyms: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    lines = text.splitlines()
    if sum(1 for line in lines if line.strip()) > MAX_SYNONYM_LINES:
        raise forms.ValidationError(f"At most {MAX_SYNONYM_LINES:,} terms.")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        term, colon, rest = line.partition(":")
        term = term.strip().lower()
        words = [word.strip().lower() for word in rest.split(",") if word.strip()]
        if not colon or not term:
            raise forms.ValidationError(
                f"Line {number}: write a term, a colon and its synonyms, e.g. “earbuds: earphones, in-ear”."
            )
        if not words:
            raise forms.ValidationError(f"Line {number}: “{term[:100]}” has no synonyms after the colon.")
        if term in first_line:
            raise forms.ValidationError(f"Line {number}: “{term[:100]}” is already on line {first_line[term]}.")
        if len(term) > 100 or any(len(word) > 100 for word in words):
            raise forms.ValidationError(f"Line {number}: terms and synonyms are at most 100 characters.")
        if len(words) > 50:
            raise forms.ValidationError(f"Line {number}: at most 50 synonyms per term.")
        first_line[term] = number
        synonyms[term] = words
    return synonyms


class RecommendationSettingsForm(forms.Form):
    """The fields of `recommendation_settings_update`; the home weights get one field each."""

    seen_event_types = forms.MultipleChoiceField(
        choices=[(name, name.replace("_", " ")) for name in ITEM_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "choices"}),
        required=False,
        label="Seen means",
        help_text="Events that make an item “seen”: seen items are left out of a user's recommendations. "
        "None ticked: users may be recommended what they already bought.",
    )
    trending_decay_per_hour = forms.FloatField(
        min_value=0.5,
        max_value=1.0,
        label="Trending decay per hour",
        help_text="Weight an event keeps per hour of age.",
    )
    similar_embedding_weight = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        label="Similar items: weight of the model",
        help_text="1 ranks similar items by the model's embeddings only, 0 by name and category only.",
    )
    result_cache_seconds = forms.IntegerField(
        min_value=0, max_value=3600, label="Cache answers for (seconds)", help_text="0 computes every answer afresh."
    )
    home_inactive_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        label="Inactive after (days)",
        help_text="A user without events for this long gets no personalised row on the home page.",
    )
    synonyms = forms.CharField(
        required=False,
        max_length=1_000_000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "placeholder": "earbuds: earphones, in-ear"}),
        help_text="One term per line, then a colon and its synonyms separated by commas, e.g. "
        "“earbuds: earphones, in-ear”. A search for the term also finds its synonyms.",
    )

    sections = [
        {
            "title": "Answers",
            "names": [
                "seen_event_types",
                "trending_decay_per_hour",
                "similar_embedding_weight",
                "result_cache_seconds",
            ],
        },
        {
            "key": HOME_WEIGHTS_ERROR,
            "title": "Home page",
            "help": "The personalised row blends picks from the user's clicks, their searches and diverse items "
            "in these proportions (they are scaled to add up to 1).",
            "names": [HOME_WEIGHT_PREFIX + name for name in HOME_WEIGHTS] + ["home_inactive_days"],
            "compact": True,
        },
        {"title": "Search", "names": ["synonyms"]},
    ]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name in HOME_WEIGHTS:
            self.fields[HOME_WEIGHT_PREFIX + name] = forms.FloatField(
                label=f"{name.capitalize()} share", min_value=0, max_value=1000
            )

    @classmethod
    def for_settings(cls, current: RecommendationSettings) -> RecommendationSettingsForm:
        initial: dict[str, Any] = {
            name: getattr(current, name)
            for name in (
                "seen_event_types",
                "trending_decay_per_hour",
                "similar_embedding_weight",
                "result_cache_seconds",
                "home_inactive_days",
            )
        }
        initial["synonyms"] = synonyms_to_text(current.synonyms or {})
        for name in HOME_WEIGHTS:
            initial[HOME_WEIGHT_PREFIX + name] = (current.home_weights or {}).get(name, 0.0)
        return cls(initial=initial)

    def grouped(self) -> list[dict[str, Any]]:
        """The fields section by section for the template, with the errors that belong to a section."""
        section_errors = [error for error in self.non_field_errors().as_data() if error.code == HOME_WEIGHTS_ERROR]
        return [
            {
                **section,
                "fields": [self[name] for name in section["names"]],
                "errors": [message for error in section_errors for message in error.messages]
                if section.get("key") == HOME_WEIGHTS_ERROR
                else [],
            }
            for section in self.sections
        ]

    def other_errors(self) -> list[str]:
        """Errors of the whole form that no section claims."""
        return [
            message
            for error in self.non_field_errors().as_data()
            if error.code != HOME_WEIGHTS_ERROR
            for message in error.messages
        ]

    def clean_synonyms(self) -> dict[str, list[str]]:
        return synonyms_from_text(self.cleaned_data.get("synonyms") or "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        weights = [cleaned.get(HOME_WEIGHT_PREFIX + name) for name in HOME_WEIGHTS]
        if all(weight is not None for weight in weights) and not any(weights):
            self.add_error(
                None, forms.ValidationError("At least one home share must be above 0.", code=HOME_WEIGHTS_ERROR)
            )
        return cleaned

    def settings_data(self) -> dict[str, Any]:
        """The input of `recommendation_settings_update`."""
        data = {key: value for key, value in self.cleaned_data.items() if not key.startswith(HOME_WEIGHT_PREFIX)}
        data["home_weights"] = {name: self.cleaned_data[HOME_WEIGHT_PREFIX + name] for name in HOME_WEIGHTS}
        return data

    def add_service_error(self, exc: ApplicationError) -> None:
        """Put a refusal of `recommendation_settings_update` beside its field (or its section)."""
        if exc.code == "invalid_home_weights":
            self.add_error(None, forms.ValidationError(exc.message, code=HOME_WEIGHTS_ERROR))
            return
        field = {"invalid_synonyms": "synonyms", "invalid_seen_event_types": "seen_event_types"}.get(exc.code)
        details = {field: [exc.message]} if field else exc.details
        form_error_from(self, ApplicationError(exc.message, code=exc.code, details=details))
