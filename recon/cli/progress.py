"""Rich progress for extraction: one bar per dataset with pages, rows and rate."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class RichReporter:
    """Shows pages, rows and units per dataset while extraction runs."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<16}"),
            BarColumn(),
            TextColumn("{task.fields[units]} units · {task.fields[pages]} pages · {task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.counts: dict[str, dict[str, int]] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _task(self, dataset: str) -> TaskID:
        if dataset not in self.tasks:
            self.tasks[dataset] = self.progress.add_task(dataset, total=None, units=0, pages=0, rows=0)
            self.counts[dataset] = {"units": 0, "pages": 0, "rows": 0}
        return self.tasks[dataset]

    def pages(self, dataset: str, pages: int, rows: int) -> None:
        """Count pages and rows fetched."""
        task = self._task(dataset)
        counts = self.counts[dataset]
        counts["pages"] += pages
        counts["rows"] += rows
        self.progress.update(task, units=counts["units"], pages=counts["pages"], rows=counts["rows"])

    def unit_done(self, dataset: str) -> None:
        """Count a committed unit."""
        task = self._task(dataset)
        counts = self.counts[dataset]
        counts["units"] += 1
        self.progress.update(task, advance=1, units=counts["units"], pages=counts["pages"], rows=counts["rows"])
