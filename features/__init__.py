"""Embed image folders with a pretrained CNN into a content-addressed store of HDF5 segments."""

from .exceptions import (
    ConfigError,
    FeaturesError,
    ImageReadError,
    StoreError,
    WeightsUnavailableError,
)
from .extract import ExtractionReport, extract, extract_vectors
from .failures import Failure
from .files import Listing, list_images
from .hashing import derived_key, sha256_file
from .images import is_image_file, read_image
from .networks.backbones import Backbone, create_backbone, supported_archs
from .networks.extractor import Extractor, create_extractor
from .preprocess import Preprocessing
from .store import FeatureStore, MissingVectors, StoredVectors, StoreWriter

__all__ = [
    "Backbone",
    "ConfigError",
    "ExtractionReport",
    "Extractor",
    "Failure",
    "FeatureStore",
    "FeaturesError",
    "ImageReadError",
    "MissingVectors",
    "Listing",
    "Preprocessing",
    "StoreError",
    "StoreWriter",
    "StoredVectors",
    "WeightsUnavailableError",
    "create_backbone",
    "create_extractor",
    "derived_key",
    "extract",
    "extract_vectors",
    "is_image_file",
    "list_images",
    "read_image",
    "sha256_file",
    "supported_archs",
]
