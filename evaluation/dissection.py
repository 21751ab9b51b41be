"""Inside the attention: which channels see cracks, and does the channel attention favour them.

Network Dissection (Bau, Zhou, Khosla, Oliva, Torralba, CVPR 2017) with the crack masks as the
one concept, per channel of the layers c2..c5 (and c2_pre.., the maps entering each attention
module, when asked), over a labelled dataset:

- each channel k has a threshold T_k, its top quantile over the dataset: as in the paper (and
  NetDissect), over every cell of its activation map at feature resolution, the map cropped to
  the image (not detectron2's padding); top `quantile` = 0.5 % by default;
- the map is upsampled to the image exactly as `viz.capture.Capture.to_image` draws it (bilinear
  to the padded input, cropped, bilinear to the original size) and thresholded: M_k = up(a_k) >= T_k;
- it is compared with the image's crack mask (the union of its annotations) dilated by
  `dilation_px` pixels of the original image (thin cracks: a unit one pixel beside a one-pixel
  crack still counts), by IoU summed over the dataset: sum of intersections / sum of unions;
- a channel with IoU > `iou_threshold` (0.04 in the paper) is a crack unit.

Then, per stage with a channel attention (BAM's sigmoid(Mc), CBAM's channel gate): the Spearman
rank correlation between each channel's mean attention weight over the images and its crack IoU,
with a percentile bootstrap interval over images; and per channel the change of its mean weight
between images with and without cracks.

The quantile sketch. Per channel a histogram on fixed logarithmic bins (as HDR histograms and
DDSketch, Masson et al., VLDB 2019): a float32's bin is its exponent and its first `bits` mantissa
bits, read from its bit pattern (one shift, no logarithm), so each bin spans [e, e * (1 + 2**-bits))
and a threshold taken at a bin's lower edge is within a relative error 2**-bits (1/64 = 1.6 % by
default) below the exact quantile. Values below 2**min_exponent (zeros, negatives) share one
bin; those at or above 2**max_exponent another (a quantile there has no error bound, and the
result says so per channel). The bins are the same for every image and process, so sketches merge
by adding counts: two halves merged give exactly the one-pass sketch.

One pass over the data. The network runs once per image: the accumulator takes each image's
maps, adds their cells to the sketches, and keeps only the cells that can still matter: those
within the upsampling's reach (`radius` cells) of a cell at or above a lower bound of the final
threshold. Given the dataset's total number of cells (`total_cells`, known from the image sizes
before the run), the highest bin edge that already has a quantile's share of that total above it
is such a bound (counts only grow), and it rises as images come in. So memory stays near the
top quantile's share of the cells (with the neighbours), not every activation; without
`total_cells` every cell is kept (exact too, more memory). At the end, the thresholds are read
from the sketches and each image's kept cells are upsampled and compared with its mask: the
per-image intersections and unions at the final thresholds, exact (up to float rounding), are
what the IoU and the bootstrap are computed from. A pixel that kept cells cannot compute is
below the bound, hence below the threshold: the counts are those of the full maps.

`DissectionAccumulator.add(capture, mask)` per image, `merge()` across processes, `result()` ->
`DissectionResult` (to_json / from_json). The knock-outs are in evaluation.knockout; the figures
in evaluation.dissection_figure.
"""

from __future__ import annotations

import functools
import math
import warnings
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import rankdata

from evaluation import significance
from evaluation.alignment import within

LAYERS = ("c2", "c3", "c4", "c5")
# Parts of an attention type's hooks (models.attention.AttentionType.hooks) that are gate maps
# in [0, 1] (a sigmoid's output): what mean ablation replaces.
GATE_PARTS = ("combined", "channel", "spatial")


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class DissectionSettings:
    """What a dissection computes; every value is stated in its outputs."""

    quantile: float = 0.005  # the top share of each channel's cells that is "active"
    iou_threshold: float = 0.04  # a channel with IoU above this is a crack unit
    dilation_px: float = 2.0  # the crack mask dilated by this many pixels of the original image
    layers: tuple[str, ...] = LAYERS  # catalogue names: "c2".."c5", "c2_pre", ...
    bits: int = 6  # sketch: 2**bits bins per octave, relative error 2**-bits
    min_exponent: int = -16  # sketch range [2**min_exponent, 2**max_exponent)
    max_exponent: int = 16
    resamples: int = 1000  # bootstrap over images
    seed: int = 0
    confidence: float = 0.95
    top_k: int = 8  # per channel, the images where it peaks highest (for crops)

    def __post_init__(self):
        if not 0 < self.quantile < 1:
            raise ValueError(f"quantile must be between 0 and 1 (got {self.quantile}).")
        if not 0 <= self.iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be between 0 and 1 (got {self.iou_threshold}).")
        if self.dilation_px < 0:
            raise ValueError(f"dilation_px cannot be negative (got {self.dilation_px}).")
        if not 0 <= self.bits <= 10 or not -126 <= self.min_exponent < self.max_exponent <= 127:
            raise ValueError("sketch: bits in 0..10 and -126 <= min_exponent < max_exponent <= 127.")
        object.__setattr__(self, "layers", tuple(self.layers))

    def to_json(self) -> dict:
        return {**asdict(self), "layers": list(self.layers)}

    @classmethod
    def from_json(cls, data: dict) -> DissectionSettings:
        return cls(**{**data, "layers": tuple(data["layers"])})

    def method(self) -> str:
        """The method in one paragraph, with every setting: for the outputs' captions."""
        return (f"Network Dissection (Bau et al., CVPR 2017): each channel thresholded at its top "
                f"{100 * self.quantile:g}% quantile over the dataset (over the cells of its activation map), "
                f"upsampled bilinearly to the image, compared with the crack masks dilated by "
                f"{self.dilation_px:g} px by IoU summed over the images; crack unit: IoU > {self.iou_threshold:g}. "
                f"Quantiles from a per-channel log-bin histogram ({2 ** self.bits} bins per octave over "
                f"[2^{self.min_exponent}, 2^{self.max_exponent})): each threshold is at most "
                f"{100 * relative_error(self.bits):.2g}% below the exact quantile.")


def relative_error(bits: int) -> float:
    """The sketch's bound: a threshold t and the exact quantile Q satisfy t <= Q < t * (1 + this)."""
    return 2.0 ** -bits


# ---------------------------------------------------------------------------------------------
# The quantile sketch


