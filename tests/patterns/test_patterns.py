import numpy as np
import pytest

from otelmock.patterns import REGISTRY, Daily, Hourly, Noise, Ramp, Spikes, ema, integrate
from otelmock.rng import block_rng

WEEK = np.arange(0, 7 * 86_400, 15, dtype=np.float64)


def test_daily_has_a_24h_period_and_peaks_at_the_peak_hour() -> None:
    d = Daily(amplitude=0.3, peak_hour=15)
    v = d(WEEK)
    assert np.allclose(v[: 86_400 // 15], v[86_400 // 15 : 2 * 86_400 // 15])
    assert v.max() == pytest.approx(0.3) and v.min() == pytest.approx(-0.3)
    assert d(np.array([15 * 3600.0]))[0] == pytest.approx(0.3)
    assert d(np.array([3 * 3600.0]))[0] == pytest.approx(-0.3)


def test_hourly_period() -> None:
    h = Hourly(amplitude=2.0)
    assert np.allclose(h(WEEK[:240]), h(WEEK[:240] + 3600))
    assert np.abs(h(WEEK)).max() <= 2.0


def test_noise_and_spikes_are_deterministic_per_key_and_block() -> None:
    a = Noise(0.5)(WEEK[:1000], block_rng(7, 3))
    b = Noise(0.5)(WEEK[:1000], block_rng(7, 3))
    c = Noise(0.5)(WEEK[:1000], block_rng(7, 4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert abs(a.std() - 0.5) < 0.05


def test_spikes_default_probability_is_two_percent() -> None:
    s = Spikes(magnitude=3.0)(np.zeros(200_000), block_rng(1, 0))
    assert 0.018 < np.mean(s > 0) < 0.022
    assert s.max() <= 3.0 and s[s > 0].min() >= 1.5


def test_ramp() -> None:
    r = Ramp(start=1.0, end=3.0, t0=100.0, duration_s=10.0)
    assert list(r(np.array([0.0, 100.0, 105.0, 110.0, 500.0]))) == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert list(Ramp(1.0, 3.0, 100.0, 0.0)(np.array([99.0, 100.0]))) == [1.0, 3.0]


def test_counters_integrate_rates_and_never_decrease() -> None:
    rng = np.random.default_rng(0)
    rate = rng.normal(1.0, 3.0, WEEK.size)  # negative rates included on purpose
    c = integrate(rate, 15.0)
    assert np.all(np.diff(c) >= 0)
    assert c[-1] == pytest.approx(np.maximum(rate, 0).sum() * 15.0)


def test_ema_is_a_first_order_lag() -> None:
    step = np.ones(600)
    y = ema(step, 1.0, 60.0, 0.0)
    assert y[59] == pytest.approx(1 - np.exp(-1), rel=1e-9)
    assert np.all(np.diff(y) > 0) and y[-1] < 1.0


def test_registry_names() -> None:
    assert set(REGISTRY) == {"daily", "hourly", "noise", "spikes", "ramp"}
