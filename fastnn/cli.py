"""The ``fastnn`` command line: ``fastnn train`` and ``fastnn compare``.

``fastnn train`` trains a multilayer perceptron on the bundled digits (the default) or
on a CSV / NPZ / IDX file, then reports the test score, the median time per epoch and
the final training loss.  ``fastnn compare`` times the loop form against the matrix
form (:mod:`fastnn.compare`).  ``python -m fastnn`` is the same program.

Preprocessing (``--scale auto``): the bundled digits are divided by 16 (pixel counts
0..16 to [0, 1]); IDX images are divided by the training split's largest value
(0..255 to [0, 1] for MNIST); CSV and NPZ features are standardized with the
training split's mean and standard deviation (a constant feature is only centered).
Regression targets are standardized the same way for training and reported in their
own units.  A model written with ``--save`` has this scaling folded into its first
and last Dense layers, so it takes raw inputs and predicts raw targets.

Exit codes: 0 success, 1 a data, training or file error (one ``fastnn: error:`` line
on stderr), 2 a usage error (argparse), or ``--plot`` without matplotlib.
"""

import argparse
import json
import os
import statistics
import sys

import numpy as np

__all__ = ["main", "build_parser"]

PROG = "fastnn"
ACTIVATIONS = ("relu", "tanh", "sigmoid", "identity")
PLOT_HINT = 'pip install "fastnn[plot]"'


