"""assetgen: a build tool for generated images."""

__version__ = "0.1.0"
