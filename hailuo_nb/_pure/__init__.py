"""Pure parts, no I/O beyond reading local files: the camera commands and the prompt linter,
the model line-up, request fields, local image checks, take identities, paths and the words
that describe a task's state."""
