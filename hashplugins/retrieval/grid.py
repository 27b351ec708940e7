"""The retrieval grid picture: each query beside its ranked results.

One row per query: the query tile (blue frame), then its results in rank
order, framed green when relevant, red when not, grey when relevance is
unknown (no labels); each result tile is captioned with its Hamming
distance (``d=3``, and ``+``/``-`` for relevant / not, so the marks do not
rely on colour alone). Every tile is ``tile_size`` pixels square, so the
picture is exactly ``rows * tile_size`` by ``cols * tile_size`` pixels.

Used by ``tools/retrieve.py`` and :class:`RetrievalGridHook`.
"""
from typing import Optional, Sequence

import numpy as np

from hashplugins.evaluation.functional.io import atomic_output

FRAME_COLORS = dict(
    query=(40, 90, 220),
    relevant=(30, 160, 60),
    irrelevant=(210, 40, 40),
    unknown=(150, 150, 150))


def to_rgb(img: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """An image array as ``(H, W, 3)`` RGB ``uint8``.

    Args:
        img: ``(H, W)`` / ``(H, W, 1)`` gray or ``(H, W, 3)`` **BGR**
            (mmcv's convention, as datasets and ``LoadImageFromFile``
            produce), ``uint8`` or float in ``[0, 255]``; ``None`` stays
            ``None`` (an empty tile).
    """
    if img is None:
        return None
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f'cannot draw an image of shape {img.shape}')
    return np.ascontiguousarray(img[:, :, 2::-1])


def dataset_image(dataset, index: int) -> Optional[np.ndarray]:
    """The image of sample ``index`` of a dataset (its data info's ``img``
    or ``img_path``), BGR or gray; ``None`` if it has neither."""
    from hashplugins.apis.image_inputs import read_image
    info = dataset.get_data_info(int(index))
    if info.get('img') is not None:
        return np.asarray(info['img'])
    if info.get('img_path'):
        return read_image(info['img_path'])
    return None


def _tile(draw_img, image, x, y, tile, border, color, caption):
    from PIL import Image, ImageDraw
    draw = ImageDraw.Draw(draw_img)
    draw.rectangle([x, y, x + tile - 1, y + tile - 1], fill=color)
    inner = tile - 2 * border
    draw.rectangle([x + border, y + border, x + border + inner - 1,
                    y + border + inner - 1], fill=(255, 255, 255))
    if image is not None:
        pil = Image.fromarray(image)
        scale = inner / max(pil.width, pil.height)
        size = (max(1, round(pil.width * scale)),
                max(1, round(pil.height * scale)))
        pil = pil.resize(size, Image.BILINEAR)
        draw_img.paste(pil, (x + border + (inner - size[0]) // 2,
                             y + border + (inner - size[1]) // 2))
    if caption:
        box = draw.textbbox((0, 0), caption)
        w, h = box[2] - box[0], box[3] - box[1]
        draw.rectangle([x + border, y + border, x + border + w + 3,
                        y + border + h + 4], fill=color)
        draw.text((x + border + 2, y + border + 1 - box[1]), caption,
                  fill=(255, 255, 255))


def draw_retrieval_grid(queries: Sequence[Optional[np.ndarray]],
                        results: Sequence[Sequence[Optional[np.ndarray]]],
                        distances: Optional[Sequence[Sequence[int]]] = None,
                        relevant: Optional[Sequence[Sequence[bool]]] = None,
                        tile_size: int = 96,
                        border: int = 4) -> np.ndarray:
    """Draw the grid.

    Args:
        queries: One image per row (see :func:`to_rgb` for the formats;
            ``None`` draws an empty tile).
        results: Per query, its result images in rank order (rows may be
            shorter than the longest; the rest stays blank).
        distances: Per query, the Hamming distance of each result.
        relevant: Per query, whether each result is relevant; ``None`` (or
            a ``None`` row) when labels are unknown.
        tile_size: Side of a square tile in pixels.
        border: Frame width in pixels.

    Returns:
        ``(rows * tile_size, cols * tile_size, 3)`` RGB ``uint8`` array,
        ``cols = 1 + the longest result row``.
    """
    from PIL import Image
    if len(results) != len(queries):
        raise ValueError(f'{len(results)} result rows for {len(queries)} '
                         'queries')
    if tile_size < 2 * border + 1:
        raise ValueError(f'tile_size {tile_size} leaves no room inside a '
                         f'{border}-pixel frame')
    rows = len(queries)
    cols = 1 + max((len(r) for r in results), default=0)
    canvas = Image.new('RGB', (cols * tile_size, rows * tile_size),
                       (255, 255, 255))
    for i, (query, row) in enumerate(zip(queries, results)):
        y = i * tile_size
        _tile(canvas, to_rgb(query), 0, y, tile_size, border,
              FRAME_COLORS['query'], 'query')
        rel_row = relevant[i] if relevant is not None else None
        for j, image in enumerate(row):
            rel = None if rel_row is None else bool(rel_row[j])
            kind = 'unknown' if rel is None else \
                'relevant' if rel else 'irrelevant'
            caption = '' if distances is None else f'd={distances[i][j]}'
            if rel is not None:
                caption += ' +' if rel else ' -'
            _tile(canvas, to_rgb(image), (j + 1) * tile_size, y, tile_size,
                  border, FRAME_COLORS[kind], caption.strip())
    return np.asarray(canvas)


def save_png(path: str, image: np.ndarray) -> str:
    """Write an RGB array as PNG atomically (temporary name, then
    ``os.replace``); returns ``path``."""
    from PIL import Image
    with atomic_output(path) as tmp:
        Image.fromarray(image).save(tmp, format='PNG')
    return path
