"""Type aliases shared across the package."""

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
Labels: TypeAlias = tuple[str, ...]
