"""A split's per-epoch curves (``history_<k>.csv`` of a run directory)."""

from __future__ import annotations

from dataclasses import dataclass

from graff.errors import RunDirError

__all__ = ["OVERWRITE", "History"]

#: the fix for a damaged run file, in every message about one
OVERWRITE = "train the run again (graff train --overwrite, or graff.train.run(..., overwrite=True))"
_PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class History:
    """Split k's curves (``history_<k>.csv``): after each epoch, the training loss and the
    metric on the train, validation and test nodes, in percent (as in ``split_<k>.json``)."""

    metric: str
    epoch: list[int]
    loss: list[float]
    train: list[float]
    val: list[float]
    test: list[float]

    def __repr__(self) -> str:
        if not self.epoch:
            return f"History({self.metric}, no epochs)"
        k = self.epoch.index(self.best_epoch())
        return (
            f"History({self.metric}, epochs {self.epoch[0]}..{self.epoch[-1]}, best-validation "
            f"epoch {self.epoch[k]}: val {self.val[k]:.2f}, test {self.test[k]:.2f})"
        )

    def best_epoch(self) -> int:
        """The first epoch of highest validation score (the one the split's model is from)."""
        best = max(self.val)
        return self.epoch[self.val.index(best)]

    def to_csv(self) -> str:
        m = self.metric
        rows = [f"epoch,loss,train_{m},val_{m},test_{m}"]
        rows += [
            ",".join([str(e), *(repr(float(v)) for v in vals)])
            for e, *vals in zip(self.epoch, self.loss, self.train, self.val, self.test, strict=True)
        ]
        return "\n".join(rows) + "\n"

    @classmethod
    def from_csv(cls, text: str, where: str = "history") -> History:
        """Parse :meth:`to_csv`'s text; :class:`RunDirError` naming ``where`` if it is not."""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        head = lines[0].split(",") if lines else []
        metric = head[2].removeprefix("train_") if len(head) == 5 else ""
        if not metric or head != ["epoch", "loss", *(f"{s}_{metric}" for s in _PARTS)]:
            raise RunDirError(f"{where} is damaged (not a graff history); {OVERWRITE}")
        cols: list[list[float]] = [[] for _ in range(5)]
        try:
            for ln in lines[1:]:
                vals = ln.split(",")
                if len(vals) != 5:
                    raise ValueError(ln)
                for col, v in zip(cols, vals, strict=True):
                    col.append(float(v))
        except ValueError:
            raise RunDirError(f"{where} is damaged (a row is not numbers); {OVERWRITE}") from None
        epoch, loss, train, val, test = cols
        return cls(metric, [int(e) for e in epoch], loss, train, val, test)
