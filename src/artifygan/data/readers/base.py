"""What every reader returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SourceItem:
    """One image to prepare. ``box`` (x0, y0, x1, y1) restricts it to a region (COCO instance crops)."""

    path: Path
    dataset: str
    role: str  # "photo" | "cartoon"
    key: str  # unique within the preparation: dataset + source-relative name (+ instance id)
    split: str | None = None  # official split when the dataset has one
    box: tuple[float, float, float, float] | None = None
    landmarks: list[list[float]] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadResult:
    items: list[SourceItem] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)  # reason → count
    missing: Counter = field(default_factory=Counter)  # metadata file → rows whose image is not on disk
    notes: list[str] = field(default_factory=list)  # facts worth telling the user (e.g. truncated files)
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason → a few example names

    def drop(self, reason: str, example: str) -> None:
        self.dropped[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < 5:
            ex.append(example)

    def merge(self, other: ReadResult) -> None:
        self.items += other.items
        self.dropped.update(other.dropped)
        self.missing.update(other.missing)
        self.notes += other.notes
        for k, v in other.examples.items():
            self.examples.setdefault(k, []).extend(v[: 5 - len(self.examples.get(k, []))])
