"""What does the attention do to the result? Knock-outs of a model, and their table rows.

Two kinds, each a `KnockOut`: a small description of which module outputs to replace.

- mean ablation: each attention module's gate maps (the sigmoids its type's hooks name: BAM's
  `gate`, CBAM's `channel_gate.sigmoid` and `spatial_gate.sigmoid`) replaced by their dataset
  means (per channel, over every image's cells: `evaluation.dissection.AttentionMeans`), one stage
  at a time and all at once. The module then refines every image the same way: what is left of
  its effect is what it does on average, not what it does for this image. A module whose maps are
  already constant is left exactly as it was.
- zeroed units: the k channels of a layer with the highest crack IoU (the dissection's ranking)
  set to 0 at that layer's output, against k channels drawn at random (seeded) from the others of
  the same layer, several draws.

A knock-out never touches the model it is given: `apply` returns a deep copy carrying the hooks
(what an evaluation runs), `scoped` puts thread-scoped hooks on the model for a `with` block only
(viz.hooks.scoped_forward_hooks: removed on exit, even when the body raises, and acting only in
the thread that entered). `variant` makes a models.loaded.LoadedModel of the copy, labelled by the
knock-out, for evaluation.evaluate; `knockout_row` turns the evaluation of the pair (the model,
its knock-out) into the table's row, with evaluation.significance's paired statistics (McNemar's
exact test, bootstrap intervals), not recomputed here.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from evaluation.dissection import GATE_PARTS, AttentionMeans, DissectionResult, LayerDissection, layer_seed
from models.attention import ATTENTION_REGISTRY
from viz.catalogue import attention_modules, get_layer, layer_catalogue
from viz.hooks import scoped_forward_hooks

MEAN_ABLATION = "mean ablation"
ZERO_UNITS = "zeroed units"


@dataclass(frozen=True)
class KnockOut:
    """Which module outputs a knock-out replaces (module paths in the model, as get_submodule takes)."""

    label: str  # short, for tables: "c3 mean", "c3 best 8", "c3 random 8 #2"
    kind: str  # MEAN_ABLATION or ZERO_UNITS
    description: str  # one sentence
    replacements: tuple[tuple[str, tuple[float, ...]], ...] = ()  # (path, per-channel value, or one)
    zeroed: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (path, channels set to 0)
    stages: tuple[str, ...] = ()  # the attention stages ablated
    layer: str | None = None  # the layer whose units are zeroed
    units: tuple[int, ...] = ()
    draw: int | None = None  # the random draw's number; None: not random

    @property
    def group(self) -> str:
        """"mean ablation", "best units" or "random units": how tables and figures group it."""
        return MEAN_ABLATION if self.kind == MEAN_ABLATION else "best units" if self.draw is None else "random units"

    def callbacks(self) -> dict[str, Callable[[tuple, torch.Tensor], torch.Tensor]]:
        """Forward-hook callbacks (inputs, output) -> replaced output, by module path."""
        out = {}
        for path, values in self.replacements:
            out[path] = _replace_with(values)
        for path, channels in self.zeroed:
            out[path] = _zero(channels)
        return out

    def apply(self, model: nn.Module) -> nn.Module:
        """A deep copy of `model` with the knock-out's hooks on it; `model` is not changed."""
        knocked = copy.deepcopy(model)
        for path, callback in self.callbacks().items():
            knocked.get_submodule(path).register_forward_hook(
                lambda _module, inputs, output, callback=callback: callback(inputs, output))
        return knocked

    def scoped(self, model: nn.Module) -> contextlib.AbstractContextManager:
        """The knock-out on `model` itself for a `with` block, in this thread only; the model is
        exactly as before on exit."""
        return scoped_forward_hooks(model, self.callbacks())

    def to_json(self) -> dict:
        return {"label": self.label, "kind": self.kind, "description": self.description,
                "replacements": [[p, list(v)] for p, v in self.replacements],
                "zeroed": [[p, list(c)] for p, c in self.zeroed], "stages": list(self.stages),
                "layer": self.layer, "units": list(self.units), "draw": self.draw}

    @classmethod
    def from_json(cls, data: dict) -> KnockOut:
        return cls(label=data["label"], kind=data["kind"], description=data["description"],
                   replacements=tuple((p, tuple(v)) for p, v in data["replacements"]),
                   zeroed=tuple((p, tuple(c)) for p, c in data["zeroed"]), stages=tuple(data["stages"]),
                   layer=data["layer"], units=tuple(data["units"]), draw=data["draw"])


