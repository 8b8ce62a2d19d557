"""Where the shared public datasets are: `../shared/datasets` beside the project, or RECSYS_DATASETS_DIR.

They are never committed here (MovieLens' and Amazon's terms forbid it); tests that need them skip without.
"""

from __future__ import annotations

import os
from pathlib import Path

DATASETS = Path(
    os.environ.get("RECSYS_DATASETS_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
)