class LogHistogram:
    """Per-channel counts on fixed logarithmic bins (see the module docstring): mergeable by
    addition, so any split of the data gives the same counts.

    Bin 0 holds values below 2**min_exponent (zeros, negatives), bin `bins - 1` those at or above
    2**max_exponent (and NaN); bin b in between spans [edge(b), edge(b + 1)), edge(b + 1) / edge(b)
    <= 1 + 2**-bits.
    """

    def __init__(self, channels: int, *, bits: int = 6, min_exponent: int = -16, max_exponent: int = 16):
        self.channels, self.bits = channels, bits
        self.min_exponent, self.max_exponent = min_exponent, max_exponent
        self.bins = ((max_exponent - min_exponent) << bits) + 2
        self._offset = (min_exponent + 127) << bits  # the float32 key of 2**min_exponent
        self.counts = np.zeros((channels, self.bins), np.int64)

    @property
    def relative_error(self) -> float:
        return relative_error(self.bits)

    def bin_of(self, values: np.ndarray) -> np.ndarray:
        """The bin of each value (as float32), same shape, int64."""
        # A positive float32's bit pattern, read as an integer, grows with its value: its top bits
        # are the exponent, then the mantissa. Negative floats read as negative integers.
        key = np.ascontiguousarray(values, dtype=np.float32).view(np.int32) >> (23 - self.bits)
        key = key.astype(np.int64) - (self._offset - 1)
        return np.clip(key, 0, self.bins - 1, out=key)

    def lower_edges(self) -> np.ndarray:
        """(bins,) float64: each bin's lowest value (-inf for bin 0)."""
        b = np.arange(self.bins - 1, dtype=np.int64)  # bins 1..bins-1 have edges 2**min_exponent ...
        key = b + self._offset
        edges = np.ldexp(1.0 + (key & ((1 << self.bits) - 1)) / (1 << self.bits), (key >> self.bits) - 127)
        return np.concatenate([[-np.inf], edges])

    def add(self, values: np.ndarray) -> None:
        """Count a (channels, ...) array of values, channel by channel."""
        values = np.asarray(values)
        if values.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {tuple(values.shape)}")
        bins = self.bin_of(values.reshape(self.channels, -1))
        bins += (np.arange(self.channels) * self.bins)[:, None]
        self.counts += np.bincount(bins.ravel(), minlength=self.channels * self.bins).reshape(
            self.channels, self.bins)

    def merge(self, other: LogHistogram) -> None:
        if (other.channels, other.bits, other.min_exponent, other.max_exponent) != (
                self.channels, self.bits, self.min_exponent, self.max_exponent):
            raise ValueError("only sketches with the same channels and bins merge.")
        self.counts += other.counts

    @property
    def total(self) -> int:
        """Values counted per channel (the same for every channel)."""
        return int(self.counts[0].sum()) if self.channels else 0

    def at_or_above(self) -> np.ndarray:
        """(channels, bins): per channel, the count of values in each bin or above."""
        return np.cumsum(self.counts[:, ::-1], axis=1)[:, ::-1]

    def top_bin(self, share: float, total: int | None = None) -> np.ndarray:
        """(channels,) the highest bin b whose values at or above edge(b) are at least `share` of
        `total` (default: the values counted): the bin holding the exact top-`share` quantile (the
        k-th largest value, k = ceil(share * total)). 0 where no bin qualifies."""
        total = self.total if total is None else total
        return np.maximum((self.at_or_above() >= share * total).sum(axis=1) - 1, 0)


@dataclass(frozen=True)
class Thresholds:
    """A layer's per-channel thresholds, read from its sketch."""

    values: np.ndarray  # (C,) float64: M_k = up(a_k) >= values[k]
    bins: np.ndarray  # (C,) the bin whose lower edge is the threshold
    selected_share: np.ndarray  # (C,) share of the cells at or above the threshold
    ties_at_bottom: np.ndarray  # (C,) bool: the quantile fell in the channel's lowest bin (see below)
    overflow: np.ndarray  # (C,) bool: the quantile is at or above 2**max_exponent (no error bound)


def sketch_thresholds(sketch: LogHistogram, share: float) -> Thresholds:
    """The per-channel thresholds of the top-`share` quantile.

    Each channel's threshold is the lower edge t of the bin holding its exact quantile Q (the
    k-th largest value, k = ceil(share * n)), so t <= Q < t * (1 + 2**-bits) within the sketch's
    range, and the values at or above t are `share` of all or a little more (that bin's others).
    Where that bin is the channel's lowest occupied bin (a constant channel; one that is zero on
    more than 1 - share of its cells), taking it would select every value: the threshold is then
    the next edge up (`ties_at_bottom`; the bound does not apply), as NetDissect's strict a > T
    selects nothing of a constant map.

    Args:
        sketch: the layer's counts.
        share: the top share, e.g. 0.005.

    Returns:
        Thresholds, per channel.
    """
    top = sketch.top_bin(share)
    occupied = sketch.counts > 0
    lowest = np.where(occupied.any(axis=1), occupied.argmax(axis=1), sketch.bins - 1)
    ties = top <= lowest
    bins = np.where(ties, np.minimum(top + 1, sketch.bins - 1), top)
    at_or_above = np.take_along_axis(sketch.at_or_above(), bins[:, None], axis=1)[:, 0]
    ties_and_all = ties & (bins == top)  # a constant channel in the overflow bin: nothing above it
    values = np.where(ties_and_all, np.inf, sketch.lower_edges()[bins])
    total = max(sketch.total, 1)
    return Thresholds(values=values, bins=bins,
                      selected_share=np.where(ties_and_all, 0.0, at_or_above / total),
                      ties_at_bottom=ties, overflow=bins == sketch.bins - 1)


# ---------------------------------------------------------------------------------------------
# Upsampling as Capture.to_image does it, as two small matrices


def linear_weights(src: int, dst: int) -> np.ndarray:
    """(dst, src) float64: OpenCV's INTER_LINEAR resize of a line of `src` values to `dst` (half-pixel
    centres, edges clamped), as a matrix. (OpenCV resizes an exact 2x reduction by averaging pairs,
    which these weights also give.)"""
    weights = np.zeros((dst, src))
    scale = src / dst
    for d in range(dst):
        fx = (d + 0.5) * scale - 0.5
        sx = math.floor(fx)
        fx -= sx
        if sx < 0:
            sx, fx = 0, 0.0
        if sx >= src - 1:
            sx, fx = src - 1, 0.0
        weights[d, sx] += 1.0 - fx
        if fx:
            weights[d, sx + 1] += fx
    return weights


