"""Similar items: learned item embeddings blended with TF-IDF similarity of name and categories.

score = w * cosine(embeddings) + (1 - w) * cosine(TF-IDF), w = the tenant's `similar_embedding_weight`
(0.5 by default). Items the model does not know (new ones, no interactions yet) are compared by text
alone, so a freshly imported item has neighbours at once.
"""

from __future__ import annotations

import numpy as np

from recsys_site.errors import NotFound

from .catalog_view import catalog_view
from .rules import Filters, eligible, top_positions
from .serving_model import active_model
from .tenant_settings import recommendation_settings_for


def similar_items(*, tenant_id: int, item_id: str, n: int, filters: Filters | None = None) -> dict:
    catalog = catalog_view(tenant_id=tenant_id)
    position = catalog.position_of_id.get(item_id)
    if position is None:
        raise NotFound(f"No item with id {item_id!r}.", code="item_not_found", details={"item_id": item_id})
    text = catalog.text_index().similar_to(position).astype(np.float64)
    scores = text
    model = active_model(tenant_id=tenant_id)
    reason = "similar_text"
    if model is not None:
        to_catalog, to_model = model.catalog_maps(catalog)
        own = to_model[position]
        if own >= 0:
            weight = recommendation_settings_for(tenant_id=tenant_id).similar_embedding_weight
            learned = np.zeros(len(catalog), dtype=np.float64)
            known = to_catalog >= 0
            learned[to_catalog[known]] = model.item_vectors[known] @ model.item_vectors[own]
            has_embedding = to_model >= 0
            scores = np.where(has_embedding, weight * learned + (1 - weight) * text, (1 - weight) * text)
            reason = "similar_items"
    mask = eligible(catalog, filters or Filters())
    mask[position] = False
    positions = top_positions(scores, mask & (scores > 0), n)
    return {
        "item_id": item_id,
        "similar": [catalog.item(p, score=scores[p], reason=f"{reason}:{item_id}") for p in positions.tolist()],
    }
