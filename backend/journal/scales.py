"""Grading scales: which symbols a mark may have and the number each stands for in averages.

The 5-point scale ("1".."5") is the default; a school may set pass/fail, 10- or 100-point scales
per subject, and grades without marks (grade 1 by default) in `School.settings["grading"]`:
`{"default": "five", "subjects": {"<subject id>": "pass_fail"}, "unmarked_grades": [1]}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.core.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class GradingScale:
    code: str
    symbols: dict[str, float | None]  # symbol -> points (None: counts in no average)
    good: float | None = None  # "quality" threshold (4 on the 5-point scale)
    passing: float | None = None  # "success" threshold (3 on the 5-point scale)

    def points(self, symbol: str) -> float | None:
        if symbol not in self.symbols:
            raise ValidationFailed(
                key="journal.mark_value_invalid", value=symbol, allowed=", ".join(self.symbols)
            )
        return self.symbols[symbol]

    def symbol_for(self, average: float, threshold: float = 0.5) -> str:
        """The symbol a weighted average rounds to (x.5 and up rounds up by default)."""
        numeric = {s: p for s, p in self.symbols.items() if p is not None}
        if not numeric:
            return ""
        whole = int(average)
        target = whole + 1 if average - whole >= threshold else whole
        best = min(numeric.items(), key=lambda item: abs(item[1] - target))
        return best[0]


SCALES: dict[str, GradingScale] = {
    "five": GradingScale("five", {str(n): float(n) for n in range(1, 6)}, good=4, passing=3),
    "pass_fail": GradingScale("pass_fail", {"зач": None, "незач": None}),
    "ten": GradingScale("ten", {str(n): float(n) for n in range(1, 11)}, good=7, passing=4),
    "hundred": GradingScale("hundred", {str(n): float(n) for n in range(101)}, good=70, passing=40),
}
DEFAULT_SCALE = "five"
DEFAULT_UNMARKED_GRADES = (1,)


def scale_for(settings: dict[str, Any] | None, grade: int | None, subject_id: int) -> GradingScale:
    """The scale of marks in a subject for a grade; grades without marks are refused."""
    grading = (settings or {}).get("grading") or {}
    unmarked = grading.get("unmarked_grades", list(DEFAULT_UNMARKED_GRADES))
    if grade is not None and grade in unmarked:
        raise ValidationFailed(key="journal.no_marks_in_grade", grade=grade)
    code = (grading.get("subjects") or {}).get(str(subject_id)) or grading.get(
        "default", DEFAULT_SCALE
    )
    return SCALES.get(code, SCALES[DEFAULT_SCALE])


def weighted_average(items: list[tuple[float | None, int]]) -> float | None:
    """Σ points·weight / Σ weight over marks with points (pass/fail marks count in none)."""
    total = weight_sum = 0.0
    for points, weight in items:
        if points is None:
            continue
        total += points * weight
        weight_sum += weight
    return round(total / weight_sum, 2) if weight_sum else None


def plain_average(points: list[float | None]) -> float | None:
    values = [p for p in points if p is not None]
    return round(sum(values) / len(values), 2) if values else None
