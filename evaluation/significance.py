"""Is a before / after difference between two models real? Paired statistics on the same images.

Model A is "before" (the baseline), model B "after"; every difference is B - A.

- `paired_outcomes`: from each image's image-level verdict (right or wrong, per model), the images
  each model alone gets right (b: only A, c: only B) and McNemar's exact test on them: under "the
  models are equally accurate", each of the b + c disagreements is a fair coin (binomial, p = 0.5).
- `paired_bootstrap`: percentile intervals for the accuracy difference and, from pycocotools'
  per-image matches (`COCOeval.evalImgs`), for the box / mask AP differences. The images are
  resampled with replacement, the same images for both models; detections are not re-matched,
  only re-counted, so an interval says how much the difference depends on which images were
  drawn, for these two fixed sets of predictions.
- `pairing_from_counts`: for someone who has only the two TP / TN / FP / FN tables, which image
  pairings the tables allow, and the exact McNemar p of the most and least favourable one.
- One rule says which difference is significant (`RULE`): McNemar's test decides the accuracy
  (`accuracy_verdict`), the bootstrap interval each AP (`interval_verdict`); where McNemar and
  the accuracy interval disagree, `rule_disagreement` says so and why McNemar is followed.

Everything here is plain Python on counts and arrays; no model is run. The results are typed
(evaluation.results: PairedStatistics, CountsPairing), said in words here (`paired_summary`,
`counts_summary`) and as tables in evaluation.formatting.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest

from evaluation.results import Bootstrap, CountsPairing, Interval, PairedStatistics, Pairing

ALPHA = 0.05
RESAMPLES = 1000  # enough for 95 % percentile intervals
SEED = 0
CONFIDENCE = 0.95
AP_METRICS = ("AP", "AP50", "AP75")


# ---------------------------------------------------------------------------------------------
# McNemar


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: the binomial test of min(b, c) successes in b + c trials
    at p = 0.5.

    Args:
        only_a, only_b: the discordant counts (b: only A right, c: only B right).

    Returns:
        The p-value; 1.0 when b + c = 0.
    """
    if only_a < 0 or only_b < 0:
        raise ValueError(f"discordant counts cannot be negative (got {only_a}, {only_b}).")
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def paired_outcomes(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict:
    """Image-level outcomes of two models on the same images, and McNemar's exact test.

    Args:
        correct_a, correct_b: per image, whether model A / B gets it right (its crack / no-crack
            verdict equals the truth).

    Returns:
        {"images", "both_right", "only_a_right", "only_b_right", "both_wrong", "mcnemar_p"}: the
        counting fields of a PairedStatistics.
    """
    a, b = _booleans(correct_a, correct_b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    return {"images": len(a), "both_right": int(np.sum(a & b)), "only_a_right": only_a,
            "only_b_right": only_b, "both_wrong": int(np.sum(~a & ~b)),
            "mcnemar_p": mcnemar_exact(only_a, only_b)}


def _booleans(correct_a, correct_b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"one outcome per image for each model (got {a.shape} and {b.shape}).")
    return a, b


# ---------------------------------------------------------------------------------------------
# Paired bootstrap


def bootstrap_indices(n_images: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, n_images) image indices drawn with replacement, from a seeded generator."""
    return np.random.default_rng(seed).integers(0, n_images, size=(resamples, n_images))


def _interval(observed: float | None, replicates: np.ndarray, confidence: float) -> Interval:
    """The observed value and the percentile interval of the finite replicates (None if none)."""
    finite = replicates[np.isfinite(replicates)]
    if observed is None or not finite.size:
        return Interval(observed)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(observed), float(low), float(high))


class APResampler:
    """COCO AP (area "all", the last maxDets) of one model on resamples of the images, from a
    finished `COCOeval`'s per-image matches; a duplicated image counts twice, as it would in a
    dataset holding it twice.

    image_ids: the dataset's image ids, in the order the resample indices refer to.
    Call with an index array (n,) -> {"AP", "AP50", "AP75"} in percent (None where undefined, e.g.
    no annotated instance among the drawn images): pycocotools' own `accumulate` on a reordered
    `evalImgs`. `many` gives the same numbers for a whole (resamples, n) array at once.
    """

    def __init__(self, coco_eval, image_ids: Sequence[int]):
        p = coco_eval.params
        if not p.useCats or not coco_eval.evalImgs:
            raise ValueError("needs a COCOeval with per-category evaluate() results.")
        area, n_areas, n_imgs = p.areaRngLbl.index("all"), len(p.areaRng), len(p.imgIds)
        position = {img: i for i, img in enumerate(p.imgIds)}
        # evalImgs is laid out [category][area range][image]
        self._per_image = [[coco_eval.evalImgs[(k * n_areas + area) * n_imgs + position[img]]
                            for k in range(len(p.catIds))] for img in image_ids]
        self._params = copy.deepcopy(p)
        self._params.areaRng, self._params.areaRngLbl = [p.areaRng[area]], ["all"]
        self._params.maxDets = [p.maxDets[-1]]
        self._eval = copy.copy(coco_eval)  # shares nothing we change with the original
        self._iou = np.asarray(p.iouThrs)
        self._matches = [_CategoryMatches([row[k] for row in self._per_image], p.maxDets[-1], len(p.iouThrs))
                         for k in range(len(p.catIds))]

    def __call__(self, index: np.ndarray) -> dict:
        self._params.imgIds = list(range(len(index)))
        self._eval.params = self._eval._paramsEval = self._params
        n_cats = len(self._params.catIds)
        self._eval.evalImgs = [self._per_image[i][k] for k in range(n_cats) for i in index]
        with contextlib.redirect_stdout(io.StringIO()):  # accumulate prints its timing
            self._eval.accumulate()
        precision = self._eval.eval["precision"][:, :, :, 0, 0]  # (IoU thresholds, recalls, categories)
        return {"AP": _mean_defined(precision),
                "AP50": _mean_defined(precision[np.isclose(self._iou, 0.5)]),
                "AP75": _mean_defined(precision[np.isclose(self._iou, 0.75)])}

    def many(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """{"AP", "AP50", "AP75"}: (resamples,) arrays in percent, NaN where undefined, for a
        (resamples, n) index array; what `__call__` gives row by row (up to rounding: the means are
        summed in another order), without a Python loop over resamples and detections (pycocotools'
        accumulate has both; a 1000-resample bootstrap on it cost more than the models' inference
        on small sets)."""
        indices = np.asarray(indices)
        sums, defined = 0.0, 0
        for matches in self._matches:
            precision, has_truth = matches.precision(indices, self._params.recThrs)  # (T, R, recalls), (R,)
            sums = sums + precision.sum(axis=2) * has_truth
            defined = defined + has_truth
        n_recalls = len(self._params.recThrs)
        with np.errstate(invalid="ignore", divide="ignore"):  # no category defined: NaN
            per_iou = sums / (defined * n_recalls)
            return {"AP": 100 * per_iou.mean(axis=0),
                    "AP50": 100 * per_iou[np.isclose(self._iou, 0.5)].mean(axis=0),
                    "AP75": 100 * per_iou[np.isclose(self._iou, 0.75)].mean(axis=0)}


class _CategoryMatches:
    """One category's per-image detections as flat arrays (scores, true / false positive per IoU
    threshold, as pycocotools' accumulate counts them) and each image's count of annotations that
    are not ignored, so that any resample is a gather."""

    # detections x IoU thresholds per chunk of resamples; each element costs about 80 bytes in the
    # temporaries (sums, sort keys, ranks), so a chunk peaks near 80 MB
    MAX_ELEMENTS = 1_000_000

    def __init__(self, per_image: list, max_dets: int, n_iou: int):
        scores, true_pos, false_pos, truths = [], [], [], []
        for e in per_image:  # None: neither annotations nor detections in that image
            if e is None:
                scores.append(np.zeros(0))
                true_pos.append(np.zeros((n_iou, 0), bool))
                false_pos.append(np.zeros((n_iou, 0), bool))
                truths.append(0)
            else:
                matched = np.asarray(e["dtMatches"])[:, :max_dets] != 0
                ignored = np.asarray(e["dtIgnore"])[:, :max_dets].astype(bool)
                scores.append(np.asarray(e["dtScores"][:max_dets], dtype=float))
                true_pos.append(matched & ~ignored)
                false_pos.append(~matched & ~ignored)
                truths.append(int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0)))
        self.scores, self.truths = np.concatenate(scores), np.asarray(truths)
        self.true_pos, self.false_pos = np.concatenate(true_pos, axis=1), np.concatenate(false_pos, axis=1)
        self.counts = np.asarray([len(s) for s in scores])  # detections per image
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])

    def precision(self, indices: np.ndarray, rec_thrs) -> tuple[np.ndarray, np.ndarray]:
        """(T, R, recall thresholds) interpolated precision per resample (0 where the recall is not
        reached) and (R,) whether the resample holds an annotation of this category."""
        rec_thrs = np.asarray(rec_thrs, dtype=float)
        n_iou = self.true_pos.shape[0]
        truths = self.truths[indices].sum(axis=1)
        sizes = self.counts[indices].sum(axis=1)  # detections per resample
        out = np.zeros((n_iou, len(indices), len(rec_thrs)))
        chunk = np.cumsum(sizes) * n_iou // self.MAX_ELEMENTS  # resamples in chunks of bounded size
        for c in np.unique(chunk):
            rows = np.flatnonzero(chunk == c)
            out[:, rows] = self._chunk(indices[rows], sizes[rows], truths[rows], rec_thrs)
        return out, truths > 0

    def _chunk(self, indices: np.ndarray, sizes: np.ndarray, truths: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
        n_res, n_iou = len(indices), self.true_pos.shape[0]
        lengths = self.counts[indices].ravel()
        total = int(sizes.sum())
        out = np.zeros((n_iou, n_res, len(rec_thrs)))
        if not total:  # no detection drawn: precision 0 at every recall
            return out
        # gather every drawn image's detections, resample after resample, in the drawn order
        gather = np.repeat(self.starts[indices].ravel() - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        group = np.repeat(np.arange(n_res), sizes)
        # pycocotools: a stable sort by descending score, within the resample
        gather = gather[np.lexsort((-self.scores[gather], group))]
        ends = np.cumsum(sizes)
        tp = _cumsum_within(self.true_pos[:, gather], sizes, ends).astype(float)
        fp = _cumsum_within(self.false_pos[:, gather], sizes, ends).astype(float)
        # resamples with no annotation are undefined (their precision unused); dividing by 1 keeps
        # the recalls finite, so that the search below sees them sorted
        recall = tp / np.repeat(np.maximum(truths, 1), sizes)
        precision = _max_to_the_right_within(tp / (fp + tp + np.spacing(1)), group, n_res)
        # per resample, the first detection whose recall reaches each threshold (searchsorted "left"
        # within the resample: complex numbers sort by real part, then imaginary, so group + 1j * recall
        # orders by resample, then recall, exactly)
        needles = (np.arange(n_res)[:, None] + 1j * rec_thrs[None, :]).ravel()
        for t in range(n_iou):
            found = np.searchsorted(group + 1j * recall[t], needles, side="left").reshape(n_res, -1)
            reached = found < ends[:, None]
            out[t][reached] = precision[t][found[reached]]
        return out


def _cumsum_within(values: np.ndarray, sizes: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Cumulative sums along the last axis, restarting at each group (consecutive runs of `sizes`
    ending at `ends`)."""
    total = np.cumsum(values, axis=-1, dtype=np.int64)
    starts = ends - sizes
    before = np.where(starts > 0, total[:, np.maximum(starts - 1, 0)], 0)  # the sum up to the group
    return total - np.repeat(before, sizes, axis=-1)


def _max_to_the_right_within(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """For each position, the largest value at or after it in its group, along the last axis (the
    precision envelope of accumulate). Exact: it works on ranks, groups kept apart by offsets."""
    flat = values.ravel()
    order = np.argsort(flat, kind="stable")
    rank = np.empty(flat.size, np.int64)
    rank[order] = np.arange(flat.size)
    offset = (n_groups - 1 - group).astype(np.int64) * flat.size  # earlier groups above later ones
    keys = rank.reshape(values.shape) + offset
    envelope = np.maximum.accumulate(keys[:, ::-1], axis=-1)[:, ::-1] - offset
    return flat[order][envelope]


def _mean_defined(precision: np.ndarray) -> float | None:
    """As COCOeval.summarize: the mean over defined entries (-1 marks an absent category), in percent."""
    defined = precision[precision > -1]
    return float(100 * defined.mean()) if defined.size else None


def paired_bootstrap(correct_a: Sequence[bool], correct_b: Sequence[bool], *,
                     ap: dict[str, tuple[APResampler, APResampler]] | None = None,
                     resamples: int = RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE) -> Bootstrap:
    """Percentile bootstrap intervals for B - A, both models on the same resampled images.

    Args:
        correct_a, correct_b: (n,) per-image right / wrong, as for `paired_outcomes`.
        ap: {task name (e.g. "box", "mask"): (A's APResampler, B's)} over the same n images, or None.
        resamples, seed, confidence: the bootstrap's.

    Returns:
        A Bootstrap whose intervals are "accuracy" (fractions) and, per task, "<task> <metric>"
        (e.g. "mask AP50", in AP points).
    """
    a, b = _booleans(correct_a, correct_b)
    if not len(a):
        raise ValueError("no image to resample.")
    index = bootstrap_indices(len(a), resamples, seed)
    diff = b.astype(float) - a.astype(float)
    out = Bootstrap(resamples, seed, confidence,
                    {"accuracy": _interval(float(diff.mean()), diff[index].mean(axis=1), confidence)})
    identity = np.arange(len(a))
    for task, (ap_a, ap_b) in (ap or {}).items():
        observed = _difference(ap_a(identity), ap_b(identity))
        replicates_a, replicates_b = ap_a.many(index), ap_b.many(index)
        for metric in AP_METRICS:
            out.intervals[f"{task} {metric}"] = _interval(observed[metric], replicates_b[metric] - replicates_a[metric],
                                                          confidence)
    return out


def _difference(a: dict, b: dict) -> dict:
    return {m: None if a[m] is None or b[m] is None else b[m] - a[m] for m in AP_METRICS}


def paired_statistics(labels: tuple[str, str], correct_a: Sequence[bool], correct_b: Sequence[bool], *,
                      ap: dict[str, tuple[APResampler, APResampler]] | None = None,
                      resamples: int = RESAMPLES, seed: int = SEED) -> PairedStatistics:
    """The "paired" section of an evaluation.

    Args:
        labels: (A, B), before first.
        correct_a, correct_b, ap, resamples, seed: as for `paired_outcomes` and `paired_bootstrap`.

    Returns:
        PairedStatistics: the outcomes, McNemar's p, the bootstrap and one sentence (`paired_summary`).
    """
    stats = PairedStatistics(list(labels), **paired_outcomes(correct_a, correct_b),
                             bootstrap=paired_bootstrap(correct_a, correct_b, ap=ap, resamples=resamples, seed=seed))
    stats.summary = paired_summary(stats)
    return stats


# ---------------------------------------------------------------------------------------------
# From counts alone

COUNT_KEYS = ("tp", "tn", "fp", "fn")


def pairing_from_counts(table_a: dict, table_b: dict) -> CountsPairing:
    """What the two image-level tables alone allow.

    Which images each model gets right is unknown; every pairing of the two tables' right images is
    possible.

    Args:
        table_a, table_b: {"tp", "tn", "fp", "fn"} of models A and B on the same images (so the
            same positives TP + FN and negatives TN + FP).

    Returns:
        CountsPairing: the image counts, and the pairings with the smallest McNemar p ("best", the
        one with the fewest disagreements) and the largest ("worst").

    Raises:
        ValueError: with a message for the user, for tables that cannot be of the same images.
    """
    for name, table in (("first", table_a), ("second", table_b)):
        if any(not isinstance(table.get(k), int) or table[k] < 0 for k in COUNT_KEYS):
            raise ValueError(f"the {name} table needs four whole numbers TP, TN, FP, FN (got {table}).")
    positives, negatives = table_a["tp"] + table_a["fn"], table_a["tn"] + table_a["fp"]
    if (table_b["tp"] + table_b["fn"], table_b["tn"] + table_b["fp"]) != (positives, negatives):
        raise ValueError(
            "the two tables are not of the same images: images with cracks (TP + FN) "
            f"{positives} vs {table_b['tp'] + table_b['fn']}, without (TN + FP) {negatives} vs "
            f"{table_b['tn'] + table_b['fp']}.")
    if positives + negatives == 0:
        raise ValueError("the tables count no image.")
    # On the positives, both right on x images, max(0, tpA + tpB - P) <= x <= min(tpA, tpB); A alone
    # right on tpA - x. Likewise on the negatives. So "only A right" takes every value in between.
    fewest = (table_a["tp"] - min(table_a["tp"], table_b["tp"])
              + table_a["tn"] - min(table_a["tn"], table_b["tn"]))
    most = (table_a["tp"] - max(0, table_a["tp"] + table_b["tp"] - positives)
            + table_a["tn"] - max(0, table_a["tn"] + table_b["tn"] - negatives))
    gain = (table_b["tp"] + table_b["tn"]) - (table_a["tp"] + table_a["tn"])  # only B - only A, fixed
    pairings = [Pairing(b, b + gain, mcnemar_exact(b, b + gain)) for b in range(fewest, most + 1)]
    return CountsPairing(positives + negatives, positives, negatives, table_a["tp"] + table_a["tn"],
                         table_b["tp"] + table_b["tn"],
                         best=min(pairings, key=lambda p: p.mcnemar_p),  # ties: the fewer disagreements
                         worst=max(reversed(pairings), key=lambda p: p.mcnemar_p))  # ties: the more


# ---------------------------------------------------------------------------------------------
# Numbers for people


def format_p(value: float) -> str:
    """A p-value for people: 3 significant digits, "1" for 1."""
    return "1" if value >= 0.9995 else f"{value:.3g}"


MAX_DECIMALS = 6


def decimals_for(value: float | None, minimum: int) -> int:
    """The decimals `value` needs so that it does not read 0 unless it is 0 (at least `minimum`,
    at most MAX_DECIMALS): -0.004 needs 3, where 1 would print "-0.0"."""
    decimals = minimum
    while value and round(abs(value), decimals) == 0 and decimals < MAX_DECIMALS:
        decimals += 1
    return decimals


def signed(value: float, decimals: int = 1) -> str:
    """A difference with its sign and the digits it needs ("+2.3", "-0.004"); 0 reads "0.0", never
    "-0.0", so an interval's end that is not 0 never reads as 0.

    Args:
        value: the difference; decimals: at least this many.

    Returns:
        The text.
    """
    if value == 0:
        return f"{0:.{decimals}f}"
    return f"{value:+.{decimals_for(value, decimals)}f}"


def _images(n: int) -> str:
    return f"{n} image{'s' if n != 1 else ''}"


# ---------------------------------------------------------------------------------------------
# The rule: which test decides whether each difference is significant

# Below this many images a percentile bootstrap interval is too narrow to trust (it cannot hold
# the spread of images it never drew): it decides nothing.
MIN_IMAGES_FOR_INTERVAL = 10
RULE = ("Accuracy: McNemar's exact test decides (significant when p < {alpha:g}). AP: the bootstrap "
        "interval decides (significant when it excludes 0, on at least {n} images).")


def interval_verdict(low: float | None, high: float | None, images: int | None) -> tuple[bool | None, str]:
    """Whether a difference is significant by its bootstrap interval (does it exclude 0?).

    Returns:
        (True / False, or None where the interval decides nothing; the verdict in words).
    """
    if low is None:
        return None, "no interval (too few images)"
    if images is not None and images < MIN_IMAGES_FOR_INTERVAL:
        return None, f"too few images to tell ({images}; at least {MIN_IMAGES_FOR_INTERVAL})"
    if low > 0 or high < 0:
        return True, "yes: the interval excludes 0"
    return False, "no: the interval includes 0"


def accuracy_verdict(stats: PairedStatistics, alpha: float = ALPHA) -> tuple[bool, str]:
    """Whether the accuracy difference is significant: McNemar's exact test decides (it is exact
    on the images where the two models differ; the bootstrap interval is approximate there).

    Returns:
        (significant, the verdict in words).
    """
    p = format_p(stats.mcnemar_p)
    if stats.mcnemar_p < alpha:
        return True, f"yes: McNemar p = {p} < {alpha:g}"
    return False, f"no: McNemar p = {p} ≥ {alpha:g}"


def rule_disagreement(stats: PairedStatistics, alpha: float = ALPHA) -> str | None:
    """Where McNemar's test and the accuracy difference's bootstrap interval disagree, a sentence
    saying so, which one the verdict follows and why; None where they agree (or there is no
    interval)."""
    acc = stats.bootstrap.intervals.get("accuracy")
    if acc is None or acc.low is None:
        return None
    excludes, mcnemar = acc.low > 0 or acc.high < 0, stats.mcnemar_p < alpha
    if excludes == mcnemar:
        return None
    interval = (f"{100 * stats.bootstrap.confidence:.0f}% bootstrap interval of the accuracy difference "
                f"({signed(100 * acc.low)} to {signed(100 * acc.high)} points)")
    differ = _images(stats.only_a_right + stats.only_b_right)
    if excludes:
        said = (f"The {interval} excludes 0, but McNemar's exact test does not find the difference significant "
                f"(p = {format_p(stats.mcnemar_p)} ≥ {alpha:g}).")
    else:
        said = (f"McNemar's exact test finds the difference significant (p = {format_p(stats.mcnemar_p)} < "
                f"{alpha:g}), but the {interval} includes 0.")
    return (said + f" The verdict follows McNemar: it is exact on the {differ} where the models differ, "
            "while a percentile bootstrap interval is only approximate, and too narrow or too wide when "
            "few images differ.")


def ap_sentence(stats: PairedStatistics) -> str:
    """In words: which AP differences the bootstrap interval finds significant (the same rule as
    the report's table)."""
    decided = {key: interval_verdict(i.low, i.high, stats.images)[0]
               for key, i in stats.bootstrap.intervals.items() if key != "accuracy"}
    if not decided or all(v is None for v in decided.values()):
        return ""
    significant = [key for key, v in decided.items() if v]
    if not significant:
        return "No AP difference is significant: every bootstrap interval includes 0."
    return (f"AP differences whose bootstrap interval excludes 0: {', '.join(significant)}; the others' "
            "include 0.")


# ---------------------------------------------------------------------------------------------
# In words


def paired_summary(stats: PairedStatistics, alpha: float = ALPHA) -> str:
    """A few sentences on paired statistics, honest when nothing is significant, and saying the
    same as the table's verdicts: McNemar decides accuracy (`accuracy_verdict`), the interval AP."""
    a, b = stats.models
    only_a, only_b, p = stats.only_a_right, stats.only_b_right, stats.mcnemar_p
    acc = stats.bootstrap.intervals.get("accuracy")
    interval = ""
    if acc is not None and acc.low is not None:
        interval = (f" ({100 * stats.bootstrap.confidence:.0f}% bootstrap interval of the accuracy "
                    f"difference, {b} - {a}: {signed(100 * acc.low)} to {signed(100 * acc.high)} points)")
    if only_a + only_b == 0:
        text = (f"{a} and {b} are right on exactly the same {_images(stats.images)}: "
                "no difference to test (McNemar p = 1).")
    else:
        head = (f"{b} alone is right on {_images(only_b)}, {a} alone on {_images(only_a)} "
                f"(McNemar's exact test p = {format_p(p)})")
        if accuracy_verdict(stats, alpha)[0]:
            text = (head + f": a significant difference in accuracy; a split this uneven is unlikely "
                    f"(p < {alpha:g}) if both models were equally accurate on images like these{interval}.")
        else:
            text = (head + f": not significant at {alpha:g}; these images do not show that either model is "
                    f"more accurate{interval}.")
    return " ".join(filter(None, (text, rule_disagreement(stats, alpha), ap_sentence(stats))))


def counts_summary(result: CountsPairing, labels: tuple[str, str] = ("A", "B"), alpha: float = ALPHA) -> str:
    """What `pairing_from_counts`' result means, in words."""
    a, b = labels
    best, worst = result.best, result.worst

    def pairing(p: Pairing) -> str:
        return (f"{b} alone is right on {_images(p.only_b_right)} and {a} alone on {p.only_a_right} "
                f"(exact McNemar p = {format_p(p.mcnemar_p)})")

    text = (f"From the two tables alone ({result.correct_a} -> {result.correct_b} of "
            f"{result.images} images right) it is unknown which images changed. At best, with the "
            f"fewest changes the counts allow, {pairing(best)}; at worst {pairing(worst)}. ")
    if best.mcnemar_p >= alpha:
        return text + (f"Even the best case is not significant at {alpha:g}: from these counts alone, "
                       "the difference may well be chance.")
    if worst.mcnemar_p < alpha:
        return text + f"Significant at {alpha:g} however the images pair up."
    return text + (f"Significant at {alpha:g} only if few images changed: the per-image outcomes "
                   "(python -m app evaluate on the images) are needed to decide.")
