"""A chosen head taken out of the workbench: backbone and head as one ONNX model that a plain
runtime runs, with its classes, preprocessing and reject thresholds inside. Imports the heads
and `features`; nothing in the pipeline's stages imports it."""
