"""The authors' ablation models (models/resnet_rla_*.py, resnet_k.py),
restated in tests/fixtures/reference_models.py with their key layout,
convert into the models of configs/ablations/ with no missing or unexpected
key and give the same logits."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmrla.converters import (ABLATION_ARCHS, convert_rlanet_state_dict,
                              detect_ablation_layout, find_ablation,
                              strip_module_prefix)
from tests.fixtures.reference_models import (RefResNetK, RefRLAResNet,
                                             randomize_)
from tests.fixtures.rlanet_checkpoints import authors_imagenet_checkpoint
from tests.fixtures.sizes import slow_where

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _reference(arch):
    if arch == 'resnet50_k':
        return RefResNetK()
    variant, depth = arch.split('_resnet')
    layers = (3, 4, 23, 3) if depth == '101' else (3, 4, 6, 3)
    return RefRLAResNet(layers=layers, variant=variant)


def _authors_file(arch):
    """The reference with random weights and its state dict as the authors'
    train.py saves it (DataParallel's ``module.`` prefix)."""
    ref = randomize_(_reference(arch)).eval()
    return ref, authors_imagenet_checkpoint(ref, arch)['state_dict']


def _model(arch):
    from mmpretrain.apis import get_model
    cfg = Config.fromfile(osp.join(REPO, ABLATION_ARCHS[arch].config))
    return get_model(cfg).eval()


# v1 and v1p take most of the time (full-width recurrent paths in float64).
@pytest.mark.parametrize(
    'arch',
    slow_where(sorted(ABLATION_ARCHS), {'rlav1_resnet50', 'rlav1p_resnet50'}))
def test_converted_weights_give_the_authors_logits(arch):
    ref, src = _authors_file(arch)
    converted = convert_rlanet_state_dict(src)
    model = _model(arch)
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # float64, so that the comparison tests the algebra, not rounding.
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        expected = ref.double()(x)
        logits = model.double()(x, mode='tensor')
    assert (logits - expected).abs().max() <= 1e-9 * expected.abs().max()


@pytest.mark.parametrize('arch', sorted(ABLATION_ARCHS))
def test_the_keys_tell_the_variant_except_v1_to_v6(arch):
    plain = strip_module_prefix(_authors_file(arch)[1])
    layout = ABLATION_ARCHS[arch].layout
    assert detect_ablation_layout(plain) == (None
                                             if layout == 'rla' else layout)
    assert find_ablation(plain, arch) == (arch, ABLATION_ARCHS[arch])
    found = find_ablation(plain)
    if layout == 'rla':
        assert found is None  # the released model's keys
    else:
        assert found == (arch, ABLATION_ARCHS[arch])


def test_released_weights_are_no_ablation():
    plain = RefRLAResNet().state_dict()
    assert detect_ablation_layout(plain) is None
    assert find_ablation(plain, 'rla_resnet50') is None
    with pytest.raises(ValueError, match='not of rlaus_resnet50'):
        find_ablation(plain, 'rlaus_resnet50')


def _run_tool(*args):
    from tools.model_converters.rlanet_to_mmrla import main
    return main([str(a) for a in args])


@pytest.mark.slow
def test_tool_takes_the_arch_and_names_the_config(tmp_path, capsys):
    _, state_dict = _authors_file('rlav6_resnet50')
    src = tmp_path / 'model_best.pth.tar'
    # The authors' train.py saves no 'arch'.
    torch.save({'epoch': 120, 'state_dict': state_dict}, src)
    assert _run_tool(src, tmp_path / 'released.pth') == 0
    assert 'convert it again with --arch' in capsys.readouterr().out

    dst = tmp_path / 'v6.pth'
    assert _run_tool('--arch', 'rlav6_resnet50', src, dst) == 0
    config = 'configs/ablations/r50rla_v6_4xb64_in1k.py'
    assert config in capsys.readouterr().out
    meta = torch.load(dst, weights_only=True)['meta']
    assert meta['arch'] == 'rlav6_resnet50' and meta['config'] == config

    assert _run_tool('--arch', 'rlalstm_resnet50', src, tmp_path / 'x') == 1
    err = capsys.readouterr().err
    assert 'keys are those of the released RLA-ResNet' in err
    assert 'not of rlalstm_resnet50' in err
    with pytest.raises(SystemExit):
        _run_tool('--arch', 'rlav7_resnet50', src, tmp_path / 'y')
    assert 'rlav6_resnet50' in capsys.readouterr().err


def test_tool_reads_the_checkpoints_own_arch(tmp_path, capsys):
    _, state_dict = _authors_file('rlav1p_resnet50')
    src = tmp_path / 'rlav1p.pth.tar'
    torch.save({'arch': 'rlav2_resnet50', 'state_dict': state_dict}, src)
    # A file whose 'arch' contradicts its keys is refused ...
    assert _run_tool(src, tmp_path / 'a.pth') == 1
    assert 'rlav1p_resnet50, not of rlav2_resnet50' in capsys.readouterr().err
    # ... and without one, the keys name the post-activated model.
    torch.save({'state_dict': state_dict}, src)
    assert _run_tool(src, tmp_path / 'b.pth') == 0
    assert 'r50rla_postact_4xb64_in1k.py' in capsys.readouterr().out


@pytest.mark.parametrize('arch', ['rlaus_resnet50', 'resnet50_k'])
def test_an_unconverted_ablation_file_is_refused_with_the_command(
        arch, tmp_path):
    """The two layouts without the released models' per-stage keys: the
    unshared model's per-block keys, and resnet50_k's torchvision keys with
    a classifier over 2048 + 32 channels (told by its shape)."""
    from mmrla.converters import UnconvertedCheckpointError
    from mmrla.errors import UserError
    from mmrla.weights import check_checkpoint_file, load_checked_checkpoint
    _, state_dict = _authors_file(arch)
    src = tmp_path / f'{arch}.pth.tar'
    torch.save({'state_dict': state_dict}, src)
    with pytest.raises(
            UnconvertedCheckpointError, match=r'rlanet_to_mmrla\.py'):
        check_checkpoint_file(str(src))
    if arch == 'rlaus_resnet50':
        # Loading it into the model names the key that tells the layout.
        with pytest.raises(UserError, match=r"'stages\.0\.0\.conv_out"):
            load_checked_checkpoint(_model(arch), str(src))
    converted = tmp_path / 'converted.pth'
    torch.save({'state_dict': convert_rlanet_state_dict(state_dict)},
               converted)
    check_checkpoint_file(str(converted))  # passes


def test_a_plain_resnet50_file_is_not_taken_for_resnet50_k(tmp_path):
    from torchvision.models import resnet50

    from mmrla.weights import check_checkpoint_file
    src = tmp_path / 'resnet50.pth'
    torch.save(resnet50().state_dict(), src)
    check_checkpoint_file(str(src))  # no authors' layout: left to mmengine
