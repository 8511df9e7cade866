"""Helpers around the dbt identity models: explain one identifier, measure accuracy.

The stitching itself runs in the warehouse (models/intermediate/identity, models/marts); this
package only reads its results.
"""

from __future__ import annotations

from cdpkit.identity.accuracy import Accuracy, evaluate
from cdpkit.identity.explain import Explanation, explain

__all__ = ["Accuracy", "Explanation", "evaluate", "explain"]
