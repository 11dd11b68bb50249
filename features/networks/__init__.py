"""Networks: backbones cut at their pooled feature, the extractor that runs one, its devices,
precisions and CPU runtimes (the ONNX export and its int8 model). Imports only from the
features package's top-level modules (constants, exceptions, preprocessing, hashing, images)."""
