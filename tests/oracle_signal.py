"""Pure-NumPy float64 oracles of scipy.signal.convolve2d / correlate2d, written from the formula.

Convolution: full(i, j) = sum_{a, b} X(i - a, j - b) K(a, b); correlation:
full(i, j) = sum_{a, b} X(i - (KH - 1) + a, j - (KW - 1) + b) K(a, b), where X is in1 extended by
np.pad: 'fill' -> constant fillvalue, 'wrap' -> periodic, 'symm' -> mirrored with the edge sample
repeated. 'same' takes in1's shape starting at full index (K - 1)//2 (convolution) or K//2
(correlation), SciPy's centring; 'valid' starts at K - 1 and swaps the operands (and, for
correlation, reverses the result) as SciPy does.
"""
import numpy as np

_PAD_MODE = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap",
             "symm": "symmetric", "symmetric": "symmetric"}


def _full(x, k, convolve, boundary, fillvalue):
    (h, w), (kh, kw) = x.shape, k.shape
    oh, ow = h + kh - 1, w + kw - 1
    out = np.zeros((oh, ow))
    if k.size == 0 or oh <= 0 or ow <= 0:
        return out
    mode = _PAD_MODE[boundary]
    widths = ((kh - 1, kh - 1), (kw - 1, kw - 1))
    if mode == "constant":
        p = np.pad(x, widths, mode="constant", constant_values=fillvalue)
    else:
        p = np.pad(x, widths, mode=mode)  # p[r, c] = X(r - (kh - 1), c - (kw - 1))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf -> NaN is the expected answer
        _accumulate(out, p, k, convolve)
    return out


def _accumulate(out, p, k, convolve):
    (kh, kw), (oh, ow) = k.shape, out.shape
    for a in range(kh):
        for b in range(kw):
            if convolve:  # X(i - a, j - b)
                out += p[kh - 1 - a:kh - 1 - a + oh, kw - 1 - b:kw - 1 - b + ow] * k[a, b]
            else:  # X(i - (kh - 1) + a, j - (kw - 1) + b)
                out += p[a:a + oh, b:b + ow] * k[a, b]


def oracle_conv2d(in1, in2, mode="full", boundary="fill", fillvalue=0.0, convolve=True):
    x, k = np.asarray(in1, np.float64), np.asarray(in2, np.float64)
    swapped = False
    if mode == "valid" and not all(a >= b for a, b in zip(x.shape, k.shape)):
        assert all(b >= a for a, b in zip(x.shape, k.shape))
        x, k, swapped = k, x, True
    full = _full(x, k, convolve, boundary, fillvalue)
    (h, w), (kh, kw) = x.shape, k.shape
    if mode == "full":
        return full
    if mode == "same":
        r0, c0 = ((kh - 1) // 2, (kw - 1) // 2) if convolve else (kh // 2, kw // 2)
        return full[r0:r0 + h, c0:c0 + w]
    out = full[kh - 1:h, kw - 1:w]
    return out[::-1, ::-1] if swapped and not convolve else out


def oracle_convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0.0):
    return oracle_conv2d(in1, in2, mode, boundary, fillvalue, convolve=True)


def oracle_correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0.0):
    return oracle_conv2d(in1, in2, mode, boundary, fillvalue, convolve=False)
