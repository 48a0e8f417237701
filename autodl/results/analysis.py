"""Error analysis of the best model on dev: where it goes wrong, and on which examples.

Writes into a folder (logged to MLflow with the model): ``analysis.md`` (per-class error, the
most confused pairs, the worst misclassified examples), ``confusion_matrix.png``,
``worst_examples.png`` for images, and ``learning_curves.png`` for the best trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autodl.data.dataset import Dataset, Split
from autodl.runtime.backend import pyplot

TOP_PAIRS = 5
TOP_EXAMPLES = 20


@dataclass(frozen=True)
class ErrorAnalysis:
    """Per-class error, confusion counts, and the most confidently wrong examples."""

    class_names: tuple[str, ...]
    confusion: np.ndarray
    worst: list[tuple[int, int, int, float]]

    @property
    def per_class_error(self) -> dict[str, float]:
        totals = self.confusion.sum(axis=1)
        right = np.diag(self.confusion)
        return {
            name: float(1 - r / t) if t else 0.0
            for name, r, t in zip(self.class_names, right, totals, strict=True)
        }

    @property
    def per_class_recall(self) -> dict[str, float]:
        """The share of each class's examples predicted as that class (classes with examples)."""
        totals = self.confusion.sum(axis=1)
        return {name: 1.0 - error for (name, error), total in zip(self.per_class_error.items(), totals, strict=True)
                if total}

    def confused_pairs(self, top: int = TOP_PAIRS) -> list[tuple[str, str, int]]:
        """(true class, predicted class, count), most frequent first."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(off, axis=None)[::-1][:top]
        pairs = [np.unravel_index(i, off.shape) for i in order]
        return [(self.class_names[t], self.class_names[p], int(off[t, p])) for t, p in pairs if off[t, p]]


def predicted_classes(task: str, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class index and confidence of each prediction, for binary (sigmoid) or softmax outputs."""
    if task == "binary":
        positive = outputs.reshape(-1)
        predicted = (positive >= 0.5).astype(int)
        return predicted, np.where(predicted == 1, positive, 1 - positive)
    return outputs.argmax(axis=1), outputs.max(axis=1)


def analyze(task: str, class_names: tuple[str, ...], split: Split, outputs: np.ndarray) -> ErrorAnalysis:
    """Confusion counts and the worst mistakes of ``outputs`` (model predictions on ``split``)."""
    predicted, confidence = predicted_classes(task, outputs)
    k = len(class_names)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (split.y.astype(int), predicted), 1)
    wrong = np.flatnonzero(predicted != split.y)
    ranked = wrong[np.argsort(-confidence[wrong], kind="stable")][:TOP_EXAMPLES]
    worst = [(int(i), int(split.y[i]), int(predicted[i]), float(confidence[i])) for i in ranked]
    return ErrorAnalysis(class_names, confusion, worst)


def _describe_example(x: Any) -> str:
    if isinstance(x, str):
        return x.replace("|", "/")
    flat = np.asarray(x).ravel()
    return ", ".join(f"{v:.3g}" for v in flat[:8]) + (", ..." if flat.size > 8 else "")


def markdown(result: ErrorAnalysis, split: Split, kind: str) -> str:
    """The analysis as Markdown: per-class error, confused pairs, worst examples."""
    lines = ["# Error analysis on dev", "", "| class | recall | error | examples |", "| --- | --- | --- | --- |"]
    totals = result.confusion.sum(axis=1)
    for (name, error), total in zip(result.per_class_error.items(), totals, strict=True):
        recall = f"{1 - error:.3f}" if total else "-"
        lines.append(f"| {name} | {recall} | {error:.3f} | {int(total)} |")
    lines += ["", "Most confused (true -> predicted):", ""]
    lines += [f"- {t} -> {p}: {n}" for t, p, n in result.confused_pairs()] or ["- none"]
    lines += ["", "Most confidently wrong dev examples:", "", "| # | true | predicted | confidence | example |",
              "| --- | --- | --- | --- | --- |"]
    for index, true, predicted, confidence in result.worst:
        example = "see worst_examples.png" if kind == "image" else _describe_example(split.examples(index))
        lines.append(
            f"| {index} | {result.class_names[true]} | {result.class_names[predicted]} | "
            f"{confidence:.3f} | {example} |"
        )
    return "\n".join(lines) + "\n"


def plot_confusion(result: ErrorAnalysis, path: Path) -> None:
    """The confusion matrix as an image, counts in the cells."""
    plt = pyplot()
    k = len(result.class_names)
    size = min(2 + 0.5 * k, 14)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(result.confusion, cmap="Blues")
    ax.set_xticks(range(k), labels=result.class_names, rotation=90 if k > 6 else 0)
    ax.set_yticks(range(k), labels=result.class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        peak = result.confusion.max() or 1
        for t in range(k):
            for p in range(k):
                count = result.confusion[t, p]
                ax.text(p, t, str(count), ha="center", va="center",
                        color="white" if count > peak / 2 else "black", fontsize=8)
    ax.set_title("Confusion matrix (dev)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_worst_images(result: ErrorAnalysis, split: Split, path: Path) -> None:
    """A grid of the most confidently misclassified dev images, titled true -> predicted."""
    plt = pyplot()
    shown = result.worst[:16]
    if not shown:
        return
    cols = 4
    rows = (len(shown) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (index, true, predicted, confidence) in zip(axes.ravel(), shown, strict=False):
        image = np.asarray(split.examples(index), dtype="float32")
        image = (image - image.min()) / (np.ptp(image) or 1.0)
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        ax.set_title(f"{result.class_names[true]} -> {result.class_names[predicted]}\n{confidence:.2f}",
                     fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_learning_curves(history: dict[str, list[float]], objective: str, path: Path) -> None:
    """Loss and the objective per epoch, on train and dev, for the best trial."""
    plt = pyplot()
    name = objective.removeprefix("dev_")
    panels = [("loss", "dev_loss")] + ([(name, objective)] if name != "loss" else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (train_key, dev_key) in zip(axes[0], panels, strict=True):
        for key, label in ((train_key, "train"), (dev_key, "dev")):
            values = history.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(train_key)
        ax.legend()
    fig.suptitle("Learning curves of the best trial")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(folder: Path, data: Dataset, outputs: np.ndarray, history: dict[str, list[float]],
          objective: str) -> ErrorAnalysis | None:
    """Write the analysis files; classification gets error analysis, every task learning curves."""
    folder.mkdir(parents=True, exist_ok=True)
    if history:
        plot_learning_curves(history, objective, folder / "learning_curves.png")
    if data.task == "regression":
        return None
    dev = data.splits["dev"]
    result = analyze(data.task, data.class_names, dev, outputs)
    (folder / "analysis.md").write_text(markdown(result, dev, data.kind), encoding="utf-8")
    plot_confusion(result, folder / "confusion_matrix.png")
    if data.kind == "image":
        plot_worst_images(result, dev, folder / "worst_examples.png")
    return result
