"""What serving keeps per tenant besides the model: its settings, popularity snapshots, association rules."""

from __future__ import annotations

from django.db import models

from accounts.models import Tenant, TenantModel


def default_seen_event_types() -> list[str]:
    return ["view", "click", "add_to_cart", "purchase", "rating", "like"]


def default_home_weights() -> dict[str, float]:
    return {"click": 0.5, "search": 0.4, "diverse": 0.1}


def default_synonyms() -> dict[str, list[str]]:
    return {}


class RecommendationSettings(models.Model):
    """How a tenant's answers are shaped; one row per tenant, created on first use."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="recommendation_settings")
    seen_event_types = models.JSONField(
        default=default_seen_event_types,
        help_text="Event types that make an item 'seen' (left out with exclude_seen=true), e.g. only purchase.",
    )
    trending_decay_per_hour = models.FloatField(default=0.95, help_text="Weight kept by an event per hour of age.")
    home_weights = models.JSONField(default=default_home_weights, help_text="Shares of the home 'personalized' list.")
    home_inactive_days = models.PositiveIntegerField(
        default=30, help_text="Days without events before 'personalized' is left empty."
    )
    synonyms = models.JSONField(default=default_synonyms, help_text='{"earbuds": ["earphones", "in-ear"]}')
    similar_embedding_weight = models.FloatField(
        default=0.5, help_text="Blend of learned item embeddings (1.0) and TF-IDF text similarity (0.0)."
    )
    result_cache_seconds = models.PositiveIntegerField(default=60)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"recommendation settings of {self.tenant}"


class PopularitySnapshot(TenantModel):
    """Popular and trending items computed from the tenant's events (hourly, and after imports).

    Scores are parallel JSON lists over `item_pks`. Trending is time-decayed from `anchor`, the newest
    event seen; events after the snapshot are added at read time, so trending moves within a minute.
    """

    computed_at = models.DateTimeField()
    anchor = models.DateTimeField(null=True, blank=True)
    last_event_id = models.BigIntegerField(default=0)
    item_pks = models.JSONField(default=list)
    popular = models.JSONField(default=list)
    trending = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="popularitysnapshot_one_per_tenant")]

    def __str__(self) -> str:
        return f"popularity of {self.tenant} at {self.computed_at:%Y-%m-%d %H:%M}"


class ItemAssociation(TenantModel):
    """An association rule A -> B mined from baskets (FP-Growth): bought together."""

    antecedent = models.ForeignKey("catalog.Item", on_delete=models.CASCADE, related_name="+")
    consequent = models.ForeignKey("catalog.Item", on_delete=models.CASCADE, related_name="+")
    support = models.FloatField()
    confidence = models.FloatField()
    lift = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "antecedent", "-confidence"], name="assoc_tenant_antecedent")]

    def __str__(self) -> str:
        return f"{self.antecedent_id} -> {self.consequent_id} ({self.confidence:.2f})"
