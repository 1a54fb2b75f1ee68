"""Weights-only checkpoint loading: what it allows, what it refuses (with
one line and nothing run), the trust opt-in, and mmengine's loaders for
every URI scheme (downloads mocked)."""
import io
import logging
import os.path as osp
import shutil
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub, MMLogger
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import _load_checkpoint

from mmrla.engine import safe_load
from mmrla.engine.safe_load import (TRUST_ENV, CheckpointLoadError,
                                    UnsafeCheckpointError,
                                    load_checkpoint_file)
from tests.fixtures.console import assert_line
from tests.fixtures.malicious import (PAYLOADS, marker_path, save_malicious,
                                      save_with_datetime)


@pytest.fixture(scope='module', autouse=True)
def _safe_loading():
    # As the tools (and a script that wants it) do.
    safe_load.enable_safe_loading()


@pytest.fixture(autouse=True)
def _untrusted(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    safe_load._announced.clear()


@contextmanager
def _torch_allowlist_only():
    """torch's weights-only loading without the globals anyone added."""
    added = list(torch.serialization.get_safe_globals())
    torch.serialization.clear_safe_globals()
    try:
        yield
    finally:
        torch.serialization.add_safe_globals(added)


def _runner_like_checkpoint() -> dict:
    """The entries of a checkpoint of mmengine's runner: the message hub
    logs numpy scalars into HistoryBuffers."""
    hub = MessageHub(f'safe_load_{id(object())}')
    for i in range(3):
        hub.update_scalar('train/loss', np.float64(1.0 / (i + 1)))
        hub.update_scalar('train/iter_count', np.int64(i), count=1)
    hub.update_info('best_score', np.float64(0.5))
    return dict(
        meta=dict(epoch=1, iter=3, seed=0, dataset_meta=dict(classes=('a', ))),
        state_dict={'w': torch.ones(2)},
        message_hub=hub.state_dict(),
        optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))],
                                  lr=0.1).state_dict(),
        param_schedulers=[dict(milestones={
            8: 1,
            11: 1
        }, last_step=3)],
        exact_resume=dict(version=1, rng=[dict(torch=torch.get_rng_state())]))


