from .compile_backbone_hook import CompileBackboneHook
from .exact_resume_hook import ExactResumeHook

__all__ = ['CompileBackboneHook', 'ExactResumeHook']
