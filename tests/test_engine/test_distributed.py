import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from mmrla.engine import MMRLADistributedDataParallel, setup_cpu_distributed
from mmrla.errors import UserError
from tests.fixtures.distributed import free_port


def _cfg(**kwargs) -> Config:
    """A runner config; like every config with mmengine's default runtime,
    it has an ``env_cfg`` (here without ``dist_cfg``)."""
    kwargs.setdefault('env_cfg', dict(cudnn_benchmark=False))
    return Config(dict(model=dict(type='Toy'), **kwargs))


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


@pytest.fixture
def single_process_env(monkeypatch, no_gpu):
    """What torchrun sets for a world of one; the process group started by
    the test is destroyed afterwards."""
    for key, value in dict(
            RANK='0',
            WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(key, value)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_no_launcher_changes_nothing(no_gpu):
    cfg = _cfg()
    assert setup_cpu_distributed(cfg, 'none') is False
    assert cfg.to_dict() == _cfg().to_dict()


def test_gpu_machines_keep_mmengine_defaults(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = _cfg()
    assert setup_cpu_distributed(cfg, 'pytorch') is False
    assert 'model_wrapper_cfg' not in cfg
    assert not dist.is_initialized()


@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_other_launchers_are_refused_without_gpus(no_gpu, launcher):
    with pytest.raises(
            UserError, match=f'only --launcher pytorch.*'
            f'not {launcher!r}'):
        setup_cpu_distributed(_cfg(), launcher)


@pytest.mark.parametrize('present,missing', [({}, 'RANK and WORLD_SIZE'),
                                             (dict(RANK='0'), 'WORLD_SIZE')])
def test_missing_torchrun_environment_is_explained(no_gpu, monkeypatch,
                                                   present, missing):
    for key in ('RANK', 'WORLD_SIZE'):
        monkeypatch.delenv(key, raising=False)
    for key, value in present.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UserError) as info:
        setup_cpu_distributed(_cfg(), 'pytorch')
    assert f'needs {missing} in the environment' in str(info.value)
    assert 'tools/dist_train.sh' in str(info.value)


def test_starts_gloo_and_selects_the_cpu_wrapper(single_process_env):
    cfg = _cfg()
    assert setup_cpu_distributed(cfg, 'pytorch') is True
    assert dist.is_initialized() and dist.get_backend() == 'gloo'
    assert cfg.env_cfg == dict(
        cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
    assert cfg.model_wrapper_cfg == dict(
        type='MMRLADistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=False)


def test_config_without_env_cfg(single_process_env):
    cfg = Config(dict(model=dict(type='Toy')))
    assert setup_cpu_distributed(cfg, 'pytorch') is True
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_keeps_the_users_wrapper_settings(single_process_env):
    cfg = _cfg(
        find_unused_parameters=True,
        env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60)),
        model_wrapper_cfg=dict(
            type='MMDistributedDataParallel', broadcast_buffers=True))
    assert setup_cpu_distributed(cfg, 'pytorch') is True
    # nccl cannot run without GPUs; other settings stay.
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=60)
    assert cfg.model_wrapper_cfg == dict(
        type='MMRLADistributedDataParallel',
        broadcast_buffers=True,
        find_unused_parameters=True)
    custom = _cfg(model_wrapper_cfg=dict(type='MyWrapper'))
    setup_cpu_distributed(custom, 'pytorch')
    assert custom.model_wrapper_cfg.type == 'MyWrapper'


def test_wrapper_accepts_cpu_modules(single_process_env):
    from mmengine.model import BaseModel

    class Toy(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.fc(inputs)
            return dict(loss=out.sum()) if mode == 'loss' else out

    setup_cpu_distributed(_cfg(), 'pytorch')
    model = Toy()
    # mmengine passes the local rank as device_ids, which DDP refuses for
    # CPU modules; the wrapper drops it.
    wrapped = MMRLADistributedDataParallel(
        module=model, device_ids=[0], broadcast_buffers=False)
    assert wrapped.device_ids is None
    x = torch.rand(4, 3)
    torch.testing.assert_close(wrapped(x), model(x))
    wrapped(x, mode='loss')['loss'].backward()
    assert model.fc.weight.grad is not None
