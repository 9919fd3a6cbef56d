"""Network files: the ``.npz`` archive that :meth:`fastnn.Network.save` writes and
:meth:`fastnn.Network.load` reads.

The archive holds plain arrays only (never pickled objects): a format marker and
version, the layer names and widths, the loss, reduction and dtype, and ``w0, b0,
w1, b1, ...`` per Dense layer.  A file is written to a temporary name and renamed
into place, so a failed save never leaves half a file where a good one was.  Every
array is read in full before anything is built (the archive's CRC-32 of each array
is checked as it is read), and every defect is a ``ValueError`` that names the file
and what is wrong with it.
"""

import os
import uuid

import numpy as np

from ._codes import N_IN, N_OUT
from .layers import BY_NAME, Dense

FORMAT = "fastnn-network"
FORMAT_VERSION = 1


def save(net, path):
    """Write ``net`` to ``path`` (see the module docstring)."""
    arrays = {
        "format": np.array(FORMAT),
        "version": np.array(FORMAT_VERSION),
        "layers": np.array([layer.name for layer in net.layers]),
        "widths": np.array([[row[N_IN], row[N_OUT]] for row in net.spec], dtype=np.int64),
        "loss": np.array(net.loss_name),
        "reduction": np.array(net.reduction),
        "dtype": np.array(net.dtype.name),
    }
    for k, (w, b) in enumerate(net.parameters()):
        arrays[f"w{k}"], arrays[f"b{k}"] = w, b
    path = os.fspath(path)
    tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read(path):
    """Every array of the archive at ``path``, by name, each read in full.

    Raises
    ------
    OSError
        If the file does not exist or cannot be opened (its own message).
    ValueError
        If it is not an ``.npz`` archive, or an array in it cannot be read (cut
        short, a damaged byte, a pickled object): the message names the file, and
        the array where there is one.
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as err:
        raise ValueError(f"{path}: not a readable .npz file ({type(err).__name__}: {err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # an .npy file loads as an array
        raise ValueError(f"{path}: not a fastnn network file (an .npy array, not an .npz archive)")
    arrays = {}
    with archive:
        for name in archive.files:
            try:
                arrays[name] = archive[name]
            except Exception as err:  # a CRC mismatch, a member cut short, a damaged header
                raise ValueError(f"{path}: array {name!r} cannot be read, the file is damaged "
                                 f"({type(err).__name__}: {err})") from None
    return arrays


def load(network_class, path, form):
    """The network in the file at ``path``, built as ``network_class(..., form=form)``."""
    path = os.fspath(path)
    arrays = read(path)

    def need(key):
        if key not in arrays:
            raise ValueError(f"{path}: missing array {key!r} (has {', '.join(sorted(arrays))})")
        return arrays[key]

    def text(key):
        value = need(key)
        if value.ndim != 0 or value.dtype.kind != "U":
            raise ValueError(f"{path}: array {key!r} must be a string, got {value.dtype} {value.shape}")
        return str(value)

    if "format" not in arrays or arrays["format"].dtype.kind != "U" or str(arrays["format"]) != FORMAT:
        raise ValueError(f"{path}: not a fastnn network file (no format marker {FORMAT!r})")
    version = need("version")
    if version.ndim != 0 or version.dtype.kind not in "iu":
        raise ValueError(f"{path}: array 'version' must be an integer, got {version.dtype} {version.shape}")
    if int(version) != FORMAT_VERSION:
        raise ValueError(f"{path}: format version {int(version)} is not supported (this fastnn reads {FORMAT_VERSION})")
    names, widths = need("layers"), need("widths")
    if names.ndim != 1 or names.dtype.kind != "U":
        raise ValueError(f"{path}: 'layers' must be a 1-D array of layer names, got {names.dtype} {names.shape}")
    if widths.ndim != 2 or widths.shape != (len(names), 2) or widths.dtype.kind not in "iu":
        raise ValueError(f"{path}: 'widths' must be integers of shape ({len(names)}, 2), got {widths.dtype} {widths.shape}")
    layers = []
    try:
        for name, (n_in, n_out) in zip(names.tolist(), widths.tolist()):
            if name == Dense.name:
                layers.append(Dense(n_in, n_out))
            elif name in BY_NAME:
                layers.append(BY_NAME[name]())
            else:
                raise ValueError(f"unknown layer {name!r}")
        net = network_class(layers, loss=text("loss"), reduction=text("reduction"), form=form, dtype=text("dtype"))
    except (TypeError, ValueError) as err:
        if str(err).startswith(path):
            raise
        raise ValueError(f"{path}: {err}") from None
    for k, layer in enumerate(net.dense_layers):
        for attr in ("w", "b"):
            value = need(f"{attr}{k}")
            target = getattr(layer, attr)
            if value.shape != target.shape or value.dtype != target.dtype:
                raise ValueError(f"{path}: array '{attr}{k}' must be {target.dtype} of shape {target.shape}, "
                                 f"got {value.dtype} {value.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"{path}: array '{attr}{k}' holds NaN or infinity")
            setattr(layer, attr, value)
    return net
