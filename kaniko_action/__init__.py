"""kaniko-build: build and push container images with kaniko inside a disposable chroot."""

__version__ = "3.0.0"
