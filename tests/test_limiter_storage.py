"""The abuse shield's in-process storage (``memory://``) under simultaneous requests of one process.

limits' own memory storage restarts its expiry timer without a lock; with many request threads a call
failed inside the limiter ("threads can only be started once", "release unlocked lock"), an HTML 500.
The race shows most under the calendar pass's libfaketime, where this module runs too. (limits' counters
can still lose an increment in the same race, 58 of 60 000 there: harmless for a per-minute abuse limit; the
daily quota is counted in the database.)
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


def test_simultaneous_writes_never_fail():
    for _ in range(ROUNDS):
        assert hammer(storage_from_string("memory://")) == []
