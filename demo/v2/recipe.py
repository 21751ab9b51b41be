"""The declarative part of recipe v2: which surfaces, crack styles and distractors each domain
draws, how often, and at which image sizes. Change the data by editing this table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from demo.v2.cracks import CRACK_STYLES
from demo.v2.distractors import DISTRACTORS
from demo.v2.surfaces import SURFACES


@dataclass(frozen=True)
class Domain:
    """Names (keys of the registries) with their relative weights."""
    surfaces: Mapping[str, float]
    crack_styles: Mapping[str, float]
    distractors: Mapping[str, float]


@dataclass(frozen=True)
class Recipe:
    name: str
    domains: Mapping[str, Domain]
    splits: Mapping[str, str]              # split name -> domain name
    long_sides: Mapping[int, float]        # image long side (px) -> weight
    aspects: Mapping[float, float]         # long / short side -> weight
    p_portrait: float = 0.3
    p_negative: float = 0.4
    max_cracks: int = 3
    # P(0, 1, 2, ... distractors): negatives get more, since they are the hard case.
    distractor_counts_negative: tuple[float, ...] = (0.05, 0.2, 0.3, 0.25, 0.15, 0.05)
    distractor_counts_positive: tuple[float, ...] = (0.2, 0.3, 0.25, 0.15, 0.1)
    unit_jitter: tuple[float, float] = (0.7, 1.5)    # crack and distractor scale around min side / 320
    surface_zoom: tuple[float, float] = (1.0, 2.5)   # procedural textures drawn smaller and enlarged
    p_occlusion: float = 0.2                          # a crack partly hidden under dirt, paint or tape
    p_perspective: float = 0.5
    perspective_strength: float = 0.18
    notes: Mapping[str, str] = field(default_factory=dict)


SEEN = Domain(
    surfaces={"plastic": 0.12, "concrete": 0.10, "painted_metal": 0.08, "ceramic": 0.06, "asphalt": 0.10,
              "brushed_metal": 0.08, "tile": 0.10, "stone": 0.10, "paper": 0.06, "plaster": 0.10,
              "gravel_photo": 0.10},
    crack_styles={"walk": 0.3, "hairline": 0.2, "gap": 0.15, "whitened": 0.15, "network": 0.2},
    distractors={"scratch": 1.0, "seam": 0.7, "hair": 1.0, "stain": 1.0, "texture_edge": 0.7, "joint": 0.7,
                 "cast_shadow": 1.0, "wire": 0.6, "fibres": 0.6, "drip": 0.6, "object_edge": 0.6},
)
# Whole families that train/val/test never hold: other materials, cracks drawn by other methods,
# and two more kinds of look-alikes (on top of all the seen ones).
UNSEEN = Domain(
    surfaces={"wood": 0.35, "fabric": 0.25, "brick_photo": 0.4},
    crack_styles={"stepped": 0.4, "fractal": 0.6},
    distractors={**SEEN.distractors, "pen_mark": 1.0, "twig": 1.0},
)

RECIPE_V2 = Recipe(
    name="v2",
    domains={"seen": SEEN, "unseen": UNSEEN},
    splits={"train": "seen", "val": "seen", "test": "seen", "unseen": "unseen"},
    long_sides={512: 0.10, 640: 0.15, 800: 0.20, 1024: 0.25, 1280: 0.15, 1600: 0.15},
    aspects={1.0: 0.25, 4 / 3: 0.40, 3 / 2: 0.20, 16 / 9: 0.15},
)


def check_recipe(recipe: Recipe) -> None:
    """Raise ValueError (one sentence) if a name is not in its registry, or if the unseen domain
    shares a surface family or crack style with a seen one."""
    registries = {"surfaces": SURFACES, "crack_styles": CRACK_STYLES, "distractors": DISTRACTORS}
    for domain_name, domain in recipe.domains.items():
        for kind, registry in registries.items():
            unknown = set(getattr(domain, kind)) - set(registry)
            if unknown:
                raise ValueError(f"recipe {recipe.name}, domain {domain_name}: unknown {kind} {sorted(unknown)}; "
                                 f"known: {sorted(registry)}.")
    unknown_domains = set(recipe.splits.values()) - set(recipe.domains)
    if unknown_domains:
        raise ValueError(f"recipe {recipe.name}: splits use undefined domains {sorted(unknown_domains)}.")
    seen = [recipe.domains[d] for s, d in recipe.splits.items() if s != "unseen"]
    if "unseen" in recipe.splits:
        unseen = recipe.domains[recipe.splits["unseen"]]
        for kind in ("surfaces", "crack_styles"):
            shared = set(getattr(unseen, kind)) & {n for d in seen for n in getattr(d, kind)}
            if shared:
                raise ValueError(f"recipe {recipe.name}: the unseen domain shares {kind} {sorted(shared)} "
                                 f"with train/val/test.")


RECIPES = {"v2": RECIPE_V2}
for _recipe in RECIPES.values():
    check_recipe(_recipe)