def _replace_with(values: tuple[float, ...]):
    def callback(inputs, output: torch.Tensor) -> torch.Tensor:
        # the gate's shape is (N, C, H, W), (N, C, 1, 1) or (N, 1, H, W): one value per channel
        mean = torch.tensor(values, dtype=output.dtype, device=output.device).view(1, -1, *([1] * (output.dim() - 2)))
        return mean.expand_as(output).clone()
    return callback


def _zero(channels: tuple[int, ...]):
    def callback(inputs, output: torch.Tensor) -> torch.Tensor:
        index = torch.tensor(channels, dtype=torch.long, device=output.device)
        return output.index_fill(1, index, 0)  # a new tensor: the module's own output is left alone
    return callback


# ---------------------------------------------------------------------------------------------
# Building the knock-outs of a model


def mean_ablations(model: nn.Module, means: AttentionMeans, *, stages: Sequence[str] | None = None,
                   one_at_a_time: bool = True, all_at_once: bool = True) -> list[KnockOut]:
    """Mean ablation of the model's attention modules.

    Args:
        model: the model the means were measured on (or one of the same architecture).
        means: the dataset means of its gate maps (DissectionAccumulator.attention_means() or
            DissectionResult.attention_means).
        stages: the attention stages to ablate ("c2", ...); None: every one the model has.
        one_at_a_time: one knock-out per stage; all_at_once: one for all of them together.

    Returns:
        The knock-outs (none for a model without attention).

    Raises:
        ValueError: a stage without attention or without means, or means of another attention type
            or channel count.
    """
    modules = attention_modules(model)
    stages = list(modules) if stages is None else list(stages)
    per_stage = {}
    for stage in stages:
        if stage not in modules:
            raise ValueError(f"no attention module at {stage}; this model has one at: {', '.join(modules) or 'none'}")
        info = modules[stage]
        if means.kinds.get(stage) != info.kind or stage not in means.means:
            raise ValueError(f"{stage}: the means are of {means.kinds.get(stage, 'no attention')!r}, "
                             f"the model has {info.kind!r}")
        replaced = []
        for path, part in ATTENTION_REGISTRY.get(info.kind).hooks.items():
            if part not in GATE_PARTS:
                continue
            values = np.asarray(means.means[stage][part], dtype=np.float64).reshape(-1)
            if len(values) not in (1, info.channels):
                raise ValueError(f"{stage} {part}: {len(values)} means for {info.channels} channels")
            replaced.append((f"{info.module}.{path}" if path else info.module, tuple(float(v) for v in values)))
        per_stage[stage] = tuple(replaced)
    title = {s: ATTENTION_REGISTRY.get(modules[s].kind).title for s in per_stage}
    out = []
    if one_at_a_time:
        out += [KnockOut(label=f"{s} mean", kind=MEAN_ABLATION, stages=(s,), replacements=per_stage[s],
                         description=f"{title[s]} at {s}: its attention maps replaced by their dataset means")
                for s in per_stage]
    if all_at_once and len(per_stage) > 1:
        out.append(KnockOut(label="all mean", kind=MEAN_ABLATION, stages=tuple(per_stage),
                            replacements=tuple(r for s in per_stage for r in per_stage[s]),
                            description="every attention module's maps replaced by their dataset means ("
                                        + ", ".join(per_stage) + ")"))
    return out


