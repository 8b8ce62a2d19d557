"""Event types and search queries."""

from __future__ import annotations

from recsys_site.errors import ValidationFailed

EVENT_TYPES: tuple[str, ...] = ("view", "click", "add_to_cart", "purchase", "rating", "like", "search")
EVENT_ALIASES: dict[str, str] = {"product_click": "click", "search_query": "search"}
ITEM_EVENT_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t != "search")
"""Event types that name an item, the only ones an interactions file may contain."""
QUANTITY_EVENTS: tuple[str, ...] = ("purchase", "add_to_cart")
"""Event types whose value is a quantity, which must be greater than 0."""
MAX_QUERY_LENGTH = 255
_EVENT_SET = frozenset(EVENT_TYPES)


def normalize_event_type(value: object) -> str | None:
    """The canonical event type, or None if `value` is not one. Case-insensitive, trimmed, and spaces or
    hyphens count as underscores ("Add to cart" -> add_to_cart); aliases: product_click -> click,
    search_query -> search."""
    if not isinstance(value, str):
        return None
    name = "_".join(value.strip().lower().replace("-", " ").split())
    name = EVENT_ALIASES.get(name, name)
    return name if name in _EVENT_SET else None


def validate_query(value: object) -> str:
    """A search query trimmed of surrounding whitespace: 1 to 255 characters, no control characters.
    Raises ValidationFailed (invalid_query, field query)."""
    if not isinstance(value, str):
        raise ValidationFailed("query must be a string.", code="invalid_query", details={"field": "query"})
    text = value.strip()
    if not text:
        raise ValidationFailed("query must not be empty.", code="invalid_query", details={"field": "query"})
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed(
            f"query is {len(text):,} characters long; the limit is {MAX_QUERY_LENGTH}.",
            code="invalid_query",
            details={"field": "query"},
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationFailed("query contains control characters.", code="invalid_query", details={"field": "query"})
    return text
