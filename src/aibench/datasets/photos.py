"""Real photographs for embedded data: the ones bundled with scikit-image (`skimage.data`), so nothing is
downloaded. Generators draw backgrounds and textures from them, each split from its own photographs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Photo:
    image: Image.Image  # RGB (a grey photograph as three equal channels)
    grey: bool


def load_photos(names: Sequence[str]) -> list[Photo]:
    """The named `skimage.data` images as RGB photographs (binary ones as black and white, the RGBA logo
    composited onto white)."""
    import skimage.data  # local, bundled photographs: no download

    out = []
    for name in names:
        array = np.asarray(getattr(skimage.data, name)())
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        image = Image.fromarray(array)
        if image.mode == "RGBA":
            image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
        out.append(Photo(image.convert("RGB"), array.ndim == 2))
    return out
