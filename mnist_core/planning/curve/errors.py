"""The one error every part of the learning curve raises for a request, fit or file that makes no sense."""


class CurveError(ValueError):
    """A learning-curve request, fit or file that makes no sense; the message says why."""
