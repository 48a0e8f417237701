"""The pretrained image backbones ``model.family: transfer`` may name: every ``keras.applications``
model, by snake_case name, with what the spec must know of it before TensorFlow is loaded.

``preprocessing`` says how raw pixels (0-255) become the backbone's input: ``included`` (the
model rescales them itself), ``tf`` (to [-1, 1]), ``torch`` (to [0, 1], then ImageNet's mean and
spread per channel) or ``caffe`` (RGB to BGR, then ImageNet's mean per channel subtracted).
``min_size`` is the smallest square input the architecture accepts without its top.
"""

from __future__ import annotations

from dataclasses import dataclass

from autodl.spec.registry import Registry

WEIGHTS_CHOICES = ("imagenet", "none")
"""What ``model.weights`` may say besides a path to a weights file."""


@dataclass(frozen=True)
class Backbone:
    """One ``keras.applications`` model: its spec name, Keras function, input scaling, smallest side."""

    name: str
    keras_name: str
    preprocessing: str
    min_size: int = 32


BACKBONES: Registry[Backbone] = Registry("backbone", "model.backbone", [
    Backbone("mobilenet", "MobileNet", "tf"),
    Backbone("mobilenet_v2", "MobileNetV2", "tf"),
    Backbone("mobilenet_v3_small", "MobileNetV3Small", "included"),
    Backbone("mobilenet_v3_large", "MobileNetV3Large", "included"),
    Backbone("efficientnet_b0", "EfficientNetB0", "included"),
    Backbone("efficientnet_b1", "EfficientNetB1", "included"),
    Backbone("efficientnet_b2", "EfficientNetB2", "included"),
    Backbone("efficientnet_b3", "EfficientNetB3", "included"),
    Backbone("efficientnet_b4", "EfficientNetB4", "included"),
    Backbone("efficientnet_b5", "EfficientNetB5", "included"),
    Backbone("efficientnet_b6", "EfficientNetB6", "included"),
    Backbone("efficientnet_b7", "EfficientNetB7", "included"),
    Backbone("efficientnet_v2_b0", "EfficientNetV2B0", "included"),
    Backbone("efficientnet_v2_b1", "EfficientNetV2B1", "included"),
    Backbone("efficientnet_v2_b2", "EfficientNetV2B2", "included"),
    Backbone("efficientnet_v2_b3", "EfficientNetV2B3", "included"),
    Backbone("efficientnet_v2_s", "EfficientNetV2S", "included"),
    Backbone("efficientnet_v2_m", "EfficientNetV2M", "included"),
    Backbone("efficientnet_v2_l", "EfficientNetV2L", "included"),
    Backbone("resnet50", "ResNet50", "caffe"),
    Backbone("resnet101", "ResNet101", "caffe"),
    Backbone("resnet152", "ResNet152", "caffe"),
    Backbone("resnet50_v2", "ResNet50V2", "tf"),
    Backbone("resnet101_v2", "ResNet101V2", "tf"),
    Backbone("resnet152_v2", "ResNet152V2", "tf"),
    Backbone("densenet121", "DenseNet121", "torch"),
    Backbone("densenet169", "DenseNet169", "torch"),
    Backbone("densenet201", "DenseNet201", "torch"),
    Backbone("convnext_tiny", "ConvNeXtTiny", "included"),
    Backbone("convnext_small", "ConvNeXtSmall", "included"),
    Backbone("convnext_base", "ConvNeXtBase", "included"),
    Backbone("convnext_large", "ConvNeXtLarge", "included"),
    Backbone("convnext_xlarge", "ConvNeXtXLarge", "included"),
    Backbone("vgg16", "VGG16", "caffe"),
    Backbone("vgg19", "VGG19", "caffe"),
    Backbone("xception", "Xception", "tf", min_size=71),
    Backbone("inception_v3", "InceptionV3", "tf", min_size=75),
    Backbone("inception_resnet_v2", "InceptionResNetV2", "tf", min_size=75),
    Backbone("nasnet_mobile", "NASNetMobile", "tf"),
    Backbone("nasnet_large", "NASNetLarge", "tf"),
])
