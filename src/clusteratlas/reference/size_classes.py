"""Employment size classes of withheld US County Business Patterns cells.

CBP replaces a withheld employment figure by a letter giving its range. The
US Cluster Mapping Project imputes the values below (near the middle of each
range; class D is not used by CBP). Source: the CMP data-processing code and
the CBP record layouts (A 0-19, B 20-99, C 100-249, E 250-499, F 500-999,
G 1,000-2,499, H 2,500-4,999, I 5,000-9,999, J 10,000-24,999,
K 25,000-49,999, L 50,000-99,999, M 100,000 or more).
"""

from __future__ import annotations

#: Imputed employment for each size class (the CMP midpoints).
SIZE_CLASS_MIDPOINTS: dict[str, float] = {
    "A": 10, "B": 60, "C": 175, "E": 375, "F": 750, "G": 1_750, "H": 3_750,
    "I": 7_500, "J": 17_500, "K": 37_500, "L": 75_000, "M": 100_000,
}

#: Range (low, high) of each size class; high is None for the open class M.
SIZE_CLASS_RANGES: dict[str, tuple[float, float | None]] = {
    "A": (0, 19), "B": (20, 99), "C": (100, 249), "E": (250, 499), "F": (500, 999),
    "G": (1_000, 2_499), "H": (2_500, 4_999), "I": (5_000, 9_999), "J": (10_000, 24_999),
    "K": (25_000, 49_999), "L": (50_000, 99_999), "M": (100_000, None),
}
