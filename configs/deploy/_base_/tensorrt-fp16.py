# TensorRT in fp16 (untested: needs an NVIDIA GPU with TensorRT and
# mmdeploy's TensorRT ops).
backend_config = dict(
    type='tensorrt',
    common_config=dict(fp16_mode=True, max_workspace_size=1 << 30))
