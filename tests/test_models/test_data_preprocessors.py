"""The checked data preprocessors: same output as mmpretrain's and mmdet's
for images they can normalize, one line for those they cannot."""
import pytest
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmpretrain.models.utils import ClsDataPreprocessor

from mmrla.errors import UserError
from mmrla.models.data_preprocessors import (CheckedClsDataPreprocessor,
                                             CheckedDetDataPreprocessor,
                                             ImageChannelError,
                                             check_image_channels)
from tests.fixtures.console import assert_line

MEAN_STD = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
# (parent, checked, arguments as the configs give them)
PAIRS = [(ClsDataPreprocessor, CheckedClsDataPreprocessor,
          dict(to_rgb=True, **MEAN_STD)),
         (DetDataPreprocessor, CheckedDetDataPreprocessor,
          dict(bgr_to_rgb=True, pad_size_divisor=32, **MEAN_STD))]


def _images(channels, batched):
    g = torch.Generator().manual_seed(0)
    images = [
        torch.randint(0, 256, (channels, 12, 10), generator=g).to(torch.uint8)
        for _ in range(2)
    ]
    return torch.stack(images) if batched else images


CASES = [(*PAIRS[0], 3), (*PAIRS[0], 1), (*PAIRS[1], 3)]


@pytest.mark.parametrize('plain, checked, kwargs, channels', CASES)
@pytest.mark.parametrize('batched', [False, True])
def test_normalizable_images_give_the_parents_output(plain, checked, kwargs,
                                                     channels, batched):
    data = dict(inputs=_images(channels, batched))
    expected = plain(**kwargs)(dict(data))['inputs']
    got = checked(**kwargs)(dict(data))['inputs']
    assert got.shape[1] == 3  # gray broadcasts over the three channels
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize('plain, checked, kwargs', PAIRS)
@pytest.mark.parametrize('batched', [False, True])
def test_four_channels_are_refused_in_one_line(plain, checked, kwargs,
                                               batched):
    data = dict(inputs=_images(4, batched))
    if plain is ClsDataPreprocessor:
        with pytest.raises(RuntimeError, match='must match'):
            plain(**kwargs)(dict(data))
        gray = ' (or 1, gray)'
    else:
        # mmdet's takes channels 2, 1, 0 and drops the fourth, silently.
        assert plain(**kwargs)(dict(data))['inputs'].shape[1] == 3
        gray = ''
    with pytest.raises(ImageChannelError) as info:
        checked(**kwargs)(dict(data))
    assert_line(
        str(info.value), 'an image has 4 channels', f'the model takes 3{gray}',
        'img[..., :3]')
    # Tools print it as one line (UserError); callers may catch ValueError.
    assert isinstance(info.value, UserError)
    assert isinstance(info.value, ValueError)


def test_other_counts_name_the_expected_one():
    with pytest.raises(
            ImageChannelError,
            match='an image has 2 channels, '
            r'the model takes 3 \(or 1, gray\): convert it to 3 '
            'channels first.'):
        check_image_channels([torch.zeros(3, 4, 4), torch.zeros(2, 4, 4)], 3)
    check_image_channels([torch.zeros(5, 4, 4)], 5)


def test_det_refuses_gray():
    data = dict(inputs=_images(1, True))
    kwargs = PAIRS[1][2]
    with pytest.raises(IndexError):  # bgr_to_rgb indexes channel 2
        DetDataPreprocessor(**kwargs)(dict(data))
    with pytest.raises(
            ImageChannelError,
            match=r'^an image has 1 channels, the model takes 3: convert it '
            r'to 3 channels first\.$'):
        CheckedDetDataPreprocessor(**kwargs)(dict(data))


@pytest.mark.parametrize('checked', [p[1] for p in PAIRS])
def test_without_normalization_nothing_is_checked(checked):
    # No mean: no channel count to hold the images to; as the parents.
    out = checked()(dict(inputs=_images(4, True)))['inputs']
    assert out.shape[1] == 4


def test_configs_build_the_det_preprocessor_by_its_name():
    from mmdet.registry import MODELS
    built = MODELS.build(
        dict(type='CheckedDetDataPreprocessor', bgr_to_rgb=True, **MEAN_STD))
    assert type(built) is CheckedDetDataPreprocessor
    with pytest.raises(ImageChannelError):
        built(dict(inputs=_images(1, False)))


@pytest.mark.slow
def test_classification_works_without_mmdet():
    # mmdet is a dependency of detection only: with it unimportable, the
    # models import and the classification preprocessor builds and runs.
    from tests.fixtures.console import run_tool
    code = ('import sys; sys.modules["mmdet"] = None; '
            'import torch, mmrla.models; '
            'from mmpretrain.registry import MODELS; '
            'pre = MODELS.build(dict(type="CheckedClsDataPreprocessor", '
            'mean=[0.] * 3, std=[1.] * 3)); '
            'print(pre(dict(inputs=[torch.zeros(3, 4, 4)]))["inputs"].shape)')
    proc = run_tool('-c', code)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert proc.stdout.split('\n')[-2] == 'torch.Size([1, 3, 4, 4])'