def test_a_runner_checkpoint_loads_weights_only(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(_runner_like_checkpoint(), path)
    # torch alone refuses it (numpy and mmengine types) ...
    with _torch_allowlist_only():
        with pytest.raises(Exception, match='Weights only load failed'):
            torch.load(path, weights_only=True)
    # ... the allowlist takes it, and mmengine's message hub resumes from it.
    checkpoint = load_checkpoint_file(path)
    hub = MessageHub('safe_load_resumed')
    hub.load_state_dict(checkpoint['message_hub'])
    assert hub.get_scalar('train/loss').current() == pytest.approx(1 / 3)
    assert hub.get_scalar('train/loss').mean() == pytest.approx(11 / 18)
    assert hub.get_info('best_score') == 0.5
    assert checkpoint['param_schedulers'][0]['milestones'] == {8: 1, 11: 1}
    assert isinstance(checkpoint['exact_resume']['rng'][0]['torch'],
                      torch.Tensor)


def test_torch_itself_reads_a_runner_checkpoint_once_mmrla_is_imported(
        tmp_path):
    # import mmrla registered the types with torch's own allowlist: plain
    # weights-only torch.load (the default of torch >= 2.6, and so of
    # mmengine's own loaders there) needs nothing else.
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(_runner_like_checkpoint(), path)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint['meta']['epoch'] == 1
    assert checkpoint['message_hub']['log_scalars']['train/loss'].current() \
        == pytest.approx(1 / 3)


def test_mmengine_own_loader_resumes_a_runner_checkpoint(tmp_path):
    # What a stock mmengine run calls (not the loaders enable_safe_loading
    # routes to): torch.load with torch's default, weights-only from torch
    # 2.6 on, where plain mmengine 0.10.7 cannot read its own checkpoints.
    from mmengine.runner.checkpoint import load_from_local
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(_runner_like_checkpoint(), path)
    checkpoint = load_from_local(path, map_location='cpu')
    hub = MessageHub('safe_load_stock')
    hub.load_state_dict(checkpoint['message_hub'])
    assert hub.get_scalar('train/loss').current() == pytest.approx(1 / 3)


def _as_if_pickled_by(numpy_module: str, path: str, out: str) -> str:
    """Rewrite the numpy globals of checkpoint ``path`` to the module name
    ``numpy_module`` (``numpy.core.multiarray`` as numpy 1 pickles them,
    ``numpy._core.multiarray`` as numpy 2 does)."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, 'w') as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith('data.pkl'):
                for name in (b'numpy.core.multiarray', b'numpy._core.'
                             b'multiarray'):
                    data = data.replace(b'c' + name + b'\n',
                                        b'c' + numpy_module.encode() + b'\n')
                assert numpy_module.encode() in data
            dst.writestr(info, data)
    return out


@pytest.mark.parametrize('numpy_module',
                         ['numpy.core.multiarray', 'numpy._core.multiarray'])
def test_a_file_of_either_numpy_loads_without_the_opt_in(
        tmp_path, numpy_module):
    genuine = str(tmp_path / 'epoch_1.pth')
    torch.save(_runner_like_checkpoint(), genuine)
    path = _as_if_pickled_by(numpy_module, genuine,
                             str(tmp_path / 'renamed.pth'))
    for checkpoint in (load_checkpoint_file(path),
                       torch.load(path, weights_only=True)):
        hub = checkpoint['message_hub']
        assert hub['log_scalars']['train/loss'].mean() == \
            pytest.approx(11 / 18)
        assert hub['runtime_info']['best_score'] == 0.5
        assert isinstance(hub['runtime_info']['best_score'], np.float64)


@pytest.mark.parametrize('kind', PAYLOADS)
def test_a_malicious_file_is_refused_and_nothing_runs(tmp_path, kind):
    marker = marker_path(tmp_path)
    path = save_malicious(str(tmp_path / 'evil.pth'), marker, kind=kind)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(path)
    assert not osp.exists(marker)
    wanted = 'posix.system' if kind == 'os.system' else \
        'tests.fixtures.malicious.touch'
    assert info.value.wanted == wanted
    message = str(info.value)
    assert '\n' not in message
    assert message.startswith(f'Refusing to load {path}: its pickle asks '
                              f'for {wanted},')
    assert f'{TRUST_ENV}=1' in message
    # The file really runs its payload when unpickled in full.
    torch.load(path, weights_only=False)
    assert osp.exists(marker)


def test_getattr_is_answered_for_history_buffer_statistics_only(tmp_path):
    from mmengine.logging import HistoryBuffer

    from tests.fixtures.malicious import RunsOnLoad
    marker = marker_path(tmp_path)
    path = str(tmp_path / 'getattr.pth')
    torch.save({'f': RunsOnLoad(getattr, (HistoryBuffer, '__init__'))}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(path)
    assert info.value.wanted == ('builtins.getattr(mmengine.logging.'
                                 'history_buffer.HistoryBuffer.__init__)')
    torch.save({'f': RunsOnLoad(getattr, (HistoryBuffer, 'mean'))}, path)
    assert load_checkpoint_file(path)['f'] is HistoryBuffer.mean
    assert not osp.exists(marker)


@pytest.mark.parametrize('content', [b'', b'not a checkpoint\n', 'half'])
def test_a_file_that_is_no_checkpoint_gets_one_line(tmp_path, content):
    path = str(tmp_path / 'broken.pth')
    if content == 'half':
        buffer = io.BytesIO()
        torch.save({'w': torch.ones(100)}, buffer)
        content = buffer.getvalue()[:len(buffer.getvalue()) // 2]
    with open(path, 'wb') as f:
        f.write(content)
    with pytest.raises(CheckpointLoadError) as info:
        load_checkpoint_file(path, mmap=True)
    message = str(info.value)
    assert message.startswith(f'Cannot load {path} as a PyTorch checkpoint')
    assert message.endswith('it is not a file that torch.save wrote, or it '
                            'is incomplete.')
    assert '\n' not in message


def test_a_failed_download_gets_one_line(tmp_path, monkeypatch):
    from urllib.error import URLError

    def download(url, dst, hash_prefix=None, progress=True):
        raise URLError('no network')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    with pytest.raises(CheckpointLoadError) as info:
        _load_checkpoint('https://example.org/w.pth', logger='silent')
    assert_line(
        str(info.value), 'Cannot read https://example.org/w.pth', 'URLError',
        'no network')


def test_legacy_format_loads_with_mmap_asked(tmp_path):
    path = str(tmp_path / 'legacy.pth.tar')
    torch.save({'w': torch.ones(2)},
               path,
               _use_new_zipfile_serialization=False)
    assert torch.equal(
        load_checkpoint_file(path, mmap=True)['w'], torch.ones(2))


def _warnings(records):
    return [r.getMessage() for r in records if r.levelno == logging.WARNING]


def test_the_opt_in_loads_a_trusted_file_and_says_so_once(
        tmp_path, monkeypatch):
    path = save_with_datetime(str(tmp_path / 'trusted.pth'))
    with pytest.raises(UnsafeCheckpointError, match='datetime.datetime'):
        load_checkpoint_file(path)

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    monkeypatch.setenv(TRUST_ENV, '1')
    try:
        for _ in range(2):
            checkpoint = load_checkpoint_file(path)
            assert checkpoint['meta']['saved'].year == 2021
        # mmengine's loaders too, e.g. the local scheme.
        assert _load_checkpoint(path, logger='silent')['meta']['saved']
    finally:
        logger.removeHandler(handler)
    assert _warnings(records) == [
        f'Loaded {path} with full pickle ({TRUST_ENV}=1): it asks for '
        'datetime.datetime, which weights-only loading refuses.'
    ]
    # A genuine file needs no full pickle, and nothing is said.
    genuine = str(tmp_path / 'genuine.pth')
    torch.save({'state_dict': {'w': torch.ones(1)}}, genuine)
    records.clear()
    load_checkpoint_file(genuine)
    assert _warnings(records) == []


def test_every_mmengine_scheme_is_routed():
    schemes = CheckpointLoader._schemes
    assert set(safe_load.SCHEMES) <= set(schemes)
    for prefix, loader in schemes.items():
        assert loader.__module__ == 'mmrla.engine.safe_load', prefix


@pytest.fixture
def mocked_downloads(tmp_path, monkeypatch):
    """torch.hub "downloads" ``https://example.org/<name>`` (and the
    torchvision weights' URLs) from ``served/<name>``, into a fresh hub
    cache."""
    served = tmp_path / 'served'
    served.mkdir()
    requested = []

    def download(url, dst, hash_prefix=None, progress=True):
        requested.append(url)
        shutil.copyfile(served / url.rsplit('/', 1)[1], dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    return served, requested


def test_http_sources_load_weights_only(tmp_path, mocked_downloads):
    served, requested = mocked_downloads
    marker = marker_path(tmp_path)
    torch.save(_runner_like_checkpoint(), served / 'genuine.pth')
    save_malicious(str(served / 'evil.pth'), marker)
    checkpoint = _load_checkpoint(
        'https://example.org/genuine.pth', logger='silent')
    assert checkpoint['meta']['iter'] == 3
    with pytest.raises(
            UnsafeCheckpointError,
            match='Refusing to load http://example.org/evil.pth'):
        _load_checkpoint('http://example.org/evil.pth', logger='silent')
    assert not osp.exists(marker)
    assert requested == [
        'https://example.org/genuine.pth', 'http://example.org/evil.pth'
    ]


def test_torchvision_sources_load_weights_only(tmp_path, mocked_downloads):
    from mmengine.runner.checkpoint import get_torchvision_models
    served, requested = mocked_downloads
    url = get_torchvision_models()['resnet18']
    name = url.rsplit('/', 1)[1]
    marker = marker_path(tmp_path)
    save_malicious(str(served / name), marker)
    with pytest.raises(UnsafeCheckpointError, match=f'Refusing to load {url}'):
        _load_checkpoint('torchvision://resnet18', logger='silent')
    assert not osp.exists(marker)

    import torchvision
    weights = torchvision.models.resnet18().state_dict()
    torch.save(weights, served / name)
    shutil.rmtree(osp.join(torch.hub.get_dir(), 'checkpoints'))
    loaded = _load_checkpoint('torchvision://resnet18', logger='silent')
    assert loaded.keys() == weights.keys()
    assert torch.equal(loaded['fc.weight'], weights['fc.weight'])
    assert requested == [url, url]


def test_object_storage_sources_load_weights_only(tmp_path, monkeypatch):
    marker = marker_path(tmp_path)
    files = {
        's3://bucket/genuine.pth': str(tmp_path / 'genuine.pth'),
        's3://bucket/evil.pth':
        save_malicious(str(tmp_path / 'evil.pth'), marker)
    }
    torch.save({'state_dict': {
        'w': torch.ones(1)
    }}, files['s3://bucket/'
              'genuine.pth'])

    class Backend:

        def get(self, uri):
            with open(files[uri], 'rb') as f:
                return f.read()

    import mmengine.fileio
    monkeypatch.setattr(mmengine.fileio, 'get_file_backend',
                        lambda *args, **kwargs: Backend())
    assert _load_checkpoint(
        's3://bucket/genuine.pth', logger='silent')['state_dict']['w'] == 1
    with pytest.raises(
            UnsafeCheckpointError,
            match='Refusing to load s3://bucket/evil.pth'):
        _load_checkpoint('s3://bucket/evil.pth', logger='silent')
    assert not osp.exists(marker)
