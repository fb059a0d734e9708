"""The metric store under concurrent writers and readers: no race, no lost sample.

The main job once ended in ``HdrConcurrentModificationException`` raised from the store's
summary while client threads were still recording; these tests read everything a report or an
evaluation reads while several threads write.
"""

from __future__ import annotations

import threading

from prsm_validate.sla.evaluate import evaluate_lines
from prsm_validate.sla.store import MetricStore

WRITERS = 6
PER_WRITER = 4_000


def _write(store: MetricStore, number: int, start: threading.Barrier) -> None:
    start.wait()
    for i in range(PER_WRITER):
        store.trend("http_req_duration", 0.5 + (i % 97), name=f"op{number % 2}")
        store.rate("http_req_failed", i % 50 == 0, name=f"op{number % 2}")
        store.count("bytes", 10)


def _read(store: MetricStore, done: threading.Event, errors: list[BaseException]) -> None:
    while not done.is_set():
        try:
            store.summary()
            evaluate_lines(["http_req_duration: p(99)<1000ms, max<1s over 1s",
                            "http_req_failed: rate<0.5", "bytes: count>0"], store)
        except BaseException as exc:  # any exception here is the defect under test
            errors.append(exc)
            return


def test_concurrent_writers_and_readers_never_race():
    store = MetricStore()
    start = threading.Barrier(WRITERS + 1)
    done = threading.Event()
    errors: list[BaseException] = []
    readers = [threading.Thread(target=_read, args=(store, done, errors)) for _ in range(2)]
    writers = [threading.Thread(target=_write, args=(store, n, start)) for n in range(WRITERS)]
    for thread in readers + writers:
        thread.start()
    start.wait()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()
    assert errors == []
    summary = store.summary()
    counted = sum(v["count"] for k, v in summary.items() if k.startswith("http_req_duration"))
    assert counted == WRITERS * PER_WRITER
    trials = sum(v["trials"] for k, v in summary.items() if k.startswith("http_req_failed"))
    assert trials == WRITERS * PER_WRITER
    assert summary["bytes"]["count"] == 10 * WRITERS * PER_WRITER


def test_the_recording_threads_are_counted():
    store = MetricStore()
    together = threading.Barrier(3)  # alive at once: three distinct thread idents

    def record() -> None:
        store.trend("t", 1.0)
        together.wait()

    threads = [threading.Thread(target=record) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (trend,) = store.matching("t", ())
    assert len(trend.recorders) == 3 and trend.total().get_total_count() == 3
