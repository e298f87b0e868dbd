import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.utils import floatToGoString

from otelmock.bridge.textformat import _go_float, dcgm_value, escape_label, go_float, python_float


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (5.0, "5"), (-3.5, "-3.5"), (0.25, "0.25"), (999999.0, "999999"), (1e6, "1e+06"),
     (6.7108864e10, "6.7108864e+10"), (1.79581041705e9, "1.79581041705e+09"), (1e-05, "1e-05"), (0.0001, "0.0001"),
     (123456.7, "123456.7"), (1.8446744073709552e19, "1.8446744073709552e+19"), (float("inf"), "+Inf"),
     (float("-inf"), "-Inf"), (float("nan"), "NaN"), (2.5e-9, "2.5e-09")],
)
def test_go_float_matches_strconv_format_float_g(value: float, text: str) -> None:
    # expectations copied from node_exporter's own output and Go's strconv semantics
    assert go_float(value) == text


@given(st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=-2e6, max_value=2e6)
       | st.sampled_from([1e-4, -1e-4, 9.999999999999999e-05, 999999.9999999999, 1e6, -1e6, 0.5e-4]))
@settings(max_examples=3000, deadline=None)
def test_go_float_fast_path_equals_the_general_one(value: float) -> None:
    """Between 1e-4 and 1e6 go_float takes repr's digits; everywhere it must equal the general digit path."""
    assert go_float(value) == _go_float(value)


@pytest.mark.parametrize("value", [0.0, 1.0, 5.5, 1e6, 1.7e9, 12345678.9, 1e-7, float("inf"), 0.1 + 0.2])
def test_python_float_is_prometheus_client(value: float) -> None:
    assert python_float(value) == floatToGoString(value)


def test_dcgm_and_label_escaping() -> None:
    assert dcgm_value(77.282, False) == "77.282000"
    assert dcgm_value(345, True) == "345"
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
