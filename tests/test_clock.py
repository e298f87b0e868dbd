import pytest

from otelmock.clock import SimClock, WallClock


def test_sim_clock_moves_only_when_told() -> None:
    c = SimClock(100.0)
    assert c.now() == 100.0
    c.advance(5)
    assert c.now() == 105.0
    with pytest.raises(ValueError):
        c.advance(-1)


def test_wall_clock_speed_and_no_step_backwards() -> None:
    wall = [1000.0]
    c = WallClock(speed=60.0, wall=lambda: wall[0])
    assert c.now() == 1000.0
    wall[0] = 1001.0
    assert c.now() == 1060.0
    wall[0] = 990.0  # NTP stepped the host clock back
    assert c.now() == 1060.0
    with pytest.raises(ValueError):
        WallClock(speed=0)
