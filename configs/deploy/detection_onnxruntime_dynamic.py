# Faster R-CNN, RetinaNet and other mmdet detectors to ONNX Runtime.
_base_ = ['./_base_/detection_dynamic.py', './_base_/onnxruntime.py']