def unit_knockouts(model: nn.Module, dissection: LayerDissection, *, k: int = 8, draws: int = 5,
                   seed: int = 0) -> list[KnockOut]:
    """The k best crack units of a layer zeroed, and k random other units zeroed (`draws` draws).

    Args:
        model: the model dissected.
        dissection: its dissection of the layer (DissectionResult.layers[layer]).
        k: how many units; at most half the layer's channels (the random units are drawn from the
            channels not among the best k).
        draws: random draws, each seeded by (seed, layer, draw): the same in every process.

    Returns:
        [best k, random draw 1, ..., random draw `draws`].
    """
    layer = dissection.layer
    info = get_layer(layer_catalogue(model), layer)
    if info.channels != dissection.channels:
        raise ValueError(f"{layer}: the dissection has {dissection.channels} channels, the model {info.channels}")
    if not 0 < k <= dissection.channels // 2:
        raise ValueError(f"k must be between 1 and half of {layer}'s {dissection.channels} channels (got {k}).")
    best = tuple(int(c) for c in dissection.ranking()[:k])
    units_there = len(set(best) & set(dissection.crack_units.tolist()))
    others = np.setdiff1d(np.arange(dissection.channels), best)
    out = [KnockOut(label=f"{layer} best {k}", kind=ZERO_UNITS, layer=layer, units=best, zeroed=((info.module, best),),
                    description=f"{layer}: the {k} channels with the highest crack IoU zeroed "
                                f"({units_there} of them crack units)")]
    for draw in range(1, draws + 1):
        units = tuple(sorted(int(c) for c in layer_seed(seed, layer, draw).choice(others, size=k, replace=False)))
        out.append(KnockOut(label=f"{layer} random {k} #{draw}", kind=ZERO_UNITS, layer=layer, units=units,
                            zeroed=((info.module, units),), draw=draw,
                            description=f"{layer}: {k} channels drawn at random from the others zeroed "
                                        f"(draw {draw}, seed {seed})"))
    return out


def knockouts(model: nn.Module, result: DissectionResult, *, layers: Sequence[str] | None = None, k: int = 8,
              draws: int = 5, seed: int = 0, mean_ablation: bool = True) -> list[KnockOut]:
    """Every knock-out of the issue for one model: mean ablation of each attention stage and of all
    of them (if the model has attention and `mean_ablation`), then per layer (default: every
    dissected layer) its best k units and `draws` random k."""
    out = mean_ablations(model, result.attention_means) if mean_ablation and attention_modules(model) else []
    for layer in (result.layers if layers is None else layers):
        out += unit_knockouts(model, result.layers[layer], k=k, draws=draws, seed=seed)
    return out


def variant(loaded, knockout: KnockOut):
    """A knocked-out copy for an evaluation.

    Args:
        loaded: a models.loaded.LoadedModel (its network is not changed), or a plain nn.Module.
        knockout: what to knock out.

    Returns:
        For a LoadedModel, the same with the knocked-out copy as its network and its label
        "LABEL − KNOCK-OUT" (so no cache keyed by the spec confuses the two); for a module, the copy.
    """
    if isinstance(loaded, nn.Module):
        return knockout.apply(loaded)
    spec = dataclasses.replace(loaded.spec, label=f"{loaded.label} − {knockout.label}", note=knockout.description)
    return dataclasses.replace(loaded, spec=spec, model=knockout.apply(loaded.model))


def variants(loaded, knockouts: Sequence[KnockOut]) -> Iterator:
    """`variant` of each knock-out in turn, made when asked for: one copy of the network at a time."""
    for knockout in knockouts:
        yield variant(loaded, knockout)


# ---------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class KnockOutRow:
    """One knock-out against the model as it was: differences after - before (accuracy and recall
    in percentage points, AP in AP points), McNemar's exact p and bootstrap intervals of the
    paired statistics (None: not available)."""

    label: str
    description: str
    group: str  # KnockOut.group ("" when unknown)
    accuracy: float | None  # the knocked-out model's, in percent
    delta_accuracy: float | None
    delta_recall: float | None
    delta_box_ap: float | None
    delta_mask_ap: float | None
    mcnemar_p: float | None
    only_before_right: int | None
    only_after_right: int | None
    accuracy_interval: tuple[float, float] | None  # percentage points
    box_ap_interval: tuple[float, float] | None
    mask_ap_interval: tuple[float, float] | None
    confidence: float | None

    def to_json(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: dict) -> KnockOutRow:
        return cls(**{k: (tuple(v) if k.endswith("_interval") and v is not None else v) for k, v in data.items()})


def _plain(results):
    return results.to_json() if hasattr(results, "to_json") else results


def _difference(before, after, scale: float = 1.0) -> float | None:
    return None if before is None or after is None else scale * (after - before)


def _bounds(interval: Mapping | None, scale: float = 1.0) -> tuple[float, float] | None:
    if not interval or interval.get("low") is None:
        return None
    return scale * interval["low"], scale * interval["high"]


