# RLA-ResNet, RLA-MobileNetV2 and other mmpretrain classifiers to ONNX
# Runtime.
_base_ = ['./_base_/classification_dynamic.py', './_base_/onnxruntime.py']
