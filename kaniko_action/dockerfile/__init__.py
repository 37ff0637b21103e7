"""Models of the build's inputs as kaniko reads them, pure: the Dockerfile's instructions
(parser.py), `.dockerignore` rules exactly as kaniko applies them (ignore.py), the Go regular
expressions those rules compile to (goregex.py), and the Dockerfile rewritten for
`build-contexts` (named.py)."""
