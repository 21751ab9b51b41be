"""Photo effects of recipe v2: perspective, uneven light and cast shadows, defocus or motion blur,
sensor noise, and JPEG compression (the image file is the JPEG: its artefacts are real)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from demo.camera import lighting_gain


def perspective(rng: np.random.Generator, shape: tuple[int, int], strength: float) -> np.ndarray:
    """3x3 homography taking a random quadrilateral inside the image onto the whole image (the
    surface seen at an angle and from closer); each corner moves inwards by up to `strength` of
    the image size, so the output has no empty border."""
    h, w = shape
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    inward = np.float32([[1, 1], [-1, 1], [-1, -1], [1, -1]])
    quad = corners + inward * rng.uniform(0, strength, (4, 2)).astype(np.float32) * np.float32([w, h])
    return cv2.getPerspectiveTransform(quad, corners)


def warp(scene: np.ndarray, masks: list[np.ndarray], homography: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The scene and its masks seen through `homography`; a mask pixel is set where at least half
    of the warped pixel was crack, the same rule the image follows."""
    h, w = scene.shape[:2]
    scene = cv2.warpPerspective(scene, homography, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    masks = [cv2.warpPerspective(m.astype(np.float32), homography, (w, h), flags=cv2.INTER_LINEAR) >= 0.5
             for m in masks]
    return scene, masks


def shadow_gain(rng: np.random.Generator, shape: tuple[int, int], unit: float) -> np.ndarray:
    """A large soft-edged shadow (of the photographer, a wall, a hand) over part of the image."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    d = (xs - w / 2) * math.cos(angle) + (ys - h / 2) * math.sin(angle) - rng.uniform(-0.4, 0.4) * min(shape)
    d += rng.uniform(0, 0.2) * (-(xs - w / 2) * math.sin(angle) + (ys - h / 2) * math.cos(angle)) ** 2 / max(shape)
    inside = 0.5 * (1 + np.tanh(d / (2 * unit * rng.uniform(2, 25))))  # a logistic edge
    return 1 - rng.uniform(0.25, 0.6) * inside


def blur(rng: np.random.Generator, img: np.ndarray, unit: float) -> tuple[np.ndarray, str]:
    """Defocus (Gaussian), motion (a line kernel) or none; returns the image and which."""
    r = rng.random()
    if r < 0.35:
        return cv2.GaussianBlur(img, (0, 0), unit * rng.uniform(0.3, 0.9)), "defocus"
    if r < 0.5:
        length = max(1, int(round(unit * rng.uniform(0.5, 1.5))))  # half the blur length
        kernel = np.zeros((2 * length + 1, 2 * length + 1), np.float32)
        angle = rng.uniform(0, np.pi)
        end = np.array([math.cos(angle), math.sin(angle)]) * length
        cv2.line(kernel, tuple(np.round(length - end).astype(int)), tuple(np.round(length + end).astype(int)), 1.0, 1,
                 cv2.LINE_AA)
        return cv2.filter2D(img, -1, kernel / kernel.sum()), "motion"
    return img, "none"


def photograph(rng: np.random.Generator, scene: np.ndarray, unit: float) -> tuple[np.ndarray, dict]:
    """A float RGB scene in [0, 1] as a uint8 photo: light, shadow, blur, noise. Returns the image
    and what was applied."""
    img = scene * lighting_gain(rng, scene.shape[:2])[..., None]
    shadow = rng.random() < 0.3
    if shadow:
        img = img * shadow_gain(rng, scene.shape[:2], unit)[..., None]
    img, blurred = blur(rng, img, unit)
    sigma = rng.uniform(0.003, 0.015) + rng.uniform(0.0, 0.03) * np.sqrt(np.clip(img, 0, 1))
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    if rng.random() < 0.5:  # colour noise partly shared between channels, as after demosaicing
        noise = 0.6 * noise + 0.8 * noise.mean(axis=2, keepdims=True)
    img = img + sigma * noise
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8), {"shadow": shadow, "blur": blurred}


def jpeg(rng: np.random.Generator, image: np.ndarray) -> tuple[bytes, np.ndarray, int]:
    """JPEG-encode an RGB uint8 image at a random quality; (file bytes, decoded RGB, quality)."""
    quality = int(rng.integers(50, 98))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always has a JPEG encoder
        raise RuntimeError("OpenCV could not encode a JPEG")
    decoded = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return buf.tobytes(), decoded, quality
