"""A run's loss and accuracy history: the seed tutorial's four lists, plus accuracy and resume points."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class History:
    """The seed's four lists, plus accuracy and where continued runs began."""

    train_losses: list[float] = field(default_factory=list)
    train_counter: list[int] = field(default_factory=list)  # examples seen when each train loss was taken
    test_losses: list[float] = field(default_factory=list)
    test_counter: list[int] = field(default_factory=list)  # examples seen when each test ran
    test_accuracy: list[float] = field(default_factory=list)  # fraction correct, 0-1
    resume_points: list[int] = field(default_factory=list)  # examples seen where a continued run began

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        return cls(**{name: list(values.get(name, [])) for name in cls.__dataclass_fields__})

    def copy(self) -> "History":
        """Shallow copies of the lists (their items are numbers): cheap enough for every logged batch."""
        return History(**{f.name: list(getattr(self, f.name)) for f in fields(History)})
