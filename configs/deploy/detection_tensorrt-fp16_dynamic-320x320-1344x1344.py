# Detectors to TensorRT fp16 (untested: needs an NVIDIA GPU).
_base_ = [
    './_base_/detection_dynamic.py',
    './_base_/tensorrt-fp16_dynamic-320x320-1344x1344.py'
]
