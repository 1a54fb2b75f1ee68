from .distributed import MMRLADistributedDataParallel, setup_cpu_distributed
from .hooks import CompileBackboneHook, ExactResumeHook
from .safe_load import enable_safe_loading

__all__ = [
    'CompileBackboneHook', 'ExactResumeHook', 'MMRLADistributedDataParallel',
    'enable_safe_loading', 'setup_cpu_distributed'
]