class CLIError(Exception):
    """A problem to report as one ``fastnn: error:`` line, with an exit code."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


# -- argument types: a bad value is an argparse usage error (exit 2) -------------------------


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _float_in(low, high, low_open=False, high_open=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not np.isfinite(value) or too_low or too_high:
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be in {interval}, got {text}")
        return value

    return parse


def _hidden(text):
    """``"128,64"`` -> [128, 64]; ``""`` or ``"0"`` -> [] (no hidden layer)."""
    text = text.strip()
    if text in ("", "0"):
        return []
    widths = []
    for part in text.split(","):
        try:
            width = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated layer widths such as 128,64, got {text!r}") from None
        if width < 1:
            raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {width}")
        widths.append(width)
    return widths


def _test_size(text):
    """A fraction in (0, 1), or a whole number of test samples."""
    try:
        return _int_at_least(1)(text)
    except argparse.ArgumentTypeError:
        pass
    return _float_in(0, 1, low_open=True, high_open=True)(text)


def _size(text):
    parts = text.split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected n,n_in,n_out such as 32,64,128, got {text!r}")
    return tuple(_int_at_least(1)(p) for p in parts)


def _kernels(text):
    from .compare import KERNELS

    names = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in names if k not in KERNELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown kernel(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(KERNELS)}")
    return names


# -- the parser ------------------------------------------------------------------------------


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="Multilayer perceptrons trained with Numba loops, next to a NumPy reference.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,compare}")
    sub.required = True

    train = sub.add_parser(
        "train", help="train a network and report its test score",
        description="Train a multilayer perceptron (softmax cross-entropy for integer labels, "
                    "MSE for float targets) and report its test score and speed.",
        epilog="Features are scaled before training (--scale auto: digits /16, IDX images by their "
               "maximum, CSV/NPZ standardized with the training split's mean and std); a --save'd "
               "model has that scaling folded in and takes raw inputs.")
    train.add_argument("--data", default="digits",
                       help='"digits" (bundled, default), PATH.csv[.gz] (label in the last column), '
                            'PATH.npz (arrays X, y), or IMAGES,LABELS (two IDX files)')
    train.add_argument("--hidden", type=_hidden, default=[128], metavar="W1,W2,...",
                       help='hidden layer widths (default 128; "" or 0 for none)')
    train.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                       help="activation of the hidden layers (default relu)")
    train.add_argument("--epochs", type=_int_at_least(1), default=20, help="default 20")
    train.add_argument("--batch-size", type=_int_at_least(1), default=32, help="default 32")
    train.add_argument("--lr", type=_float_in(0, np.inf, low_open=True, high_open=True), default=None,
                       help="learning rate (default: sgd 0.1, or 0.01 for regression; adam 0.001)")
    train.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="default sgd")
    train.add_argument("--momentum", type=_float_in(0, 1, high_open=True), default=0.0,
                       help="sgd momentum in [0, 1) (default 0)")
    train.add_argument("--form", choices=("loops", "matrix"), default="loops",
                       help="loops (Numba, default) or matrix (NumPy reference)")
    train.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="default float32")
    train.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                       help="auto (default): integer labels are classes, float labels regression targets")
    train.add_argument("--scale", choices=("auto", "standard", "max", "none"), default="auto",
                       help="feature scaling (default auto: see below)")
    train.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the shuffling (default 0)")
    train.add_argument("--threads", type=_int_at_least(1), default=None,
                       help="Numba threads (default: all, NUMBA_NUM_THREADS)")
    train.add_argument("--test-size", type=_test_size, default=0.25,
                       help="test fraction in (0, 1) or number of test samples (default 0.25)")
    train.add_argument("--save", metavar="MODEL.npz", help="write the trained network (Network.save)")
    train.add_argument("--plot", metavar="LOSS.png", help="save loss and accuracy curves (needs matplotlib)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_train, parser=train)

    comp = sub.add_parser(
        "compare", help="time the loop form against the matrix form",
        description="Time every kernel in both forms (and a whole training step) and check that the forms "
                    "agree; see fastnn/compare.py.")
    which = comp.add_mutually_exclusive_group()
    which.add_argument("--sizes", choices=("small", "default", "large"), default=None,
                       help="named size list (default: default)")
    which.add_argument("--size", type=_size, action="append", metavar="N,N_IN,N_OUT",
                       help="an explicit size (repeatable)")
    comp.add_argument("--dtype", choices=("float32", "float64", "both"), default=None, help="default both")
    comp.add_argument("--kernels", type=_kernels, default=None, metavar="K1,K2,...",
                      help="only these kernels (default all)")
    comp.add_argument("--repeat", type=_int_at_least(1), default=None,
                      help="timed samples per measurement, median reported (default 5)")
    comp.add_argument("--target", type=_float_in(0, 60, low_open=True), default=None,
                      help="seconds per measurement (default 0.2)")
    comp.add_argument("--threads", type=_int_at_least(1), default=None, help="Numba threads (default: all)")
    comp.add_argument("--json", metavar="OUT.json", help="write the rows and the environment as JSON")
    comp.add_argument("--plot", metavar="COMPARE.png", help="plot speed-up against size (needs matplotlib)")
    comp.add_argument("--quick", action="store_true", help="tiny sizes, float64 only, few repeats (for tests)")
    comp.set_defaults(func=_compare, parser=comp)
    return parser


# -- shared checks, made before any work ---------------------------------------------------------


def _before_work(args, parser, **outputs):
    """The checks both commands make before any work: matplotlib for --plot, --threads,
    and that every output file (``outputs``: option name -> path) can be written."""
    if args.plot:
        _require_matplotlib()
    _set_threads(parser, args.threads)
    for option, path in dict(outputs, plot=args.plot).items():
        if path:
            _check_writable(path, f"--{option}")


def _require_matplotlib():
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise CLIError(f"--plot needs matplotlib, which is not installed; install it with: {PLOT_HINT}",
                       code=2) from None


def _set_threads(parser, threads):
    import numba

    if threads is None:
        return
    limit = numba.config.NUMBA_NUM_THREADS
    if threads > limit:
        parser.error(f"argument --threads: {threads} is more than the {limit} threads Numba started "
                     "with (NUMBA_NUM_THREADS)")
    numba.set_num_threads(threads)


def _check_writable(path, option):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise CLIError(f"{option} {path}: is a folder")


# -- fastnn train ----------------------------------------------------------------------------------


class _Prepared:
    """Split, scaled data and how it was scaled (to report, and to fold into a saved model)."""

    def __init__(self, args):
        from . import data

        X, y = data.load(args.data, dtype=args.dtype)
        self.n_samples, self.n_features = X.shape
        self.regression = self._task(args.task, y)
        if self.regression:
            y = y.astype(np.float64)
            self.classes = None
        else:
            if y.dtype.kind == "f" and not np.all(y == np.round(y)):
                raise CLIError("--task classification needs whole-number labels; these are not")
            self.classes, y = np.unique(y.astype(np.int64), return_inverse=True)
            if len(self.classes) < 2:
                raise CLIError(f"{args.data}: all labels are {self.classes[0]}; classification needs 2 classes or more")
        x_tr, x_te, self.y_train, self.y_test = data.train_test_split(X, y, args.test_size, seed=args.seed)
        self.x_shift, self.x_scale, self.scaling = self._scaling(args, x_tr)
        dtype = np.dtype(args.dtype)
        self.x_train = ((x_tr - self.x_shift) / self.x_scale).astype(dtype)
        self.x_test = ((x_te - self.x_shift) / self.x_scale).astype(dtype)
        self.y_shift, self.y_scale = 0.0, 1.0
        if self.regression:
            self.y_shift, self.y_scale = _mean_std(self.y_train)
            self.t_train = ((self.y_train - self.y_shift) / self.y_scale).astype(dtype)
            self.t_test = ((self.y_test - self.y_shift) / self.y_scale).astype(dtype)
        else:
            self.t_train, self.t_test = self.y_train, self.y_test
        self.n_out = 1 if self.regression else len(self.classes)

    @staticmethod
    def _task(task, y):
        if task == "auto":
            return y.dtype.kind == "f"
        return task == "regression"

    @staticmethod
    def _scaling(args, x_train):
        how = args.scale
        if how == "auto":
            source = os.fspath(args.data)
            if source == "digits":
                return 0.0, 16.0, "divided by 16 (digits pixel counts 0..16)"
            how = "standard" if source.lower().endswith((".csv", ".csv.gz", ".npz")) else "max"
        if how == "standard":
            mean, std = _mean_std(x_train, axis=0)
            return mean, std, "standardized with the training split's mean and std"
        if how == "max":
            top = float(np.max(np.abs(x_train)))
            top = top if top > 0 else 1.0
            return 0.0, top, f"divided by {top:g} (the training split's largest value)"
        return 0.0, 1.0, "not scaled"


def _mean_std(a, axis=None):
    """Mean and standard deviation, a zero deviation replaced by 1 (only centered)."""
    std = np.std(a, axis=axis, dtype=np.float64)
    return np.mean(a, axis=axis, dtype=np.float64), np.where(std > 0, std, 1.0)


def _default_lr(optimizer, regression):
    """0.001 for Adam; for SGD 0.1 on softmax cross-entropy (its curvature is at most 1/2
    per logit) and 0.01 on MSE, whose curvature grows with the width of the last hidden
    layer (0.1 diverges on standardized data with 128 hidden units)."""
    if optimizer == "adam":
        return 0.001
    return 0.01 if regression else 0.1


def _layers(n_in, hidden, activation, n_out):
    from .layers import Identity, ReLU, Sigmoid, Tanh, dense_stack

    act = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "identity": Identity}[activation]
    return dense_stack([n_in, *hidden, n_out], act)


def _export(net, prep, args):
    """A copy of ``net`` that takes raw inputs and predicts raw targets: the feature
    scaling is folded into the first Dense layer and the target scaling into the last."""
    from .network import Network

    copy = Network(_layers(prep.n_features, args.hidden, args.activation, prep.n_out), loss=net.loss_name,
                   form=net.form, dtype=net.dtype)
    params = [(w.astype(np.float64), b.astype(np.float64)) for w, b in net.parameters()]
    # y = ((x - shift) / scale) W + b = x (W / scale[:, None]) + (b - (shift / scale) W)
    w, b = params[0]
    scale = np.broadcast_to(prep.x_scale, (w.shape[0],))
    shift = np.broadcast_to(prep.x_shift, (w.shape[0],))
    params[0] = (w / scale[:, None], b - (shift / scale) @ w)
    # raw target = y_std * y_scale + y_shift
    w, b = params[-1]
    params[-1] = (w * prep.y_scale, b * prep.y_scale + prep.y_shift)
    for layer, (w, b) in zip(copy.dense_layers, params):
        layer.w, layer.b = w, b
    return copy


def _score(net, prep):
    """Test metrics: accuracy for classification, R^2 and MSE (in target units) for regression."""
    if prep.regression:
        pred = net.predict(prep.x_test)[:, 0].astype(np.float64) * prep.y_scale + prep.y_shift
        residual = np.sum((prep.y_test - pred) ** 2)
        total = np.sum((prep.y_test - prep.y_test.mean()) ** 2)
        r2 = 1.0 - residual / total if total > 0 else float("nan")
        return {"r2": float(r2), "mse": float(residual / len(pred))}
    correct = int(np.sum(net.predict_classes(prep.x_test) == prep.y_test))
    return {"accuracy": correct / len(prep.y_test), "correct": correct, "n_test": len(prep.y_test)}


def _header(prep, args, net):
    import numba

    widths = "-".join(str(w) for w in [prep.n_features, *args.hidden, prep.n_out])
    task = (f"regression ({net.loss_name}, 1 output)" if prep.regression
            else f"{prep.n_out} classes ({net.loss_name})")
    act = f" {args.activation}" if args.hidden else ""
    return (f"data {args.data}: {prep.n_samples} x {prep.n_features} ({len(prep.y_train)} train, "
            f"{len(prep.y_test)} test), {task} | network {widths}{act} | form {args.form} | "
            f"{args.dtype} | {_plural(numba.get_num_threads(), 'thread')}")


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def _train(args, parser):
    from .compare import format_seconds
    from .network import Network
    from .train import fit

    _before_work(args, parser, save=args.save)
    if args.momentum and args.optimizer != "sgd":
        parser.error("argument --momentum: applies to --optimizer sgd only")

    try:
        prep = _Prepared(args)
    except (ValueError, TypeError) as err:  # fastnn.data.DataError is a ValueError
        raise CLIError(str(err)) from None
    lr = args.lr if args.lr is not None else _default_lr(args.optimizer, prep.regression)
    net = Network(_layers(prep.n_features, args.hidden, args.activation, prep.n_out),
                  loss="mse" if prep.regression else "softmax_cross_entropy",
                  form=args.form, dtype=args.dtype, seed=args.seed)
    print(_header(prep, args, net))
    print(f"features {prep.scaling}" + ("; targets standardized" if prep.regression else ""))
    print(f"training: {args.epochs} epochs, batch {args.batch_size}, {args.optimizer} lr {lr:g}"
          + (f" momentum {args.momentum:g}" if args.momentum else "")
          + ("" if args.no_progress else " (val_* in the progress bar: the test split)"), flush=True)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            history = fit(net, prep.x_train, prep.t_train, epochs=args.epochs, batch_size=args.batch_size,
                          lr=lr, optimizer=args.optimizer, momentum=args.momentum, seed=args.seed,
                          validation_data=(prep.x_test, prep.t_test), progress=not args.no_progress)
    except FloatingPointError as err:
        history = getattr(err, "history", None)
        done = history.epochs if history is not None else 0
        raise CLIError(f"epoch {done + 1}: {err}") from None
    score = _score(net, prep)
    if prep.regression:
        print(f"test R^2: {score['r2']:.4f}, test MSE: {score['mse']:.6g}")
    else:
        print(f"test accuracy: {100 * score['accuracy']:.2f}% ({score['correct']}/{score['n_test']})")
    seconds = history.seconds
    print(f"median epoch: {format_seconds(statistics.median(seconds))} over {len(seconds)} epochs "
          f"(the first, {format_seconds(seconds[0])}, includes loading or compiling the kernels)")
    print(f"final loss: {history.loss[-1]:.6g} (training, {net.loss_name}"
          + (", standardized targets)" if prep.regression else ")"))
    if args.save:
        _export(net, prep, args).save(args.save)
        extra = "" if prep.regression or np.array_equal(prep.classes, np.arange(prep.n_out)) else (
            f"; output k is label {prep.classes.tolist()}[k]")
        units = ", predicts targets in their own units" if prep.regression else ""
        print(f"saved {args.save} (fastnn.Network.load; takes raw, unscaled features{units}{extra})")
    if args.plot:
        _plot_history(history, prep, args.plot)
        print(f"plot {args.plot}")
    return 0


def _plot_history(history, prep, path):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with_acc = bool(history.val_accuracy)
    fig = Figure(figsize=(10 if with_acc else 6, 4), layout="constrained")
    axes = fig.subplots(1, 2 if with_acc else 1, squeeze=False)[0]
    epochs = np.arange(1, history.epochs + 1)
    axes[0].plot(epochs, history.loss, marker=".", label="training")
    axes[0].plot(epochs, history.val_loss, marker=".", label="test")
    axes[0].set(xlabel="epoch", ylabel="loss" + (" (standardized targets)" if prep.regression else ""),
                yscale="log", title="loss")
    axes[0].legend()
    if with_acc:
        axes[1].plot(epochs, 100 * np.asarray(history.val_accuracy), marker=".", color="C1")
        axes[1].set(xlabel="epoch", ylabel="test accuracy (%)", title="accuracy")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.savefig(path, dpi=120)


# -- fastnn compare -----------------------------------------------------------------------------------


def _compare(args, parser):
    from . import compare

    _before_work(args, parser, json=args.json)
    settings = dict(compare.QUICK) if args.quick else {
        "sizes": compare.SIZES["default"], "dtypes": ["float32", "float64"], "repeat": 5, "target": 0.2}
    if args.sizes:
        settings["sizes"] = compare.SIZES[args.sizes]
    if args.size:
        settings["sizes"] = args.size
    if args.dtype:
        settings["dtypes"] = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    for key in ("repeat", "target"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.kernels:
        settings["kernels"] = args.kernels

    env = compare.environment()  # before any kernel is timed
    print(compare.format_header(env, {"repeat": settings["repeat"], "target_s": settings["target"]}))
    print("\n" + compare.format_columns(), flush=True)
    report = compare.run(progress=lambda row: print(compare.format_row(row), flush=True), env=env, **settings)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
        print(f"\nwrote {args.json}")
    if args.plot:
        compare.plot(report, args.plot)
        print(f"plot {args.plot}")
    return 0


# -- entry point ------------------------------------------------------------------------------------


def main(argv=None):
    """Run the command line; returns the exit code (0 success, 1 error, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args, args.parser)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CLIError as err:
        return _fail(err, err.code)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as err:  # a missing data file, an unwritable --save path, ...
        return _fail(f"{err.filename}: {err.strerror}" if err.filename and err.strerror else err, 1)


def _fail(message, code):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code
