"""One trial: build the model, compile it, fit it (pruning, early stopping, NaN guard) and measure
it. ``run_trial`` is the whole of it; the search calls nothing else."""

from autodl.trial.run import run_trial

__all__ = ["run_trial"]
