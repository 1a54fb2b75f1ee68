from .distributed import MMRLADistributedDataParallel, setup_cpu_distributed
from .hooks import CompileBackboneHook, ExactResumeHook

__all__ = [
    'CompileBackboneHook', 'ExactResumeHook', 'MMRLADistributedDataParallel',
    'setup_cpu_distributed'
]
