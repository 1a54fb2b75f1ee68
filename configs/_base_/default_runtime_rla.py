# mmrla's addition to the default runtimes of mmpretrain and mmdet:
# ExactResumeHook saves the random generators and the position in the data
# with every checkpoint, so that `tools/train.py --resume` ends with the
# weights of an uninterrupted run (docs/training.md, "Resuming training").
# The configs import mmrla.engine (custom_imports), which registers the hook.
custom_hooks = [dict(type='ExactResumeHook')]
