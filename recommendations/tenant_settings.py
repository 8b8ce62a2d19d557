"""A tenant's serving settings and event weights, read once per change by each process."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Tenant
from recsys_site.errors import ValidationFailed

from . import freshness
from .local_cache import VersionedLRU
from .models import RecommendationSettings

_settings: VersionedLRU[RecommendationSettings] = VersionedLRU(max_bytes=64 * 1024 * 1024)
_weights: VersionedLRU[dict[str, float]] = VersionedLRU(max_bytes=16 * 1024 * 1024)


def settings_changed(*, tenant_id: int) -> None:
    freshness.bump("settings", tenant_id)


def _settings_version(tenant_id: int) -> int:
    return freshness.current("settings", tenant_id)


def recommendation_settings_get(*, tenant: Tenant) -> RecommendationSettings:
    return RecommendationSettings.objects.get_or_create(tenant=tenant)[0]


def recommendation_settings_for(*, tenant_id: int) -> RecommendationSettings:
    return _settings.get(
        tenant_id,
        current_version=lambda: _settings_version(tenant_id),
        build=lambda version: RecommendationSettings.objects.get_or_create(tenant_id=tenant_id)[0],
        size=lambda value: 4096,
    )


def event_weights_for(*, tenant_id: int) -> dict[str, float]:
    from training.models import TrainingConfig, default_event_weights

    def build(version) -> dict[str, float]:
        weights = TrainingConfig.objects.filter(tenant_id=tenant_id).values_list("event_weights", flat=True).first()
        return {**default_event_weights(), **(weights or {})}

    return _weights.get(
        tenant_id, current_version=lambda: _settings_version(tenant_id), build=build, size=lambda v: 1024
    )


def _clean_synonyms(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ValidationFailed("synonyms must be an object of term -> list of terms.", code="invalid_synonyms")
    clean: dict[str, list[str]] = {}
    for term, alternatives in value.items():
        if isinstance(alternatives, str):
            alternatives = [part for part in alternatives.split(",")]
        if not isinstance(term, str) or not term.strip() or not isinstance(alternatives, list):
            raise ValidationFailed(f"Invalid synonyms for {str(term)[:50]!r}.", code="invalid_synonyms")
        words = [str(word).strip().lower() for word in alternatives if str(word).strip()]
        if len(term) > 100 or any(len(word) > 100 for word in words) or len(words) > 50:
            raise ValidationFailed("Synonym terms are at most 100 characters, 50 per term.", code="invalid_synonyms")
        clean[term.strip().lower()] = words
    if len(clean) > 5000:
        raise ValidationFailed("At most 5,000 synonym entries.", code="invalid_synonyms")
    return clean


def _clean_home_weights(value: Any) -> dict[str, float]:
    keys = {"click", "search", "diverse"}
    if not isinstance(value, dict) or set(value) - keys:
        raise ValidationFailed("home_weights has the keys click, search and diverse.", code="invalid_home_weights")
    weights = {name: value.get(name, 0) for name in keys}
    if any(isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in weights.values()):
        raise ValidationFailed("home_weights are numbers >= 0.", code="invalid_home_weights")
    total = sum(weights.values())
    if total <= 0:
        raise ValidationFailed("At least one home weight must be above 0.", code="invalid_home_weights")
    return {name: round(w / total, 4) for name, w in weights.items()}


def recommendation_settings_update(*, tenant: Tenant, data: dict[str, Any]) -> RecommendationSettings:
    from interactions.rules import ITEM_EVENT_TYPES

    with transaction.atomic():
        current = RecommendationSettings.objects.select_for_update().get(
            pk=recommendation_settings_get(tenant=tenant).pk
        )
        if "synonyms" in data:
            current.synonyms = _clean_synonyms(data["synonyms"])
        if "home_weights" in data:
            current.home_weights = _clean_home_weights(data["home_weights"])
        if "seen_event_types" in data:
            types = data["seen_event_types"]
            if not isinstance(types, list) or any(t not in ITEM_EVENT_TYPES for t in types):
                raise ValidationFailed(
                    f"seen_event_types is a list of {', '.join(ITEM_EVENT_TYPES)}.", code="invalid_seen_event_types"
                )
            current.seen_event_types = sorted(set(types))
        for name, low, high in (
            ("trending_decay_per_hour", 0.5, 1.0),
            ("similar_embedding_weight", 0.0, 1.0),
            ("home_inactive_days", 1, 3650),
            ("result_cache_seconds", 0, 3600),
        ):
            if name in data:
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                    raise ValidationFailed(f"{name} must be between {low} and {high}.", code="invalid_setting",
                                           details={name: [f"Between {low} and {high}."]})  # fmt: skip
                setattr(current, name, value)
        current.save()
        settings_changed(tenant_id=tenant.pk)
    return current
