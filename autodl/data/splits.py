"""Train / train-dev / dev / test splits: seeded, stratified for classification."""

from __future__ import annotations

import numpy as np

from autodl.data.dataset import SPLITS, Split, Stream, Task
from autodl.errors import DataError
from autodl.spec.sections import SplitSpec


def split_indices(
    y: np.ndarray, fractions: dict[str, float], task: Task, seed: int,
    class_names: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Partition ``range(len(y))`` by ``fractions`` (summing to 1), stratified unless regression.

    Every split with a positive fraction gets at least one example of each class, or a
    ``DataError`` says what is missing; ``class_names`` (the label of each class id) name the
    classes in it, and many classes that are all numbers add a hint to try regression.
    """
    n = len(y)
    shares = [fractions[name] for name in SPLITS]
    n_classes = 1 if task == "regression" else len(np.unique(y))
    if not _fits(n, shares, n_classes):
        minimum = next(m for m in range(n + 1, 100 * n + 1000) if _fits(m, shares, n_classes))
        what = "at least one example" if task == "regression" else (
            f"at least one example of each of the {n_classes} classes"
        )
        raise DataError(
            f"Too few rows to split: {n} examples cannot give every split {what} with the split "
            f"fractions {', '.join(f'{k} {v:g}' for k, v in fractions.items())}; need at least "
            f"{minimum} rows, or larger (or zero) fractions in data.split.{_regression_hint(class_names)}"
        )
    if task != "regression":
        _check_rarest_class(y, sum(share > 0 for share in shares), class_names)
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if task == "regression" else [np.flatnonzero(y == c) for c in np.unique(y)]
    table = _balanced_table([len(g) for g in groups], shares, allocate(n, shares))
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for members, sizes in zip(groups, table, strict=False):
        shuffled = rng.permutation(members)
        bounds = np.cumsum([0, *sizes])
        for name, start, stop in zip(SPLITS, bounds[:-1], bounds[1:], strict=True):
            parts[name].append(shuffled[start:stop])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def _balanced_table(counts: list[int], shares: list[float], totals: list[int]) -> list[list[int]]:
    """Per-class split sizes whose column sums equal ``totals``.

    Each class is allocated on its own, then single examples move between splits, from the class
    that exceeds its share most, until every split has its exact size; a class keeps at least one
    example in a split whenever it can.
    """
    table = [allocate(count, shares) for count in counts]
    while True:
        sums = [sum(row[j] for row in table) for j in range(len(shares))]
        over = [j for j, (a, b) in enumerate(zip(sums, totals, strict=True)) if a > b]
        if not over:
            return table
        src = over[0]
        dst = next(j for j, (a, b) in enumerate(zip(sums, totals, strict=True)) if a < b)
        for keep in (1, 0):
            movable = [c for c, row in enumerate(table) if row[src] > keep]
            if movable:
                break
        gain = [(table[c][src] - counts[c] * shares[src]) - (table[c][dst] - counts[c] * shares[dst])
                for c in movable]
        chosen = movable[int(np.argmax(gain))]
        table[chosen][src] -= 1
        table[chosen][dst] += 1


def allocate(count: int, shares: list[float]) -> list[int]:
    """Split ``count`` items by ``shares`` (train first).

    Each held-out split gets ``ceil(count * share)``, as scikit-learn sizes a test split, so small
    evaluation splits are never rounded away; train gets the rest.
    """
    held = [int(np.ceil(count * share - 1e-9)) for share in shares[1:]]
    while held and sum(held) > count - (1 if shares[0] > 0 else 0) and max(held) > 0:
        held[int(np.argmax(held))] -= 1
    return [count - sum(held), *held]


def _fits(n: int, shares: list[float], n_classes: int) -> bool:
    """Whether ``n`` rows give every used split room for one example of each class."""
    return all(size >= n_classes for size, share in zip(allocate(n, shares), shares, strict=True) if share > 0)


def _check_rarest_class(y: np.ndarray, n_splits: int, class_names: tuple[str, ...]) -> None:
    """Every class needs one example per used split."""
    ids, counts = np.unique(y, return_counts=True)
    rarest = int(np.argmin(counts))
    if counts[rarest] < n_splits:
        name = class_names[int(ids[rarest])] if class_names else str(ids[rarest])
        raise DataError(
            f"Class {name} has {counts[rarest]} example(s), too few to appear in each of "
            f"the {n_splits} splits; add examples of it, remove it, or set unused split fractions "
            f"to 0 in data.split.{_regression_hint(class_names)}"
        )


def _regression_hint(class_names: tuple[str, ...]) -> str:
    """For more than two classes that are all numbers, the hint that they may be a quantity (a
    whole-number target) that regression would fit better than one class per value."""
    if len(class_names) <= 2 or not all(_is_number(name) for name in class_names):
        return ""
    return (
        f" The labels are numbers: to predict them as a quantity rather than as "
        f"{len(class_names)} classes, set data.task: regression."
    )


def _is_number(text: str) -> bool:
    """Whether a class name reads as a number (as ``encode_labels`` writes numeric labels)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def take(
    x: np.ndarray, y: np.ndarray, indices: dict[str, np.ndarray], stream: Stream | None = None
) -> dict[str, Split]:
    """Materialise the splits from index arrays. Streamed splits keep their examples in source
    order, so that a table is read front to back."""
    if stream is not None:
        indices = {name: np.sort(idx) for name, idx in indices.items()}
    return {name: Split(x[idx], y[idx], stream) for name, idx in indices.items()}


def split_by_files(
    groups: np.ndarray, y: np.ndarray, split: SplitSpec, task: Task, seed: int, source: str,
    class_names: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Train and train-dev from ``train_files``; dev (and test) from ``dev_files``.

    Train-dev comes from the training files' distribution, so dev minus train-dev error measures
    the mismatch between the files. Test is ``test_files``, or a share of the dev files' rows.
    """
    if groups.size == 0:
        raise DataError(
            f"{source}: splitting by file needs a folder of text<TAB>label files; this source has "
            "no files to choose from. Use split fractions instead."
        )
    names = sorted(set(groups.tolist()))
    pools: dict[str, np.ndarray] = {}
    for key in ("train_files", "dev_files", "test_files"):
        listed = getattr(split, key) or []
        for name in listed:
            if name not in names:
                raise DataError(
                    f"data.split.{key}: {source} has no file {name!r}; its files are "
                    f"{', '.join(names)}. Received: data.split.{key}={listed!r}"
                )
        pools[key] = np.flatnonzero(np.isin(groups, listed))

    def halves(pool: np.ndarray, held_out: str, share: float) -> tuple[np.ndarray, np.ndarray]:
        fractions = {name: 0.0 for name in SPLITS}
        fractions.update(train=1.0 - share, **{held_out: share})
        parts = split_indices(y[pool], fractions, task, seed, class_names)
        return pool[parts["train"]], pool[parts[held_out]]

    train, train_dev = halves(pools["train_files"], "train_dev", split.train_dev)
    if split.test_files:
        dev, test = pools["dev_files"], pools["test_files"]
    else:
        dev, test = halves(pools["dev_files"], "test", split.test)
    return {"train": train, "train_dev": train_dev, "dev": np.sort(dev), "test": np.sort(test)}