def _taps(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A resize matrix (out, cells) as (taps, out) cell indices and (taps, out, 1) weights: each
    output's few nonzero weights (padded with weight 0 on cell 0)."""
    nonzero = weights != 0
    taps = max(int(nonzero.sum(axis=1).max()), 1)
    index, value = np.zeros((taps, len(weights)), np.int64), np.zeros((taps, len(weights), 1), np.float32)
    for out, row in enumerate(weights):
        cells = np.flatnonzero(row)
        index[:len(cells), out], value[:len(cells), out, 0] = cells, row[cells]
    return index, value


def _reach(weights: np.ndarray) -> np.ndarray:
    """(cells, L): for a resize matrix (out, cells), the outputs each cell reaches (padded with -1)."""
    lists = [np.flatnonzero(column) for column in (weights != 0).T]
    reach = np.full((weights.shape[1], max(max(map(len, lists)), 1)), -1, np.int64)
    for cell, outs in enumerate(lists):
        reach[cell, :len(outs)] = outs
    return reach


@dataclass(frozen=True, eq=False)
class ToImage:
    """`Capture.to_image` for every channel of a (C, rows, cols) map at once: rows @ map @ cols.T."""

    rows: np.ndarray  # (H, map rows) float32
    cols: np.ndarray  # (W, map cols)
    radius: int  # cells: an image pixel's value comes from cells within this distance of each other
    row_reach: np.ndarray  # (map rows, L): the image rows each map row reaches (-1: padding)
    col_reach: np.ndarray
    row_taps: tuple[np.ndarray, np.ndarray]  # _taps(rows)

    @classmethod
    @functools.lru_cache(maxsize=64)  # a dataset has few image sizes
    def of(cls, grid: tuple[int, int], stride: int, input_size: tuple[int, int],
           image_size: tuple[int, int]) -> ToImage:
        """grid: the map's (rows, cols), cropped to the image; input_size: the model's input (h, w);
        image_size: the original (H, W)."""
        axes = []
        for cells, seen, size in zip(grid, input_size, image_size):
            covered = linear_weights(cells, cells * stride)[:seen]  # to the padded input, cut the padding
            if size != seen:
                covered = linear_weights(seen, size) @ covered
            axes.append(covered.astype(np.float32))
        spans = [int((np.flatnonzero(row).max() - np.flatnonzero(row).min())) for m in axes for row in m]
        return cls(*axes, radius=max(spans, default=0), row_reach=_reach(axes[0]), col_reach=_reach(axes[1]),
                   row_taps=_taps(axes[0]))

    @property
    def size(self) -> tuple[int, int]:
        return self.rows.shape[0], self.cols.shape[0]

    def __call__(self, maps: np.ndarray) -> np.ndarray:
        """(C, rows, cols) -> (C, H, W) float32."""
        return self.rows @ np.asarray(maps, dtype=np.float32) @ self.cols.T

    def block(self, grid: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """One (rows, cols) map upsampled at image rows `ys` and columns `xs` only: (len(ys), len(xs)).
        The columns by a product, the rows from their few taps (a row's weights are mostly 0)."""
        across = grid @ self.cols[xs].T  # (rows, len(xs))
        index, weight = self.row_taps
        out = weight[0, ys] * across[index[0, ys]]
        for tap in range(1, len(index)):
            out += weight[tap, ys] * across[index[tap, ys]]
        return out


# ---------------------------------------------------------------------------------------------
# The accumulator


@dataclass
class _Kept:
    """One image's cells of one layer that can still reach the threshold."""

    shape: tuple[int, int, int]  # (C, rows, cols)
    stride: int
    index: np.ndarray  # flat indices into (C, rows, cols), int32
    values: np.ndarray  # float32
    channel_max: np.ndarray  # (C,) float32
    channel_argmax: np.ndarray  # (C,) the flat cell (in rows x cols) of each channel's maximum

    def dense(self) -> np.ndarray:
        """(C, rows, cols) float32: the kept cells, and _FILL in place of the dropped ones."""
        out = np.full(int(np.prod(self.shape)), _FILL, np.float32)
        out[self.index] = self.values
        return out.reshape(self.shape)


# Stands for a dropped cell: below any threshold, and finite so that a zero weight times it is 0.
_FILL = -1e30


@dataclass
class _ImageRecord:
    image_id: int
    image_size: tuple[int, int]
    input_size: tuple[int, int]
    mask_bits: np.ndarray  # np.packbits of the dilated mask
    mask_pixels: int
    crack: bool  # the undilated mask has a pixel
    layers: dict[str, _Kept]
    channel_weights: dict[str, np.ndarray]  # attention stage -> (C,) channel weights
    gate_sums: dict[str, dict[str, tuple[np.ndarray, int]]]  # stage -> part -> (per-channel sum, cells)
    attention_kinds: dict[str, str]

    def mask(self) -> np.ndarray:
        h, w = self.image_size
        return np.unpackbits(self.mask_bits, count=h * w).astype(bool).reshape(h, w)


def _keep_near(maps: np.ndarray, bound: np.ndarray, radius: int) -> np.ndarray:
    """(C, rows, cols) bool: the cells within `radius` cells (a square) of one at or above the
    channel's bound."""
    hit = maps >= bound.astype(np.float32)[:, None, None]
    for axis in (1, 2):  # a square dilation is a dilation along each axis in turn
        grown = hit.copy()
        for step in range(1, radius + 1):
            ahead = [slice(None)] * 3
            behind = [slice(None)] * 3
            ahead[axis], behind[axis] = slice(step, None), slice(None, -step)
            grown[tuple(ahead)] |= hit[tuple(behind)]
            grown[tuple(behind)] |= hit[tuple(ahead)]
        hit = grown
    return hit


class DissectionAccumulator:
    """Network Dissection of one model over a dataset, one image at a time (module docstring).

    Args:
        settings: what to compute (DissectionSettings()).
        total_cells: an upper bound of the cells per channel of each layer over the whole dataset
            (all processes together; `dataset_cells` computes it from the image sizes). With it,
            cells that cannot reach the final threshold are dropped as images come in; None keeps
            every cell. The results are the same either way; a bound that was too small is
            detected in `result()` (ValueError) rather than giving wrong counts.
    """

    def __init__(self, settings: DissectionSettings | None = None, *,
                 total_cells: Mapping[str, int] | None = None):
        self.settings = settings or DissectionSettings()
        self.total_cells = dict(total_cells) if total_cells else None
        self.sketches: dict[str, LogHistogram] = {}
        self.strides: dict[str, int] = {}
        self.bounds: dict[str, np.ndarray] = {}  # layer -> (C,) bin of the lower bound kept above
        self.records: list[_ImageRecord] = []
        self._ids: set[int] = set()
        self._kept_after_prune = 0
        self.prune_slack = 1 << 20  # cells kept beyond twice the last prune's before pruning again

    # --- feeding ---

    def add(self, capture, mask: np.ndarray, *, image_id: int) -> None:
        """Count one image.

        Args:
            capture: the model's viz.capture.Capture of the image (its features at the settings'
                layers, its attention maps, its input size).
            mask: the union of the image's crack annotations, (H, W) bool at the original image
                size; all False for an image without cracks.
            image_id: unique over the dataset (see `add_maps`).
        """
        attention = capture.attention
        self.add_maps(
            image_id, {layer: capture.features[layer] for layer in self.settings.layers},
            {layer: capture.strides[layer] for layer in self.settings.layers}, mask,
            input_size=capture.model_input.input_size,
            channel_weights={stage: maps.channel for stage, maps in attention.items()},
            gates={stage: {part: getattr(maps, part) for part in GATE_PARTS
                           if part in maps.spec.hooks.values()} for stage, maps in attention.items()},
            attention_kinds={stage: maps.kind for stage, maps in attention.items()})

    def add_maps(self, image_id: int, features: Mapping[str, np.ndarray],
                 strides: Mapping[str, int], mask: np.ndarray, *, input_size: tuple[int, int] | None = None,
                 channel_weights: Mapping[str, np.ndarray] | None = None,
                 gates: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                 attention_kinds: Mapping[str, str] | None = None) -> None:
        """One image from plain arrays (what `add` takes from a capture).

        Args:
            image_id: unique over the dataset: it orders the images (so merged shares give the
                one-process result) and names them in the results.
            features: layer -> (C, rows, cols) activations cropped to the image (rows =
                ceil(h / stride) of the input's h); every layer of the settings.
            strides: layer -> its stride in input pixels.
            mask: (H, W) bool crack mask at the original image size (all False: no crack).
            input_size: the model's input (h, w); default (H, W) (the image seen as it is).
            channel_weights: attention stage ("c3") -> (C,) channel attention weights.
            gates: attention stage -> part name (GATE_PARTS) -> the gate map ((C,), (h, w) or
                (C, h, w)): their dataset means are what mean ablation puts in their place.
            attention_kinds: attention stage -> its MODEL.ATTENTION.TYPE ("bam", "cbam").
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 2:
            raise ValueError(f"the mask must be (H, W), got {mask.shape}")
        if int(image_id) in self._ids:
            raise ValueError(f"image {image_id} was already added.")
        image_size = mask.shape
        input_size = tuple(input_size or image_size)
        dilated = within(mask, self.settings.dilation_px)
        layers = {}
        for layer in self.settings.layers:
            if layer not in features:
                raise KeyError(f"no map {layer!r} for image {image_id}; it has {', '.join(features)}")
            maps = _numpy(features[layer])
            stride = int(strides[layer])
            sketch = self._sketch(layer, maps.shape[0], stride)
            sketch.add(maps)
            bound = self.bounds[layer]  # raised when pruning: a stale bound is still a lower bound
            grid = tuple(int(n) for n in maps.shape[1:])
            radius = ToImage.of(grid, stride, input_size, image_size).radius
            index = np.flatnonzero(_keep_near(maps, sketch.lower_edges()[bound], radius)).astype(np.int32)
            flat = maps.reshape(maps.shape[0], -1)
            layers[layer] = _Kept(tuple(maps.shape), stride, index, maps.reshape(-1)[index],
                                  flat.max(axis=1), flat.argmax(axis=1).astype(np.int32))
        sums = {}
        for stage, parts in (gates or {}).items():
            sums[stage] = {}
            for part, gate in parts.items():
                gate = np.asarray(gate, dtype=np.float64)  # float64: a constant map's mean is exact
                if gate.ndim == 1:  # (C,): one value per channel and image
                    sums[stage][part] = (gate.copy(), 1)
                else:  # (h, w) -> one mean; (C, h, w) -> one per channel; over every cell
                    sums[stage][part] = (np.atleast_1d(gate.sum(axis=(-2, -1))), gate.shape[-2] * gate.shape[-1])
        self._ids.add(int(image_id))
        self.records.append(_ImageRecord(
            image_id=int(image_id), image_size=tuple(image_size), input_size=input_size,
            mask_bits=np.packbits(dilated.reshape(-1)), mask_pixels=int(dilated.sum()), crack=bool(mask.any()),
            layers=layers,
            channel_weights={s: np.asarray(w, dtype=np.float32).copy() for s, w in (channel_weights or {}).items()},
            gate_sums=sums, attention_kinds=dict(attention_kinds or {})))
        self._maybe_prune()

    def _sketch(self, layer: str, channels: int, stride: int) -> LogHistogram:
        if layer not in self.sketches:
            s = self.settings
            self.sketches[layer] = LogHistogram(channels, bits=s.bits, min_exponent=s.min_exponent,
                                                max_exponent=s.max_exponent)
            self.strides[layer] = stride
            self.bounds[layer] = np.zeros(channels, np.int64)
        sketch = self.sketches[layer]
        if sketch.channels != channels or self.strides[layer] != stride:
            raise ValueError(f"{layer}: {channels} channels at stride {stride}, earlier images had "
                             f"{sketch.channels} at stride {self.strides[layer]}")
        return sketch

    def _raise_bounds(self) -> None:
        """Per layer and channel, the bin whose lower edge the final threshold cannot be below:
        with `total_cells`, the cells counted so far at or above it are already the quantile's share
        of the whole dataset's (counts only grow, so it only rises)."""
        for layer, sketch in self.sketches.items():
            if self.total_cells is not None and layer in self.total_cells:
                # bin 0 (no bin has the share yet) has the lower edge -inf: every cell is kept
                bound = sketch.top_bin(self.settings.quantile, self.total_cells[layer])
                self.bounds[layer] = np.maximum(self.bounds[layer], bound)

    def _kept_cells(self) -> int:
        return sum(k.index.size for r in self.records for k in r.layers.values())

    def _maybe_prune(self) -> None:
        # Amortised: drop cells below the risen bounds once the kept cells have doubled.
        if self._kept_cells() > 2 * self._kept_after_prune + self.prune_slack:
            self.prune()

    def prune(self) -> None:
        """Raise the bounds and drop every kept cell below them (`add` does it as it goes)."""
        self._raise_bounds()
        for record in self.records:
            for layer, kept in record.layers.items():
                bound = self.sketches[layer].lower_edges()[self.bounds[layer]]
                radius = ToImage.of(kept.shape[1:], kept.stride, record.input_size, record.image_size).radius
                near = _keep_near(kept.dense(), bound, radius).reshape(-1)[kept.index]
                kept.index, kept.values = kept.index[near], kept.values[near]
        self._kept_after_prune = self._kept_cells()

    def merge(self, other: DissectionAccumulator) -> DissectionAccumulator:
        """Add another accumulator's images (another process's share of the dataset).

        Args:
            other: an accumulator with the same settings and total_cells, of other images.

        Returns:
            self, now giving what one accumulator fed every image gives (the sketches are summed
            counts; the images are ordered by id in the results).

        Raises:
            ValueError: other settings, or an image in both.
        """
        if other.settings != self.settings or other.total_cells != self.total_cells:
            raise ValueError("only accumulators with the same settings and total_cells merge.")
        for layer, sketch in other.sketches.items():
            self._sketch(layer, sketch.channels, other.strides[layer]).merge(sketch)
        for layer in self.sketches:
            self.bounds[layer] = np.maximum(self.bounds[layer], other.bounds.get(layer, 0))
        both = self._ids & other._ids
        if both:
            raise ValueError(f"images {sorted(both)[:5]} are in both accumulators.")
        self._ids |= other._ids
        self.records.extend(other.records)
        self._maybe_prune()
        return self

    # --- results ---

    def attention_means(self) -> AttentionMeans:
        """Each attention module's gate maps averaged over the dataset: per channel, over every image's
        cells (what mean ablation replaces the maps with)."""
        records = sorted(self.records, key=lambda r: r.image_id)
        means, kinds = {}, {}
        for record in records:
            kinds.update(record.attention_kinds)
            for stage, parts in record.gate_sums.items():
                for part, (total, cells) in parts.items():
                    acc = means.setdefault(stage, {}).setdefault(part, [0.0, 0])
                    acc[0] = acc[0] + total
                    acc[1] += cells
        return AttentionMeans(kinds=kinds, means={stage: {part: np.asarray(total / cells, dtype=np.float64)
                                                          for part, (total, cells) in parts.items()}
                                                  for stage, parts in means.items()})

    def image_statistics(self) -> ImageStatistics:
        """The per-image sufficient statistics at the final thresholds (one upsampling per image)."""
        if not self.records:
            raise ValueError("no image was added.")
        records = sorted(self.records, key=lambda r: r.image_id)
        thresholds = {layer: sketch_thresholds(sketch, self.settings.quantile)
                      for layer, sketch in self.sketches.items()}
        for layer, t in thresholds.items():
            bound = self.sketches[layer].lower_edges()[self.bounds[layer]]
            if (t.values < bound).any():
                raise ValueError(f"{layer}: total_cells was smaller than the cells added; cells that "
                                 "the thresholds need were dropped. Give the dataset's true total.")
        inter = {layer: np.zeros((len(records), s.channels), np.int64) for layer, s in self.sketches.items()}
        active = {layer: np.zeros((len(records), s.channels), np.int64) for layer, s in self.sketches.items()}
        for i, record in enumerate(records):
            mask = record.mask()
            for layer, kept in record.layers.items():
                active[layer][i], inter[layer][i] = _counts(
                    kept, ToImage.of(kept.shape[1:], kept.stride, record.input_size, record.image_size),
                    thresholds[layer].values, mask)
        stages = sorted({s for r in records for s in r.channel_weights})
        return ImageStatistics(
            image_ids=np.array([r.image_id for r in records]),
            crack=np.array([r.crack for r in records]),
            mask_pixels=np.array([r.mask_pixels for r in records], np.int64),
            pixels=np.array([r.image_size[0] * r.image_size[1] for r in records], np.int64),
            intersection=inter, active=active, thresholds=thresholds,
            channel_weights={s: np.stack([r.channel_weights[s] for r in records]) for s in stages
                             if all(s in r.channel_weights for r in records)},
            attention_kinds={s: k for r in records for s, k in r.attention_kinds.items()})

    def top_images(self, k: int | None = None) -> dict[str, TopImages]:
        """Per layer and channel, the `k` images where the channel peaks highest, with where."""
        k = self.settings.top_k if k is None else k
        records = sorted(self.records, key=lambda r: r.image_id)
        out = {}
        for layer, sketch in self.sketches.items():
            peaks = np.stack([r.layers[layer].channel_max for r in records])  # (n, C)
            order = np.argsort(-peaks, axis=0, kind="stable")[:k]  # ties: the lower image id first
            centres = np.stack([_peak_centres(r, layer) for r in records])  # (n, C, 2)
            channels = np.arange(sketch.channels)[None, :]
            out[layer] = TopImages(image_ids=np.array([r.image_id for r in records])[order].T,
                                   peaks=np.take_along_axis(peaks, order, axis=0).T.astype(np.float64),
                                   centres=centres[order, channels].transpose(1, 0, 2))
        return out

    def result(self) -> DissectionResult:
        """The dissection of every image added.

        Returns:
            DissectionResult: per layer the thresholds, IoU and crack units; for every layer whose
            stage has a channel attention, the correlation with its bootstrap and the weight
            changes; the attention means (for mean ablation); the settings, the sketch and the
            method in words.

        Raises:
            ValueError: no image added, or `total_cells` smaller than the cells added (see __init__).
        """
        stats = self.image_statistics()
        tops = self.top_images()
        s = self.settings
        layers = {}
        for layer, sketch in self.sketches.items():
            t = stats.thresholds[layer]
            inter = stats.intersection[layer].sum(axis=0)
            union = (stats.active[layer] + stats.mask_pixels[:, None] - stats.intersection[layer]).sum(axis=0)
            iou = np.divide(inter, union, out=np.zeros(len(inter)), where=union > 0)
            order = np.argsort(-iou, kind="stable")
            layers[layer] = LayerDissection(
                layer=layer, stride=self.strides[layer], thresholds=t.values, selected_share=t.selected_share,
                pixel_share=stats.active[layer].sum(axis=0) / max(int(stats.pixels.sum()), 1),
                intersection=inter, union=union, iou=iou,
                crack_units=np.array([c for c in order if iou[c] > s.iou_threshold], np.int64),
                ties_at_bottom=t.ties_at_bottom, overflow=t.overflow, top_images=tops[layer])
        correlations = {}
        for layer in layers:
            stage = layer.split("_")[0]
            if stage in stats.channel_weights:
                correlations[layer] = attention_correlation(stats, layer, stage, s)
        return DissectionResult(settings=s, images=len(stats.image_ids), images_with_crack=int(stats.crack.sum()),
                                layers=layers, correlations=correlations, attention_means=self.attention_means(),
                                sketch={"kind": "per-channel histogram on fixed log bins (float32 exponent and "
                                                f"{s.bits} mantissa bits)",
                                        "bins_per_octave": 2 ** s.bits, "relative_error": relative_error(s.bits),
                                        "range": [2.0 ** s.min_exponent, 2.0 ** s.max_exponent]},
                                method=s.method())


def _peak_centres(record: _ImageRecord, layer: str) -> np.ndarray:
    """(C, 2): (y, x) in original-image pixels of the centre of each channel's highest cell."""
    kept = record.layers[layer]
    w = kept.shape[2]
    (ih, iw), (oh, ow) = record.input_size, record.image_size
    return np.stack([(kept.channel_argmax // w + 0.5) * kept.stride * oh / ih,
                     (kept.channel_argmax % w + 0.5) * kept.stride * ow / iw], axis=1)


def _counts(kept: _Kept, to_image: ToImage, thresholds: np.ndarray, mask: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """(C,) pixels at or above each channel's threshold after upsampling, and those of them on
    the (H, W) bool mask.

    An upsampled value is a weighted mean of its cells, so only the pixels that a cell at or above
    the threshold reaches can pass: per channel, the block of image rows and columns that its
    such cells reach is computed (ToImage.block), nothing else."""
    c, rows, cols = kept.shape
    active, inter = np.zeros(c, np.int64), np.zeros(c, np.int64)
    channel = kept.index // (rows * cols)
    hot = kept.values >= thresholds[channel]
    if not hot.any():
        return active, inter
    maps = kept.dense()
    cells = kept.index[hot] % (rows * cols)
    owners = channel[hot]
    starts = np.searchsorted(owners, np.arange(c + 1))  # kept.index is sorted: channels in order
    height, width = to_image.size
    # one spare slot at the end takes the -1 padding of the reach tables
    rows_hit, cols_hit = np.zeros(height + 1, bool), np.zeros(width + 1, bool)
    for k in np.flatnonzero(np.diff(starts)):
        mine = cells[starts[k]:starts[k + 1]]
        rows_hit[:] = cols_hit[:] = False
        rows_hit[to_image.row_reach[mine // cols]] = True
        cols_hit[to_image.col_reach[mine % cols]] = True
        ys, xs = np.flatnonzero(rows_hit[:-1]), np.flatnonzero(cols_hit[:-1])
        on = to_image.block(maps[k], ys, xs) >= np.float32(thresholds[k])
        active[k] = np.count_nonzero(on)
        inter[k] = np.count_nonzero(on & mask[ys][:, xs])
    return active, inter


def _numpy(maps) -> np.ndarray:
    """A (C, rows, cols) map as a C-contiguous float32 array (a torch tensor is detached, moved)."""
    if hasattr(maps, "detach"):
        maps = maps.detach().cpu().numpy()
    return np.ascontiguousarray(maps, dtype=np.float32)


def dataset_cells(image_sizes: Iterable[tuple[int, int]], cfg, strides: Mapping[str, int]) -> dict[str, int]:
    """`total_cells` for DissectionAccumulator.

    Args:
        image_sizes: (height, width) of every image of the dataset (e.g. from the COCO file).
        cfg: the model's config: its test resize (INPUT.MIN_SIZE_TEST, MAX_SIZE_TEST).
        strides: layer -> stride (viz.catalogue.layer_catalogue's).

    Returns:
        layer -> the cells per channel of its maps over all the images.
    """
    from models.inputs import input_size_for

    totals = dict.fromkeys(strides, 0)
    for height, width in image_sizes:
        h, w = input_size_for(height, width, cfg)
        for layer, stride in strides.items():
            totals[layer] += math.ceil(h / stride) * math.ceil(w / stride)
    return totals


# ---------------------------------------------------------------------------------------------
# Per-image statistics and the attention correlation


@dataclass(frozen=True)
class ImageStatistics:
    """Per image (sorted by id) and channel, at the final thresholds: what the IoU and the
    bootstrap are computed from."""

    image_ids: np.ndarray  # (n,)
    crack: np.ndarray  # (n,) bool
    mask_pixels: np.ndarray  # (n,) pixels of the dilated mask
    pixels: np.ndarray  # (n,) pixels of the image
    intersection: dict[str, np.ndarray]  # layer -> (n, C): active pixels on the dilated mask
    active: dict[str, np.ndarray]  # layer -> (n, C): pixels at or above the threshold
    thresholds: dict[str, Thresholds]
    channel_weights: dict[str, np.ndarray]  # attention stage -> (n, C)
    attention_kinds: dict[str, str]

    def union(self, layer: str) -> np.ndarray:
        return self.active[layer] + self.mask_pixels[:, None] - self.intersection[layer]


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of x with the same row of y, vectorised over rows.

    Args:
        x, y: (B, C) each; ties get mean ranks, as scipy.stats.spearmanr.

    Returns:
        (B,), NaN where a row of either is constant.
    """
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    norm = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (rx * ry).sum(axis=1) / norm, np.nan)


def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n): how often each image is drawn in each resample of
    evaluation.significance.bootstrap_indices (the project's seeded image resampling)."""
    index = significance.bootstrap_indices(n, resamples, seed)
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.arange(resamples)[:, None], index), 1)
    return counts


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """(low, high) percentile interval of the finite replicates along axis 0; None where none."""
    replicates = np.asarray(replicates, dtype=np.float64)
    tail = 100 * (1 - confidence) / 2
    if replicates.ndim == 1:
        finite = replicates[np.isfinite(replicates)]
        if not finite.size:
            return None, None
        low, high = np.percentile(finite, [tail, 100 - tail])
        return float(low), float(high)
    with warnings.catch_warnings():  # a column without a finite replicate: NaN, said so by the caller
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(np.where(np.isfinite(replicates), replicates, np.nan), [tail, 100 - tail],
                                     axis=0)
    return low, high


@dataclass(frozen=True)
class Interval:
    """An observed value and its percentile bootstrap interval (None: undefined)."""

    observed: float | None
    low: float | None = None
    high: float | None = None

    def to_json(self) -> dict:
        return {"observed": _number(self.observed), "low": _number(self.low), "high": _number(self.high)}

    @classmethod
    def from_json(cls, data: dict) -> Interval:
        return cls(data["observed"], data.get("low"), data.get("high"))


def _mean_rows(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(B, n) draw counts, (n, C) values -> (B, C) means over the drawn images (NaN: none drawn)."""
    drawn = weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ values) / drawn


def attention_correlation(stats: ImageStatistics, layer: str, stage: str,
                          settings: DissectionSettings) -> AttentionCorrelation:
    """Does the channel attention of `stage` favour the crack units of `layer`?

    Spearman's rho, over the layer's channels, between each channel's mean attention weight and
    its crack IoU; per channel the mean weight on images with cracks minus that on images
    without; the mean of that change over the crack units minus over the others. Percentile
    bootstrap intervals over images (evaluation.significance.bootstrap_indices): each resample's
    IoU and weights are recomputed from the per-image counts, the thresholds held fixed.

    Args:
        stats: the per-image statistics (DissectionAccumulator.image_statistics()).
        layer: a dissected layer ("c3" or "c3_pre").
        stage: the attention stage whose channel weights to use ("c3").
        settings: resamples, seed, confidence and the IoU threshold.

    Returns:
        AttentionCorrelation.
    """
    inter, union = stats.intersection[layer].astype(np.float64), stats.union(layer).astype(np.float64)
    weights = stats.channel_weights[stage].astype(np.float64)
    if weights.shape[1] != inter.shape[1]:
        raise ValueError(f"{stage}'s attention has {weights.shape[1]} channels, {layer} {inter.shape[1]}")
    n = len(stats.image_ids)
    ones = np.ones((1, n))
    draws = resample_counts(n, settings.resamples, settings.seed)

    def iou(counts):
        i, u = counts @ inter, counts @ union
        return np.divide(i, u, out=np.zeros_like(i), where=u > 0)

    observed_iou, observed_weight = iou(ones)[0], _mean_rows(ones, weights)[0]
    rho = spearman_rows(observed_weight[None], observed_iou[None])[0]
    rho_reps = spearman_rows(_mean_rows(draws, weights), iou(draws))
    crack = stats.crack.astype(np.float64)

    def change(counts):
        return _mean_rows(counts * crack, weights) - _mean_rows(counts * (1 - crack), weights)

    with_crack, without = _mean_rows(ones * crack, weights)[0], _mean_rows(ones * (1 - crack), weights)[0]
    change_reps = change(draws)
    low, high = percentile_interval(change_reps, settings.confidence)
    units = observed_iou > settings.iou_threshold

    def units_minus_others(changes):  # (B, C) -> (B,)
        if not units.any() or units.all():
            return np.full(len(changes), np.nan)
        return changes[:, units].mean(axis=1) - changes[:, ~units].mean(axis=1)

    observed_change = with_crack - without
    return AttentionCorrelation(
        layer=layer, stage=stage, kind=stats.attention_kinds.get(stage, ""),
        spearman=Interval(_number(rho), *percentile_interval(rho_reps, settings.confidence)),
        mean_weight=observed_weight, weight_with_crack=with_crack, weight_without_crack=without,
        change=observed_change, change_low=np.asarray(low, np.float64), change_high=np.asarray(high, np.float64),
        units_minus_others=Interval(_number(units_minus_others(observed_change[None])[0]),
                                    *percentile_interval(units_minus_others(change_reps), settings.confidence)),
        change_spearman=Interval(_number(spearman_rows(observed_change[None], observed_iou[None])[0]),
                                 *percentile_interval(spearman_rows(change_reps, iou(draws)), settings.confidence)))


# ---------------------------------------------------------------------------------------------
# Results


def _number(value) -> float | None:
    """A JSON-safe number: NaN and infinities become None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _floats(values: np.ndarray) -> list:
    return [_number(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _array(values, shape=None, dtype=np.float64) -> np.ndarray:
    out = np.array([np.nan if v is None else v for v in np.asarray(values, dtype=object).reshape(-1)], dtype=dtype)
    return out.reshape(shape) if shape is not None else out


@dataclass(frozen=True)
class TopImages:
    """Per channel, the images where it peaks highest: (C, k) each, highest first."""

    image_ids: np.ndarray
    peaks: np.ndarray
    centres: np.ndarray  # (C, k, 2): (y, x) in original-image pixels of the peak cell's centre

    def to_json(self) -> dict:
        return {"image_ids": self.image_ids.tolist(), "peaks": _floats(self.peaks),
                "centres": _floats(self.centres), "shape": list(self.image_ids.shape)}

    @classmethod
    def from_json(cls, data: dict) -> TopImages:
        shape = tuple(data["shape"])
        return cls(np.asarray(data["image_ids"], np.int64).reshape(shape), _array(data["peaks"], shape),
                   _array(data["centres"], (*shape, 2)))


@dataclass(frozen=True)
class LayerDissection:
    """One layer's dissection; arrays are per channel."""

    layer: str
    stride: int
    thresholds: np.ndarray  # the activation at or above which a channel is active (inf: never)
    selected_share: np.ndarray  # share of the layer's cells at or above the threshold (target: the quantile)
    pixel_share: np.ndarray  # share of the image pixels at or above it after upsampling
    intersection: np.ndarray  # summed over the images, in pixels
    union: np.ndarray
    iou: np.ndarray
    crack_units: np.ndarray  # channel indices with IoU above the threshold, highest IoU first
    ties_at_bottom: np.ndarray  # bool: the quantile fell in the channel's lowest bin (see sketch_thresholds)
    overflow: np.ndarray  # bool: the threshold is at the sketch's top (no error bound)
    top_images: TopImages | None = None

    @property
    def channels(self) -> int:
        return len(self.iou)

    def ranking(self) -> np.ndarray:
        """Channel indices by IoU, highest first (ties: the lower index first)."""
        return np.argsort(-self.iou, kind="stable")

    def to_json(self) -> dict:
        return {"layer": self.layer, "stride": self.stride, "channels": self.channels,
                "crack_units": self.crack_units.tolist(), "thresholds": _floats(self.thresholds),
                "selected_share": _floats(self.selected_share), "pixel_share": _floats(self.pixel_share),
                "intersection": self.intersection.tolist(), "union": self.union.tolist(), "iou": _floats(self.iou),
                "ties_at_bottom": self.ties_at_bottom.tolist(), "overflow": self.overflow.tolist(),
                "top_images": self.top_images.to_json() if self.top_images is not None else None}

    @classmethod
    def from_json(cls, data: dict) -> LayerDissection:
        return cls(layer=data["layer"], stride=data["stride"],
                   thresholds=_array([np.inf if v is None else v for v in data["thresholds"]]),
                   selected_share=_array(data["selected_share"]), pixel_share=_array(data["pixel_share"]),
                   intersection=np.asarray(data["intersection"], np.int64),
                   union=np.asarray(data["union"], np.int64), iou=_array(data["iou"]),
                   crack_units=np.asarray(data["crack_units"], np.int64),
                   ties_at_bottom=np.asarray(data["ties_at_bottom"], bool), overflow=np.asarray(data["overflow"], bool),
                   top_images=TopImages.from_json(data["top_images"]) if data.get("top_images") else None)


@dataclass(frozen=True)
class AttentionCorrelation:
    """Does the channel attention of `stage` favour the crack units of `layer`? Arrays per channel."""

    layer: str
    stage: str
    kind: str  # "bam", "cbam"
    spearman: Interval  # rho(mean weight, crack IoU) over the channels
    mean_weight: np.ndarray
    weight_with_crack: np.ndarray  # mean over images with cracks (NaN: none)
    weight_without_crack: np.ndarray
    change: np.ndarray  # with - without
    change_low: np.ndarray  # its bootstrap interval
    change_high: np.ndarray
    units_minus_others: Interval  # mean change of the crack units - that of the other channels
    change_spearman: Interval  # rho(change, crack IoU): are crack units turned up more?

    def to_json(self) -> dict:
        return {"layer": self.layer, "stage": self.stage, "kind": self.kind, "spearman": self.spearman.to_json(),
                **{name: _floats(getattr(self, name)) for name in _CORRELATION_ARRAYS},
                "units_minus_others": self.units_minus_others.to_json(),
                "change_spearman": self.change_spearman.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> AttentionCorrelation:
        return cls(layer=data["layer"], stage=data["stage"], kind=data["kind"],
                   spearman=Interval.from_json(data["spearman"]),
                   **{name: _array(data[name]) for name in _CORRELATION_ARRAYS},
                   units_minus_others=Interval.from_json(data["units_minus_others"]),
                   change_spearman=Interval.from_json(data["change_spearman"]))


_CORRELATION_ARRAYS = ("mean_weight", "weight_with_crack", "weight_without_crack", "change", "change_low",
                       "change_high")


@dataclass(frozen=True)
class AttentionMeans:
    """Per attention stage, its gate maps' dataset means by part (GATE_PARTS): (C,) or (1,)."""

    kinds: dict[str, str] = field(default_factory=dict)  # stage -> MODEL.ATTENTION.TYPE
    means: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"kinds": dict(self.kinds),
                "means": {s: {p: np.asarray(v, np.float64).tolist() for p, v in parts.items()}
                          for s, parts in self.means.items()}}

    @classmethod
    def from_json(cls, data: dict) -> AttentionMeans:
        return cls(kinds=dict(data["kinds"]), means={s: {p: np.asarray(v, np.float64) for p, v in parts.items()}
                                                     for s, parts in data["means"].items()})


@dataclass(frozen=True)
class DissectionResult:
    """One model's dissection over a dataset (`DissectionAccumulator.result()`)."""

    settings: DissectionSettings
    images: int
    images_with_crack: int
    layers: dict[str, LayerDissection]
    correlations: dict[str, AttentionCorrelation]  # by layer, where its stage has a channel attention
    attention_means: AttentionMeans
    sketch: dict  # what the quantile sketch is, and its relative error
    method: str  # the method in words, with its settings

    def crack_unit_counts(self) -> dict[str, int]:
        return {layer: len(d.crack_units) for layer, d in self.layers.items()}

    def to_json(self) -> dict:
        return {"settings": self.settings.to_json(), "method": self.method, "sketch": self.sketch,
                "images": self.images, "images_with_crack": self.images_with_crack,
                "crack_units": self.crack_unit_counts(),
                "layers": {k: v.to_json() for k, v in self.layers.items()},
                "correlations": {k: v.to_json() for k, v in self.correlations.items()},
                "attention_means": self.attention_means.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> DissectionResult:
        return cls(settings=DissectionSettings.from_json(data["settings"]), images=data["images"],
                   images_with_crack=data["images_with_crack"],
                   layers={k: LayerDissection.from_json(v) for k, v in data["layers"].items()},
                   correlations={k: AttentionCorrelation.from_json(v) for k, v in data["correlations"].items()},
                   attention_means=AttentionMeans.from_json(data["attention_means"]),
                   sketch=data["sketch"], method=data["method"])


def channel_rows(result: DissectionResult) -> list[list]:
    """One row per layer and channel (a header first): for the per-channel CSV."""
    rows = [["layer", "channel", "iou", "crack_unit", "rank", "threshold", "selected_share", "pixel_share",
             "intersection_px", "union_px", "ties_at_bottom", "threshold_overflow", "mean_attention_weight",
             "weight_with_crack", "weight_without_crack", "weight_change", "weight_change_low", "weight_change_high"]]
    for layer, d in result.layers.items():
        rank = np.empty(d.channels, np.int64)
        rank[d.ranking()] = np.arange(1, d.channels + 1)
        units = set(d.crack_units.tolist())
        corr = result.correlations.get(layer)
        for c in range(d.channels):
            attention = ([_number(getattr(corr, name)[c]) for name in _CORRELATION_ARRAYS]
                         if corr is not None else [None] * len(_CORRELATION_ARRAYS))
            rows.append([layer, c, float(d.iou[c]), c in units, int(rank[c]), _number(d.thresholds[c]),
                         float(d.selected_share[c]), float(d.pixel_share[c]), int(d.intersection[c]),
                         int(d.union[c]), bool(d.ties_at_bottom[c]), bool(d.overflow[c]), *attention])
    return rows


def layer_seed(seed: int, *parts) -> np.random.Generator:
    """A generator seeded by `seed` and names / numbers (a layer, a draw): the same in every process."""
    words = [zlib.crc32(str(p).encode()) for p in parts]
    return np.random.default_rng([seed, *words])


__all__ = [
    "AttentionCorrelation", "AttentionMeans", "DissectionAccumulator", "DissectionResult", "DissectionSettings",
    "ImageStatistics", "Interval", "LayerDissection", "LogHistogram", "Thresholds", "ToImage", "TopImages",
    "attention_correlation", "channel_rows", "dataset_cells", "layer_seed", "linear_weights", "percentile_interval",
    "relative_error", "resample_counts", "sketch_thresholds", "spearman_rows",
]
