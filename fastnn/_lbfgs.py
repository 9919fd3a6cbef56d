"""Full-batch L-BFGS over a network's flat parameter buffer, through SciPy.

The objective is ``scale · (E(p) + ½ λ Σ w²)``: E the network's loss on all the data
(its reduction), λ the weight decay on the weights (not the biases), as in the
stochastic optimizers; ``scale`` lets a caller take another library's objective (the
estimators follow scikit-learn's, whose tolerances apply to it).  Each evaluation is
one compiled call (:meth:`fastnn.Network.loss_and_gradient`); SciPy's L-BFGS-B moves
the float64 vector of all parameters (the buffer's padding has zero gradient and
stays zero).  SciPy is imported on first use: it is an optional dependency, as in
scikit-learn, which needs it anyway.
"""

import contextlib

import numpy as np


def _scipy_minimize():
    try:
        from scipy.optimize import minimize
    except ImportError as err:  # pragma: no cover - exercised without SciPy only
        raise ImportError('optimizer="lbfgs" needs SciPy; install it with pip install scipy '
                          '(it comes with pip install "fastnn[sklearn]")') from err
    return minimize


def _one_blas_thread(form):
    """BLAS on one thread while L-BFGS runs on the loop form, where threadpoolctl is
    installed (it comes with scikit-learn): L-BFGS-B's vector operations are far too
    small for threads, and the BLAS threads that spin after each of them take the
    cores from the compiled evaluations between them (docs/design-notes.md).  The
    matrix form's evaluations are BLAS calls themselves: their threads stay."""
    if form != "loops":
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - exercised without threadpoolctl only
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class _Stop(Exception):
    """Raised by a callback to end the iterations (SciPy < 1.11 has no other way)."""


def minimize(net, data, weight_decay=0.0, max_iter=200, max_fun=15000, tol=1e-4, scale=1.0, callback=None,
             grad_scale=None, value_decay=None):
    """Minimize the objective of the module docstring from ``net``'s parameters.

    Parameters
    ----------
    net : fastnn.Network
    data : fastnn.network.TrainingData
        From ``net.training_data(X, T)``.
    weight_decay : float >= 0
    max_iter, max_fun : int >= 1
        At most this many iterations, and evaluations of the objective.
    tol : float >= 0
        Stop when every component of the projected gradient is at most ``tol``
        (L-BFGS-B's ``gtol``).
    scale : float > 0
    grad_scale, value_decay : float, optional
        Another scale for the gradient, and another λ for the penalty's value (the
        gradient's is ``weight_decay``): scikit-learn's multi-output regression
        takes a gradient K times that of the loss it reports, and the estimators
        reproduce it.  Default: ``scale`` and ``weight_decay``.
    callback : callable, optional
        ``callback(iteration, data_loss)`` after each iteration (counted from 0),
        ``data_loss`` being E at the new parameters; returning True stops.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``fun`` (the objective), ``nit``, ``nfev``, ``status``, ``message``; the
        network holds the parameters of ``x``.

    Raises
    ------
    FloatingPointError
        If the objective is not finite where L-BFGS ends (a non-finite start, or a
        diverging model): the parameters are then those the call started with.
    """
    run = _scipy_minimize()
    grad_scale = scale if grad_scale is None else grad_scale
    value_decay = weight_decay if value_decay is None else value_decay
    weights = [layer.w.reshape(-1) for layer in net.dense_layers]
    start = net.params.copy()
    last = {}

    def objective(p):
        net.params[...] = p
        loss, grad = net.loss_and_gradient(data, weight_decay)
        last["x"], last["loss"] = p.copy(), loss
        if value_decay:
            loss += 0.5 * value_decay * sum(float(np.dot(w, w)) for w in weights)
        last["fun"] = scale * loss
        return last["fun"], np.multiply(grad, grad_scale, dtype=np.float64)

    iteration = [0]

    def step(xk):
        if callback is None:
            return
        if not np.array_equal(last.get("x"), xk):
            objective(xk)  # the line search's last point was not xk: evaluate it
        done = callback(iteration[0], last["loss"])
        iteration[0] += 1
        if done:
            raise _Stop

    options = {"maxiter": int(max_iter), "maxfun": int(max_fun), "gtol": float(tol)}
    with net.exclusive(), _one_blas_thread(net.form):
        try:
            try:
                result = run(objective, start.astype(np.float64), method="L-BFGS-B", jac=True, options=options,
                             callback=step)
            except _Stop:
                result = _stopped(last, iteration[0])
            if not np.isfinite(result.fun):
                raise FloatingPointError(f"L-BFGS ended at a non-finite loss ({result.fun}); the parameters "
                                         "are those it started from")
            net.params[...] = result.x
        except BaseException:
            net.params[...] = start
            raise
    return result


def _stopped(last, iterations):
    """The result of iterations a callback stopped: the point it was given."""
    from scipy.optimize import OptimizeResult

    return OptimizeResult(x=last["x"], fun=last["fun"], nit=iterations, status=99, success=False,
                          message="stopped by a callback")
