from .distributed import MMRLADistributedDataParallel, setup_cpu_distributed
from .hooks import ExactResumeHook

__all__ = [
    'ExactResumeHook', 'MMRLADistributedDataParallel', 'setup_cpu_distributed'
]
