"""Keras's progress bar (``keras.utils.Progbar``), same text byte for byte.

verbose=1 redraws one line (``\\b``·previous width + ``\\r`` on POSIX/TTYs), bar of ``━``,
ETA while running and elapsed time at the end; verbose=2 prints one plain line per epoch.
"""
import math
import os
import sys
import time


def print_msg(message, stream=None):
    """Write and flush; consoles that cannot encode ``━`` get ``=`` instead."""
    stream = stream or sys.stdout
    try:
        stream.write(message)
    except UnicodeEncodeError:
        message = message.replace("━", "=")
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(message.encode(encoding, "ignore").decode(encoding))
    stream.flush()


def _format_value(v, signed):
    big = abs(v) > 1e-3 if signed else v > 1e-3
    return f" {v:.4f}" if big else f" {v:.4e}"


class Progbar:
    """Progress bar for ``target`` steps (None: unknown)."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` and `stateless_metrics` can be "
                             "provided.")
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit_name = interval, unit_name
        # Names in stateful_metrics (or not in stateless_metrics) are shown as given; the others
        # are averaged over the updates.
        self.stateful_metrics = set(stateful_metrics or ()) if stateless_metrics is None else None
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._dynamic_display = ((hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
                                 or "ipykernel" in sys.modules or "posix" in sys.modules
                                 or "PYCHARM_HOSTED" in os.environ)
        self._seen_so_far = 0
        self._values, self._values_order = {}, []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _estimate_step_duration(self, current, now):
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    def _format_time(self, per):
        if per >= 1 or per == 0:
            return f" {per:.0f}s/{self.unit_name}"
        if per >= 1e-3:
            return f" {per * 1e3:.0f}ms/{self.unit_name}"
        return f" {per * 1e6:.0f}us/{self.unit_name}"

    def _record(self, values, current, finalize):
        for k, v in values or ():
            if k not in self._values_order:
                self._values_order.append(k)
            if self.stateful_metrics is not None:
                stateless = k not in self.stateful_metrics
            else:
                stateless = k in self.stateless_metrics
            if not stateless or finalize:
                self._values[k] = [v, 1]
            else:
                base = max(current - self._seen_so_far, 1)
                total, count = self._values.get(k, [0.0, 0])
                self._values[k] = [total + v * base, count + base]

    def _metrics_text(self, signed):
        out = ""
        for k in self._values_order:
            total, count = self._values[k]
            out += f" - {k}:" + _format_value(float(total) / max(1, count), signed)
        return out

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        self._record(values, current, finalize)
        self._seen_so_far = current
        now = time.time()
        per = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw(current, now, per, finalize)
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            info = (f"{current:>{digits}d}/{self.target} - {now - self._start:.0f}s -"
                    + self._format_time(per) + self._metrics_text(signed=False) + "\n")
            print_msg(info)
        self._last_update = now

    def _draw(self, current, now, per, finalize):
        message = ("\b" * self._prev_total_width + "\r") if self._dynamic_display else "\n"
        special = 0
        known = self.target is not None and self.target > 0
        if known:
            digits = int(math.log10(self.target)) + 1
            bar = f"\x1b[1m{current:>{digits}d}/{self.target}\x1b[0m "
            special += 8
            filled = int(self.width * current / self.target)
            if filled > 0:
                bar += "\x1b[32m" + "━" * filled + "\x1b[0m"
                special += 9
            bar += "\x1b[37m" + "━" * (self.width - filled) + "\x1b[0m"
            special += 9
        else:
            bar = f"{current:7d}/Unknown"
        if known and not finalize:
            eta = per * (self.target - current)
            if eta > 3600:
                text = f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
            elif eta > 60:
                text = f"{int(eta // 60)}:{int(eta % 60):02d}"
            else:
                text = f"{int(eta)}s"
            info = f" \x1b[1m{text}\x1b[0m"
        else:
            info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
        special += 8
        info += self._format_time(per) + self._metrics_text(signed=True)
        total_width = len(bar) + len(info) - special
        message += bar + info
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)
        if finalize:
            message += "\n"
        print_msg(message)
        self._prev_total_width = total_width
