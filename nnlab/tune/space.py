"""The search space of ``nnlab tune``: the config's ``[tune]`` parameters as Optuna
suggestions, and a trial's values applied to the base config.

Each parameter is a dotted key of the config (``"optimizer.lr"``). A range becomes
``trial.suggest_float`` or ``trial.suggest_int`` (log scale, step), a list of choices
``trial.suggest_categorical``. Optuna stores categorical choices that are None, bools,
numbers or strings; a parameter whose choices include anything else (a list of layer
sizes) is searched over the choices' JSON texts and decoded back, so the study stays
storable in any storage (no pickle).
"""

from __future__ import annotations

import json
import math
from typing import Any

from nnlab.config import RunConfig, TuneConfig, TuneParamConfig, parse_config, set_key

__all__ = ["SearchSpace", "GridError"]

_SCALARS = (type(None), bool, int, float, str)


class GridError(ValueError):
    """The search space cannot be enumerated as a grid."""


def _encoded(param: TuneParamConfig) -> bool:
    """Whether the choices are stored as JSON texts (some choice is not a scalar)."""
    return param.choices is not None and not all(isinstance(c, _SCALARS) for c in param.choices)


class SearchSpace:
    """The parameters of a ``[tune]`` section, in their declared order (a condition
    refers to a parameter declared before it, so that parameter is suggested first)."""

    def __init__(self, tune: TuneConfig) -> None:
        self.params = dict(tune.params)

    def __len__(self) -> int:
        return len(self.params)

    def is_conditional(self) -> bool:
        return any(p.when for p in self.params.values())

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Draw one trial's values (decoded: the config's own values), skipping each
        conditional parameter whose condition does not hold."""
        values: dict[str, Any] = {}
        for key, param in self.params.items():
            if any(values.get(other, _MISSING) != v for other, v in param.when.items()):
                continue
            values[key] = self._suggest_one(trial, key, param)
        return values

    @staticmethod
    def _suggest_one(trial: Any, key: str, param: TuneParamConfig) -> Any:
        if param.choices is not None:
            if _encoded(param):
                text = trial.suggest_categorical(key, [json.dumps(c) for c in param.choices])
                return json.loads(text)
            return trial.suggest_categorical(key, param.choices)
        if param.is_int():
            return trial.suggest_int(
                key, param.low, param.high, step=param.step or 1, log=param.log
            )
        value = trial.suggest_float(key, param.low, param.high, step=param.step, log=param.log)
        return _on_step(param, value)

    def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        """Optuna's stored values of a trial (``trial.params``) as the config's values."""
        return {
            key: json.loads(value)
            if _encoded(self.params[key])
            else _on_step(self.params[key], value)
            for key, value in params.items()
        }

    def grid(self) -> dict[str, list[Any]]:
        """Every parameter's values for ``optuna.samplers.GridSampler`` (encoded as Optuna
        stores them): the choices, every integer of a range (by its step), a float range's
        ``low + k * step`` or its ``grid`` list."""
        if self.is_conditional():
            keys = ", ".join(f'"{k}"' for k, p in self.params.items() if p.when)
            raise GridError(
                f"the grid sampler takes no conditional parameters ({keys} have `when`): a "
                "grid is the product of every parameter's values, so the trials where a "
                "condition fails would repeat; use --sampler random or tpe, or drop `when`"
            )
        return {key: self._grid_values(key, p) for key, p in self.params.items()}

    @staticmethod
    def _grid_values(key: str, param: TuneParamConfig) -> list[Any]:
        if param.choices is not None:
            return [json.dumps(c) for c in param.choices] if _encoded(param) else param.choices
        if param.grid is not None:
            return list(param.grid)
        if param.is_int():
            return list(range(param.low, param.high + 1, param.step or 1))
        if param.step is None:
            raise GridError(
                f'tune."{key}": the grid sampler needs the values of a float range: give a '
                f"step (values low + k * step) or a grid list of values next to low and "
                f"high, e.g. {{ low = {param.low}, high = {param.high}, grid = [{param.low}, "
                f"{param.high}] }}"
            )
        n = math.floor((param.high - param.low) / param.step + 1e-9) + 1
        return [_on_step(param, param.low + k * param.step) for k in range(n)]

    def apply(self, base: RunConfig, values: dict[str, Any], source: str) -> RunConfig:
        """``base`` with ``values`` set and no ``[tune]`` section, validated like any
        config: an illegal combination is a :class:`~nnlab.config.ConfigError` naming
        ``source`` and the keys."""
        data = base.model_dump(exclude={"tune"})
        for key, value in values.items():
            set_key(data, key, value)
        return parse_config(data, source)


def _on_step(param: TuneParamConfig, value: Any) -> Any:
    """A stepped float as written: Optuna's ``low + k * step`` makes 0.30000000000000004."""
    if param.step is None or param.is_int() or not isinstance(value, float):
        return value
    return round(value, 12)


_MISSING = object()  # a parameter not drawn in this trial equals no condition value
