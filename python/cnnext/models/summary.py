"""``model.summary()``: Keras's table (rich's HEAVY_HEAD box) rendered without rich."""
import shutil
import sys

from ..layers.base_layer import format_shape
from ..layers.input_layer import InputLayer

_UNITS = ["B", "KB", "MB", "GB", "TB", "PB"]


def readable_memory_size(weight_memory_size):
    """Bytes with 1024 units and 2 decimals: ``874.50 KB``."""
    size = float(weight_memory_size)
    for unit in _UNITS:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} {_UNITS[-1]}"


def _weight_bytes(variables):
    return sum(v.value.size * v.value.dtype.itemsize for v in variables)


def _column_widths(line_length, positions):
    """Rich's widths for fixed columns: content + 2 padding, the excess shaved off equally."""
    content, current = [], 0
    for pos in positions:
        pos = int(pos * line_length) if pos <= 1 else int(pos)
        content.append(pos - current)
        current = pos
    widths = [w + 2 for w in content]
    excess = sum(widths) - (line_length - (len(widths) + 1))
    if excess > 0:
        ratios, remaining, total_ratio = [1] * len(widths), excess, len(widths)
        for i, ratio in enumerate(ratios):
            cut = min(widths[i], round(ratio * remaining / total_ratio))
            widths[i] -= cut
            remaining -= cut
            total_ratio -= ratio
    return widths


def _wrap(text, width):
    """Rich's word wrap: break at spaces, fold words longer than the cell."""
    lines, line = [], ""
    for word in text.split(" "):
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


def _rule(left, fill, mid, right, widths):
    return left + mid.join(fill * w for w in widths) + right


def _row(cells, widths, aligns, bar):
    """One table row (several physical lines when a cell wraps)."""
    wrapped = [_wrap(c, w - 2) for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    out = []
    for i in range(height):
        parts = []
        for lines, w, right in zip(wrapped, widths, aligns):
            text = lines[i] if i < len(lines) else ""
            parts.append(" " + (text.rjust(w - 2) if right else text.ljust(w - 2)) + " ")
        out.append(bar + bar.join(parts) + bar)
    return "\n".join(out)


def shown_layers(model):
    return model.layers if type(model).__name__ == "Sequential" else model._stack


def _layer_rows(model, show_trainable):
    rows = []
    # Functional models list their InputLayer too; Sequential models hide it.
    for layer in shown_layers(model):
        name = f"{layer.name} ({type(layer).__name__})"
        if layer.built:
            shape = format_shape(layer._output_shape) if layer._output_shape else "?"
            if isinstance(layer, InputLayer):
                shape = format_shape(layer.batch_shape)
            params = f"{layer.count_params():,}"
        else:
            shape, params = "?", "0 (unbuilt)"
        row = [name, shape, params]
        if show_trainable:
            row.append("-" if not layer.weights else ("Y" if layer.trainable else "N"))
        rows.append(row)
    return rows


def render(model, line_length=None, positions=None, show_trainable=False, layer_range=None):
    """The summary text (no ANSI codes), ending with a newline."""
    columns = shutil.get_terminal_size().columns
    if line_length is None:
        line_length = min(88, columns - 4)
    header = ["Layer (type)", "Output Shape", "Param #"]
    aligns = [False, False, True]
    positions = list(positions or [0.45, 0.80, 1.0])
    if show_trainable:
        line_length += 11
        positions = [p * 0.88 if p <= 1 else p for p in positions] + [1.0]
        header.append("Trainable")
        aligns.append(False)
    widths = _column_widths(line_length, positions)
    rows = _layer_rows(model, show_trainable)
    if layer_range is not None:
        names = [l.name for l in shown_layers(model)]
        lo, hi = names.index(layer_range[0]), names.index(layer_range[1])
        rows = rows[lo:hi + 1]
    lines = [f'Model: "{model.name}"',
             _rule("┏", "━", "┳", "┓", widths),
             _row(header, widths, aligns, "┃"),
             _rule("┡", "━", "╇", "┩", widths)]
    for i, row in enumerate(rows):
        if i:
            lines.append(_rule("├", "─", "┼", "┤", widths))
        lines.append(_row(row, widths, aligns, "│"))
    lines.append(_rule("└", "─", "┴", "┘", widths))
    trainable = model.trainable_weights if model.built else []
    non_trainable = model.non_trainable_weights if model.built else []
    t_count = sum(v.value.size for v in trainable)
    n_count = sum(v.value.size for v in non_trainable)
    t_bytes, n_bytes = _weight_bytes(trainable), _weight_bytes(non_trainable)
    opt = getattr(model, "optimizer", None)
    o_vars = opt.variables if opt is not None and getattr(opt, "built", False) else []
    o_count, o_bytes = sum(v.value.size for v in o_vars), _weight_bytes(o_vars)
    total, total_bytes = t_count + n_count + o_count, t_bytes + n_bytes + o_bytes
    lines.append(f" Total params: {total:,} ({readable_memory_size(total_bytes)})")
    lines.append(f" Trainable params: {t_count:,} ({readable_memory_size(t_bytes)})")
    lines.append(f" Non-trainable params: {n_count:,} ({readable_memory_size(n_bytes)})")
    if o_vars:
        lines.append(f" Optimizer params: {o_count:,} ({readable_memory_size(o_bytes)})")
    # Keras prints through a rich console as wide as the terminal, which crops longer lines.
    return "\n".join(line[:columns] for line in "\n".join(lines).split("\n")) + "\n"


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False,
                  layer_range=None):
    text = render(model, line_length, positions, show_trainable, layer_range)
    if print_fn is not None:
        print_fn(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
