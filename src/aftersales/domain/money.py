"""Money and platform points, always whole integers.

Money is counted in fen (分, 1/100 yuan) and platform points (天猫积分) in points;
the platform converts at 100 points = 1 yuan, so one point is worth one fen.
No floats ever touch an amount: a penalty of "15 points per yuan" is computed on
fen with integer division (SS-4).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

POINTS_PER_YUAN = 100
FEN_PER_YUAN = 100


class Unit(StrEnum):
    POINTS = "points"
    FEN = "fen"


@dataclass(frozen=True, order=True)
class Amount:
    """A non-negative whole amount in one unit."""

    value: int
    unit: Unit

    def __post_init__(self) -> None:
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise TypeError(f"amounts are whole integers, got {self.value!r}")
        if self.value < 0:
            raise ValueError(f"amounts are never negative, got {self.value}")

    @classmethod
    def points(cls, value: int) -> Amount:
        return cls(value, Unit.POINTS)

    @classmethod
    def fen(cls, value: int) -> Amount:
        return cls(value, Unit.FEN)

    @property
    def fen_value(self) -> int:
        """Worth in fen: 100 points = 1 yuan = 100 fen."""
        if self.unit is Unit.FEN:
            return self.value
        return self.value * FEN_PER_YUAN // POINTS_PER_YUAN

    def __add__(self, other: Amount) -> Amount:
        if other.unit is not self.unit:
            raise ValueError(f"cannot add {other.unit} to {self.unit}")
        return Amount(self.value + other.value, self.unit)

    def yuan_text(self) -> str:
        """The yuan equivalent, e.g. '¥50.00'."""
        fen = self.fen_value
        return f"¥{fen // 100:,}.{fen % 100:02d}"

    def text_en(self) -> str:
        if self.unit is Unit.POINTS:
            return f"{self.value:,} points ({self.yuan_text()})"
        return self.yuan_text()

    def text_zh(self) -> str:
        if self.unit is Unit.POINTS:
            return f"{self.value:,} 积分（{self.yuan_text()}）"
        return self.yuan_text()
