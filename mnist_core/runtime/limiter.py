"""A server-wide limit on concurrent training jobs, with a bounded queue in arrival order.

    limiter = default_limiter()          # MNIST_MAX_TRAINING_JOBS slots, MNIST_MAX_WAITING_JOBS places
    ticket = limiter.enqueue()           # ServerBusyError when every slot and place is taken
    if limiter.wait(ticket):             # False when cancelled while waiting
        try: ... finally: limiter.release()
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from ..training.device import usable_cores

MAX_JOBS_ENV = "MNIST_MAX_TRAINING_JOBS"
MAX_WAITING_ENV = "MNIST_MAX_WAITING_JOBS"
WAITING_PER_SLOT = 2  # default queue: two waiting jobs per slot, so a learner waits at most about two runs


class ServerBusyError(ValueError):
    """Every training slot and every place in the queue is taken: the job was refused, not queued."""

    def __init__(self, slots: int, max_waiting: int, message: str | None = None) -> None:
        """message: the text to show instead of the English one, e.g. worded in a UI's language."""
        super().__init__(message or f"The server is busy: all {slots} training slots are in use and "
                                    f"{max_waiting} more jobs are already waiting. Try again in a few minutes.")
        self.slots, self.max_waiting = slots, max_waiting



@dataclass(eq=False)  # compared by identity: each is one job's place
class SlotTicket:
    """One job's place in a SlotLimiter's queue; the limiter keeps ``position`` up to date."""

    position: int = 0  # 1-based place among the jobs waiting; 0 once it holds a slot or has left
    cancelled: bool = False


class SlotLimiter:
    """At most ``slots`` jobs train at once; at most ``max_waiting`` more wait, in arrival order.

    A job takes a ticket (``enqueue``, refused with ServerBusyError when the queue is full), then waits
    for its turn (``wait``) on a condition that release() and cancel() notify: waiting costs no CPU.
    """

    def __init__(self, slots: int, max_waiting: int | None = None) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}.")
        max_waiting = WAITING_PER_SLOT * slots if max_waiting is None else max_waiting
        if max_waiting < 0:
            raise ValueError(f"max_waiting must be at least 0, got {max_waiting}.")
        self.slots = slots
        self.max_waiting = max_waiting
        self._cores = usable_cores()
        self._condition = threading.Condition()
        self._in_use = 0
        self._queue: list[SlotTicket] = []  # waiting, first in line first

    def enqueue(self) -> SlotTicket:
        """A place in the queue; ServerBusyError when all slots and all places are taken."""
        with self._condition:
            if self._in_use + len(self._queue) >= self.slots + self.max_waiting:
                raise ServerBusyError(self.slots, self.max_waiting)
            ticket = SlotTicket()
            self._queue.append(ticket)
            self._number_queue()
            return ticket

    def wait(self, ticket: SlotTicket) -> bool:
        """Block until the ticket holds a slot (True) or is cancelled (False)."""
        with self._condition:
            while not ticket.cancelled and (self._in_use >= self.slots or self._queue[0] is not ticket):
                self._condition.wait()
            if ticket.cancelled:
                return False
            self._queue.pop(0)
            ticket.position = 0
            self._in_use += 1
            self._number_queue()
            self._condition.notify_all()  # a second free slot may be the next ticket's
            return True

    def cancel(self, ticket: SlotTicket) -> None:
        """Give up a place in the queue (Stop while waiting); no effect once the ticket holds a slot."""
        with self._condition:
            if ticket in self._queue:
                self._queue.remove(ticket)
                ticket.cancelled, ticket.position = True, 0
                self._number_queue()
                self._condition.notify_all()

    def acquire(self) -> bool:
        """Queue and block until a slot is free; ServerBusyError when the queue is full."""
        return self.wait(self.enqueue())

    def _number_queue(self) -> None:
        """Callers hold the condition."""
        for place, ticket in enumerate(self._queue, start=1):
            ticket.position = place

    def release(self) -> None:
        with self._condition:
            if self._in_use == 0:
                raise RuntimeError("release() without a matching acquire().")
            self._in_use -= 1
            self._condition.notify_all()

    @property
    def in_use(self) -> int:
        with self._condition:
            return self._in_use

    @property
    def threads_per_job(self) -> int:
        """PyTorch threads for each job: the cores shared out over the slots, at least one each.

        Fixed for the server's lifetime, not sized to how many jobs run right now: CPU results depend on
        the thread count (reductions split differently), so a job's numbers would otherwise depend on who
        else is training. Sharing matters as much as fixing: jobs that together start more threads than
        there are cores run far slower than one thread each (bench/two_sessions.py, 2 cores: 16.5 s for
        two 2-thread epochs at once, against 6.7 s), because libgomp then cuts its workers' spin-wait
        short and they sleep and wake on every parallel region. Jobs on a GPU hold slots too.
        """
        return max(1, self._cores // self.slots)

    @property
    def waiting(self) -> int:
        with self._condition:
            return len(self._queue)


_default_limiter: SlotLimiter | None = None
_default_limiter_lock = threading.Lock()


def default_limiter() -> SlotLimiter:
    """The process-wide limiter: MNIST_MAX_TRAINING_JOBS slots if set, else one per CPU core we may use;
    MNIST_MAX_WAITING_JOBS places in the queue if set (0: no queue), else WAITING_PER_SLOT per slot.

    The cores are counted once for the server's lifetime, so a momentary load when the first job
    starts does not shrink it.
    """
    global _default_limiter
    with _default_limiter_lock:
        if _default_limiter is None:
            slots = _count_from_env(MAX_JOBS_ENV, minimum=1) or usable_cores()
            _default_limiter = SlotLimiter(slots, _count_from_env(MAX_WAITING_ENV, minimum=0))
        return _default_limiter


def _count_from_env(name: str, minimum: int) -> int | None:
    """The whole number in environment variable ``name``; None when unset, not a number or below minimum."""
    configured = os.environ.get(name, "").strip()
    return int(configured) if configured.isdigit() and int(configured) >= minimum else None

