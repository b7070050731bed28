"""Errors the pipeline raises for bad input (the service maps them to 4xx answers)."""


class NoSpeechError(ValueError):
    """The recording holds no usable speech: silence, noise, or too little voice."""
