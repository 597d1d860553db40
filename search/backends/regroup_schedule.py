"""When the service's writer regroups near-duplicates in the background
(both write targets share this rule; the job itself is the backend's).

After changes, a regrouping starts as soon as none is running and the
last one ended at least ``gap`` seconds ago, where ``gap`` is the larger
of ``min_interval`` and the last regrouping's own duration: on a small
index copies written a moment ago are grouped within about a second; on a
large one (seconds per regrouping) background regrouping takes at most
half the time of one core.  Changes made while a regrouping runs are
noted and start the next one when it ends, so the last change is never
left ungrouped waiting for another write (issue 16: an idle writer used to
wait for the next write, or the next 30 s interval).
"""

from __future__ import annotations

import time


class RegroupSchedule:
    """The state of one target's background regrouping.  ``min_interval``
    (seconds, >= 0): the shortest gap between the end of one regrouping and
    the start of the next.  Not thread-safe: called from the writer's loop
    only, except ``ended``, which the job's thread calls last (it sets the
    end time before clearing ``running``, so ``due`` never sees a stale gap)."""

    def __init__(self, min_interval: float = 1.0):
        self.min_interval = max(0.0, float(min_interval))
        self.changed = False  # changes not covered by a started regrouping
        self.running = False
        self.started_at = 0.0
        self.ended_at = float("-inf")
        self.last_duration = 0.0

    def note_change(self) -> None:
        """The writer applied changes: a regrouping is owed."""
        self.changed = True

    def due(self, now: float | None = None) -> bool:
        """Should a regrouping start now?"""
        if not self.changed or self.running:
            return False
        now = time.monotonic() if now is None else now
        return now - self.ended_at >= max(self.min_interval, self.last_duration)

    def start(self, now: float | None = None) -> None:
        """A regrouping starts (it covers every change noted so far)."""
        self.changed = False
        self.running = True
        self.started_at = time.monotonic() if now is None else now

    def ended(self, now: float | None = None) -> None:
        """The regrouping ended (successfully or not: a failure is logged by
        the job and the next change retries)."""
        now = time.monotonic() if now is None else now
        self.last_duration = max(0.0, now - self.started_at)
        self.ended_at = now
        self.running = False
