"""The door: first come, first served, bounded waits, no room lost to callers that went away."""

from __future__ import annotations

import asyncio

import pytest

from service.scheduling.door import Door


def test_entries_within_capacity_need_no_wait() -> None:
    door = Door(capacity=3, wait_s=0)
    assert [door.try_enter() for _ in range(4)] == [True, True, True, False]
    door.leave()
    assert door.try_enter() and door.inside == 3


@pytest.mark.parametrize("units", [1, 3])
def test_the_line_enters_in_arrival_order_as_room_frees(units: int) -> None:
    async def scenario() -> list[int]:
        door = Door(capacity=units, wait_s=10)
        assert await door.enter(units)
        order: list[int] = []

        async def visitor(i: int) -> None:
            assert await door.enter(units)
            order.append(i)
            await asyncio.sleep(0)
            door.leave(units)

        tasks = [asyncio.create_task(visitor(i)) for i in range(5)]
        await asyncio.sleep(0)
        assert door.waiting == 5 and order == []
        door.leave(units)
        await asyncio.gather(*tasks)
        assert door.inside == 0
        return order

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]


def test_a_small_entry_does_not_overtake_a_large_one_in_line() -> None:
    async def scenario() -> list[str]:
        door = Door(capacity=4, wait_s=10)
        assert door.try_enter(3)
        order: list[str] = []

        async def visitor(name: str, units: int) -> None:
            assert await door.enter(units)
            order.append(name)

        large = asyncio.create_task(visitor("large", 4))
        await asyncio.sleep(0)
        small = asyncio.create_task(visitor("small", 1))  # would fit now, but the large one is first
        await asyncio.sleep(0)
        assert order == []
        door.leave(3)
        await large
        door.leave(4)
        await small
        return order

    assert asyncio.run(scenario()) == ["large", "small"]


def test_waiting_in_vain_is_refused_and_frees_the_line() -> None:
    async def scenario() -> tuple[bool, int]:
        door = Door(capacity=1, wait_s=0.01)
        assert door.try_enter()
        refused = await door.enter()
        door.leave()
        return refused, door.inside

    assert asyncio.run(scenario()) == (False, 0)


@pytest.mark.parametrize(("capacity", "units", "wait_s"), [(4, 5, 10.0), (4, 1, 0.0)])
def test_what_can_never_fit_or_may_not_wait_is_refused_at_once(
    capacity: int, units: int, wait_s: float
) -> None:
    async def scenario() -> bool:
        door = Door(capacity=capacity, wait_s=wait_s)
        door.inside = capacity if units <= capacity else 0
        return await asyncio.wait_for(door.enter(units), timeout=5)

    assert asyncio.run(scenario()) is False


def test_a_caller_that_goes_away_loses_its_place_but_no_room() -> None:
    async def scenario() -> int:
        door = Door(capacity=1, wait_s=10)
        assert door.try_enter()
        gone = asyncio.create_task(door.enter())
        stays = asyncio.create_task(door.enter())
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        door.leave()  # the place goes to the one still waiting, not to the one that left
        assert await stays
        door.leave()
        return door.inside

    assert asyncio.run(scenario()) == 0


def test_a_caller_let_in_as_it_goes_away_passes_the_room_on() -> None:
    async def scenario() -> tuple[bool, int]:
        door = Door(capacity=1, wait_s=10)
        assert door.try_enter()
        gone = asyncio.create_task(door.enter())
        stays = asyncio.create_task(door.enter())
        await asyncio.sleep(0)
        door.leave()  # hands the place to ``gone`` ...
        gone.cancel()  # ... which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await gone
        entered = await stays
        door.leave()
        return entered, door.inside

    assert asyncio.run(scenario()) == (True, 0)
