"""What goes into the chroot and what comes out: the build context as kaniko reads it
(context.py), the Dockerfile, certificates, helper files and the base-image cache (files.py),
build secrets (secrets.py); and, out of it without following a link, the image files the build
wrote (collect.py, exports.py)."""
