"""The Draw page's step pictures: one size for every step, and a frame that keeps edge ink off the white page."""

import numpy as np
import pytest

from ui.draw_figures import STEP_FRAME_COLOR, STEP_FRAME_PX, STEP_IMAGE_SIDE, step_picture


@pytest.mark.parametrize("shape", [(222, 121), (20, 11), (28, 28), (5, 90)], ids=str)
def test_every_step_is_one_framed_size(shape):
    ink = np.ones(shape)  # white ink up to every edge: the case that looked cut off without a frame
    picture = step_picture(ink)
    assert picture.size == (STEP_IMAGE_SIDE, STEP_IMAGE_SIDE)
    left, top, right, bottom = picture.getbbox()  # the framed image, centred in the transparent square
    assert picture.getpixel((left, (top + bottom) // 2)) == STEP_FRAME_COLOR
    assert picture.getpixel(((left + right) // 2, top)) == STEP_FRAME_COLOR
    assert picture.getpixel((left + STEP_FRAME_PX, top + STEP_FRAME_PX)) == (255, 255, 255, 255)  # the ink itself
    assert max(right - left, bottom - top) == STEP_IMAGE_SIDE