def knockout_row(before: Mapping, after: Mapping, paired: Mapping | None, *, label: str,
                 description: str = "", group: str = "") -> KnockOutRow:
    """The table row of a knock-out from two models' evaluation results.

    Args:
        before, after: the model's and its knock-out's entries of evaluation.json's "models"
            (evaluation.evaluate: "image_level" with "accuracy" and "recall" as fractions, "coco"
            with "bbox" / "segm" AP in points).
        paired: evaluation.significance.paired_statistics of the pair (before first), as
            evaluation.json's "paired"; None: the row has no p-value or intervals.
        label, description, group: the knock-out's (KnockOut.label, .description, .group).
    """
    before, after, paired = _plain(before), _plain(after), _plain(paired)
    level_b, level_a = before["image_level"], after["image_level"]

    def ap(results, task):
        return results.get("coco", {}).get(task, {}).get("AP")

    boot = (paired or {}).get("bootstrap", {})
    return KnockOutRow(
        label=label, description=description, group=group,
        accuracy=None if level_a.get("accuracy") is None else 100 * level_a["accuracy"],
        delta_accuracy=_difference(level_b.get("accuracy"), level_a.get("accuracy"), 100),
        delta_recall=_difference(level_b.get("recall"), level_a.get("recall"), 100),
        delta_box_ap=_difference(ap(before, "bbox"), ap(after, "bbox")),
        delta_mask_ap=_difference(ap(before, "segm"), ap(after, "segm")),
        mcnemar_p=(paired or {}).get("mcnemar_p"), only_before_right=(paired or {}).get("only_a_right"),
        only_after_right=(paired or {}).get("only_b_right"),
        accuracy_interval=_bounds(boot.get("accuracy"), 100), box_ap_interval=_bounds(boot.get("box AP")),
        mask_ap_interval=_bounds(boot.get("mask AP")), confidence=boot.get("confidence"))


def knockout_row_from_evaluation(results: Mapping, knockout: KnockOut | None = None) -> KnockOutRow:
    """`knockout_row` from the evaluation.json of the pair (the model first, its knock-out second)."""
    results = _plain(results)
    before, after = list(results["models"].values())[:2]
    label = knockout.label if knockout else list(results["models"])[1]
    return knockout_row(before, after, results.get("paired"), label=label,
                        description=knockout.description if knockout else "", group=knockout.group if knockout else "")


def _text(value, digits: int = 1, sign: bool = True) -> str:
    """A value as text; a difference (`sign`) with the digits it needs, never "-0.0"."""
    from evaluation.significance import signed

    return "n/a" if value is None else signed(value, digits) if sign else f"{value:.{digits}f}"


def knockout_table(rows: Sequence[KnockOutRow]) -> tuple[list[str], list[list[str]]]:
    """(header, rows of text) of the knock-out table, for Markdown, CSV or a figure."""
    from evaluation.significance import format_p

    header = ["knock-out", "accuracy", "Δ accuracy", "Δ recall", "Δ box AP", "Δ mask AP", "McNemar p",
              "Δ accuracy interval", "Δ box AP interval", "Δ mask AP interval"]

    def interval(bounds):
        return "n/a" if bounds is None else f"{_text(bounds[0])} to {_text(bounds[1])}"

    body = [[r.label, _text(r.accuracy, 2, sign=False) + ("%" if r.accuracy is not None else ""),
             _text(r.delta_accuracy), _text(r.delta_recall), _text(r.delta_box_ap), _text(r.delta_mask_ap),
             "n/a" if r.mcnemar_p is None else format_p(r.mcnemar_p), interval(r.accuracy_interval),
             interval(r.box_ap_interval), interval(r.mask_ap_interval)] for r in rows]
    return header, body


def knockout_markdown(rows: Sequence[KnockOutRow]) -> str:
    """The knock-out table as Markdown (labels escaped as text)."""
    from evaluation.text_safety import markdown_text

    header, body = knockout_table(rows)
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    lines += ["| " + " | ".join([markdown_text(cells[0]), *cells[1:]]) + " |" for cells in body]
    confidence = next((r.confidence for r in rows if r.confidence is not None), None)
    note = ("Differences are knocked-out minus original: accuracy and recall in percentage points, AP in AP "
            "points; McNemar's exact test on the image-level verdicts")
    if confidence is not None:
        note += f"; {round(100 * confidence)}% paired bootstrap intervals over the images"
    return "\n".join(lines + ["", note + "."]) + "\n"


__all__ = ["KnockOut", "KnockOutRow", "MEAN_ABLATION", "ZERO_UNITS", "knockout_markdown", "knockout_row",
           "knockout_row_from_evaluation", "knockout_table", "knockouts", "mean_ablations", "unit_knockouts",
           "variant", "variants"]
