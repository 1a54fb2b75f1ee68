from .distributed import MMRLADistributedDataParallel, setup_cpu_distributed

__all__ = ['MMRLADistributedDataParallel', 'setup_cpu_distributed']
