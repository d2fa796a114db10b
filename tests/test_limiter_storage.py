"""The abuse shield's in-process storage (``memory://``) under simultaneous requests of one process.

limits' own memory storage restarts its expiry timer without a lock; with many request threads a call
failed inside the limiter ("threads can only be started once", "release unlocked lock"), an HTML 500.
The race shows most under the calendar pass's libfaketime, where this module runs too. (limits' counters
can still lose an increment in the same race, 58 of 60 000 there: harmless for a per-minute abuse limit; the
daily quota is counted in the database.) The bridge's storage sweeps expired keys inline instead: no thread
per call, and expired keys still leave memory.
"""

import threading

from limits.storage import storage_from_string

from alxbridge.extensions import ThreadSafeMemoryStorage

THREADS = 20
WRITES = 3000
ROUNDS = 8


def hammer(storage):
    """Errors raised by ``THREADS`` threads writing counters of a few keys at once."""
    errors = []
    barrier = threading.Barrier(THREADS)

    def writer():
        barrier.wait()
        for number in range(WRITES):
            try:
                storage.incr(f"ws-token:{number % 7}", 60)
            except Exception as error:  # noqa: BLE001 - any failure is what the test looks for
                errors.append(repr(error))

    threads = [threading.Thread(target=writer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_memory_urls_get_the_thread_safe_storage():
    assert isinstance(storage_from_string("memory://"), ThreadSafeMemoryStorage)


def test_writes_start_no_timer_threads(monkeypatch):
    storage = storage_from_string("memory://")
    started = []

    class CountingTimer(threading.Timer):
        def start(self):
            started.append(self)
            super().start()

    monkeypatch.setattr(threading, "Timer", CountingTimer)
    pause = threading.Event()
    for number in range(30):
        storage.incr(f"ws-token:{number}", 60)
        pause.wait(0.012)  # longer than limits' 10 ms timer: its storage started a new one on every write
    assert started == []


def test_expired_counters_leave_memory_at_the_next_sweep():
    storage = storage_from_string("memory://")
    storage.SWEEP_SECONDS = 0
    storage.incr("ws-token:old", 0.05)
    threading.Event().wait(0.1)
    storage.incr("ws-token:new", 60)
    assert set(storage.storage) == {"ws-token:new"}
    assert storage.get("ws-token:new") == 1


def test_simultaneous_writes_never_fail():
    for _ in range(ROUNDS):
        assert hammer(storage_from_string("memory://")) == []
