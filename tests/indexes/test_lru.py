from __future__ import annotations

import threading

import pytest

from indexes.lru import BatchLRU


def test_missing_keys_are_fetched_once_in_one_batch_and_bounded() -> None:
    calls: list[list[int]] = []

    def fetch(ks: list[int]) -> list[str]:
        calls.append(list(ks))
        return [f"v{k}" for k in ks]

    lru: BatchLRU[int, str] = BatchLRU(fetch, size=2)
    assert lru.get_many([1, 2, 1]) == ["v1", "v2", "v1"] and calls == [[1, 2]]
    assert lru.get(1) == "v1" and len(calls) == 1  # a hit, now most recent
    assert lru.get(3) == "v3" and calls[-1] == [3]
    assert lru.keys() == [1, 3] and len(lru) == 2  # 2 was least recently used
    assert 1 in lru and 2 not in lru and lru.keys() == [1, 3]  # asking is not a use
    lru.clear()
    assert len(lru) == 0


def test_size_zero_fetches_every_time_but_never_twice_per_call() -> None:
    calls: list[list[int]] = []

    def fetch(ks: list[int]) -> list[int]:
        calls.append(list(ks))
        return [k * 10 for k in ks]

    lru: BatchLRU[int, int] = BatchLRU(fetch, size=0)
    assert lru.get_many([4, 5, 4]) == [40, 50, 40] and calls == [[4, 5]]
    assert lru.get_many([4]) == [40] and calls[-1] == [4] and len(lru) == 0


def test_a_key_evicted_by_another_caller_is_fetched_again() -> None:
    lru: BatchLRU[int, int] = BatchLRU(lambda ks: [k + 100 for k in ks], size=1)
    lru.get(1)
    real = lru._fetch

    def fetch_while_another_caller_evicts(keys: list[int]) -> dict[int, int]:
        if keys == [2]:  # the outer call: another caller evicts 1 meanwhile
            t = threading.Thread(target=lru.get, args=(9,))
            t.start()
            t.join()
        return real(keys)

    lru._fetch = fetch_while_another_caller_evicts  # type: ignore[method-assign]
    # 1 was cached when looked up, 9 evicts it while 2 is fetched: 1 is fetched again
    assert lru.get_many([1, 2]) == [101, 102]


def test_fetch_must_return_one_value_per_key() -> None:
    lru: BatchLRU[int, int] = BatchLRU(lambda ks: [1], size=4)
    with pytest.raises(ValueError, match="2 keys"):
        lru.get_many([1, 2])
