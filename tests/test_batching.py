"""MicroBatcher: concurrent callers share batches, get their own vectors back, see their
own batch's errors, and an idle batcher keeps no thread."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index.batching import MicroBatcher


class SlowEncoder:
    """Vectors derived from the text; each call takes a while, like a forward pass."""

    def __init__(self, seconds: float = 0.05, fail_on: str | None = None) -> None:
        self.seconds = seconds
        self.fail_on = fail_on
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        time.sleep(self.seconds)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError(f"cannot embed {self.fail_on}")
        return np.array([[float(len(t)), float(ord(t[0]))] for t in texts], dtype=np.float32)


def embed_all(batcher: MicroBatcher, texts: list[str]) -> list[object]:
    """Each text from its own thread; a caller's exception is returned, not raised."""

    def one(text: str) -> object:
        try:
            return batcher.embed(text)
        except RuntimeError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        return list(pool.map(one, texts))


def batcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "embed-batcher"]


def test_concurrent_callers_share_batches_and_get_their_own_vectors():
    encoder = SlowEncoder()
    texts = [chr(ord("a") + i) * (i + 1) for i in range(20)]
    results = embed_all(MicroBatcher(encoder, max_batch=8), texts)
    for text, vector in zip(texts, results, strict=True):
        np.testing.assert_array_equal(vector, [len(text), ord(text[0])])
    assert sorted(t for batch in encoder.batches for t in batch) == sorted(texts)
    assert len(encoder.batches) < len(texts)  # they were batched …
    assert max(len(batch) for batch in encoder.batches) <= 8  # … within the limit


def test_a_lone_text_is_embedded_at_once():
    encoder = SlowEncoder(seconds=0.0)
    started = time.perf_counter()
    np.testing.assert_array_equal(MicroBatcher(encoder).embed("问"), [1, ord("问")])
    assert encoder.batches == [["问"]]
    assert time.perf_counter() - started < 1.0  # no waiting for a batch to fill


def test_an_error_reaches_only_its_batch_and_the_batcher_recovers():
    encoder = SlowEncoder(fail_on="bad")
    batcher = MicroBatcher(encoder, max_batch=1)
    results = embed_all(batcher, ["good", "bad", "fine"])
    assert isinstance(results[1], RuntimeError) and "bad" in str(results[1])
    np.testing.assert_array_equal(results[0], [4, ord("g")])
    np.testing.assert_array_equal(results[2], [4, ord("f")])
    np.testing.assert_array_equal(batcher.embed("ok"), [2, ord("o")])


def test_an_idle_batcher_holds_no_thread():
    batcher = MicroBatcher(SlowEncoder(seconds=0.01))
    embed_all(batcher, ["x", "yy", "zzz"])
    deadline = time.monotonic() + 5
    while batcher_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batcher_threads() == []


@pytest.mark.parametrize("max_batch", [0, -3])
def test_a_nonpositive_limit_still_embeds_one_at_a_time(max_batch):
    encoder = SlowEncoder(seconds=0.0)
    embed_all(MicroBatcher(encoder, max_batch=max_batch), ["a", "b"])
    assert all(len(batch) == 1 for batch in encoder.batches)


def test_a_wrong_number_of_vectors_fails_its_callers_and_the_batcher_goes_on():
    """What goes wrong after encoding (here: one vector short) must neither hang the
    callers nor leave the batcher marked as working with no worker."""
    calls = []

    def short_by_one(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        vectors = np.ones((len(texts), 2), dtype=np.float32)
        return vectors[:-1] if len(calls) == 1 else vectors

    batcher = MicroBatcher(short_by_one)
    with pytest.raises(RuntimeError, match="0 vectors for 1"):
        batcher.embed("first")
    np.testing.assert_array_equal(batcher.embed("second"), [1, 1])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_that_dies_hands_waiting_texts_to_a_new_one(monkeypatch):
    """Even an exception that escapes a batch (simulated in `_run`) leaves no text waiting
    for a worker that is gone: a new worker takes over."""
    batcher = MicroBatcher(SlowEncoder(seconds=0.0))
    real_run = batcher._run

    def die_once(batch):
        monkeypatch.setattr(batcher, "_run", real_run)
        deadline = time.monotonic() + 5
        while not batcher._waiting and time.monotonic() < deadline:  # "b" queues meanwhile
            time.sleep(0.01)
        for _, future in batch:
            future.set_exception(RuntimeError("worker died"))
        raise SystemExit("worker killed")

    monkeypatch.setattr(batcher, "_run", die_once)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(batcher.embed, "a")
        time.sleep(0.1)
        np.testing.assert_array_equal(batcher.embed("bb"), [2, ord("b")])
        with pytest.raises(RuntimeError, match="worker died"):
            first.result(timeout=5)
