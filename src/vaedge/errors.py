"""Typed errors shared by every stage; the CLI turns them into one line and exit code 1."""


class VaedgeError(ValueError):
    """Base class: a problem the user can fix (bad input, bad file, failed gate)."""


class DataError(VaedgeError):
    """A dataset could not be found, read or fitted to the requested shape."""


class TrainingError(VaedgeError):
    """Training could not start, continue or finish (existing run, NaN loss, bad resume)."""


class BundleError(VaedgeError):
    """A bundle or manifest is missing, malformed, tampered with or inconsistent."""


class ParityError(VaedgeError):
    """An exported graph disagrees with Keras beyond its gate."""


class InputError(VaedgeError):
    """An argument to the public API has the wrong shape, dtype, range or value."""


class ExportError(VaedgeError):
    """Keras models could not be loaded, converted or written as a bundle."""


class OutputError(VaedgeError):
    """An output path cannot be written safely: not vaedge's to replace, or not a regular file."""


class SignatureError(BundleError):
    """A bundle's signature is missing or does not verify with the given public key."""


class ClusterError(TrainingError):
    """A multi-worker cluster is misconfigured (TF_CONFIG) or a peer never came up."""
