"""Pure interaction rules shared by file imports and the live events API: event types, ids, timestamps,
search queries. No Django imports."""

from .events import (
    EVENT_ALIASES,
    EVENT_TYPES,
    ITEM_EVENT_TYPES,
    MAX_QUERY_LENGTH,
    QUANTITY_EVENTS,
    normalize_event_type,
    validate_query,
)
from .ids import (
    DEFAULT_ID_PATTERN,
    MAX_ID_LENGTH,
    IdPattern,
    check_ids,
    compile_id_pattern,
    id_problem,
    resolve_pattern,
    validate_id,
)
from .timestamps import ParsedTimestamps, parse_timestamp, parse_timestamps

__all__ = [
    "DEFAULT_ID_PATTERN",
    "EVENT_ALIASES",
    "EVENT_TYPES",
    "IdPattern",
    "ITEM_EVENT_TYPES",
    "MAX_ID_LENGTH",
    "MAX_QUERY_LENGTH",
    "QUANTITY_EVENTS",
    "ParsedTimestamps",
    "check_ids",
    "compile_id_pattern",
    "id_problem",
    "normalize_event_type",
    "parse_timestamp",
    "parse_timestamps",
    "resolve_pattern",
    "validate_id",
    "validate_query",
]
