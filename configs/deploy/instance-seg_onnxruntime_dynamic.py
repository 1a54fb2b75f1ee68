# Mask R-CNN to ONNX Runtime.
_base_ = ['./_base_/instance-seg_dynamic.py', './_base_/onnxruntime.py']
