"""Report vocabulary from DOMAIN.md: category codes, channels, genders, age bands.

Statuses, their labels and the reporter's view of them live in ``states.py``.
"""

from __future__ import annotations

# "Situations that must be reported": order and codes are part of the API contract.
CATEGORIES: dict[str, str] = {
    "genital_injury": "未成年人的生殖器官或隐私部位遭受或疑似遭受非正常损伤",
    "sexual_assault_under_14": "不满十四周岁的女性未成年人遭受或疑似遭受性侵害、怀孕、流产",
    "sexual_assault_pregnancy_14_plus": "十四周岁以上女性未成年人遭受或疑似遭受性侵害所致怀孕、流产",
    "abuse_injury": (
        "未成年人身体存在多处损伤、严重营养不良、意识不清，存在或疑似存在受到家庭暴力、欺凌、虐待、殴打或者被人麻醉等情形"
    ),
    "abnormal_injury_or_death": "未成年人因自杀、自残、工伤、中毒、被人麻醉、殴打等非正常原因导致伤残、死亡",
    "abandonment": "未成年人被遗弃或长期处于无人照料状态",
    "missing_or_trafficked": "发现未成年人来源不明、失踪或者被拐卖、收买",
    "organised_begging": "发现未成年人被组织乞讨",
    "other_serious_harm": "其他严重侵害未成年人身心健康的情形或未成年人正在面临不法侵害危险",
}

CHANNELS = ("miniprogram", "web", "phone", "institution")
GENDERS = ("female", "male", "unknown")
GENDER_LABELS = {"female": "女", "male": "男", "unknown": "不详"}
AGE_BANDS = ("0-5", "6-11", "12-13", "14-15", "16-17", "unknown")


def age_band(age: int | None) -> str:
    """The statistics band kept in clear for an exact age kept sealed."""
    if age is None:
        return "unknown"
    for band in AGE_BANDS[:-1]:
        low, high = (int(x) for x in band.split("-"))
        if low <= age <= high:
            return band
    return "unknown"

# Short labels of the categories for lists (the inbox), in the same order as CATEGORIES.
CATEGORY_SHORT: dict[str, str] = {
    "genital_injury": "隐私部位损伤",
    "sexual_assault_under_14": "不满14周岁性侵",
    "sexual_assault_pregnancy_14_plus": "14周岁以上性侵致孕",
    "abuse_injury": "多处损伤/虐待",
    "abnormal_injury_or_death": "非正常伤残死亡",
    "abandonment": "遗弃/无人照料",
    "missing_or_trafficked": "失踪/拐卖",
    "organised_begging": "组织乞讨",
    "other_serious_harm": "其他严重侵害",
}
