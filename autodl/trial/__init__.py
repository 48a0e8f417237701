"""One trial: build the model, compile it, fit it (pruning, early stopping, NaN guard) and measure
it. ``run_trial`` is the whole of it; ``folds.cross_validated`` runs it on K folds of the data
(``search.cv``)."""

from autodl.trial.run import run_trial

__all__ = ["run_trial"]
