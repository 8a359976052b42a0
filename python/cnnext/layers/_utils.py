"""Argument normalisation and output-size arithmetic shared by conv and pooling layers."""
import numbers


def int_tuple(value, n, name):
    """An int or a tuple/list of n ints -> tuple of n ints (Keras ``standardize_tuple``)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        values = tuple(value)
    except TypeError:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. "
                         f"Received {name}={value!r}") from None
    if len(values) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                   for v in values):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. "
                         f"Received {name}={value!r}")
    return tuple(int(v) for v in values)


def standardize_padding(padding):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError("The `padding` argument must be a string from 'valid', 'same'. "
                         f"Received: padding={padding!r}")
    return padding.lower()


def standardize_data_format(data_format):
    if data_format is None:
        return "channels_last"
    if data_format == "channels_first":
        raise ValueError("cnnext layers compute in NHWC: only data_format='channels_last' is "
                         f"supported. Received: data_format={data_format!r}")
    if data_format != "channels_last":
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format!r}")
    return data_format


def output_length(length, window, stride, padding, dilation=1):
    """Keras's output size: valid floor((in - k_eff)/s) + 1, same ceil(in/s); None stays None."""
    if length is None:
        return None
    k_eff = dilation * (window - 1) + 1
    if padding == "same":
        return (length - 1) // stride + 1
    return (length - k_eff) // stride + 1
