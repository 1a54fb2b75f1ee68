"""Synthetic data sets that need no download: :mod:`.shapes`, an instance
segmentation set in COCO format, and :mod:`.cifar_shapes`, 32x32 shapes in
CIFAR's pickle format."""
from .cifar_shapes import (FORMATS, MANIFEST, accept_generated_cifar,
                           dataset_format, disable_md5_checks, draw_shape,
                           generated_folder, make_split, write_cifar,
                           write_image_folders)
from .shapes import (CLASSES, draw_image, generate_shapes, generate_split,
                     polygon_mask, random_colour, random_polygon,
                     textured_background)

__all__ = [
    'MANIFEST', 'accept_generated_cifar', 'generated_folder',
    'write_image_folders', 'CLASSES', 'FORMATS', 'dataset_format',
    'disable_md5_checks', 'draw_image', 'draw_shape', 'generate_shapes',
    'generate_split', 'make_split', 'polygon_mask', 'random_colour',
    'random_polygon', 'textured_background', 'write_cifar'
]
